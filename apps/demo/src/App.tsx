/** The demo page: the story menu, the network, acting as any member, and each place's councils and federation. */
import { useCallback, useMemo, useState } from "react";
import { ActivityLog } from "./components/ActivityLog.js";
import { ActPanel } from "./components/ActPanel.js";
import { Charts } from "./components/Charts.js";
import { CouncilPanel } from "./components/CouncilPanel.js";
import { FederationPanel } from "./components/FederationPanel.js";
import { LiveMode } from "./components/LiveMode.js";
import { MergeHighlights } from "./components/MergeHighlights.js";
import { NetworkPanel } from "./components/NetworkPanel.js";
import { ScenarioMenu } from "./components/ScenarioMenu.js";
import { Timeline } from "./components/Timeline.js";
import { clockTime } from "./format.js";
import type { CouncilKey, PlaceId } from "./peers/cast.js";
import { COUNCIL_KEYS, COUNCILS, FEDERATION_NAME, PLACE_IDS } from "./peers/cast.js";
import { HOUR, MINUTE } from "./peers/clock.js";
import { highlightedRefs } from "./peers/merge-report.js";
import { STORIES } from "./scenarios/index.js";
import { StoryPlayer } from "./scenarios/player.js";
import { headsBadges } from "./sync-colors.js";
import { useWorld } from "./use-world.js";

type Tab = "councils" | "federation" | "pictures" | "live";

export function App() {
  const { world, snapshot, restart } = useWorld();
  const [tab, setTab] = useState<Tab>("councils");
  const [liveOpened, setLiveOpened] = useState(false);
  if (tab === "live" && !liveOpened) setLiveOpened(true);
  const [council, setCouncil] = useState<CouncilKey>("bakery");
  const [player, setPlayer] = useState<StoryPlayer | null>(null);
  const [position, setPosition] = useState(0);
  const [busy, setBusy] = useState(false);

  const run = useCallback(async (what: () => Promise<unknown>) => {
    setBusy(true);
    try {
      await what();
    } catch {
      // The world logs what went wrong in the activity log.
    } finally {
      setBusy(false);
    }
  }, []);

  const nameOf = useMemo(() => {
    const councils = new Map<string, string>();
    const view = snapshot?.places.north.view;
    if (view) {
      for (const k of COUNCIL_KEYS)
        if (view.councils[k].council) councils.set(view.councils[k].council!, COUNCILS[k].name);
      if (view.federation.federation) councils.set(view.federation.federation, FEDERATION_NAME);
    }
    return (id: string) => councils.get(id) ?? world?.keys.nameOf(id) ?? id.slice(0, 8);
  }, [snapshot?.places.north.view, world]);

  const ready = world !== null && snapshot !== null && snapshot.phase === "ready";
  const disabled = busy || !ready;

  const choose = (id: string) =>
    void run(async () => {
      const story = STORIES.find((s) => s.id === id);
      setPlayer(null);
      setPosition(0);
      const next = await restart();
      await next.ready();
      if (story) {
        next.note(`Story: ${story.title}`);
        setPlayer(new StoryPlayer(next, story));
        setTab(story.id === "recall" || story.id === "alert" ? "federation" : "councils");
      }
    });

  const step = () =>
    void run(async () => {
      if (player === null) return;
      await player.next();
      setPosition(player.position);
    });

  const playAll = () =>
    void run(async () => {
      if (player === null) return;
      while (!player.done) {
        await player.next();
        setPosition(player.position);
      }
    });

  if (snapshot === null || world === null) return <div className="splash">Starting three Federa nodes…</div>;

  const badges = headsBadges(snapshot, council);
  const highlights = (place: PlaceId) => highlightedRefs(snapshot.merges, place);

  return (
    <div className="app" data-testid="app" data-phase={snapshot.phase}>
      <header className="top">
        <h1>Federa</h1>
        <span className="sub">
          two councils and their federation, synced between three places by real Federa nodes in this page
        </span>
        <span className="spacer" />
        <span className="clock" data-testid="clock" title="the page's clock: records are stamped with it">
          {clockTime(snapshot.clock)}
        </span>
        <button type="button" disabled={disabled} onClick={() => world.advance(10 * MINUTE)}>
          +10 min
        </button>
        <button type="button" disabled={disabled} onClick={() => world.advance(HOUR)}>
          +1 h
        </button>
        <button type="button" disabled={busy} onClick={() => choose(player?.story.id ?? "")} data-testid="restart">
          start over
        </button>
      </header>
      <div className="body">
        <aside className="side">
          <ScenarioMenu
            stories={STORIES}
            story={player?.story ?? null}
            position={position}
            busy={disabled}
            onChoose={choose}
            onStep={step}
            onPlayAll={playAll}
          />
          <NetworkPanel
            snapshot={snapshot}
            busy={disabled}
            onLink={(a, b, up) => void run(() => world.setLink(a, b, up))}
            onOnline={(p, online) => void run(() => world.setOnline(p, online))}
            onLatency={(p, ms) => void run(() => world.setLatency(p, ms))}
            onHeal={() => void run(() => world.healAll())}
          />
          {ready && <ActPanel world={world} snapshot={snapshot} busy={disabled} run={run} nameOf={nameOf} />}
          <ActivityLog log={snapshot.log} />
        </aside>
        <main className="main">
          <div className="tabs">
            {(["councils", "federation", "pictures", "live"] as const).map((t) => (
              <button
                key={t}
                type="button"
                className={tab === t ? "on" : ""}
                onClick={() => setTab(t)}
                data-testid={`tab-${t}`}
              >
                {t === "councils"
                  ? "Councils"
                  : t === "federation"
                    ? "Federation"
                    : t === "pictures"
                      ? "Pictures"
                      : "Live node"}
              </button>
            ))}
            <span style={{ width: 16 }} />
            {(tab === "councils" || tab === "pictures") &&
              COUNCIL_KEYS.map((k) => (
                <button
                  key={k}
                  type="button"
                  className={council === k ? "on" : ""}
                  onClick={() => setCouncil(k)}
                  data-testid={`council-${k}`}
                >
                  {COUNCILS[k].name}
                </button>
              ))}
            <span style={{ flex: 1 }} />
            {snapshot.phase !== "ready" && <span className="pill warn">{snapshot.progress}…</span>}
            {snapshot.phase === "ready" && (
              <span className="small muted" title="real time to derive every state at every place">
                derived in {snapshot.deriveMs < 1 ? "<1" : snapshot.deriveMs.toFixed(0)} ms
              </span>
            )}
          </div>
          {tab !== "live" && (
            <MergeHighlights
              merges={snapshot.merges}
              council={tab === "federation" ? "federation" : council}
              nameOf={nameOf}
            />
          )}
          {tab === "councils" && (
            <>
              <div className="columns">
                {PLACE_IDS.map((p) => (
                  <CouncilPanel
                    key={p}
                    place={p}
                    council={council}
                    state={snapshot.places[p].view?.councils[council]}
                    online={snapshot.places[p].online}
                    connected={snapshot.places[p].view?.connected ?? []}
                    heads={badges[p]}
                    highlights={highlights(p)}
                    nameOf={nameOf}
                  />
                ))}
              </div>
              <Timeline snapshot={snapshot} doc={council} nameOf={nameOf} />
            </>
          )}
          {tab === "federation" && (
            <>
              <FederationPanel snapshot={snapshot} highlights={highlights} nameOf={nameOf} />
              <Timeline snapshot={snapshot} doc="federation" nameOf={nameOf} />
            </>
          )}
          {tab === "pictures" && (
            <>
              <Charts snapshot={snapshot} council={council} nameOf={nameOf} />
              <Timeline snapshot={snapshot} doc={council} nameOf={nameOf} />
            </>
          )}
          {/* Kept mounted once opened: leaving the tab must not end the page's session with a node. */}
          {liveOpened && (
            <div hidden={tab !== "live"}>
              <LiveMode />
            </div>
          )}
        </main>
      </div>
    </div>
  );
}

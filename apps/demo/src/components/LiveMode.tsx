/**
 * Live mode: this page joins a council held by a `federa node` running on this machine, over WebSockets, the way
 * `federa join` does (invitation token, signed application, admission by the members), then shows it as it changes.
 */
import type { Identity } from "@federa/core";
import { decodeInvitation, webSocketAddresses } from "@federa/net";
import { useEffect, useRef, useState } from "react";
import { clockTime } from "../format.js";
import type { LiveUpdate } from "../live/live-session.js";
import { browserStore, LiveSession, liveIdentity } from "../live/live-session.js";
import { CouncilPanel } from "./CouncilPanel.js";

const SETUP = `./dev federa init --name Ana
./dev federa council create "Night Shift Assembly" --voting-window 1m
./dev federa node --listen /ip4/127.0.0.1/tcp/4002/ws --listen /ip4/127.0.0.1/tcp/4001
# in a second terminal, with the node running:
./dev federa invite`;

export function LiveMode() {
  const store = useRef(browserStore());
  const [identity, setIdentity] = useState<Identity | null>(null);
  const [token, setToken] = useState("");
  const [note, setNote] = useState("the demo page");
  const [error, setError] = useState<string | null>(null);
  const [session, setSession] = useState<LiveSession | null>(null);
  const [update, setUpdate] = useState<LiveUpdate | null>(null);
  const [choice, setChoice] = useState<"yes" | "no" | "abstain">("yes");
  const [target, setTarget] = useState("");

  useEffect(() => {
    void liveIdentity(store.current).then(setIdentity);
  }, []);
  useEffect(() => () => void session?.stop(), [session]);

  const join = async () => {
    setError(null);
    try {
      const invitation = decodeInvitation(token);
      if (webSocketAddresses(invitation).length === 0)
        throw new Error("the invitation names no WebSocket address: start the node with a /ws listen address");
      await session?.stop();
      setSession(await LiveSession.start({ invitation, note, store: store.current, onUpdate: setUpdate }));
    } catch (err) {
      setError((err as Error).message);
    }
  };

  const forget = async () => {
    await session?.stop();
    setSession(null);
    setUpdate(null);
    store.current.clear();
    setIdentity(await liveIdentity(store.current));
  };

  const state = update?.state ?? null;
  const open = state?.proposals.filter((p) => p.status === "open") ?? [];
  const proposal = open.some((p) => p.id === target) ? target : (open[0]?.id ?? "");
  const act = (what: () => Promise<void>) => void what().catch((err: unknown) => setError((err as Error).message));

  return (
    <div
      style={{ display: "grid", gridTemplateColumns: "minmax(0, 1fr) minmax(0, 1fr)", gap: 8 }}
      data-testid="live-mode"
    >
      <div className="card">
        <h2>Join a federa node on this machine</h2>
        <p className="small">
          This page runs its own Federa node (libp2p over WebSockets, automerge-repo, the Federa sync protocol). It
          becomes a device of a new member, asks to join a council with an invitation token, and once the council's
          members admit it, the node shares the council and this page follows it live.
        </p>
        <pre className="mono" style={{ background: "#f4f1ea", padding: 6, borderRadius: 6, whiteSpace: "pre-wrap" }}>
          {SETUP}
        </pre>
        <div className="small muted">
          This page's member: <span className="mono">{identity?.member ?? "…"}</span>
          <br />
          This page's device:{" "}
          <span className="mono" data-testid="live-device">
            {identity?.device.id ?? "…"}
          </span>
        </div>
        <textarea
          rows={4}
          placeholder="paste the token `federa invite` printed"
          value={token}
          onChange={(e) => setToken(e.target.value)}
          data-testid="live-token"
          style={{ marginTop: 6 }}
        />
        <div className="row" style={{ marginTop: 4 }}>
          <input value={note} onChange={(e) => setNote(e.target.value)} placeholder="a note to the members" />
          <button
            type="button"
            className="primary"
            onClick={() => void join()}
            disabled={token.trim() === ""}
            data-testid="live-join"
          >
            ask to join
          </button>
          <button type="button" onClick={() => void forget()}>
            forget this page's keys
          </button>
        </div>
        {error && (
          <div className="error-text" data-testid="live-error">
            {error}
          </div>
        )}
        {update && (
          <div className="item" style={{ marginTop: 6 }} data-testid="live-status" data-phase={update.phase}>
            <div className="row">
              <span className={`pill ${update.phase === "failed" ? "bad" : update.phase === "live" ? "" : "warn"}`}>
                {update.phase}
              </span>
              <span className={`pill ${update.connected ? "" : "muted"}`}>
                {update.connected ? "connected" : "not connected"}
              </span>
            </div>
            <div className="small">{update.message}</div>
            {update.proposal && update.phase === "waiting" && (
              <div className="small" style={{ marginTop: 4 }}>
                The application opened admission proposal{" "}
                <span className="mono" data-testid="live-proposal">
                  {update.proposal}
                </span>
                . Admit this page from the terminal, then let the voting window pass:
                <pre
                  className="mono"
                  style={{ background: "#f4f1ea", padding: 6, borderRadius: 6, whiteSpace: "pre-wrap" }}
                >
                  {`./dev federa vote ${update.proposal} --choice yes\n./dev federa tick   # once the voting window has passed`}
                </pre>
              </div>
            )}
          </div>
        )}
      </div>
      <div>
        {state ? (
          <>
            <CouncilPanel
              place="hall"
              council="bakery"
              label={`Live: ${state.name}`}
              state={state}
              online={update?.connected ?? false}
              connected={update?.connected ? ["north"] : []}
              heads={undefined}
              highlights={new Set()}
              nameOf={(id) => (id === identity?.member ? "this page" : `${id.slice(0, 12)}…`)}
            />
            <div className="card" style={{ marginTop: 6 }}>
              <h2>Act as this page's member</h2>
              <div className="row">
                <select value={proposal} onChange={(e) => setTarget(e.target.value)} data-testid="live-vote-proposal">
                  {open.map((p) => (
                    <option key={p.id} value={p.id}>
                      {p.title}
                    </option>
                  ))}
                </select>
                <select value={choice} onChange={(e) => setChoice(e.target.value as typeof choice)}>
                  <option value="yes">yes</option>
                  <option value="no">no</option>
                  <option value="abstain">abstain</option>
                </select>
                <button
                  type="button"
                  disabled={open.length === 0}
                  onClick={() => act(async () => session?.vote(proposal, choice))}
                >
                  vote
                </button>
                <button type="button" onClick={() => act(async () => session?.tick())}>
                  tick
                </button>
              </div>
              <div className="small muted">
                council time {clockTime(state.horizon.ms)} (the real clock in live mode)
              </div>
            </div>
          </>
        ) : (
          <div className="card muted small">The council appears here once the members have admitted this page.</div>
        )}
      </div>
    </div>
  );
}

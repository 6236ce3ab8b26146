/**
 * The federation as each place derives it: delegates voting through their councils' mandates (and the votes that do
 * not count), and solidarity alerts with each council's response time against the pledge window.
 */
import type { AlertState, FederationState } from "@federa/core";
import { clockTime, duration, readable } from "../format.js";
import type { PlaceId } from "../peers/cast.js";
import { COUNCIL_KEYS, FEDERATION_NAME, PLACE_IDS, PLACES } from "../peers/cast.js";
import type { WorldSnapshot } from "../peers/world.js";
import { headsBadges } from "../sync-colors.js";

export interface FederationPanelProps {
  readonly snapshot: WorldSnapshot;
  readonly highlights: (place: PlaceId) => ReadonlySet<string>;
  readonly nameOf: (id: string) => string;
}

function AlertCard({
  alert,
  nameOf,
  hl,
}: {
  alert: AlertState;
  nameOf: (id: string) => string;
  hl: ReadonlySet<string>;
}) {
  return (
    <div className={`item${hl.has(alert.id) ? " hl" : ""}`} data-testid="fed-alert">
      <div>
        <b>{alert.what}</b> <span className="muted small">· {nameOf(alert.council)}</span>
      </div>
      <div className="small muted">
        needs: {alert.needs} · raised {clockTime(alert.raisedAt.ms)} by {nameOf(alert.author)}
      </div>
      {alert.pledges.map((p) => {
        const share = p.responseMs === null ? 0 : Math.min(1, p.responseMs / alert.pledgeWindowMs);
        return (
          <div key={p.council} className="small" style={{ marginTop: 3 }} data-testid="pledge" data-status={p.status}>
            <div className="row">
              <span style={{ flex: 1 }}>{nameOf(p.council)}</span>
              <span className={`pill ${p.status === "met" ? "" : p.status === "pending" ? "muted" : "bad"}`}>
                {p.status === "pending" ? "no answer yet" : `${p.status} · ${duration(p.responseMs ?? 0)}`}
              </span>
            </div>
            <div className="bar" title={`pledge window ${duration(alert.pledgeWindowMs)}`}>
              <span className="yes" style={{ width: `${Math.max(share * 100, p.responseMs === null ? 0 : 1.5)}%` }} />
            </div>
          </div>
        );
      })}
      {alert.responses.map((r) => (
        <div key={r.record} className="small" style={{ marginTop: 2 }}>
          ↳ {nameOf(r.author)} for {nameOf(r.council)}, after {duration(r.afterMs)}: “{r.offer}”
        </div>
      ))}
    </div>
  );
}

function PlaceFederation({
  place,
  snapshot,
  hl,
  nameOf,
}: {
  place: PlaceId;
  snapshot: WorldSnapshot;
  hl: ReadonlySet<string>;
  nameOf: (id: string) => string;
}) {
  const view = snapshot.places[place].view;
  const badge = headsBadges(snapshot, "federation")[place];
  const fed: FederationState | undefined = view?.federation;
  return (
    <div className="place" data-testid={`fed-${place}`}>
      <div className={`place-head ${place}`}>
        <span className="name">{PLACES[place].name}</span>
        <span className="pill">
          {snapshot.places[place].online ? `linked to ${view?.connected.length ?? 0}` : "offline"}
        </span>
        <span style={{ flex: 1 }} />
        {badge && (
          <span className="heads" style={{ background: badge.color }}>
            {badge.label}
          </span>
        )}
      </div>
      {fed === undefined || view === null ? (
        <section className="sec muted">waiting for the documents…</section>
      ) : (
        <>
          <section className="sec">
            <h3>Delegates and their mandates</h3>
            {COUNCIL_KEYS.map((k) => {
              const state = view.councils[k];
              const mandates = state.mandates.filter((m) => m.body === FEDERATION_NAME);
              return (
                <div key={k} className="item small">
                  <b>{state.name}</b>
                  {mandates.map((m) => (
                    <div key={m.id} className={hl.has(m.id) ? "hl" : ""}>
                      {nameOf(m.delegate)}:{" "}
                      {Object.entries(m.positions)
                        .map(([t, ps]) => `${t === "*" ? "any topic" : t} → ${ps.join("/")}`)
                        .join("; ")}{" "}
                      {m.recalledAt ? (
                        <span className="pill bad">recalled {clockTime(m.recalledAt.ms)}</span>
                      ) : (
                        <span className="pill">live</span>
                      )}
                    </div>
                  ))}
                </div>
              );
            })}
          </section>
          <section className="sec">
            <h3>Federation proposals</h3>
            {fed.proposals.length === 0 && <div className="small muted">none yet</div>}
            {fed.proposals.map((p) => {
              const conflicts = fed.conflicts.filter((c) => c.target === p.id);
              const passing = p.result?.passed;
              return (
                <div
                  key={p.id}
                  className={`item${hl.has(p.id) ? " hl" : ""}`}
                  data-testid="fed-proposal"
                  data-flipped={hl.has(p.id) ? "true" : undefined}
                >
                  <div className="row">
                    <span style={{ flex: 1 }}>{p.title}</span>
                    <span
                      className={`pill ${p.status === "failed" || passing === false ? "warn" : ""}`}
                      data-testid="fed-proposal-status"
                    >
                      {p.status === "open"
                        ? passing === undefined
                          ? "open"
                          : `open · ${passing ? "passing" : "failing"}`
                        : p.status}
                    </span>
                    {hl.has(p.id) && <span className="badge">flipped</span>}
                  </div>
                  {p.electorate.map((c) => {
                    const v = p.votes[c];
                    return (
                      <div key={c} className="small">
                        {nameOf(c)}:{" "}
                        {v ? (
                          <>
                            <b>{v.position}</b> by {nameOf(v.delegate)} <span className="pill">counted</span>
                          </>
                        ) : (
                          <span className="muted">no vote that counts</span>
                        )}
                      </div>
                    );
                  })}
                  {conflicts.map((c) => (
                    <div key={c.record} className={`small${hl.has(c.record) ? " hl" : ""}`} data-testid="fed-conflict">
                      <span className={`type ${c.type}`}>{c.type}</span> {readable(c.detail, nameOf)}
                    </div>
                  ))}
                </div>
              );
            })}
          </section>
          <section className="sec">
            <h3>Solidarity alerts</h3>
            {fed.alerts.length === 0 && <div className="small muted">none yet</div>}
            {fed.alerts.map((a) => (
              <AlertCard key={a.id} alert={a} nameOf={nameOf} hl={hl} />
            ))}
          </section>
          <div className="small muted">
            {fed.records} records · federation time {clockTime(fed.horizon.ms)}
          </div>
        </>
      )}
    </div>
  );
}

export function FederationPanel({ snapshot, highlights, nameOf }: FederationPanelProps) {
  return (
    <div className="columns" data-testid="federation-panel">
      {PLACE_IDS.map((p) => (
        <PlaceFederation key={p} place={p} snapshot={snapshot} hl={highlights(p)} nameOf={nameOf} />
      ))}
    </div>
  );
}

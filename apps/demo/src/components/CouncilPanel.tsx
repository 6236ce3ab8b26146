/** One place's view of one council: what its node derives from the records it holds, with what the last merge changed. */
import type { Ballot, CouncilState, ProposalState } from "@federa/core";
import { clockTime, hours, money, readable } from "../format.js";
import type { CouncilKey, PlaceId } from "../peers/cast.js";
import { PLACES } from "../peers/cast.js";
import type { HeadsBadge } from "../sync-colors.js";

export interface CouncilPanelProps {
  readonly place: PlaceId;
  readonly council: CouncilKey;
  readonly state: CouncilState | undefined;
  readonly online: boolean;
  readonly connected: readonly PlaceId[];
  readonly heads: HeadsBadge | undefined;
  /** Ids (records, proposals, funds) the last merge at this place changed. */
  readonly highlights: ReadonlySet<string>;
  readonly nameOf: (id: string) => string;
  /** A heading other than the place's name (live mode shows a council held by this page's own node). */
  readonly label?: string;
}

function choiceOf(ballot: Ballot): string {
  return "choice" in ballot ? ballot.choice : ballot.method;
}

function Tally({ p }: { p: ProposalState }) {
  const counts = { yes: 0, no: 0, abstain: 0 };
  for (const b of Object.values(p.votes)) {
    const c = choiceOf(b);
    if (c === "yes" || c === "no" || c === "abstain") counts[c]++;
  }
  const total = Math.max(1, p.electorate.length);
  return (
    <>
      <div
        className="bar"
        title={`${counts.yes} yes, ${counts.no} no, ${counts.abstain} abstain of ${p.electorate.length}`}
      >
        <span className="yes" style={{ width: `${(100 * counts.yes) / total}%` }} />
        <span className="no" style={{ width: `${(100 * counts.no) / total}%` }} />
        <span className="abstain" style={{ width: `${(100 * counts.abstain) / total}%` }} />
      </div>
      <div className="small muted">
        {counts.yes} yes · {counts.no} no{counts.abstain ? ` · ${counts.abstain} abstain` : ""} of {p.electorate.length}
      </div>
    </>
  );
}

function statusOf(p: ProposalState): { text: string; tone: string } {
  if (p.status === "passed") return { text: "passed", tone: "" };
  if (p.status === "failed") return { text: "failed", tone: "bad" };
  if (p.result === null) return { text: "open", tone: "muted" };
  return p.result.passed ? { text: "open · passing", tone: "" } : { text: "open · failing", tone: "warn" };
}

export function CouncilPanel(props: CouncilPanelProps) {
  const { place, state, highlights, nameOf } = props;
  const hl = (id: string) => (highlights.has(id) ? " hl" : "");
  const badge = (id: string, text: string) => (highlights.has(id) ? <span className="badge">{text}</span> : null);
  const name = (id: string) => nameOf(id);
  const isTime = new Set(state?.funds.filter((f) => f.type === "time").map((f) => f.id as string));
  return (
    <div className="place" data-testid={`place-${place}`} data-council={props.council}>
      <div className={`place-head ${place}`}>
        <span className="name">{props.label ?? PLACES[place].name}</span>
        <span className="pill" data-testid={`status-${place}`}>
          {props.online
            ? props.connected.length > 0
              ? `linked to ${props.connected.length}`
              : "partitioned"
            : "offline"}
        </span>
        <span style={{ flex: 1 }} />
        {props.heads && (
          <span
            className="heads"
            style={{ background: props.heads.color }}
            title={`${props.heads.count} head(s): places with the same label hold the same documents`}
            data-testid={`heads-${place}`}
          >
            {props.heads.label}
          </span>
        )}
      </div>
      {state === undefined ? (
        <section className="sec muted">waiting for the documents…</section>
      ) : (
        <>
          <section className="sec">
            <h3>Funds</h3>
            <table className="list">
              <tbody>
                {state.funds.map((f) => (
                  <tr key={f.id} className={`item${hl(f.id)}`}>
                    <td>
                      {f.id}
                      {badge(f.id, "changed")}
                    </td>
                    {f.type === "time" ? (
                      <td className="num small">
                        {Object.entries(f.accounts).length === 0
                          ? "no swaps"
                          : Object.entries(f.accounts)
                              .map(([m, v]) => `${name(m)} ${hours(v)}`)
                              .join(", ")}
                      </td>
                    ) : (
                      <td className="num big" data-testid={`balance-${place}-${f.id}`}>
                        {money(f.balance)}
                      </td>
                    )}
                  </tr>
                ))}
              </tbody>
            </table>
          </section>

          <section className="sec">
            <h3>Proposals</h3>
            {state.proposals.length === 0 && <div className="muted small">none yet</div>}
            {[...state.proposals]
              .sort((a, b) => b.openedAt.ms - a.openedAt.ms)
              .map((p) => {
                const s = statusOf(p);
                return (
                  <div
                    key={p.id}
                    className={`item${hl(p.id)}`}
                    data-testid="proposal"
                    data-title={p.title}
                    data-flipped={highlights.has(p.id) ? "true" : undefined}
                  >
                    <div className="row">
                      <span style={{ flex: 1 }}>{readable(p.title, nameOf)}</span>
                      <span className={`pill ${s.tone}`} data-testid="proposal-status">
                        {s.text}
                      </span>
                      {badge(p.id, "flipped")}
                    </div>
                    <Tally p={p} />
                  </div>
                );
              })}
          </section>

          <section className="sec">
            <h3>Open ledger</h3>
            {[...state.ledger]
              .reverse()
              .slice(0, 7)
              .map((e) => (
                <div
                  key={`${e.record}-${e.type}-${e.fund}`}
                  className={`item small${hl(e.record)}${e.status === "held" ? " held" : ""}`}
                  data-testid="ledger-entry"
                  data-status={e.status}
                  data-highlight={highlights.has(e.record) ? "true" : undefined}
                >
                  <div className="row">
                    <span className="muted">{clockTime(e.at.ms)}</span>
                    <span style={{ flex: 1 }}>
                      {e.type} {isTime.has(e.fund) ? hours(e.amount) : money(e.amount)} · {e.counterparty || name(e.by)}
                    </span>
                    {e.status === "held" && <span className="pill warn">held</span>}
                    {badge(e.record, "merge")}
                  </div>
                  {e.status === "held" && <div className="small">{readable(e.reason, nameOf)}</div>}
                </div>
              ))}
          </section>

          {state.conflicts.length > 0 && (
            <section className="sec">
              <h3>Conflicts the derivation resolved</h3>
              {state.conflicts.map((c) => (
                <div key={`${c.type}-${c.record}`} className={`item small${hl(c.record)}`} data-testid="conflict">
                  <span className={`type ${c.type}`}>{c.type}</span> {readable(c.detail, nameOf)}
                </div>
              ))}
            </section>
          )}

          <section className="sec">
            <h3>Mandates</h3>
            {state.mandates.length === 0 && <div className="muted small">none</div>}
            {state.mandates.map((m) => (
              <div key={m.id} className={`item small${hl(m.id)}`}>
                <b>{name(m.delegate)}</b> for {m.body}{" "}
                {m.recalledAt ? (
                  <span className="pill bad">recalled {clockTime(m.recalledAt.ms)}</span>
                ) : (
                  <span className="pill">live until {clockTime(m.expiresAt)}</span>
                )}
              </div>
            ))}
          </section>

          <section className="sec">
            <h3>Rotation</h3>
            {state.roles.map((r) => (
              <div key={r.role} className="item small">
                <b>{r.role}</b>
                {r.holders.length > 0 ? (
                  <span>
                    {" "}
                    ·{" "}
                    {r.holders
                      .map((h) => `${name(h.holder)} (${h.meeting})${h.violation ? " ⚠ rotation" : ""}`)
                      .join("; ")}
                  </span>
                ) : null}
                <div className="muted">next: {r.nextEligible.map(name).join(", ") || "—"}</div>
              </div>
            ))}
          </section>

          <section className="sec">
            <h3>Members</h3>
            <div className="small">
              {state.members.map((m) => (
                <span
                  key={m.id}
                  className="pill muted"
                  style={{ marginRight: 3 }}
                  title={`${m.devices.length} devices`}
                >
                  {name(m.id)}
                </span>
              ))}
            </div>
            <div className="small muted" style={{ marginTop: 4 }}>
              {state.records} records · {state.excluded.length} excluded · time {clockTime(state.horizon.ms)}
            </div>
          </section>
        </>
      )}
    </div>
  );
}

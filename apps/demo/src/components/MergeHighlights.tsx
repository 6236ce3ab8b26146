/** What the last merge changed at each place: flipped outcomes, held expenses, acts out of mandate, rotation conflicts. */
import { clockTime, readable } from "../format.js";
import type { CouncilKey } from "../peers/cast.js";
import { COUNCIL_KEYS, COUNCILS, PLACES } from "../peers/cast.js";
import type { MergeReport } from "../peers/merge-report.js";

export interface MergeHighlightsProps {
  readonly merges: readonly MergeReport[];
  /** The council shown; its changes come first. */
  readonly council: CouncilKey | "federation";
  readonly nameOf: (id: string) => string;
}

export function MergeHighlights({ merges, council, nameOf }: MergeHighlightsProps) {
  const latest = merges.at(-1);
  if (latest === undefined) {
    return (
      <div className="card muted small" data-testid="merge-report" data-status="none">
        Cut a link or take a place offline, act on both sides, then restore it: what the merge changes shows here.
      </div>
    );
  }
  const where = latest.places.map((p) => PLACES[p].name).join(", ");
  const order: (CouncilKey | "federation")[] = [
    ...new Set<CouncilKey | "federation">([council, ...COUNCIL_KEYS, "federation"]),
  ];
  const rows = latest.changes.flatMap((pc) =>
    order.flatMap((k) => {
      const list = k === "federation" ? pc.federation : pc.councils[k];
      return list.map((c, i) => ({ key: `${pc.place}-${k}-${i}`, place: pc.place, scope: k, ...c }));
    }),
  );
  return (
    <div className="card merge-banner" data-testid="merge-report" data-status={latest.status}>
      <h2>
        Merge at {clockTime(latest.at)} · {where}
        {latest.status === "syncing" && <span className="pill warn">syncing…</span>}
        {latest.status === "timed-out" && <span className="pill bad">not settled yet</span>}
        {latest.status === "merged" && <span className="pill">settled: every place derives the same state</span>}
      </h2>
      {latest.status === "merged" && rows.length === 0 && (
        <div className="small muted">Nothing changed: the two sides did not conflict.</div>
      )}
      {latest.status === "timed-out" && (
        <div className="small muted" data-testid="merge-unsettled">
          The places do not derive the same state yet (records still on their way, or a link down again); what the merge
          changes is final once they do.
        </div>
      )}
      {rows.map((r) => (
        <div key={r.key} className="change small" data-testid="merge-change" data-type={r.type} data-place={r.place}>
          <b style={{ minWidth: 72 }}>{PLACES[r.place].name}</b>
          <span className="muted" style={{ minWidth: 60 }}>
            {r.scope === "federation" ? "federation" : COUNCILS[r.scope].short}
          </span>
          <span className={`type ${r.type}`}>{r.type}</span>
          <span>{readable(r.detail, nameOf)}</span>
        </div>
      ))}
    </div>
  );
}

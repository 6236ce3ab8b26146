/**
 * The records of one document, in derivation order, as each place holds them: a filled dot is a record the place has,
 * an empty one a record it has not received yet. The badge on each lane is the place's document heads.
 */
import { clockTime } from "../format.js";
import { PLACE_IDS, PLACES } from "../peers/cast.js";
import type { RecordMark } from "../peers/place-node.js";
import type { WorldSnapshot } from "../peers/world.js";
import type { DocKey } from "../sync-colors.js";
import { headsBadges } from "../sync-colors.js";

function colorOf(kind: string): string {
  if (kind.startsWith("federation.")) return "#b25e09";
  if (kind === "proposal.vote") return "#6b4fa0";
  if (kind.startsWith("proposal.")) return "#2f6f9e";
  if (kind.startsWith("ledger.") || kind.startsWith("jar.") || kind.startsWith("swap.") || kind.startsWith("fund."))
    return "#2f6f5e";
  if (kind.startsWith("role.") || kind.startsWith("minutes.")) return "#a8552e";
  if (kind === "tick") return "#c9c3b6";
  return "#8a8f98";
}

const LEGEND: readonly [string, string][] = [
  ["proposal", "#2f6f9e"],
  ["vote", "#6b4fa0"],
  ["money & time", "#2f6f5e"],
  ["role", "#a8552e"],
  ["federation", "#b25e09"],
  ["members, devices", "#8a8f98"],
  ["tick", "#c9c3b6"],
];

export interface TimelineProps {
  readonly snapshot: WorldSnapshot;
  readonly doc: DocKey;
  readonly nameOf: (id: string) => string;
}

export function Timeline({ snapshot, doc, nameOf }: TimelineProps) {
  const all = new Map<string, RecordMark>();
  const held = new Map<string, Set<string>>();
  for (const place of PLACE_IDS) {
    const records = snapshot.places[place].view?.records[doc] ?? [];
    held.set(place, new Set(records.map((r) => r.id)));
    for (const r of records) all.set(r.id, r);
  }
  const records = [...all.values()].sort((a, b) => a.ms - b.ms || (a.id < b.id ? -1 : 1));
  const badges = headsBadges(snapshot, doc);
  const step = Math.max(5, Math.min(14, 900 / Math.max(1, records.length)));
  const left = 110;
  const width = left + records.length * step + 70;
  const lane = 26;
  const height = 24 + PLACE_IDS.length * lane + 18;
  let lastLabel = -1e9;
  let lastIndex = -1e9;
  return (
    <div className="card" data-testid="timeline">
      <h2>
        Records and sync state{" "}
        <span className="muted small" style={{ textTransform: "none" }}>
          (filled: held here, hollow: not received yet)
        </span>
      </h2>
      <svg
        viewBox={`0 0 ${width} ${height}`}
        style={{ width: "100%", maxWidth: `${Math.round(width * 1.3)}px` }}
        role="img"
        aria-label="records held by each place"
      >
        {PLACE_IDS.map((place, li) => {
          const y = 24 + li * lane;
          const badge = badges[place];
          const mine = held.get(place)!;
          return (
            <g key={place} data-testid={`lane-${place}`} data-held={mine.size} data-total={records.length}>
              <text x={4} y={y + 4} fontSize={11} fill="#1f2328">
                {PLACES[place].name}
              </text>
              {badge && (
                <g>
                  <rect x={68} y={y - 7} width={36} height={14} rx={3} fill={badge.color} />
                  <text x={86} y={y + 3} fontSize={8.5} textAnchor="middle" fill="white" fontFamily="monospace">
                    {badge.label.slice(0, 6)}
                  </text>
                </g>
              )}
              <line x1={left - 4} x2={left + records.length * step} y1={y} y2={y} stroke="#eee" />
              {records.map((r, i) => {
                const has = mine.has(r.id);
                const color = colorOf(r.kind);
                return (
                  <circle
                    key={r.id}
                    cx={left + i * step + step / 2}
                    cy={y}
                    r={Math.min(4.5, step / 2.4)}
                    fill={has ? color : "white"}
                    stroke={color}
                    strokeWidth={has ? 0 : 1.2}
                  >
                    <title>{`${r.kind} by ${nameOf(r.author)} at ${clockTime(r.ms)}${has ? "" : ` — not at ${PLACES[place].name} yet`}`}</title>
                  </circle>
                );
              })}
              <text
                x={left + records.length * step + 8}
                y={y + 4}
                fontSize={10}
                fill={mine.size === records.length ? "#2f6f5e" : "#b25e09"}
              >
                {mine.size}/{records.length}
              </text>
            </g>
          );
        })}
        {records.map((r, i) => {
          // A label where time jumps, no closer than a few dots to the last one.
          if (r.ms - lastLabel < 30 * 60_000 || i - lastIndex < 60 / step) return null;
          lastLabel = r.ms;
          lastIndex = i;
          return (
            <text key={r.id} x={left + i * step} y={height - 4} fontSize={9} fill="#6b6f76">
              {clockTime(r.ms)}
            </text>
          );
        })}
      </svg>
      <div className="row small muted">
        {LEGEND.map(([label, color]) => (
          <span key={label}>
            <svg width={9} height={9} aria-hidden="true">
              <circle cx={4.5} cy={4.5} r={4} fill={color} />
            </svg>{" "}
            {label}
          </span>
        ))}
      </div>
    </div>
  );
}

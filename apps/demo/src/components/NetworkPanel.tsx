/** The network between the places: click a link to cut or restore it, take a place offline, slow its links down. */
import type { PlaceId } from "../peers/cast.js";
import { PLACE_IDS, PLACES } from "../peers/cast.js";
import type { WorldSnapshot } from "../peers/world.js";

const POS: Record<PlaceId, { x: number; y: number }> = {
  north: { x: 60, y: 40 },
  south: { x: 220, y: 40 },
  hall: { x: 140, y: 150 },
};

const COLOR: Record<PlaceId, string> = { north: "var(--north)", south: "var(--south)", hall: "var(--hall)" };

export const LATENCIES = [0, 50, 200, 500];

export interface NetworkPanelProps {
  readonly snapshot: WorldSnapshot;
  readonly busy: boolean;
  readonly onLink: (a: PlaceId, b: PlaceId, up: boolean) => void;
  readonly onOnline: (place: PlaceId, online: boolean) => void;
  readonly onLatency: (place: PlaceId, ms: number) => void;
  readonly onHeal: () => void;
}

export function NetworkPanel({ snapshot, busy, onLink, onOnline, onLatency, onHeal }: NetworkPanelProps) {
  const syncing = snapshot.merges.some((m) => m.status === "syncing");
  return (
    <div className="card" data-testid="network-panel">
      <h2>
        Network {syncing && <span className="pill warn">syncing…</span>}
        <span style={{ flex: 1 }} />
        <button type="button" onClick={onHeal} disabled={busy} data-testid="heal-all">
          heal all
        </button>
      </h2>
      <svg viewBox="0 0 280 190" width="100%" role="img" aria-label="places and the links between them">
        {snapshot.links.map((l) => {
          const a = POS[l.a];
          const b = POS[l.b];
          const offline = !snapshot.places[l.a].online || !snapshot.places[l.b].online;
          const stroke = !l.up ? "#c9c3b6" : l.live ? "#2f6f5e" : offline ? "#c9c3b6" : "#b25e09";
          const mx = (a.x + b.x) / 2;
          const my = (a.y + b.y) / 2;
          const latency = Math.max(snapshot.places[l.a].latency, snapshot.places[l.b].latency);
          // A link allowed but not connected yet (a redial under way) says so, latency or not.
          const label = !l.up ? "cut" : latency > 0 ? `${latency} ms${l.live ? "" : " …"}` : l.live ? "up" : "…";
          const width = Math.max(44, label.length * 6 + 10);
          return (
            // biome-ignore lint/a11y/useSemanticElements: an SVG group is the clickable link; a button cannot wrap SVG shapes
            <g
              key={`${l.a}-${l.b}`}
              role="button"
              tabIndex={0}
              style={{ cursor: busy ? "default" : "pointer" }}
              data-testid={`link-${l.a}-${l.b}`}
              data-up={l.up ? "true" : "false"}
              data-live={l.live ? "true" : "false"}
              onClick={() => !busy && onLink(l.a, l.b, !l.up)}
              onKeyDown={(e) => e.key === "Enter" && !busy && onLink(l.a, l.b, !l.up)}
            >
              <title>{l.up ? "click to cut this link" : "click to restore this link"}</title>
              <line x1={a.x} y1={a.y} x2={b.x} y2={b.y} stroke="transparent" strokeWidth={18} />
              <line
                x1={a.x}
                y1={a.y}
                x2={b.x}
                y2={b.y}
                stroke={stroke}
                strokeWidth={l.up ? 4 : 2}
                strokeDasharray={l.up ? undefined : "6 5"}
              />
              <rect x={mx - width / 2} y={my - 9} width={width} height={18} rx={9} fill="white" stroke={stroke} />
              <text x={mx} y={my + 4} textAnchor="middle" fontSize={10} fill={stroke}>
                {label}
              </text>
            </g>
          );
        })}
        {PLACE_IDS.map((p) => {
          const place = snapshot.places[p];
          return (
            <g key={p} opacity={place.online ? 1 : 0.45}>
              <circle cx={POS[p].x} cy={POS[p].y} r={22} fill={COLOR[p]} />
              <text x={POS[p].x} y={POS[p].y + 4} textAnchor="middle" fontSize={10} fill="white" fontWeight={600}>
                {PLACES[p].name.split(" ")[0]}
              </text>
              <text x={POS[p].x} y={POS[p].y + 36} textAnchor="middle" fontSize={10} fill="#6b6f76">
                {place.online ? PLACES[p].name : "offline"}
              </text>
            </g>
          );
        })}
      </svg>
      <table className="list small">
        <tbody>
          {PLACE_IDS.map((p) => {
            const place = snapshot.places[p];
            return (
              <tr key={p}>
                <td>{PLACES[p].name}</td>
                <td>
                  <button
                    type="button"
                    disabled={busy}
                    onClick={() => onOnline(p, !place.online)}
                    data-testid={`online-${p}`}
                    data-online={place.online ? "true" : "false"}
                  >
                    {place.online ? "take offline" : "bring online"}
                  </button>
                </td>
                <td>
                  <select
                    value={place.latency}
                    disabled={busy}
                    onChange={(e) => onLatency(p, Number(e.target.value))}
                    data-testid={`latency-${p}`}
                    title="latency of this place's links"
                  >
                    {LATENCIES.map((ms) => (
                      <option key={ms} value={ms}>
                        {ms === 0 ? "no delay" : `${ms} ms`}
                      </option>
                    ))}
                  </select>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

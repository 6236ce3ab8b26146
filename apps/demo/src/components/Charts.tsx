/** Pictures of a council: each fund's balance over time as each place derives it, and who has held which role. */
import type { CouncilState, EntryType } from "@federa/core";
import { useState } from "react";
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { clockTime, money } from "../format.js";
import type { CouncilKey, PlaceId } from "../peers/cast.js";
import { COUNCILS, PLACE_IDS, PLACES } from "../peers/cast.js";
import type { WorldSnapshot } from "../peers/world.js";

const SIGN: Partial<Record<EntryType, number>> = {
  donation: 1,
  "transfer-in": 1,
  "jar-contribution": 1,
  "split-in": 1,
  expense: -1,
  "transfer-out": -1,
  "jar-payout": -1,
  "jar-remainder": -1,
  "split-out": -1,
};

const PLACE_COLOR: Record<PlaceId, string> = { north: "#2f6f9e", south: "#a8552e", hall: "#6b4fa0" };

/** A fund's balance after each applied entry, as one place's derived ledger has it. */
function series(state: CouncilState, fund: string): { ms: number; balance: number }[] {
  let balance = 0;
  const points: { ms: number; balance: number }[] = [];
  for (const e of state.ledger) {
    if (e.fund !== fund || e.status !== "applied") continue;
    balance += (SIGN[e.type] ?? 0) * e.amount;
    points.push({ ms: e.at.ms, balance });
  }
  return points;
}

function BalanceChart({ snapshot, council }: { snapshot: WorldSnapshot; council: CouncilKey }) {
  const funds =
    snapshot.places.north.view?.councils[council].funds.filter((f) => f.type !== "time").map((f) => f.id as string) ??
    [];
  const [chosen, setChosen] = useState<string | null>(null);
  const fund = chosen !== null && funds.includes(chosen) ? chosen : (funds[0] ?? "");
  const lines = PLACE_IDS.flatMap((place) => {
    const state = snapshot.places[place].view?.councils[council];
    if (state === undefined) return [];
    const points = series(state, fund);
    // The line runs on to the place's present, so a fund that stopped moving still shows where it stands.
    const last = points.at(-1);
    if (last !== undefined) points.push({ ms: Math.max(last.ms, state.horizon.ms), balance: last.balance });
    return [{ place, points }];
  });
  return (
    <div className="card" data-testid="balance-chart">
      <h2>
        Balance over time
        <span style={{ flex: 1 }} />
        {funds.map((f) => (
          <button key={f} type="button" className={f === fund ? "primary" : ""} onClick={() => setChosen(f)}>
            {f}
          </button>
        ))}
      </h2>
      <div style={{ width: "100%", height: 220 }}>
        <ResponsiveContainer>
          <LineChart margin={{ top: 6, right: 16, bottom: 0, left: 4 }}>
            <CartesianGrid stroke="#eee" />
            <XAxis
              dataKey="ms"
              type="number"
              domain={["dataMin", "dataMax"]}
              tickFormatter={(v: number) => clockTime(v)}
              fontSize={10}
              allowDuplicatedCategory={false}
            />
            <YAxis tickFormatter={(v: number) => money(v)} fontSize={10} width={60} />
            <Tooltip labelFormatter={(v) => clockTime(Number(v))} formatter={(v) => money(Number(v))} />
            <Legend />
            {lines.map(({ place, points }, i) => (
              <Line
                key={place}
                data={points}
                dataKey="balance"
                name={PLACES[place].name}
                type="stepAfter"
                stroke={PLACE_COLOR[place]}
                strokeWidth={2.5 - i * 0.5}
                strokeDasharray={i === 0 ? undefined : i === 1 ? "6 3" : "2 3"}
                dot={false}
                isAnimationActive={false}
              />
            ))}
          </LineChart>
        </ResponsiveContainer>
      </div>
      <div className="small muted">
        Each place derives the balance from the records it holds; apart, the lines part; after a merge they meet again.
      </div>
    </div>
  );
}

function RotationCoverage({
  snapshot,
  council,
  nameOf,
}: {
  snapshot: WorldSnapshot;
  council: CouncilKey;
  nameOf: (id: string) => string;
}) {
  const [place, setPlace] = useState<PlaceId>("north");
  const state = snapshot.places[place].view?.councils[council];
  if (state === undefined) return null;
  const members = state.members.map((m) => m.id as string);
  const max = Math.max(
    1,
    ...state.roles.flatMap((r) => members.map((m) => r.holders.filter((h) => h.holder === m).length)),
  );
  return (
    <div className="card" data-testid="rotation-coverage">
      <h2>
        Rotation coverage
        <span style={{ flex: 1 }} />
        {PLACE_IDS.map((p) => (
          <button key={p} type="button" className={p === place ? "primary" : ""} onClick={() => setPlace(p)}>
            {PLACES[p].name}
          </button>
        ))}
      </h2>
      <table className="list" style={{ tableLayout: "fixed" }}>
        <thead>
          <tr>
            <td />
            {members.map((m) => (
              <td key={m} className="small" style={{ textAlign: "center" }}>
                {nameOf(m)}
              </td>
            ))}
          </tr>
        </thead>
        <tbody>
          {state.roles.map((r) => (
            <tr key={r.role}>
              <td className="small">
                {r.role}
                {r.stalled && <span className="pill bad">stalled</span>}
              </td>
              {members.map((m) => {
                const held = r.holders.filter((h) => h.holder === m);
                const violation = held.some((h) => h.violation);
                const next = r.nextEligible.includes(m as never);
                const alpha = held.length / max;
                return (
                  <td key={m} style={{ padding: 2 }}>
                    <div
                      className="grid-cell"
                      title={held.map((h) => h.meeting).join(", ") || (next ? "may take it next" : "")}
                      style={{
                        background: held.length ? `rgba(47,111,94,${0.25 + 0.75 * alpha})` : "#f4f1ea",
                        color: held.length ? "white" : "#aaa",
                        outline: violation ? "2px solid #b3261e" : next ? "1.5px dashed #2f6f5e" : undefined,
                      }}
                    >
                      {held.length || (next ? "next" : "·")}
                    </div>
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
      <div className="small muted">
        Filled: times held; dashed: may take it next without breaking rotation ({COUNCILS[council].name}, as the{" "}
        {PLACES[place].name} derives it).
      </div>
    </div>
  );
}

export function Charts({
  snapshot,
  council,
  nameOf,
}: {
  snapshot: WorldSnapshot;
  council: CouncilKey;
  nameOf: (id: string) => string;
}) {
  return (
    <div style={{ display: "grid", gridTemplateColumns: "3fr 2fr", gap: 8 }}>
      <BalanceChart snapshot={snapshot} council={council} />
      <RotationCoverage snapshot={snapshot} council={council} nameOf={nameOf} />
    </div>
  );
}

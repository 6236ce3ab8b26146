import fc from "fast-check";
import { Council } from "../../src/index.js";
import { coverageOf, historyArb, identityPool, mergeReplica, playHistory, invariantBreaches } from "./histories.js";

const pool = await identityPool(8);
const specs = fc.sample(historyArb(), { numRuns: Number(process.argv[2] ?? 30), seed: Number(process.argv[3] ?? 1) });
const total: Record<string, number> = {};
let acts = 0;
const t0 = Date.now();
for (const spec of specs) {
  const run = await playHistory(spec, pool, { checkpointEvery: 4 });
  acts += run.acts;
  const root = run.partitions[0]!.replica;
  for (const p of run.partitions.slice(1)) mergeReplica(root, p.replica);
  const c = await Council.open(root);
  const s = await c.state();
  const cov = coverageOf(s);
  for (const [k, v] of Object.entries(cov)) total[k] = (total[k] ?? 0) + (v > 0 ? 1 : 0);
  const b = invariantBreaches(s, c.records);
  if (b.length) console.log(b);
}
console.log(specs.length, "histories", acts / specs.length, "acts avg", Date.now() - t0, "ms", total);

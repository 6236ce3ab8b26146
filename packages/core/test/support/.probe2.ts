import fc from "fast-check";
import { Council } from "../../src/index.js";
import { historyArb, identityPool, mergeReplica, playHistory } from "./histories.js";
const pool = await identityPool(8);
const specs = fc.sample(historyArb(), { numRuns: 5, seed: 3 });
for (const spec of specs) {
  const run = await playHistory(spec, pool, { checkpointEvery: 4 });
  const root = run.partitions[0]!.replica;
  for (const p of run.partitions.slice(1)) mergeReplica(root, p.replica);
  const c = await Council.open(root);
  const s = await c.state();
  console.log(spec.members, spec.groups, spec.prefix.map(x=>x.act.type).join(","), s.horizon.ms - 1_700_000_000_000);
  for (const p of s.proposals) console.log(" ", p.title, p.status, p.closesAt - 1_700_000_000_000, Object.keys(p.votes).length, p.result?.reason, p.effectOutcome?.detail);
  console.log(s.excluded.map(e=>e.reason+":"+e.detail));
}

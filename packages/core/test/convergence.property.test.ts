/** Property tests: partitioned random histories converge to one state in any merge order, and keep the invariants. */
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import type { Identity } from "../src/index.js";
import { Council } from "../src/index.js";
import type { HistorySpec, Replica } from "./support/histories.js";
import {
  canonical,
  forkReplica,
  historyArb,
  identityPool,
  invariantBreaches,
  mergeReplica,
  playHistory,
} from "./support/histories.js";

const RUNS = 30;
const PARTITIONS = [0, 1, 2, 3, 4];

/** How replicas come together: whole-set merges in several orders, then pairwise gossip among the replicas. */
interface MergePlan {
  readonly orders: readonly (readonly number[])[];
  readonly gossip: readonly (readonly [number, number])[];
}

const mergePlanArb: fc.Arbitrary<MergePlan> = fc.record({
  orders: fc.array(fc.shuffledSubarray(PARTITIONS, { minLength: 5, maxLength: 5 }), { minLength: 2, maxLength: 3 }),
  gossip: fc.array(fc.tuple(fc.nat(4), fc.nat(4)), { maxLength: 8 }),
});

let pool: Identity[] = [];

beforeAll(async () => {
  pool = await identityPool(8);
});

/** A council opened on a replica from nothing: what a peer that just received these documents derives. */
async function fresh(replica: Replica): Promise<{ json: string; council: Council }> {
  const council = await Council.open(replica);
  return { json: canonical(await council.state()), council };
}

async function expectInvariants(council: Council, where: string): Promise<void> {
  const breaches = invariantBreaches(await council.state(), council.records);
  expect(breaches, where).toEqual([]);
}

async function convergence(spec: HistorySpec, plan: MergePlan): Promise<void> {
  const run = await playHistory(spec, pool, { checkpointEvery: 4 });
  const parts = run.partitions;
  const k = parts.length;

  // Each partition, before any merge, already satisfies every invariant, and its watcher matches a fresh derivation.
  for (const [i, part] of parts.entries()) {
    await expectInvariants(part.watcher, `partition ${i} before merging`);
    expect(canonical(await part.watcher.state()), `partition ${i} watcher`).toBe((await fresh(part.replica)).json);
  }

  // Whole-set merges in several orders, each watched by a council refreshed after every merge.
  const results: string[] = [];
  for (const order of plan.orders) {
    const sequence = order.filter((i) => i < k);
    const acc = forkReplica(parts[sequence[0]!]!.replica);
    const watcher = await Council.open(acc, { checkpointEvery: 4 });
    for (const i of sequence.slice(1)) {
      mergeReplica(acc, parts[i]!.replica);
      await watcher.refresh();
    }
    const scratch = await fresh(acc);
    expect(canonical(await watcher.state()), `incremental after merging ${sequence}`).toBe(scratch.json);
    results.push(scratch.json);
  }
  for (const json of results) expect(json).toBe(results[0]);

  // Gossip between the partitions' own replicas, then a pass each way along a line so every replica holds everything.
  const gossip: [number, number][] = plan.gossip.map(([a, b]) => [a % k, b % k]);
  for (let i = 0; i + 1 < k; i++) gossip.push([i, i + 1]);
  for (let i = k - 1; i > 0; i--) gossip.push([k - 1, i - 1]);
  for (const [from, to] of gossip) {
    if (from === to) continue;
    mergeReplica(parts[to]!.replica, parts[from]!.replica);
    await parts[to]!.watcher.refresh();
  }
  for (const [i, part] of parts.entries()) {
    const scratch = await fresh(part.replica);
    expect(scratch.json, `replica ${i} after gossip`).toBe(results[0]);
    // The watcher was open the whole time; its checkpoints and late-record re-derivations must equal a fresh fold.
    expect(canonical(await part.watcher.state()), `watcher ${i} after gossip`).toBe(scratch.json);
    for (const member of part.councils)
      expect(canonical(await member.state()), `member council on ${i}`).toBe(scratch.json);
  }
  const merged = await fresh(parts[0]!.replica);
  expect(JSON.parse(merged.json).records).toBe(merged.council.records.length);
  await expectInvariants(merged.council, "merged state");
}

describe("convergence of partitioned histories", () => {
  it("derives one state whatever the merge order, incrementally or from scratch, and keeps every invariant", async () => {
    await fc.assert(
      fc.asyncProperty(historyArb(), mergePlanArb, (spec, plan) => convergence(spec, plan)),
      { numRuns: RUNS },
    );
  }, 300_000);
});

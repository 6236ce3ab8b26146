/** Property tests: partitioned random histories converge to one state in any merge order, and keep the invariants. */
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import type { Identity } from "../src/index.js";
import { Council } from "../src/index.js";
import type { HistorySpec, Replica } from "./support/histories.js";
import {
  canonical,
  coverageOf,
  forkReplica,
  historyArb,
  identityPool,
  invariantBreaches,
  mergeReplica,
  playHistory,
  recallRaceArb,
  splitVoteArb,
} from "./support/histories.js";

// Raise FEDERA_PROPERTY_RUNS to search longer (for example 500 before a release); it never goes below 30.
const RUNS = Math.max(30, Number(process.env.FEDERA_PROPERTY_RUNS ?? 30));
const SPLIT_VOTE_RUNS = Math.ceil((RUNS * 2) / 3);
const RACE_RUNS = Math.ceil(RUNS / 2);
// Generous: a slow machine shared with other builds must not turn a long search into a timeout.
const TIMEOUT = 120_000 + RUNS * 4_000;
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

/** Per case: what the merged state reached, and how many proposals closed in a partition ended otherwise merged. */
type Reached = Record<string, number>;

async function convergence(spec: HistorySpec, plan: MergePlan): Promise<Reached> {
  const run = await playHistory(spec, pool, { checkpointEvery: 4 });
  const parts = run.partitions;
  const k = parts.length;

  // Each partition, before any merge, already satisfies every invariant, and its watcher matches a fresh derivation.
  const closedApart = new Map<string, string>();
  for (const [i, part] of parts.entries()) {
    await expectInvariants(part.watcher, `partition ${i} before merging`);
    const apart = await part.watcher.state();
    expect(canonical(apart), `partition ${i} watcher`).toBe((await fresh(part.replica)).json);
    for (const p of apart.proposals) if (p.status !== "open") closedApart.set(`${i}:${p.id}`, p.status);
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
    const watched = canonical(await parts[to]!.watcher.state());
    expect(watched, `watcher ${to} after merging ${from} into it`).toBe((await fresh(parts[to]!.replica)).json);
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
  const state = await merged.council.state();
  expect(state.records).toBe(merged.council.records.length);
  await expectInvariants(merged.council, "merged state");
  const final = new Map(state.proposals.map((p) => [p.id as string, p.status]));
  const overturned = [...closedApart].filter(([key, status]) => final.get(key.split(":")[1]!) !== status).length;
  return { ...coverageOf(state, merged.council.records), overturned };
}

describe("convergence of partitioned histories", () => {
  it(
    "derives one state whatever the merge order, incrementally or from scratch, and keeps every invariant",
    async () => {
      const runs: Reached[] = [];
      await fc.assert(
        fc.asyncProperty(historyArb(), mergePlanArb, async (spec, plan) => {
          runs.push(await convergence(spec, plan));
        }),
        { numRuns: RUNS },
      );
      // The property is only as strong as the histories: some must pass decisions, change outcomes as votes come in,
      // issue mandates, hold expenses, refuse late votes and breach rotation.
      const reached = (key: string) => runs.filter((r) => (r[key] ?? 0) > 0).length;
      for (const key of ["passed", "outcomeChanged", "mandates", "held", "lateVotes", "rotationViolations"])
        expect(reached(key), `runs that reached ${key}`).toBeGreaterThan(0);
    },
    TIMEOUT,
  );

  it(
    "re-derives, the same everywhere, outcomes that votes cast apart overturn after a partition closed them",
    async () => {
      const runs: Reached[] = [];
      await fc.assert(
        fc.asyncProperty(splitVoteArb(), mergePlanArb, async (spec, plan) => {
          runs.push(await convergence(spec, plan));
        }),
        { numRuns: SPLIT_VOTE_RUNS },
      );
      expect(
        runs.filter((r) => (r.overturned ?? 0) > 0).length,
        "runs where a merge overturned an outcome",
      ).toBeGreaterThan(0);
    },
    TIMEOUT,
  );

  it(
    "agrees with mandateAllows on a delegate's spends that share the clock of the vote recalling them",
    async () => {
      const twoWay = fc.record({
        orders: fc.constant([
          [0, 1],
          [1, 0],
        ]),
        gossip: fc.constant([]),
      });
      const runs: Reached[] = [];
      await fc.assert(
        fc.asyncProperty(recallRaceArb(), twoWay, async (spec, plan) => {
          runs.push(await convergence(spec, plan));
        }),
        { numRuns: RACE_RUNS },
      );
      expect(
        runs.filter((r) => (r.recallTies ?? 0) > 0).length,
        "runs with a spend at the recall's clock",
      ).toBeGreaterThan(0);
    },
    TIMEOUT,
  );
});

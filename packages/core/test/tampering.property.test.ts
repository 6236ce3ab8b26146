/** Property test: honest replicas that see a member's tampering write the records back, and every replica converges to the untampered state. */
import * as A from "@automerge/automerge";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { allEntries, bucketOf } from "../src/documents/layout.js";
import type { CouncilDoc, Identity, LedgerDoc } from "../src/index.js";
import { Council, PlainDocument } from "../src/index.js";
import { frame, payloadOf } from "./support/forge.js";
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

// Raise FEDERA_PROPERTY_RUNS to search longer; it never goes below 25.
const RUNS = Math.max(25, Number(process.env.FEDERA_PROPERTY_RUNS ?? 25));
// Generous: a slow machine shared with other builds must not turn a long search into a timeout.
const TIMEOUT = 120_000 + RUNS * 4_000;
// Full gossip rounds before replicas that still write records back count as not converging.
const MAX_ROUNDS = 8;

/** What a tampering member does to the value under one stored key (or to the map around it). */
type Harm =
  | { readonly type: "delete" }
  | { readonly type: "garbage"; readonly value: Uint8Array | string | number }
  | { readonly type: "bad-signature"; readonly at: number; readonly mask: number; readonly signature: Uint8Array }
  | { readonly type: "unsign" }
  | { readonly type: "empty-bucket" }
  | { readonly type: "no-records"; readonly value: number | string | Uint8Array | null | readonly never[] };

/** One harm to the record `target` picks among those the tamperer holds before its wave of harms, in one document. */
interface TamperOp {
  readonly doc: "council" | "ledger";
  readonly target: number;
  readonly harm: Harm;
}

/** Whose replicas the tamperer forks and merges, its harms, and `late` harms once it has merged the write-backs. */
interface TamperSpec {
  readonly sources: readonly number[];
  readonly ops: readonly TamperOp[];
  readonly late: readonly TamperOp[];
}

/** Merges before gossip, over honest replicas 0..n-1 (partitions', then a newcomer's) and the tamperer at n. */
interface MergePlan {
  readonly first: number;
  readonly steps: readonly (readonly [number, number])[];
  readonly again: number;
}

const harmArb: fc.Arbitrary<Harm> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ type: "delete" as const }) },
  {
    weight: 3,
    arbitrary: fc.record({
      type: fc.constant("garbage" as const),
      value: fc.oneof(
        { weight: 4, arbitrary: fc.uint8Array({ maxLength: 80 }) },
        { weight: 1, arbitrary: fc.string({ maxLength: 6 }) },
        { weight: 1, arbitrary: fc.integer() },
      ),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      type: fc.constant("bad-signature" as const),
      at: fc.nat(63),
      mask: fc.integer({ min: 1, max: 255 }),
      signature: fc.uint8Array({ minLength: 64, maxLength: 64 }),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ type: "unsign" as const }) },
  { weight: 2, arbitrary: fc.constant({ type: "empty-bucket" as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant("no-records" as const),
      value: fc.constantFrom(42, "records", new Uint8Array([1, 2, 3]), null, [] as never[]),
    }),
  },
);

const tamperOpArb: fc.Arbitrary<TamperOp> = fc.record({
  doc: fc.constantFrom("council" as const, "ledger" as const),
  target: fc.nat(),
  harm: harmArb,
});

const tamperArb: fc.Arbitrary<TamperSpec> = fc.record({
  sources: fc.array(fc.nat(4), { minLength: 1, maxLength: 3 }),
  ops: fc.array(tamperOpArb, { minLength: 1, maxLength: 6 }),
  late: fc.array(tamperOpArb, { maxLength: 3 }),
});

const mergePlanArb: fc.Arbitrary<MergePlan> = fc.record({
  first: fc.nat(5),
  steps: fc.array(fc.tuple(fc.nat(5), fc.nat(6)), { maxLength: 10 }),
  again: fc.nat(5),
});

// Small histories: the property is about stored bytes, and every run plays one whole history.
const smallHistoryArb = historyArb({ maxPrefix: 4, maxPerPartition: 6, partitionActs: 16 });

let pool: Identity[] = [];

beforeAll(async () => {
  pool = await identityPool(8);
});

/** Either document as the tamperer sees it: any shape may be written where the layout expects maps. */
type Loose = { records?: unknown };

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

/** The records a document holds, as (key, bytes) sorted by key, so a target index names the same record every run. */
function heldRecords(doc: A.Doc<unknown>): [string, Uint8Array][] {
  const out: [string, Uint8Array][] = [];
  for (const [key, value] of allEntries(doc)) if (value instanceof Uint8Array) out.push([key, value.slice()]);
  return out.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The value a harm puts where a record's bytes were; undefined when it writes no value there. */
function harmedValue(harm: Harm, bytes: Uint8Array): unknown {
  switch (harm.type) {
    case "garbage":
      return harm.value;
    case "bad-signature": {
      if (bytes[0] !== 1) return frame(payloadOf(bytes), harm.signature);
      const signature = bytes.slice(1, 65);
      signature[harm.at]! ^= harm.mask;
      return frame(payloadOf(bytes), signature);
    }
    case "unsign":
      return bytes[0] === 1 ? frame(payloadOf(bytes), null) : undefined;
    default:
      return undefined;
  }
}

/** Applies one harm inside a change; returns whether it wrote anything. */
function applyHarm(d: Loose, key: string, harm: Harm, bytes: Uint8Array): boolean {
  if (harm.type === "no-records") {
    d.records = harm.value;
    return true;
  }
  if (harm.type === "delete") {
    const bucket = isMap(d.records) ? d.records[bucketOf(key)] : undefined;
    if (!isMap(bucket) || !(key in bucket)) return false;
    delete bucket[key];
    return true;
  }
  // The layout's maps may be gone after an earlier harm: the tamperer makes new ones, as any peer may.
  if (!isMap(d.records)) d.records = {};
  const records = d.records as Record<string, unknown>;
  if (harm.type === "empty-bucket") {
    records[bucketOf(key)] = {};
    return true;
  }
  const value = harmedValue(harm, bytes);
  if (value === undefined) return false;
  if (!isMap(records[bucketOf(key)])) records[bucketOf(key)] = {};
  (records[bucketOf(key)] as Record<string, unknown>)[key] = value;
  return true;
}

/** Tampers with a replica, each harm its own change; returns how many harms wrote something. */
function tamper(replica: Replica, ops: readonly TamperOp[]): number {
  const held = { council: heldRecords(replica.council.doc()), ledger: heldRecords(replica.ledger.doc()) };
  let harmed = 0;
  for (const op of ops) {
    const targets = held[op.doc];
    if (targets.length === 0) continue;
    const [key, bytes] = targets[op.target % targets.length]!;
    const doc = replica[op.doc] as unknown as PlainDocument<Loose>;
    let wrote = false;
    doc.change((d) => {
      wrote = applyHarm(d, key, op.harm, bytes);
    });
    if (wrote) harmed++;
  }
  return harmed;
}

/** What a peer that just received these documents derives: a council opened on their saved bytes. */
async function freshFromSaved(replica: Replica): Promise<Council> {
  return Council.open({
    council: PlainDocument.load<CouncilDoc>(replica.council.save()),
    ledger: PlainDocument.load<LedgerDoc>(replica.ledger.save()),
  });
}

/** Both documents' heads, sorted: equal strings mean equal documents. */
function headsOf(replica: Replica): string {
  return [A.getHeads(replica.council.doc()), A.getHeads(replica.ledger.doc())].map((h) => [...h].sort()).join("|");
}

interface Outcome {
  readonly harmed: number;
  readonly restored: number;
  /** Whether the tampered replica alone derives another state than the untampered merge. */
  readonly tamperedDiffers: boolean;
}

/** An honest replica: its documents, a watcher refreshed after every merge, and the councils its members opened. */
interface Honest {
  readonly replica: Replica;
  readonly watcher: Council;
  readonly councils: readonly Council[];
}

async function tampering(spec: HistorySpec, attack: TamperSpec, plan: MergePlan): Promise<Outcome> {
  const run = await playHistory(spec, pool);
  const parts = run.partitions;
  const k = parts.length;
  // Every watcher reads all its replica holds, so a record is held by the watcher of each partition that has it.
  for (const part of parts) await part.watcher.refresh();

  const everything = forkReplica(parts[0]!.replica);
  for (const part of parts.slice(1)) mergeReplica(everything, part.replica);
  const reference = canonical(await (await Council.open(everything)).state());

  const sources = [...new Set(attack.sources.map((s) => s % k))];
  const tamperer = forkReplica(parts[sources[0]!]!.replica);
  for (const s of sources.slice(1)) mergeReplica(tamperer, parts[s]!.replica);
  let harmed = tamper(tamperer, attack.ops);
  const tamperedDiffers = canonical(await (await freshFromSaved(tamperer)).state()) !== reference;

  // A newcomer that first loads the tampered documents is honest from then on: it must converge as well.
  const arrival = forkReplica(tamperer);
  const newcomer: Honest = { replica: arrival, watcher: await Council.open(arrival), councils: [] };
  const honest: Honest[] = [...parts, newcomer];
  const n = honest.length;
  const replicaOf = (i: number) => (i === n ? tamperer : honest[i]!.replica);
  // The watcher refreshes after every merge, so it sees each harm and writes back what it held.
  const mergeInto = async (into: number, from: number) => {
    if (into === from) return;
    mergeReplica(honest[into]!.replica, replicaOf(from));
    await honest[into]!.watcher.refresh();
  };
  await mergeInto(plan.first % n, n);
  for (const [into, from] of plan.steps) await mergeInto(into % n, from % (n + 1));
  if (attack.late.length > 0) {
    for (const h of honest) mergeReplica(tamperer, h.replica);
    harmed += tamper(tamperer, attack.late);
    await mergeInto(plan.again % n, n);
  }

  // Full gossip until a round changes nothing: every replica then holds the same documents.
  for (let rounds = 1; ; rounds++) {
    const before = honest.map((h) => headsOf(h.replica));
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) await mergeInto(i, j);
    const after = honest.map((h) => headsOf(h.replica));
    if (after.every((h) => h === after[0]) && after.join() === before.join()) break;
    expect(rounds, "gossip rounds before the replicas stop writing back").toBeLessThan(MAX_ROUNDS);
  }

  const settled = headsOf(honest[0]!.replica);
  for (const [i, h] of honest.entries()) {
    const watched = await h.watcher.state();
    expect(canonical(watched), `watcher ${i}`).toBe(reference);
    expect(invariantBreaches(watched, h.watcher.records), `watcher ${i} invariants`).toEqual([]);
    for (const member of h.councils) expect(canonical(await member.state()), `member council on ${i}`).toBe(reference);
    // The members' councils read the same records as the watcher: nothing is left for them to write back.
    expect(headsOf(h.replica), `replica ${i} after its members refreshed`).toBe(settled);
    const loaded = await freshFromSaved(h.replica);
    const state = await loaded.state();
    expect(canonical(state), `replica ${i} loaded afresh`).toBe(reference);
    expect(invariantBreaches(state, loaded.records), `replica ${i} loaded afresh, invariants`).toEqual([]);
  }
  const restored = honest.reduce((sum, h) => sum + h.watcher.restored, 0);
  return { harmed, restored, tamperedDiffers };
}

describe("tampering with stored records", () => {
  it(
    "honest replicas that see a member's tampering write the records back, and every replica converges to the untampered state",
    async () => {
      const runs: Outcome[] = [];
      await fc.assert(
        fc.asyncProperty(smallHistoryArb, tamperArb, mergePlanArb, async (spec, attack, plan) => {
          runs.push(await tampering(spec, attack, plan));
        }),
        { numRuns: RUNS },
      );
      // Not vacuous: members did tamper, their replica alone derived another state, and honest replicas wrote back.
      expect(runs.filter((r) => r.harmed > 0).length, "runs with tampering").toBeGreaterThan(0);
      expect(runs.filter((r) => r.tamperedDiffers).length, "runs where tampering changed the state").toBeGreaterThan(0);
      expect(runs.filter((r) => r.restored > 0).length, "runs with records written back").toBeGreaterThan(0);
    },
    TIMEOUT,
  );
});

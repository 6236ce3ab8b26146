/** Federa's side of the benchmark: a council of many devices writing the ledger stream, and loading it back. */
import * as A from "@automerge/automerge";
import { councilReducer } from "../src/derive/council-reducer.js";
import { Fold } from "../src/derive/fold.js";
import type { Act, CouncilDoc, CouncilSources, DeviceId, FederaRecord, LedgerDoc } from "../src/index.js";
import { Council, foundCouncil, MemoryVerifiedCache, PlainDocument } from "../src/index.js";
import { type Cast, PETTY_CASH_LIMIT, type Payload, rng } from "./workload.js";

/** A stepping clock: every call is one minute after the previous one, so runs are reproducible. */
export function steppingClock(startMs: number): () => number {
  let t = startMs;
  return () => {
    t += 60_000;
    return t;
  };
}

/** A founded council with one open `Council` per writing device, all on the same pair of documents. */
export interface BenchCouncil {
  readonly sources: { council: PlainDocument<CouncilDoc>; ledger: PlainDocument<LedgerDoc> };
  readonly writers: readonly Council[];
  /** Records written while setting up (genesis, device authorisations, funds). */
  readonly setupRecords: number;
}

/**
 * Founds the council with every member a founder, authorises each member's device (and the second devices), and
 * creates the two funds. The simulated devices share one memory of verified signatures: in one process it only
 * spares them re-verifying each other's records while catching up, which is never part of a timed write.
 */
export async function foundBenchCouncil(cast: Cast, now: () => number): Promise<BenchCouncil> {
  const docs = await foundCouncil(cast.founder, {
    name: "Neighbourhood mutual aid",
    founders: cast.members.map((m) => m.member),
    charter: { pettyCashLimit: PETTY_CASH_LIMIT },
    now,
  });
  const sources = { council: new PlainDocument(docs.council), ledger: new PlainDocument(docs.ledger) };
  const verified = new MemoryVerifiedCache();
  const writers: Council[] = [];
  for (const w of cast.writers) {
    const council = await Council.open(sources, { identity: w.identity, now, verified });
    const device = w.identity.device.id as DeviceId;
    if (w.identity.memberKey === undefined) await writers[w.member]!.authorizeDevice(device, "phone");
    else if (w.member !== 0) await council.authorizeDevice(device, "laptop");
    writers.push(council);
  }
  await writers[0]!.ledger.createFund("general", "cash", "Money of the group");
  await writers[0]!.ledger.createFund("time-bank", "time", "Hours members give each other");
  const state = await writers[0]!.state();
  return { sources, writers, setupRecords: state.records };
}

/** The act of a payload, written by `member` (a swap's provider is never its receiver). */
export function actOf(p: Payload, member: number, cast: Cast): Act {
  switch (p.kind) {
    case "donation":
      return { kind: "ledger.donate", body: { fund: p.fund, amount: p.amount, from: p.from } };
    case "expense":
      return {
        kind: "ledger.spend",
        body: { fund: p.fund, amount: p.amount, payee: p.payee, memo: p.memo, approval: { kind: "petty" } },
      };
    case "swap": {
      const provider = p.provider === member ? (member + 1) % cast.members.length : p.provider;
      return { kind: "swap.record", body: { fund: p.fund, provider: cast.members[provider]!.member, minutes: p.minutes } };
    }
  }
}

/** Writes one payload through the ledger API: one signed record in one change. */
export async function writeOne(council: Council, p: Payload, cast: Cast): Promise<void> {
  switch (p.kind) {
    case "donation":
      await council.ledger.donate(p.fund, p.amount, p.from);
      return;
    case "expense":
      await council.ledger.spend(p.fund, p.amount, p.payee, "petty", p.memo);
      return;
    case "swap":
      await council.ledger.swap(p.fund, cast.members[p.provider]!.member, p.minutes);
      return;
  }
}

/** Saved bytes of both documents. */
export function saveBoth(sources: BenchCouncil["sources"]): { council: Uint8Array; ledger: Uint8Array } {
  return { council: sources.council.save(), ledger: sources.ledger.save() };
}

/** Result of loading saved documents to derived state. */
export interface Loaded {
  readonly ms: number;
  readonly council: Council;
  readonly verified: MemoryVerifiedCache;
}

/**
 * Loads saved documents and derives state: with `cache` (bytes of a verified cache), as a device that verified the
 * records when they arrived; without it, verifying every signature.
 */
export async function loadToState(
  bytes: { council: Uint8Array; ledger: Uint8Array },
  expectedRecords: number,
  cache?: Uint8Array,
): Promise<Loaded> {
  const t0 = performance.now();
  const verified = cache === undefined ? new MemoryVerifiedCache() : MemoryVerifiedCache.fromBytes(cache);
  const sources: CouncilSources = {
    council: PlainDocument.load<CouncilDoc>(bytes.council),
    ledger: PlainDocument.load<LedgerDoc>(bytes.ledger),
  };
  const council = await Council.open(sources, { verified });
  const state = await council.state();
  const ms = performance.now() - t0;
  if (state.records !== expectedRecords || state.excluded.length !== 0) {
    throw new Error(`loaded ${state.records} records (${state.excluded.length} excluded), expected ${expectedRecords}`);
  }
  return { ms, council, verified };
}

/** Where one append at N goes. */
export interface AppendCost {
  /** `council.ledger.donate` then `council.current()`: what an application pays to append and see the result. */
  readonly totalMs: number;
  readonly writeMs: number;
  readonly viewMs: number;
  /** Applying one record to the fold, without documents, decoding or view. */
  readonly foldMs: number;
  /** One Automerge change putting one record's bytes into a bucket of the ledger document. */
  readonly automergeMs: number;
}

/** The median of a list of samples. */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Medians over `samples` appends (after a few untimed ones) on a council loaded from `bytes` with a warm cache. */
export async function appendCost(
  bytes: { council: Uint8Array; ledger: Uint8Array },
  expectedRecords: number,
  cache: Uint8Array,
  cast: Cast,
  samples: number,
): Promise<AppendCost> {
  const warmup = 5;
  // The fold alone: fold all but the last records, then apply those one by one.
  const loaded = await loadToState(bytes, expectedRecords, cache);
  const records: FederaRecord[] = loaded.council.records.slice();
  const fold = new Fold(councilReducer);
  fold.update(records.slice(0, records.length - samples - warmup));
  const foldTimes: number[] = [];
  for (const [i, r] of records.slice(records.length - samples - warmup).entries()) {
    const t0 = performance.now();
    fold.update([r]);
    const dt = performance.now() - t0;
    if (fold.stats.applied !== 1) throw new Error("a fold append applied more than one record");
    if (i >= warmup) foldTimes.push(dt);
  }

  // Automerge alone: one change putting one record-sized value into a bucket.
  let ledger = A.load<LedgerDoc>(bytes.ledger);
  const next = rng(7);
  const amTimes: number[] = [];
  for (let i = 0; i < samples + warmup; i++) {
    const value = new Uint8Array(210).map(() => Math.floor(next() * 256));
    let id = "";
    for (let k = 0; k < 64; k++) id += Math.floor(next() * 16).toString(16);
    const t0 = performance.now();
    ledger = A.change(ledger, (d) => {
      d.records[id.slice(0, 2)]![id] = value;
    });
    if (i >= warmup) amTimes.push(performance.now() - t0);
  }

  // The application's append: a device of member 1 opens the council and donates, then reads the state.
  const writer = cast.writers[1]!;
  const council = await Council.open(loaded.council.sources, {
    identity: writer.identity,
    verified: loaded.verified,
    now: steppingClock(Date.UTC(2100, 0, 1)),
  });
  await council.state();
  const writeTimes: number[] = [];
  const viewTimes: number[] = [];
  for (let i = 0; i < samples + warmup; i++) {
    const t0 = performance.now();
    await council.ledger.donate("general", 1_000 + i, "bench");
    const t1 = performance.now();
    const state = council.current();
    const t2 = performance.now();
    if (council.foldStats.applied !== 1 || state.records !== expectedRecords + i + 1) {
      throw new Error(`append ${i} re-derived ${council.foldStats.applied} records`);
    }
    if (i >= warmup) {
      writeTimes.push(t1 - t0);
      viewTimes.push(t2 - t1);
    }
  }
  const totals = writeTimes.map((w, i) => w + viewTimes[i]!);
  return {
    totalMs: median(totals),
    writeMs: median(writeTimes),
    viewMs: median(viewTimes),
    foldMs: median(foldTimes),
    automergeMs: median(amTimes),
  };
}

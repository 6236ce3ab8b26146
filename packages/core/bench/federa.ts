/** Federa's side of the benchmark: a council of many devices writing the ledger stream, and loading it back. */
import * as A from "@automerge/automerge";
import { councilReducer } from "../src/derive/council-reducer.js";
import { Fold } from "../src/derive/fold.js";
import type { Act, CouncilDoc, CouncilSources, DeviceId, FederaRecord, LedgerDoc } from "../src/index.js";
import { bucketOf, Council, foundCouncil, MemoryVerifiedCache, PlainDocument, storageKeyOf } from "../src/index.js";
import { type Spent, stopwatch } from "./stopwatch.js";
import { type Cast, type Payload, PETTY_CASH_LIMIT, rng } from "./workload.js";

/** A stepping clock: every call is one minute after the previous one, so runs are reproducible. */
export function steppingClock(startMs: number): () => number {
  let t = startMs;
  return () => {
    t += 60_000;
    return t;
  };
}

/** A founded council on one pair of documents, and a way to open it as any of the writing devices. */
export interface BenchCouncil {
  readonly sources: { council: PlainDocument<CouncilDoc>; ledger: PlainDocument<LedgerDoc> };
  /** Records written while setting up (genesis, device authorisations, funds). */
  readonly setupRecords: number;
  /** Opens the council as writing device `w` of the cast. */
  open(w: number): Promise<Council>;
}

/**
 * Founds the council with every member a founder, authorises each member's devices, and creates the two funds.
 * The simulated devices share one memory of verified signatures: in one process it only spares them re-verifying
 * each other's records while catching up, which is never part of a timed write.
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
  const open = (w: number) => Council.open(sources, { identity: cast.writers[w]!.identity, now, verified });
  // Each member's own key authorises its devices (the founder's first device was authorised at founding).
  for (const [m, identity] of cast.members.entries()) {
    const council = await open(m);
    if (m !== 0) await council.authorizeDevice(identity.device.id as DeviceId, "laptop");
    for (const w of cast.writers) {
      if (w.member === m && w.identity.memberKey === undefined)
        await council.authorizeDevice(w.identity.device.id as DeviceId, "phone");
    }
  }
  const founder = await open(0);
  await founder.ledger.createFund("general", "cash", "Money of the group");
  await founder.ledger.createFund("time-bank", "time", "Hours members give each other");
  const state = await founder.state();
  return { sources, setupRecords: state.records, open };
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
      return {
        kind: "swap.record",
        body: { fund: p.fund, provider: cast.members[provider]!.member, minutes: p.minutes },
      };
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

/** Mean length of the stored values (signature flag, signature when signed, payload) in the ledger document. */
export function meanStoredRecord(ledger: PlainDocument<LedgerDoc>): number {
  let count = 0;
  let total = 0;
  for (const bucket of Object.values(ledger.doc().records)) {
    for (const value of Object.values(bucket)) {
      count++;
      total += value.length;
    }
  }
  return count === 0 ? 0 : total / count;
}

/** Saved bytes of both documents. */
export function saveBoth(sources: BenchCouncil["sources"]): { council: Uint8Array; ledger: Uint8Array } {
  return { council: sources.council.save(), ledger: sources.ledger.save() };
}

/** Result of loading saved documents to derived state. */
export interface Loaded {
  readonly spent: Spent;
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
  const stop = stopwatch();
  const verified = cache === undefined ? new MemoryVerifiedCache() : MemoryVerifiedCache.fromBytes(cache);
  const sources: CouncilSources = {
    council: PlainDocument.load<CouncilDoc>(bytes.council),
    ledger: PlainDocument.load<LedgerDoc>(bytes.ledger),
  };
  const council = await Council.open(sources, { verified });
  const state = await council.state();
  const spent = stop();
  if (state.records !== expectedRecords || state.excluded.length !== 0) {
    throw new Error(`loaded ${state.records} records (${state.excluded.length} excluded), expected ${expectedRecords}`);
  }
  return { spent, council, verified };
}

/** Where one append at N goes. */
export interface AppendCost {
  /** `council.ledger.donate` then `council.current()`: what an application pays to append and see the result. */
  readonly totalMs: number;
  /** The 90th percentile of the same (garbage collection shows here, not in the median). */
  readonly totalP90Ms: number;
  readonly writeMs: number;
  readonly viewMs: number;
  /** Applying one record to the fold, without documents, decoding or view. */
  readonly foldMs: number;
  /** One Automerge change putting one record's bytes into a bucket of the ledger document. */
  readonly automergeMs: number;
}

/** The median of a list of samples. */
export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/** The q-quantile of a list of samples (linear between the nearest ranks). */
export function quantile(values: readonly number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  return s[lo]! + (s[Math.min(lo + 1, s.length - 1)]! - s[lo]!) * (pos - lo);
}

const WARMUP = 20;

/**
 * The application's append: a device of member 1 loads the documents (warm cache), donates, then reads the state;
 * only this council is alive while it is timed.
 */
async function appAppends(
  bytes: { council: Uint8Array; ledger: Uint8Array },
  expectedRecords: number,
  cache: Uint8Array,
  cast: Cast,
  samples: number,
): Promise<{ write: number[]; view: number[] }> {
  const sources: CouncilSources = {
    council: PlainDocument.load<CouncilDoc>(bytes.council),
    ledger: PlainDocument.load<LedgerDoc>(bytes.ledger),
  };
  const council = await Council.open(sources, {
    identity: cast.writers[1]!.identity,
    verified: MemoryVerifiedCache.fromBytes(cache),
    now: steppingClock(Date.UTC(2100, 0, 1)),
  });
  await council.state();
  const write: number[] = [];
  const view: number[] = [];
  for (let i = 0; i < samples + WARMUP; i++) {
    const t0 = performance.now();
    await council.ledger.donate("general", 1_000 + i, "bench");
    const t1 = performance.now();
    const state = council.current();
    const t2 = performance.now();
    if (council.foldStats.applied !== 1 || state.records !== expectedRecords + i + 1) {
      throw new Error(`append ${i} re-derived ${council.foldStats.applied} records`);
    }
    if (i >= WARMUP) {
      write.push(t1 - t0);
      view.push(t2 - t1);
    }
  }
  return { write, view };
}

/** The fold alone: fold all but the last records, then apply those one by one. */
async function foldAppends(
  bytes: { council: Uint8Array; ledger: Uint8Array },
  expectedRecords: number,
  cache: Uint8Array,
  samples: number,
): Promise<number[]> {
  const records: FederaRecord[] = (await loadToState(bytes, expectedRecords, cache)).council.records.slice();
  const fold = new Fold(councilReducer);
  fold.update(records.slice(0, records.length - samples - WARMUP));
  const times: number[] = [];
  for (const [i, r] of records.slice(records.length - samples - WARMUP).entries()) {
    const t0 = performance.now();
    fold.update([r]);
    const dt = performance.now() - t0;
    if (fold.stats.applied !== 1) throw new Error("a fold append applied more than one record");
    if (i >= WARMUP) times.push(dt);
  }
  return times;
}

/** Automerge alone: one change putting one record-sized value into a bucket of the loaded ledger document. */
function automergeAppends(ledgerBytes: Uint8Array, samples: number): number[] {
  let ledger = A.load<LedgerDoc>(ledgerBytes);
  const next = rng(7);
  const times: number[] = [];
  for (let i = 0; i < samples + WARMUP; i++) {
    const value = new Uint8Array(210).map(() => Math.floor(next() * 256));
    let id = "";
    for (let k = 0; k < 64; k++) id += Math.floor(next() * 16).toString(16);
    const t0 = performance.now();
    ledger = A.change(ledger, (d) => {
      d.records[bucketOf(id)]![storageKeyOf(id)] = value;
    });
    if (i >= WARMUP) times.push(performance.now() - t0);
  }
  return times;
}

/** Medians (and the 90th percentile of the whole append) over `samples` appends at N, after untimed ones. */
export async function appendCost(
  bytes: { council: Uint8Array; ledger: Uint8Array },
  expectedRecords: number,
  cache: Uint8Array,
  cast: Cast,
  samples: number,
): Promise<AppendCost> {
  const app = await appAppends(bytes, expectedRecords, cache, cast, samples);
  const totals = app.write.map((w, i) => w + app.view[i]!);
  const fold = await foldAppends(bytes, expectedRecords, cache, samples);
  const automerge = automergeAppends(bytes.ledger, samples);
  return {
    totalMs: median(totals),
    totalP90Ms: quantile(totals, 0.9),
    writeMs: median(app.write),
    viewMs: median(app.view),
    foldMs: median(fold),
    automergeMs: median(automerge),
  };
}

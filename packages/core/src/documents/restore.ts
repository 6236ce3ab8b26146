/**
 * Keeping stored records whole. Any device holding a document can change it, so a member can delete a record or
 * overwrite it with garbage or a worse-signed copy. A replica that held the better copy writes it back, so a peer
 * that loads the document afresh reads what the replicas that saw the record hold, and derives the same state.
 */
import * as A from "@automerge/automerge";
import { verifySignature } from "../identity.js";
import type { SignerId } from "../ids.js";
import type { Exclusion, ExclusionReason, HeldRecord, IntegrityIndex } from "../records/integrity.js";
import type { FederaRecord } from "../records/record.js";
import { decodeRecord } from "../records/record.js";
import type { CouncilDoc, FederaDoc, FederationDoc, LedgerDoc } from "./layout.js";
import { bucketsIntact, restoreEntries, storageKeyOf, storedAt, storedAtHeads } from "./layout.js";
import type { RecordReader } from "./reader.js";
import type { DocSource } from "./source.js";

/** Copies of a record from worst to best, as the integrity index ranks them: a record counts by its best copy. */
const Copy = { NotARecord: 0, BadSignature: 1, Unsigned: 2, Signed: 3 } as const;
type Copy = (typeof Copy)[keyof typeof Copy];

/** Main-thread time a check of harmed keys may take before it lets the event loop run. */
const YIELD_AFTER_MS = 20;
/**
 * Changes larger than this are skipped by a search of the history: decoding gives bytes as arrays of numbers, about
 * 40 times their size in memory. A bulk write of a few thousand records stays under it.
 */
const MAX_SEARCHED_CHANGE_BYTES = 2 * 1024 * 1024;
/** Values larger than this are no record: the schemas' bounds keep a record's bytes far below it. */
const MAX_RECORD_BYTES = 1024 * 1024;

/** How many times a record that does not count is written back at most (see `RecordKeeper`). */
export const WRITE_BACK_TRIES = 3;

/** What a write-back is told of the records held. */
interface Judge {
  /** Whether a record may be written back. */
  allows(record: FederaRecord): boolean;
  /** The records held for `signer`, to tell whether a later signed record vouches for an unsigned copy. */
  heldOf(signer: SignerId): readonly HeldRecord[];
  /** Told the ids of the records written back. */
  wrote(ids: readonly string[]): void;
}

/** What a council or federation tells its keeper. */
export interface RecordKeeperInit {
  /** The council or federation: the id of its genesis record. */
  readonly scope: string;
  readonly index: IntegrityIndex;
  /** The records derived from, and the exclusions: what counts now. */
  readonly counted: () => { readonly records: readonly FederaRecord[]; readonly excluded: readonly Exclusion[] };
}

/**
 * A council's or federation's keeper of its stored records: it reads what the documents gained, writing back what a
 * change harmed, and searches their history on demand. A record that counts there (in a valid chain, not excluded by
 * the fold) is written back whenever it is harmed; any other (one still waiting for its chain, one of a key that is no
 * member, one recovered from the history and not read yet) `WRITE_BACK_TRIES` times: a peer deleting a large record
 * of its own again and again then costs each replica a few writes of it, not one a round.
 */
export class RecordKeeper {
  readonly #init: RecordKeeperInit;
  readonly #tries = new Map<string, number>();
  #restored = 0;

  constructor(init: RecordKeeperInit) {
    this.#init = init;
  }

  /** How many records were written back so far. */
  get restored(): number {
    return this.#restored;
  }

  /**
   * Reads what a document gained since `reader`'s last read, first writing back what that harmed; returns the entries
   * for the index. The keys a read may have made worse: those displaced, those overwritten where a record was already
   * held (asked before the entries are added), and copies held beyond the read's start.
   */
  async read(source: AnyFederaSource, reader: RecordReader): Promise<[string, unknown][]> {
    const doc = source.doc();
    if (doc === undefined) return [];
    const read = reader.read(doc);
    if (read.before === null) return read.entries;
    const suspects = new Set([...read.displaced, ...read.written.keys()]);
    for (const [key] of read.entries) if (this.#init.index.holds(key)) suspects.add(key);
    const judge = this.#judge();
    const back =
      suspects.size === 0
        ? NOTHING
        : await writeBack(source, await worsenedEntries(doc, read.before, read.written, [...suspects], judge), judge);
    reader.settle(read, [...back.written, ...back.pending]);
    this.#restored += back.written.length;
    return read.entries;
  }

  /** Writes back the better copies found anywhere in a document's history; returns how many. */
  async recover(source: AnyFederaSource, reader: RecordReader): Promise<number> {
    const doc = source.doc();
    if (doc === undefined) return 0;
    const judge = this.#judge();
    const back = await writeBack(source, await worsenedInHistory(doc, judge), judge);
    reader.hold([...back.written, ...back.pending]);
    this.#restored += back.written.length;
    return back.written.length;
  }

  /**
   * Whether documents or what was derived from them suggest harm (altered bytes, a missing predecessor, buckets
   * replaced, the genesis gone), so that a search of their history may be worth its cost. A chain still arriving shows
   * the same, and so does garbage a peer stored under a key of its own: the search then finds nothing.
   */
  showsHarm(docs: readonly (A.Doc<unknown> | undefined)[]): boolean {
    const { index, scope } = this.#init;
    // A genesis gone leaves nothing to exclude: no one is a member, and no record shows why.
    if (!index.holds(scope) && !index.holds(storageKeyOf(scope))) return true;
    const excluded = this.#init.counted().excluded;
    return excluded.some((e) => HARM_SHOWN.has(e.reason)) || docs.some((d) => d !== undefined && !bucketsIntact(d));
  }

  #judge(): Judge {
    let counts: Set<string> | undefined;
    return {
      allows: (record) => {
        if (counts === undefined) {
          const { records, excluded } = this.#init.counted();
          counts = new Set<string>(records.map((r) => r.id));
          for (const e of excluded) counts.delete(e.id);
        }
        return counts.has(record.id) || (this.#tries.get(record.id) ?? 0) < WRITE_BACK_TRIES;
      },
      heldOf: (signer) => this.#init.index.heldOf(signer),
      wrote: (ids) => {
        for (const id of ids) this.#tries.set(id, (this.#tries.get(id) ?? 0) + 1);
      },
    };
  }
}

/** A key whose earlier value was a better copy than the one the document held when checked. */
interface Worsened {
  readonly key: string;
  /** The id of the record it held. */
  readonly id: string;
  /** The better bytes it held before. */
  readonly bytes: Uint8Array;
  /** What it held when checked (undefined when absent). */
  readonly found: unknown;
}

/** What a write-back did: the copies written, and those whose key changed again while being checked. */
interface WriteBack {
  readonly written: [string, Uint8Array][];
  /** Still better than what they replaced: the next read checks them again. */
  readonly pending: [string, Uint8Array][];
}

const NOTHING: WriteBack = { written: [], pending: [] };

/** The keys whose value at `before` (or copy held beyond it) was better than the one `doc` holds now. */
async function worsenedEntries(
  doc: A.Doc<unknown>,
  before: A.Heads,
  written: ReadonlyMap<string, Uint8Array>,
  keys: readonly string[],
  judge: Judge,
): Promise<Worsened[]> {
  const candidates: [string, Uint8Array][] = [];
  const pause = pauser();
  for (const key of keys) {
    await pause();
    const now = storedAt(doc, key);
    // Anything but bytes is nothing a record could have been; the bytes held now need no check.
    for (const old of [storedAtHeads(doc, before, key), written.get(key)])
      if (old instanceof Uint8Array && !(now instanceof Uint8Array && sameBytes(old, now))) candidates.push([key, old]);
  }
  return betterThanHeld(doc, candidates, judge);
}

/**
 * The keys whose value at any point of the document's history was a better copy than the one it holds now: what a
 * replica that never read those records can recover by itself. It decodes every change (about 40 µs each here), so
 * it is worth running when the records read show harm (missing predecessors, altered bytes), not on every read.
 */
async function worsenedInHistory(doc: A.Doc<unknown>, judge: Judge): Promise<Worsened[]> {
  const candidates: [string, Uint8Array][] = [];
  const pause = pauser();
  for (const change of A.getAllChanges(doc)) {
    await pause();
    if (change.byteLength > MAX_SEARCHED_CHANGE_BYTES) continue;
    for (const op of A.decodeChange(change).ops) {
      // Bytes set under a map key: the only values records are (decoded changes give them as arrays of numbers).
      if (op.action !== "set" || typeof op.key !== "string" || !Array.isArray(op.value)) continue;
      if (op.value.length > MAX_RECORD_BYTES) continue;
      const bytes = Uint8Array.from(op.value as number[]);
      const now = storedAt(doc, op.key);
      if (!(now instanceof Uint8Array && sameBytes(bytes, now))) candidates.push([op.key, bytes]);
    }
  }
  return betterThanHeld(doc, candidates, judge);
}

/**
 * Of earlier values (key, bytes), the best copy per key that may be written back (see `Judge`) and is better than what
 * `doc` holds at that key now.
 */
async function betterThanHeld(
  doc: A.Doc<unknown>,
  candidates: readonly [string, Uint8Array][],
  judge: Judge,
): Promise<Worsened[]> {
  const best = new Map<string, { bytes: Uint8Array; copy: Copy; record: FederaRecord }>();
  const pause = pauser();
  for (const [key, bytes] of candidates) {
    // A change may harm thousands of keys at once: each costs a decode and a signature check, so let others run.
    await pause();
    const { copy, record } = await copyOf(key, bytes);
    // Forged copies are never written back, and the judge limits the rest: a peer deleting its own large records could
    // otherwise make every replica write them again, round after round, for a change of a few bytes.
    if (record === undefined || copy < Copy.Unsigned || !judge.allows(record)) continue;
    if (copy > (best.get(key)?.copy ?? Copy.NotARecord)) best.set(key, { bytes, copy, record });
  }
  const authentic = await authenticAmong([...best.values()], judge, pause);
  const out: Worsened[] = [];
  for (const [key, { bytes, copy, record }] of best) {
    if (copy === Copy.Unsigned && !authentic.has(record.id)) continue;
    const now = storedAt(doc, key);
    if (now instanceof Uint8Array && sameBytes(bytes, now)) continue;
    await pause();
    if (copy > (await copyOf(key, now)).copy) out.push({ key, id: record.id, bytes, found: now });
  }
  return out;
}

/**
 * The ids of unsigned copies found that a signed record hashes back to, through unsigned ones, among the records held
 * and the copies found: one pass down each signer's chain, every branch of a fork included.
 */
async function authenticAmong(
  found: readonly { copy: Copy; record: FederaRecord }[],
  judge: Judge,
  pause: () => Promise<void>,
): Promise<Set<string>> {
  const out = new Set<string>();
  const signers = new Set(found.filter((f) => f.copy === Copy.Unsigned).map((f) => f.record.signer));
  for (const signer of signers) {
    await pause();
    const bySeq = new Map<number, Map<string, HeldRecord>>();
    const add = (held: HeldRecord) => {
      const here = bySeq.get(held.record.seq) ?? new Map<string, HeldRecord>();
      if (here.get(held.record.id)?.signature !== "good") here.set(held.record.id, held);
      bySeq.set(held.record.seq, here);
    };
    for (const held of judge.heldOf(signer)) add(held);
    for (const { copy, record } of found)
      if (record.signer === signer) add({ record, signature: copy === Copy.Signed ? "good" : "none" });
    let covered = new Set<string>();
    let above = Number.NaN;
    for (const seq of [...bySeq.keys()].sort((a, b) => b - a)) {
      if (seq !== above - 1) covered = new Set(); // a hole above: nothing hashes back here
      const below = new Set<string>();
      for (const { record, signature } of bySeq.get(seq)!.values()) {
        if (signature !== "good" && !(signature === "none" && covered.has(record.id))) continue;
        out.add(record.id);
        if (record.prev !== null) below.add(record.prev);
      }
      covered = below;
      above = seq;
    }
  }
  return out;
}

/** Exclusions that a harmed document shows, and a record recovered from its history could lift. */
const HARM_SHOWN: ReadonlySet<ExclusionReason> = new Set(["bad-id", "bad-shape", "bad-signature", "broken-chain"]);

/** The source of any Federa document. */
type AnyFederaSource = DocSource<CouncilDoc> | DocSource<LedgerDoc> | DocSource<FederationDoc>;

async function writeBack(source: AnyFederaSource, found: readonly Worsened[], judge: Judge): Promise<WriteBack> {
  if (found.length === 0) return NOTHING;
  // Checking may have yielded: a key changed again meanwhile is checked again by the next read.
  const now = source.doc();
  const entry = (w: Worsened): [string, Uint8Array] => [w.key, w.bytes];
  const unchanged = found.filter((w) => now !== undefined && sameValue(storedAt(now, w.key), w.found));
  const pending = found.filter((w) => !unchanged.includes(w)).map(entry);
  if (unchanged.length === 0) return { written: [], pending };
  try {
    (source as DocSource<FederaDoc>).change((d) => restoreEntries(d, unchanged.map(entry)));
  } catch {
    return { written: [], pending };
  }
  // Only what the document now holds was written back.
  const after = source.doc() as A.Doc<unknown>;
  const written = unchanged.filter((w) => sameValue(storedAt(after, w.key), w.bytes));
  judge.wrote(written.map((w) => w.id));
  return { written: written.map(entry), pending };
}

/** A function to await often in a long loop: it yields to the event loop once `YIELD_AFTER_MS` have passed. */
function pauser(): () => Promise<void> {
  let since = performance.now();
  return async () => {
    if (performance.now() - since <= YIELD_AFTER_MS) return;
    await new Promise((resolve) => setTimeout(resolve, 0));
    since = performance.now();
  };
}

async function copyOf(key: string, value: unknown): Promise<{ copy: Copy; record?: FederaRecord }> {
  const decoded = decodeRecord(key, value);
  if ("reason" in decoded) return { copy: Copy.NotARecord };
  const record = decoded.record;
  if (decoded.signature === null) return { copy: Copy.Unsigned, record };
  try {
    const good = await verifySignature(record.signer, decoded.signature, decoded.payload);
    return { copy: good ? Copy.Signed : Copy.BadSignature, record };
  } catch {
    return { copy: Copy.BadSignature, record };
  }
}

function sameValue(a: unknown, b: unknown): boolean {
  return a === b || (a instanceof Uint8Array && b instanceof Uint8Array && sameBytes(a, b));
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

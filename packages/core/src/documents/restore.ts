/**
 * Keeping stored records whole. Any device holding a document can change it, so a member can delete a record or
 * overwrite it with garbage or a worse-signed copy. A replica that held the better copy writes it back, so a peer
 * that loads the document afresh reads what the replicas that saw the record hold, and derives the same state.
 */
import * as A from "@automerge/automerge";
import { verifySignature } from "../identity.js";
import type { Exclusion, ExclusionReason } from "../records/integrity.js";
import { decodeRecord } from "../records/record.js";
import type { CouncilDoc, FederaDoc, FederationDoc, LedgerDoc } from "./layout.js";
import { bucketsIntact, restoreEntries, storedAt } from "./layout.js";
import type { RecordRead } from "./reader.js";
import type { DocSource } from "./source.js";

/** Copies of a record from worst to best, as the integrity index ranks them: a record counts by its best copy. */
const Copy = { NotARecord: 0, BadSignature: 1, Unsigned: 2, Signed: 3 } as const;
type Copy = (typeof Copy)[keyof typeof Copy];

/** Main-thread time a check of harmed keys may take before it lets the event loop run. */
const YIELD_AFTER_MS = 20;

/**
 * The keys a read may have made worse: those displaced, and those overwritten where a record was already held
 * (`held`, asked before the read's entries are added). A new key cannot have been worse before.
 */
export function suspectKeys(read: RecordRead, held: (key: string) => boolean): string[] {
  if (read.before === null) return [];
  // Copies written back are few (one per harm seen): a map replaced since may have taken any of them.
  const keys = new Set([...read.displaced, ...read.written.keys()]);
  for (const [key] of read.entries) if (held(key)) keys.add(key);
  return [...keys];
}

/** A key whose value at some earlier heads was a better copy than the one the document held when checked. */
export interface Worsened {
  readonly key: string;
  /** The better bytes it held before. */
  readonly bytes: Uint8Array;
  /** What it held when checked (undefined when absent). */
  readonly found: unknown;
}

/** The keys whose value at `before` was a better copy than the one `doc` holds now, with those earlier bytes. */
export async function worsenedEntries(
  doc: A.Doc<unknown>,
  before: A.Heads,
  keys: readonly string[],
  written: ReadonlyMap<string, Uint8Array> = new Map(),
): Promise<Worsened[]> {
  if (keys.length === 0) return [];
  const then = A.view(doc, before);
  const candidates: [string, Uint8Array][] = [];
  for (const key of keys) {
    const now = storedAt(doc, key);
    // Anything but bytes is nothing a record could have been; the bytes held now need no check.
    for (const old of [storedAt(then, key), written.get(key)])
      if (old instanceof Uint8Array && !(now instanceof Uint8Array && sameBytes(old, now))) candidates.push([key, old]);
  }
  return betterThanHeld(doc, candidates);
}

/**
 * The keys whose value at any point of the document's history was a better copy than the one it holds now: what a
 * replica that never read those records can recover by itself. It decodes every change (about 40 µs each here), so
 * it is worth running when the records read show harm (missing predecessors, altered bytes), not on every read.
 */
export async function worsenedInHistory(doc: A.Doc<unknown>): Promise<Worsened[]> {
  const candidates: [string, Uint8Array][] = [];
  const pause = pauser();
  for (const change of A.getAllChanges(doc)) {
    await pause();
    for (const op of A.decodeChange(change).ops) {
      // Bytes set under a map key: the only values records are (decoded changes give them as arrays of numbers).
      if (op.action !== "set" || typeof op.key !== "string" || !Array.isArray(op.value)) continue;
      const bytes = Uint8Array.from(op.value as number[]);
      const now = storedAt(doc, op.key);
      if (!(now instanceof Uint8Array && sameBytes(bytes, now))) candidates.push([op.key, bytes]);
    }
  }
  return betterThanHeld(doc, candidates);
}

/** Of earlier values (key, bytes), the best copy per key where it is better than what `doc` holds at that key now. */
async function betterThanHeld(doc: A.Doc<unknown>, candidates: readonly [string, Uint8Array][]): Promise<Worsened[]> {
  const best = new Map<string, { bytes: Uint8Array; copy: Copy }>();
  const pause = pauser();
  for (const [key, bytes] of candidates) {
    // A change may harm thousands of keys at once: each costs a decode and a signature check, so let others run.
    await pause();
    const copy = await copyOf(key, bytes);
    if (copy > (best.get(key)?.copy ?? Copy.NotARecord)) best.set(key, { bytes, copy });
  }
  const out: Worsened[] = [];
  for (const [key, { bytes, copy }] of best) {
    const now = storedAt(doc, key);
    if (now instanceof Uint8Array && sameBytes(bytes, now)) continue;
    await pause();
    if (copy > (await copyOf(key, now))) out.push({ key, bytes, found: now });
  }
  return out;
}

/**
 * Writes back the better copies a read displaced or overwrote; returns the entries written, for the reader to
 * remember. A source that refuses the change (a read-only view) restores nothing: the records still count here, as
 * the index keeps the best copy it read.
 */
export async function restoreWorsened(
  source: AnyFederaSource,
  read: RecordRead,
  suspects: readonly string[],
): Promise<[string, Uint8Array][]> {
  const doc = source.doc();
  if (read.before === null || suspects.length === 0 || doc === undefined) return [];
  return writeBack(source, await worsenedEntries(doc, read.before, suspects, read.written));
}

/** Writes back the better copies found anywhere in the document's history; returns the entries written. */
export async function restoreFromHistory(source: AnyFederaSource): Promise<[string, Uint8Array][]> {
  const doc = source.doc();
  return doc === undefined ? [] : writeBack(source, await worsenedInHistory(doc));
}

/** Exclusions that a harmed document shows, and a record recovered from its history could lift. */
const HARM_SHOWN: ReadonlySet<ExclusionReason> = new Set(["bad-id", "bad-shape", "bad-signature", "broken-chain"]);

/**
 * Whether documents or the exclusions derived from them suggest harm (altered bytes, a missing predecessor, buckets
 * replaced), so that a look through their history (`recover()`) may be worth its cost. A chain still arriving shows
 * the same: the look then finds nothing.
 */
export function showsHarm(excluded: readonly Exclusion[], docs: readonly (A.Doc<unknown> | undefined)[]): boolean {
  return excluded.some((e) => HARM_SHOWN.has(e.reason)) || docs.some((d) => d !== undefined && !bucketsIntact(d));
}

/** The source of any Federa document. */
type AnyFederaSource = DocSource<CouncilDoc> | DocSource<LedgerDoc> | DocSource<FederationDoc>;

async function writeBack(source: AnyFederaSource, found: readonly Worsened[]): Promise<[string, Uint8Array][]> {
  // Checking may have yielded: a key changed again since (written back by a peer, say) is left to the next read.
  const now = source.doc();
  const back = found
    .filter((w) => now !== undefined && sameValue(storedAt(now, w.key), w.found))
    .map((w): [string, Uint8Array] => [w.key, w.bytes]);
  if (back.length === 0) return [];
  try {
    (source as DocSource<FederaDoc>).change((d) => restoreEntries(d, back));
  } catch {
    return [];
  }
  return back;
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

async function copyOf(key: string, value: unknown): Promise<Copy> {
  const decoded = decodeRecord(key, value);
  if ("reason" in decoded) return Copy.NotARecord;
  if (decoded.signature === null) return Copy.Unsigned;
  try {
    const good = await verifySignature(decoded.record.signer, decoded.signature, decoded.payload);
    return good ? Copy.Signed : Copy.BadSignature;
  } catch {
    return Copy.BadSignature;
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

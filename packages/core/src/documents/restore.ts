/**
 * Keeping stored records whole. Any device holding a document can change it, so a member can delete a record or
 * overwrite it with garbage or a worse-signed copy. A replica that held the better copy writes it back, so a peer
 * that loads the document afresh reads what the replicas that saw the record hold, and derives the same state.
 */
import * as A from "@automerge/automerge";
import { verifySignature } from "../identity.js";
import { decodeRecord } from "../records/record.js";
import type { CouncilDoc, FederaDoc, FederationDoc, LedgerDoc } from "./layout.js";
import { restoreEntries, storedAt } from "./layout.js";
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
  const keys = new Set(read.displaced);
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
): Promise<Worsened[]> {
  if (keys.length === 0) return [];
  const then = A.view(doc, before);
  const out: Worsened[] = [];
  let since = performance.now();
  for (const key of keys) {
    // A change may harm thousands of keys at once: each costs a decode and a signature check, so let others run.
    if (performance.now() - since > YIELD_AFTER_MS) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      since = performance.now();
    }
    const old = storedAt(then, key);
    if (!(old instanceof Uint8Array)) continue; // nothing a record could have been
    const now = storedAt(doc, key);
    if (now instanceof Uint8Array && sameBytes(old, now)) continue;
    if ((await copyOf(key, old)) > (await copyOf(key, now))) out.push({ key, bytes: old, found: now });
  }
  return out;
}

/**
 * Writes back the better copies a read displaced or overwrote; returns how many. A source that refuses the change
 * (a read-only view) restores nothing: the records still count here, as the index keeps the best copy it read.
 */
export async function restoreWorsened(
  source: DocSource<CouncilDoc> | DocSource<LedgerDoc> | DocSource<FederationDoc>,
  read: RecordRead,
  suspects: readonly string[],
): Promise<number> {
  const doc = source.doc();
  if (read.before === null || suspects.length === 0 || doc === undefined) return 0;
  const found = await worsenedEntries(doc, read.before, suspects);
  // Checking may have yielded: a key changed again since (written back by a peer, say) is left to the next read.
  const now = source.doc();
  const back = found.filter((w) => now !== undefined && sameValue(storedAt(now, w.key), w.found));
  if (back.length === 0) return 0;
  try {
    (source as DocSource<FederaDoc>).change((d) =>
      restoreEntries(
        d,
        back.map((w) => [w.key, w.bytes] as const),
      ),
    );
  } catch {
    return 0;
  }
  return back.length;
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

/**
 * How records sit in an Automerge document: each record's exact signed bytes under its storage key (the first half of
 * its id), in 256 buckets made at creation (by the first two hex digits of the id), so an append never copies a large
 * map and no two peers ever create the same bucket concurrently.
 */
import * as A from "@automerge/automerge";
import type { CouncilId, FederationId, RecordId } from "../ids.js";

export const LAYOUT_VERSION = 1;

/** Records by bucket, then by storage key. */
export type RecordBuckets = { [bucket: string]: { [id: string]: Uint8Array } };

/** The council document: governance records and the collaborative minutes. */
export type CouncilDoc = {
  federa: { type: "council"; version: number; council: string; ledger?: string };
  records: RecordBuckets;
  /** Minutes and debriefs, keyed by the id of the `minutes.open` record: Automerge text, merged by character. */
  minutes: { [record: string]: string };
};

/** The ledger document: money and time records of one council. */
export type LedgerDoc = {
  federa: { type: "ledger"; version: number; council: string };
  records: RecordBuckets;
};

/** The federation document: the records of one federation of councils. */
export type FederationDoc = {
  /** `councils` maps member council ids to their council document URLs: where to fetch them (a hint, not derived). */
  federa: { type: "federation"; version: number; federation: string; councils?: { [council: string]: string } };
  records: RecordBuckets;
};

export type FederaDoc = CouncilDoc | LedgerDoc | FederationDoc;

/** The bucket of a record id. */
export function bucketOf(id: RecordId | string): string {
  return id.slice(0, 2);
}

// 128 bits: a record's bytes are still checked against its whole id; the key only has to be hard to collide with.
const STORAGE_KEY_LENGTH = 32;

/**
 * The key a record is stored under: the first 128 bits of its id, in hex. The id is recomputed from the bytes on
 * every read, so storing all 256 bits would only add 32 bytes a record to every document and sync message.
 */
export function storageKeyOf(id: RecordId | string): string {
  return id.slice(0, STORAGE_KEY_LENGTH);
}

/** Whether `key` is where a record of id `id` may sit: its storage key, or its whole id as documents held it before. */
export function isStorageKeyOf(key: string, id: RecordId | string): boolean {
  return key.length === STORAGE_KEY_LENGTH ? id.startsWith(key) : key === id;
}

/** The value stored for record `id` (under its storage key, or its whole id), whatever its shape; undefined when absent. */
export function storedValue(doc: A.Doc<unknown> | FederaDoc | undefined, id: RecordId | string): unknown {
  const records = (doc as { records?: unknown } | undefined)?.records;
  if (!isMap(records)) return undefined;
  const bucket = records[bucketOf(id)];
  if (!isMap(bucket)) return undefined;
  return bucket[storageKeyOf(id)] ?? bucket[id];
}

/** Whether a document still has the buckets it was made with, each a map: a peer may have replaced or deleted them. */
export function bucketsIntact(doc: A.Doc<unknown> | FederaDoc): boolean {
  const records = (doc as { records?: unknown }).records;
  if (!isMap(records)) return false;
  for (let i = 0; i < 256; i++) if (!isMap(records[i.toString(16).padStart(2, "0")])) return false;
  return true;
}

function emptyBuckets(): RecordBuckets {
  const buckets: RecordBuckets = {};
  for (let i = 0; i < 256; i++) buckets[i.toString(16).padStart(2, "0")] = {};
  return buckets;
}

/** The initial value of a council document. */
export function initialCouncilDoc(council: CouncilId): CouncilDoc {
  return { federa: { type: "council", version: LAYOUT_VERSION, council }, records: emptyBuckets(), minutes: {} };
}

/** The initial value of a ledger document. */
export function initialLedgerDoc(council: CouncilId): LedgerDoc {
  return { federa: { type: "ledger", version: LAYOUT_VERSION, council }, records: emptyBuckets() };
}

/** The initial value of a federation document. */
export function initialFederationDoc(federation: FederationId): FederationDoc {
  return { federa: { type: "federation", version: LAYOUT_VERSION, federation }, records: emptyBuckets() };
}

/**
 * Writes where a council's documents are into a federation document, inside a change: a hint for the member nodes
 * that fetch it (only the federation's signed records make the council a member).
 */
export function linkCouncil(doc: FederationDoc, council: CouncilId, url: string): void {
  if (!isMap(doc.federa.councils)) doc.federa.councils = {};
  if (doc.federa.councils[council] !== url) doc.federa.councils[council] = url;
}

/** Writes records (id and stored bytes) into a document inside a change; a record already stored stays as it is. */
export function putRecords(doc: FederaDoc, records: readonly { id: RecordId; bytes: Uint8Array }[]): void {
  // A peer may have put another value where a map belongs: a new map takes its place, so writing never throws.
  if (!isMap(doc.records)) doc.records = {};
  for (const { id, bytes } of records) {
    const key = storageKeyOf(id);
    const bucket: unknown = doc.records[bucketOf(id)];
    if (!isMap(bucket)) doc.records[bucketOf(id)] = { [key]: bytes };
    else if (bucket[key] === undefined && bucket[id] === undefined) bucket[key] = bytes;
  }
}

function isMap(value: unknown): value is Record<string, unknown> {
  // Automerge gives dates, counters and immutable strings as objects too; writing keys into one writes nothing.
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof Uint8Array) &&
    !(value instanceof Date) &&
    !(value instanceof A.Counter) &&
    !(value instanceof A.ImmutableString)
  );
}

/** Every (key, value) stored in a document's buckets, tolerating any shape a peer may have written. */
export function* allEntries(doc: A.Doc<unknown>): Generator<[string, unknown]> {
  const records = (doc as { records?: unknown }).records;
  if (!isMap(records)) return;
  for (const [name, held] of Object.entries(records)) {
    if (!isMap(held)) continue; // as the incremental reader, which only reads map entries
    // A key counts only in its own bucket: elsewhere nothing could find it again to write it back.
    for (const [key, value] of Object.entries(held)) if (bucketOf(key) === name) yield [key, value];
  }
}

/** The value stored under exactly `key` (a storage key or a whole id), whatever its shape; undefined when absent. */
export function storedAt(doc: A.Doc<unknown> | FederaDoc, key: string): unknown {
  const records = (doc as { records?: unknown }).records;
  if (!isMap(records)) return undefined;
  const bucket = records[bucketOf(key)];
  return isMap(bucket) ? bucket[key] : undefined;
}

/**
 * The bytes stored under exactly `key` as of `heads` (undefined for anything else: only bytes can be a record), read
 * from Automerge's backend: materialising that version of a large document to read a few keys costs tens of ms.
 */
export function storedAtHeads(doc: A.Doc<unknown>, heads: A.Heads, key: string): unknown {
  const backend = A.getBackend(doc);
  const records = backend.getWithType("_root", "records", heads);
  if (records?.[0] !== "map") return undefined;
  const bucket = backend.getWithType(records[1] as A.ObjID, bucketOf(key), heads);
  if (bucket?.[0] !== "map") return undefined;
  const value = backend.getWithType(bucket[1] as A.ObjID, key, heads);
  return value?.[0] === "bytes" ? value[1] : undefined;
}

/** The keys stored in their own bucket as of `heads`, in one bucket or in all of them. */
export function bucketKeysAtHeads(doc: A.Doc<unknown>, heads: A.Heads, bucket?: string): string[] {
  const backend = A.getBackend(doc);
  const records = backend.getWithType("_root", "records", heads);
  if (records?.[0] !== "map") return [];
  const out: string[] = [];
  for (const name of bucket === undefined ? backend.keys(records[1] as A.ObjID, heads) : [bucket]) {
    const held = backend.getWithType(records[1] as A.ObjID, name, heads);
    if (held?.[0] !== "map") continue;
    for (const key of backend.keys(held[1] as A.ObjID, heads)) if (bucketOf(key) === name) out.push(key);
  }
  return out;
}

/**
 * Writes stored values back under their keys inside a change, over whatever a peer put there since, and makes again
 * the buckets a peer replaced or deleted, so the document has its whole layout back.
 */
export function restoreEntries(doc: FederaDoc, entries: readonly (readonly [string, Uint8Array])[]): void {
  if (!isMap(doc.records)) doc.records = emptyBuckets();
  for (const bucket of Object.keys(emptyBuckets())) if (!isMap(doc.records[bucket])) doc.records[bucket] = {};
  for (const [key, bytes] of entries) {
    const bucket: unknown = doc.records[bucketOf(key)];
    if (!isMap(bucket)) doc.records[bucketOf(key)] = { [key]: bytes };
    else bucket[key] = bytes;
  }
}

/** Reads the records a document gained since the last read, from Automerge's diff rather than a full scan. */
import * as A from "@automerge/automerge";
import { allEntries, bucketKeysAtHeads, bucketOf, storedAt } from "./layout.js";

/** What one read found. */
export interface RecordRead {
  /** Entries (key, stored value) put since the previous read; the first read returns every entry. */
  readonly entries: [string, unknown][];
  /** Keys deleted since the previous read, or held by a map that was replaced or deleted: their values may be gone. */
  readonly displaced: string[];
  /** The heads the previous read reached (null on the first): where the values displaced or overwritten were. */
  readonly before: A.Heads | null;
  /** Copies this replica holds that `before` does not include (written back, or its own writes): harm to them counts. */
  readonly written: ReadonlyMap<string, Uint8Array>;
}

/** Tracks how far one document has been read. */
export class RecordReader {
  #heads: A.Heads | null = null;
  readonly #written = new Map<string, Uint8Array>();

  /**
   * Remembers copies this replica holds beyond the heads of its reads (written back, or written when `advance` could
   * not skip them): a later read must see harm to them. Each is forgotten once a read's heads hold it.
   */
  hold(entries: Iterable<readonly [string, Uint8Array]>): void {
    for (const [key, bytes] of entries) this.#written.set(key, bytes);
  }

  /** After the copies a read listed as written were checked: forgets them, but for those still to be held. */
  settle(read: RecordRead, hold: Iterable<readonly [string, Uint8Array]>): void {
    for (const key of read.written.keys()) this.#written.delete(key);
    this.hold(hold);
  }

  /** What the document gained, and which of its keys may have lost a value, since the previous call. */
  read(doc: A.Doc<unknown>): RecordRead {
    const heads = A.getHeads(doc);
    const before = this.#heads;
    if (before === null) {
      this.#heads = heads;
      return { entries: [...allEntries(doc)], displaced: [], before, written: this.#written };
    }
    if (sameHeads(before, heads)) return { entries: [], displaced: [], before, written: new Map() };
    const entries: [string, unknown][] = [];
    const displaced: string[] = [];
    for (const patch of A.diff(doc, before, heads)) {
      const path = patch.path;
      if (path[0] !== "records") continue;
      if (path.length === 3) {
        const [, bucket, key] = path.map(String) as [string, string, string];
        if (bucketOf(key) !== bucket) continue; // a key counts only in its own bucket
        if (patch.action === "put") entries.push([key, patch.value]);
        else if (patch.action === "del") displaced.push(key);
      } else if (path.length <= 2 && (patch.action === "put" || patch.action === "del")) {
        // A bucket (or all of them) replaced or deleted takes its keys with it: they are listed as they were.
        const bucket = path.length === 2 ? String(path[1]) : undefined;
        displaced.push(...bucketKeysAtHeads(doc, before, bucket));
        if (patch.action === "put" && bucket !== undefined && isObject(patch.value)) {
          for (const [k, v] of Object.entries(patch.value)) if (bucketOf(k) === bucket) entries.push([k, v]);
        }
      }
    }
    this.#heads = heads;
    // What the document now holds as written is in these heads: a later read's `before` has it.
    const written = new Map<string, Uint8Array>();
    for (const [key, bytes] of this.#written) {
      const now = storedAt(doc, key);
      if (now instanceof Uint8Array && sameBytes(now, bytes)) this.#written.delete(key);
      else written.set(key, bytes);
    }
    return { entries, displaced, before, written };
  }

  /** Marks the document read up to `heads` after a local write whose entries the caller already has. */
  advance(before: A.Heads, after: A.Heads): boolean {
    if (this.#heads === null || !sameHeads(this.#heads, before)) return false;
    this.#heads = after;
    return true;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

function sameHeads(a: A.Heads, b: A.Heads): boolean {
  return a.length === b.length && a.every((h, i) => h === b[i]);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

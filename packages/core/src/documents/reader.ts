/** Reads the records a document gained since the last read, from Automerge's diff rather than a full scan. */
import * as A from "@automerge/automerge";
import { allEntries, bucketEntries } from "./layout.js";

/** What one read found. */
export interface RecordRead {
  /** Entries (key, stored value) put since the previous read; the first read returns every entry. */
  readonly entries: [string, unknown][];
  /** Keys deleted since the previous read, or held by a map that was replaced or deleted: their values may be gone. */
  readonly displaced: string[];
  /** The heads the previous read reached (null on the first): where the values displaced or overwritten were. */
  readonly before: A.Heads | null;
  /** Copies this replica wrote back, which `before` may not include: harm to them is harm all the same. */
  readonly written: ReadonlyMap<string, Uint8Array>;
}

/** Tracks how far one document has been read. */
export class RecordReader {
  #heads: A.Heads | null = null;
  readonly #written = new Map<string, Uint8Array>();

  /** Remembers copies written back after a read: a later read must see harm to them even if it starts before them. */
  wroteBack(entries: Iterable<readonly [string, Uint8Array]>): void {
    for (const [key, bytes] of entries) this.#written.set(key, bytes);
  }

  /** What the document gained, and which of its keys may have lost a value, since the previous call. */
  read(doc: A.Doc<unknown>): RecordRead {
    const heads = A.getHeads(doc);
    const before = this.#heads;
    if (before === null) {
      this.#heads = heads;
      return { entries: [...allEntries(doc)], displaced: [], before, written: this.#written };
    }
    if (sameHeads(before, heads)) return { entries: [], displaced: [], before, written: this.#written };
    const entries: [string, unknown][] = [];
    const displaced: string[] = [];
    let then: A.Doc<unknown> | undefined;
    // A bucket (or all of them) replaced or deleted takes its keys with it: they are listed from the version before.
    const displace = (bucket?: string) => {
      then ??= A.view(doc, before);
      for (const [key] of bucketEntries(then, bucket)) displaced.push(key);
    };
    for (const patch of A.diff(doc, before, heads)) {
      const path = patch.path;
      if (path[0] !== "records") continue;
      if (path.length === 3) {
        if (patch.action === "put") entries.push([String(path[2]), patch.value]);
        else if (patch.action === "del") displaced.push(String(path[2]));
      } else if (path.length <= 2 && (patch.action === "put" || patch.action === "del")) {
        displace(path.length === 2 ? String(path[1]) : undefined);
        if (patch.action === "put" && path.length === 2 && isObject(patch.value)) {
          for (const [k, v] of Object.entries(patch.value)) entries.push([k, v]);
        }
      }
    }
    this.#heads = heads;
    return { entries, displaced, before, written: this.#written };
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

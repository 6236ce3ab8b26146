/** Reads the records a document gained since the last read, from Automerge's diff rather than a full scan. */
import * as A from "@automerge/automerge";
import { allEntries } from "./layout.js";

/** Tracks how far one document has been read. */
export class RecordReader {
  #heads: A.Heads | null = null;

  /** Entries (key, stored value) added since the previous call; the first call returns every entry. */
  read(doc: A.Doc<unknown>): [string, unknown][] {
    const heads = A.getHeads(doc);
    if (this.#heads === null) {
      this.#heads = heads;
      return [...allEntries(doc)];
    }
    if (sameHeads(this.#heads, heads)) return [];
    const out: [string, unknown][] = [];
    for (const patch of A.diff(doc, this.#heads, heads)) {
      const path = patch.path;
      if (path[0] !== "records") continue;
      if (patch.action === "put" && path.length === 3) out.push([String(path[2]), patch.value]);
      else if (patch.action === "put" && path.length === 2 && typeof patch.value === "object" && patch.value !== null) {
        for (const [k, v] of Object.entries(patch.value as Record<string, unknown>)) out.push([k, v]);
      }
    }
    this.#heads = heads;
    return out;
  }

  /** Marks the document read up to `heads` after a local write whose entries the caller already has. */
  advance(before: A.Heads, after: A.Heads): boolean {
    if (this.#heads === null || !sameHeads(this.#heads, before)) return false;
    this.#heads = after;
    return true;
  }
}

function sameHeads(a: A.Heads, b: A.Heads): boolean {
  return a.length === b.length && a.every((h, i) => h === b[i]);
}

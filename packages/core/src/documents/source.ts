/** Where a document lives: an automerge-repo DocHandle, or a plain Automerge document held in memory. */
import * as A from "@automerge/automerge";
import { forgetReplacedPatches } from "./kept-patches.js";

/**
 * The part of a DocHandle that Federa uses, so core never imports automerge-repo: any `DocHandle<T>` satisfies it,
 * and `PlainDocument` gives the same surface to a plain Automerge document.
 */
export interface DocSource<T> {
  doc(): A.Doc<T> | undefined;
  change(fn: A.ChangeFn<T>): void;
}

/** A plain Automerge document behind the DocSource surface, with merge for moving changes between replicas. */
export class PlainDocument<T> implements DocSource<T> {
  #doc: A.Doc<T>;

  constructor(doc: A.Doc<T>) {
    this.#doc = doc;
  }

  /** Loads a document from its saved bytes. */
  static load<T>(bytes: Uint8Array): PlainDocument<T> {
    return new PlainDocument(A.load<T>(bytes));
  }

  doc(): A.Doc<T> {
    return this.#doc;
  }

  change(fn: A.ChangeFn<T>): void {
    this.#replace(A.change(this.#doc, fn));
  }

  /** Merges another replica's changes into this one. */
  merge(other: A.Doc<T> | PlainDocument<T>): void {
    this.#replace(A.merge(this.#doc, other instanceof PlainDocument ? other.doc() : other));
  }

  #replace(next: A.Doc<T>): void {
    if (next !== this.#doc) forgetReplacedPatches(this.#doc);
    this.#doc = next;
  }

  /** An independent replica (a new actor), as another device would hold. */
  fork(): PlainDocument<T> {
    return new PlainDocument(A.clone(this.#doc));
  }

  save(): Uint8Array {
    return A.save(this.#doc);
  }
}

/** Documents as the simulator holds them: Automerge documents whose changes carry the virtual clock. */
import * as A from "@automerge/automerge";
import type { DocSource } from "@federa/core";

/**
 * A replica's document behind the `DocSource` surface core reads and writes. Every change is stamped with the
 * virtual clock (Automerge would otherwise read the wall clock) and reported, so the replica can sync it.
 */
export class SimDocument<T> implements DocSource<T> {
  #doc: A.Doc<T>;
  readonly #clock: () => number;
  /** Called after each local change (not after a merge from a peer). */
  onChange: () => void = () => {};

  constructor(doc: A.Doc<T>, clock: () => number) {
    this.#doc = doc;
    this.#clock = clock;
  }

  doc(): A.Doc<T> {
    return this.#doc;
  }

  change(fn: A.ChangeFn<T>): void {
    const before = this.#doc;
    this.#doc = A.change(this.#doc, { time: Math.floor(this.#clock() / 1000) }, fn);
    if (this.#doc !== before) this.onChange();
  }

  /** Replaces the document with one derived from it (after receiving a sync message). */
  set(doc: A.Doc<T>): void {
    this.#doc = doc;
  }
}

/**
 * A writer's small workspace whose changes also go to a real replica: a delegate's `Federation` seals records on its
 * own chain in the workspace (so it never folds other councils' records) and the same change lands in the replica.
 */
export class TeeSource<T> implements DocSource<T> {
  readonly #workspace: SimDocument<T>;
  readonly #target: () => DocSource<T>;

  constructor(workspace: SimDocument<T>, target: () => DocSource<T>) {
    this.#workspace = workspace;
    this.#target = target;
  }

  doc(): A.Doc<T> {
    return this.#workspace.doc();
  }

  change(fn: A.ChangeFn<T>): void {
    this.#workspace.change(fn);
    this.#target().change(fn);
  }
}

/**
 * Copies documents into fresh ones with seeded actors and virtual times (core's founding functions stamp theirs with
 * a random actor and the wall clock). Every copy of one layout starts from one template change holding the empty
 * record buckets, then a change of its own adds the header and the records: no two copies differ in size by chance.
 */
export class Rebuilder {
  readonly #templates = new Map<string, A.Doc<unknown>>();
  readonly #templateActor: string;

  constructor(templateActor: string) {
    this.#templateActor = templateActor;
  }

  rebuild<T>(doc: A.Doc<T>, actor: string, timeMs: number): A.Doc<T> {
    // The document is already plain, frozen JS data: read it as is rather than copying it with toJS.
    const content = doc as unknown as Record<string, unknown> & { records?: Record<string, Record<string, unknown>> };
    const records = content.records ?? {};
    const layout = Object.keys(records).sort().join(",");
    let template = this.#templates.get(layout);
    if (template === undefined) {
      template = A.change(A.init<Record<string, unknown>>({ actor: this.#templateActor }), { time: 0 }, (d) => {
        d.records = Object.fromEntries(Object.keys(records).map((bucket) => [bucket, {}]));
      });
      this.#templates.set(layout, template);
    }
    const copy = A.change(
      A.clone(template as A.Doc<Record<string, unknown>>, actor),
      { time: Math.floor(timeMs / 1000) },
      (d) => {
        for (const [key, value] of Object.entries(content)) if (key !== "records") d[key] = structuredClone(value);
        const buckets = d.records as Record<string, Record<string, unknown>>;
        for (const [bucket, entries] of Object.entries(records))
          for (const [id, value] of Object.entries(entries)) buckets[bucket]![id] = value;
      },
    );
    return copy as unknown as A.Doc<T>;
  }
}

/**
 * The incremental fold: keeps valid records in (`at`, `id`) order and the state derived from them, with checkpoints,
 * so an append applies one record and a late record re-derives only from its position.
 */
import type { FederaRecord } from "../records/record.js";
import { compareRecords } from "../records/record.js";

/** How a document kind derives state: a pure fold step and a way to copy the state at a checkpoint. */
export interface Reducer<S, Snap> {
  init(): S;
  apply(state: S, record: FederaRecord): void;
  snapshot(state: S): Snap;
  restore(snap: Snap): S;
}

/** Tuning of the fold. */
export interface FoldInit {
  /** Records between checkpoints: smaller re-derives less after a late record, larger keeps fewer copies. */
  readonly checkpointEvery?: number;
}

/** Statistics of the last update, for tests and benchmarks. */
export interface FoldStats {
  /** Records applied by the last update (1 for an append; more when a late record re-derived a suffix). */
  readonly applied: number;
  /** Position from which the last update re-derived. */
  readonly from: number;
}

/** Ordered records and the state derived from them. */
export class Fold<S, Snap> {
  readonly #reducer: Reducer<S, Snap>;
  readonly #every: number;
  #records: FederaRecord[] = [];
  #checkpoints: { index: number; snap: Snap }[] = [];
  #state: S;
  #stats: FoldStats = { applied: 0, from: 0 };

  constructor(reducer: Reducer<S, Snap>, init: FoldInit = {}) {
    this.#reducer = reducer;
    this.#every = init.checkpointEvery ?? 512;
    this.#state = reducer.init();
  }

  get state(): S {
    return this.#state;
  }

  get records(): readonly FederaRecord[] {
    return this.#records;
  }

  get stats(): FoldStats {
    return this.#stats;
  }

  /** Adds and removes records, re-deriving from the earliest position that changed. */
  update(added: readonly FederaRecord[], removed: readonly FederaRecord[] = []): void {
    if (added.length === 0 && removed.length === 0) return;
    const sorted = [...added].sort(compareRecords);
    const last = this.#records[this.#records.length - 1];
    if (removed.length === 0 && (last === undefined || compareRecords(sorted[0]!, last) > 0)) {
      // Appends: every new record is later than everything folded.
      const from = this.#records.length;
      for (const r of sorted) this.#applyNext(r);
      this.#stats = { applied: sorted.length, from };
      return;
    }
    let from = this.#records.length;
    const gone = new Set(removed.map((r) => r.id));
    for (const r of removed) from = Math.min(from, this.#position(r));
    for (const r of sorted) from = Math.min(from, this.#position(r));
    const tail = this.#records.slice(from).filter((r) => !gone.has(r.id));
    const merged = mergeSorted(tail, sorted);
    // Restore the last checkpoint at or before `from` and fold forward.
    while (this.#checkpoints.length > 0 && this.#checkpoints[this.#checkpoints.length - 1]!.index > from)
      this.#checkpoints.pop();
    const cp = this.#checkpoints[this.#checkpoints.length - 1];
    const start = cp?.index ?? 0;
    const replay = this.#records.slice(start, from);
    this.#records.length = start;
    this.#state = cp ? this.#reducer.restore(cp.snap) : this.#reducer.init();
    if (cp) this.#checkpoints.pop();
    for (const r of replay) this.#applyNext(r);
    for (const r of merged) this.#applyNext(r);
    this.#stats = { applied: replay.length + merged.length, from: start };
  }

  #applyNext(record: FederaRecord): void {
    if (this.#records.length % this.#every === 0) {
      const index = this.#records.length;
      const top = this.#checkpoints[this.#checkpoints.length - 1];
      if (top === undefined || top.index < index)
        this.#checkpoints.push({ index, snap: this.#reducer.snapshot(this.#state) });
    }
    this.#records.push(record);
    this.#reducer.apply(this.#state, record);
  }

  /** Index of the first folded record not before `r`. */
  #position(r: FederaRecord): number {
    let lo = 0;
    let hi = this.#records.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareRecords(this.#records[mid]!, r) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

function mergeSorted(a: readonly FederaRecord[], b: readonly FederaRecord[]): FederaRecord[] {
  const out: FederaRecord[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && compareRecords(a[i]!, b[j]!) <= 0)) out.push(a[i++]!);
    else out.push(b[j++]!);
  }
  return out;
}

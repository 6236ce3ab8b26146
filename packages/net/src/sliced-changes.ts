/**
 * Received changes applied a slice per event-loop turn. Applying a merge of a thousand records to a document in one
 * Automerge call held a node for 100 to 200 ms; in slices of about 20 ms, timers, I/O, other peers' messages and a
 * page's UI run between them. Changes cheap enough to apply at once are applied at once: each slice is a change of the
 * document, which automerge-repo answers with a sync round to every peer, so slicing costs messages and bytes.
 */
import * as A from "@automerge/automerge";
import type { DocHandle } from "@automerge/automerge-repo/slim";
import { changesOf, concat } from "./automerge-chunks.js";
import { nextTurn } from "./inbox.js";

/** How long one slice should hold the event loop, in milliseconds of this thread's CPU. */
export const SLICE_MS = 20;
/** Changes estimated to apply within this many milliseconds are applied at once, unsliced. */
export const WHOLE_MS = 40;
/** What applying one byte of changes is taken to cost before anything was timed (a Federa record, warm: 0.1 ms). */
const FIRST_ESTIMATE_MS_PER_BYTE = 0.1 / 300;

interface Queue {
  readonly handle: DocHandle<unknown>;
  /** Changes waiting, oldest first. */
  readonly changes: Uint8Array[];
}

/** Options, for tuning and tests. */
export interface SlicedChangesInit {
  /** Hears of changes that would not apply (the Repo's sync fetches them again once the peer reconnects). */
  readonly onError?: (error: unknown) => void;
  readonly sliceMs?: number;
  readonly wholeMs?: number;
}

/** Received changes, applied at once when cheap, else queued per document and applied one slice a turn. */
export class SlicedChanges {
  readonly #queues = new Map<string, Queue>();
  /** Changes handed over whose timer has not fired yet, in the order they were handed over. */
  readonly #arriving: {
    handle: DocHandle<unknown>;
    changes: readonly Uint8Array[];
    timer: ReturnType<typeof setTimeout>;
  }[] = [];
  readonly #onError: (error: unknown) => void;
  readonly #sliceMs: number;
  readonly #wholeMs: number;
  #scheduled = false;
  /** Milliseconds a byte of changes took to apply, averaged over recent applies: sizes what comes next. */
  #msPerByte = FIRST_ESTIMATE_MS_PER_BYTE;
  #waiters: (() => void)[] = [];

  constructor(init: SlicedChangesInit = {}) {
    this.#onError = init.onError ?? (() => {});
    this.#sliceMs = init.sliceMs ?? SLICE_MS;
    this.#wholeMs = init.wholeMs ?? WHOLE_MS;
  }

  /**
   * Takes the change chunks of a received sync message for `handle`: applies them now and returns true when they are
   * cheap (and nothing of that document waits), else splits them into single changes, queues them and returns false.
   * Queued changes join their queue on a timer, after anything armed on a timer before this call: the adapter hands
   * the Repo the rest of the message that way, so the Repo knows what the sender holds before any of it lands.
   */
  take(handle: DocHandle<unknown>, parts: readonly Uint8Array[]): boolean {
    const bytes = parts.reduce((n, p) => n + p.byteLength, 0);
    if (bytes === 0) return true;
    const waiting = this.#queues.has(handle.documentId) || this.#arriving.some((e) => e.handle === handle);
    if (!waiting && bytes * this.#msPerByte <= this.#wholeMs) {
      this.#apply(handle, parts);
      return true;
    }
    const changes = changesOf(parts);
    const entry = { handle, changes, timer: setTimeout(() => this.#arrive(), 0) };
    this.#arriving.push(entry);
    return false;
  }

  /** Changes queued and not applied yet, over every document. */
  get pending(): number {
    let n = 0;
    for (const entry of this.#arriving) n += entry.changes.length;
    for (const queue of this.#queues.values()) n += queue.changes.length;
    return n;
  }

  /** Resolves once every queued change is applied. */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Applies everything queued now, in one go: before a flush or a stop, when nothing should be left waiting. */
  drain(): void {
    while (this.#arriving.length > 0) {
      clearTimeout(this.#arriving[0]!.timer);
      this.#arrive();
    }
    for (const [id, queue] of [...this.#queues]) {
      this.#queues.delete(id);
      this.#apply(queue.handle, queue.changes.splice(0));
    }
    this.#settle();
  }

  /** The oldest changes handed over join their document's queue. */
  #arrive(): void {
    const entry = this.#arriving.shift();
    if (entry === undefined) return;
    const id = entry.handle.documentId;
    let queue = this.#queues.get(id);
    if (queue === undefined) {
      queue = { handle: entry.handle, changes: [] };
      this.#queues.set(id, queue);
    }
    for (const change of entry.changes) queue.changes.push(change);
    this.#schedule();
  }

  #schedule(): void {
    if (this.#scheduled || this.#queues.size === 0) return;
    this.#scheduled = true;
    nextTurn(() => this.#turn());
  }

  /** Applies one slice of the first document in line, then sends that document to the back of the line. */
  #turn(): void {
    this.#scheduled = false;
    const next = this.#queues.entries().next();
    if (!next.done) {
      const [id, queue] = next.value;
      const budget = this.#sliceMs / this.#msPerByte;
      let count = 0;
      let bytes = 0;
      while (count < queue.changes.length && (count === 0 || bytes + queue.changes[count]!.byteLength <= budget)) {
        bytes += queue.changes[count]!.byteLength;
        count++;
      }
      this.#apply(queue.handle, queue.changes.splice(0, count));
      this.#queues.delete(id);
      if (queue.changes.length > 0) this.#queues.set(id, queue); // to the back of the line
    }
    this.#settle();
    this.#schedule();
  }

  /** Applies change chunks to the document, timing them to size what comes next. */
  #apply(handle: DocHandle<unknown>, parts: readonly Uint8Array[]): void {
    if (parts.length === 0) return;
    const bytes = parts.reduce((n, p) => n + p.byteLength, 0);
    const started = busyMs();
    try {
      // The same call the Repo makes for a received message: it takes any chunks laid end to end.
      handle.update((doc) => A.loadIncremental(doc, parts.length === 1 ? parts[0]! : concat(parts)));
    } catch (err) {
      this.#onError(err);
      return;
    }
    const took = (busyMs() - started) / bytes;
    this.#msPerByte = Math.max(1e-7, (this.#msPerByte + took) / 2);
  }

  #settle(): void {
    if (this.#queues.size > 0 || this.#arriving.length > 0) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve();
  }
}

/** This thread's CPU time where the platform tells it (Node), else the clock: other processes' time is not ours. */
const busyMs: () => number =
  typeof process !== "undefined" && typeof (process as { threadCpuUsage?: unknown }).threadCpuUsage === "function"
    ? () => {
        const usage = (process as unknown as { threadCpuUsage(): { user: number; system: number } }).threadCpuUsage();
        return (usage.user + usage.system) / 1_000;
      }
    : () => performance.now();

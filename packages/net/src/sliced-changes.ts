/**
 * Received changes applied a slice per event-loop turn. Applying a merge of a thousand records to a document in one
 * Automerge call held a node for 100 to 200 ms; in slices of about 35 ms, timers, I/O, other peers' messages and a
 * page's UI run between them. Changes cheap enough to apply at once are applied at once: each slice is a change of the
 * document, which automerge-repo answers with a sync round to every peer, so slicing costs messages and bytes.
 */
import * as A from "@automerge/automerge";
import type { DocHandle } from "@automerge/automerge-repo/slim";
import {
  BUNDLE_CHUNK,
  CHANGE_CHUNK,
  COMPRESSED_CHANGE_CHUNK,
  chunkType,
  concat,
  DOCUMENT_CHUNK,
  splitChunks,
} from "./automerge-chunks.js";
import { nextTurn } from "./turns.js";

/** How long one slice should hold the event loop, in milliseconds of this thread's CPU where Node tells it. */
export const SLICE_MS = 35;
/** Changes estimated to apply within this many milliseconds are applied at once, unsliced. */
export const WHOLE_MS = 60;
/** What applying one byte of change chunks is taken to cost before anything was timed (a Federa record, warm). */
const FIRST_ESTIMATE_MS_PER_BYTE = 0.1 / 300;
/** Applies smaller than this say too little about speed (a coarse clock reads them as 0) to update the estimate. */
const MIN_SAMPLE_BYTES = 4 * 1024;
/** Applies of this many bytes or more replace the estimate; smaller ones move it in proportion. */
const FULL_SAMPLE_BYTES = 64 * 1024;
/** A chunk of the document format, or a bundle, holds about this many times the changes of change chunks its size. */
const DOCUMENT_DENSITY = 3;
/** More changes than this per byte of a document chunk is no honest document: it is applied whole, not expanded. */
export const MAX_CHANGES_PER_BYTE = 1 / 4;
/** Bytes of changes queued at most, unless one message alone is larger: beyond them, what arrives is applied at once,
 * so peers faster than the slices cost a stall rather than unbounded memory (about 6 s of slices at the first estimate).
 * A bundle counts as the change chunks it stands for (three times its size), so that the bound is on work. */
export const MAX_QUEUED_BYTES = 16 * 1024 * 1024;

/** Changes from one message, with the check that they may still be applied (their sender may lose access). */
interface Batch {
  readonly changes: Uint8Array[];
  readonly allowed: () => boolean;
  /** What `changes` not applied yet cost, in bytes of change chunks (`costOf`). */
  cost: number;
}

interface Queue {
  readonly handle: DocHandle<unknown>;
  /** Batches waiting, oldest first. */
  readonly batches: Batch[];
}

/** Options, for tuning and tests. */
export interface SlicedChangesInit {
  /** Hears of queued changes that would not apply (the Repo's sync fetches them again once the peer reconnects). */
  readonly onError?: (error: unknown) => void;
  readonly sliceMs?: number;
  readonly wholeMs?: number;
  /** Bytes queued at most (`MAX_QUEUED_BYTES`). */
  readonly maxQueuedBytes?: number;
}

/** Received changes, applied at once when cheap, else queued per document and applied one slice a turn. */
export class SlicedChanges {
  readonly #queues = new Map<string, Queue>();
  /** Batches handed over whose timer has not fired yet, in the order they were handed over. */
  readonly #arriving: { handle: DocHandle<unknown>; batch: Batch; timer: ReturnType<typeof setTimeout> }[] = [];
  readonly #onError: (error: unknown) => void;
  readonly #sliceMs: number;
  readonly #wholeMs: number;
  readonly #maxQueuedBytes: number;
  #queuedBytes = 0;
  #scheduled = false;
  #closed = false;
  /** Milliseconds a byte of change chunks took to apply, averaged over recent applies: sizes what comes next. */
  #msPerByte = FIRST_ESTIMATE_MS_PER_BYTE;
  #waiters: (() => void)[] = [];

  constructor(init: SlicedChangesInit = {}) {
    this.#onError = init.onError ?? (() => {});
    this.#sliceMs = init.sliceMs ?? SLICE_MS;
    this.#wholeMs = init.wholeMs ?? WHOLE_MS;
    this.#maxQueuedBytes = init.maxQueuedBytes ?? MAX_QUEUED_BYTES;
  }

  /**
   * Takes the change chunks of a received sync message for `handle`. Applies them now and returns true when they are
   * cheap and nothing of that document waits, when they do not split, when the queue is full or once `close()` was
   * called; a failure then throws, so the caller can hand the Repo the whole message. Else splits them into single changes, queues them and returns false: they join
   * the queue on a timer, after anything armed on a timer before this call (the adapter hands the Repo the rest of the
   * message that way, so the Repo knows what the sender holds before any of it lands), and each slice is applied only
   * while `allowed`.
   */
  take(handle: DocHandle<unknown>, parts: readonly Uint8Array[], allowed: () => boolean = () => true): boolean {
    const bytes = parts.reduce((n, p) => n + p.byteLength, 0);
    if (bytes === 0) return true;
    const waiting = this.#queues.has(handle.documentId) || this.#arriving.some((e) => e.handle === handle);
    const density = parts.some((p) => isDense(chunkType(p))) ? DOCUMENT_DENSITY : 1;
    const costly = bytes * density * this.#msPerByte > this.#wholeMs;
    // One message always fits (frames are capped already): the bound is on messages piling up behind it.
    const room =
      !this.#closed && (this.#queuedBytes === 0 || this.#queuedBytes + bytes * density <= this.#maxQueuedBytes);
    const changes = room && (waiting || costly) ? splitChanges(parts) : undefined;
    if (changes === undefined) {
      this.#apply(handle, parts);
      return true;
    }
    const batch = { changes, allowed, cost: changes.reduce((n, c) => n + costOf(c), 0) };
    this.#queuedBytes += batch.cost;
    this.#arriving.push({ handle, batch, timer: setTimeout(() => this.#arrive(), 0) });
    return false;
  }

  /** Changes queued and not applied yet, over every document. */
  get pending(): number {
    let n = 0;
    for (const entry of this.#arriving) n += entry.batch.changes.length;
    for (const queue of this.#queues.values()) for (const batch of queue.batches) n += batch.changes.length;
    return n;
  }

  /** Bytes of changes queued and not applied yet, a bundle counted as three times its size (`MAX_QUEUED_BYTES`). */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** Resolves once every queued change is applied. */
  idle(): Promise<void> {
    if (this.#empty()) return Promise.resolve();
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
      for (const batch of queue.batches) {
        if (batch.allowed()) this.#tryApply(queue.handle, batch.changes);
        this.#spent(batch, batch.cost);
      }
    }
    this.#settle();
  }

  /** Drains, and from now on applies whatever arrives at once: for a node stopping, whose timers may never fire. */
  close(): void {
    this.#closed = true;
    this.drain();
  }

  /** Counts `cost` of `batch` as no longer queued. */
  #spent(batch: Batch, cost: number): void {
    batch.cost -= cost;
    this.#queuedBytes -= cost;
  }

  /** The oldest batch handed over joins its document's queue. */
  #arrive(): void {
    const entry = this.#arriving.shift();
    if (entry === undefined) return;
    const id = entry.handle.documentId;
    let queue = this.#queues.get(id);
    if (queue === undefined) {
      queue = { handle: entry.handle, batches: [] };
      this.#queues.set(id, queue);
    }
    queue.batches.push(entry.batch);
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
    try {
      const next = this.#queues.entries().next();
      if (next.done) return;
      const [id, queue] = next.value;
      this.#queues.delete(id);
      const batch = queue.batches[0]!;
      if (batch.allowed()) {
        const budget = this.#sliceMs / this.#msPerByte;
        let count = 0;
        let cost = 0;
        while (count < batch.changes.length && (count === 0 || cost + costOf(batch.changes[count]!) <= budget)) {
          cost += costOf(batch.changes[count]!);
          count++;
        }
        this.#tryApply(queue.handle, batch.changes.splice(0, count));
        this.#spent(batch, cost);
      } else {
        batch.changes.length = 0; // its sender lost access to the document meanwhile
        this.#spent(batch, batch.cost);
      }
      if (batch.changes.length === 0) queue.batches.shift();
      if (queue.batches.length > 0) this.#queues.set(id, queue); // to the back of the line
    } finally {
      this.#settle();
      this.#schedule();
    }
  }

  /** Applies queued changes; a failure goes to `onError`, whose own failure must not stop the queue. */
  #tryApply(handle: DocHandle<unknown>, changes: readonly Uint8Array[]): void {
    try {
      this.#apply(handle, changes);
    } catch (err) {
      try {
        this.#onError(err);
      } catch {
        // The queue goes on.
      }
    }
  }

  /** Applies change chunks to the document; when they are change chunks, times them to size what comes next. */
  #apply(handle: DocHandle<unknown>, parts: readonly Uint8Array[]): void {
    if (parts.length === 0) return;
    const data = parts.length === 1 ? parts[0]! : concat(parts);
    const bytes = data.byteLength;
    const started = busyMs();
    // The same call the Repo makes for a received message: it takes any chunks laid end to end.
    handle.update((doc) => A.loadIncremental(doc, data));
    const took = busyMs() - started;
    const kind = chunkType(data);
    // Document chunks pack the same changes several times tighter: their bytes would skew the estimate.
    if (bytes < MIN_SAMPLE_BYTES || took <= 0 || (kind !== CHANGE_CHUNK && kind !== COMPRESSED_CHANGE_CHUNK)) return;
    const weight = Math.min(1, bytes / FULL_SAMPLE_BYTES);
    this.#msPerByte += weight * (took / bytes - this.#msPerByte);
  }

  #empty(): boolean {
    return this.#queues.size === 0 && this.#arriving.length === 0;
  }

  #settle(): void {
    if (!this.#empty()) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve();
  }
}

/**
 * The single changes of a message's parts, in causal order, or undefined when they do not split: bytes that do not
 * parse as chunks, or a document chunk that would expand to too many changes. Those are applied whole, as the Repo
 * would. Change chunks split at their headers, and bundles stay whole; a chunk of the document format (sent when the
 * peer lacks a third of the document or more) is loaded on its own, its missing history allowed, and gives its changes
 * back.
 */
export function splitChanges(parts: readonly Uint8Array[]): Uint8Array[] | undefined {
  const out: Uint8Array[] = [];
  for (const part of parts) {
    const chunks = splitChunks(part);
    if (chunks === undefined) return undefined;
    for (const chunk of chunks) {
      const kind = chunkType(chunk);
      // A bundle (from a Federa peer) is applied whole: its sender keeps it to a slice's worth.
      if (kind === CHANGE_CHUNK || kind === COMPRESSED_CHANGE_CHUNK || kind === BUNDLE_CHUNK) out.push(chunk);
      else if (kind !== DOCUMENT_CHUNK || !expandDocument(chunk, out)) return undefined;
    }
  }
  return out;
}

/** Whether a chunk of this type packs changes in columns, several times tighter than change chunks. */
function isDense(kind: number | undefined): boolean {
  return kind === DOCUMENT_CHUNK || kind === BUNDLE_CHUNK;
}

/** What a queued chunk is taken to cost to apply, in bytes of change chunks. */
function costOf(chunk: Uint8Array): number {
  return isDense(chunkType(chunk)) ? chunk.byteLength * DOCUMENT_DENSITY : chunk.byteLength;
}

/** Appends a document chunk's changes to `out`; false, appending nothing, when it holds implausibly many. */
function expandDocument(chunk: Uint8Array, out: Uint8Array[]): boolean {
  const document = A.load(chunk, { allowMissingChanges: true });
  try {
    // Columns are run-length encoded: a few bytes can stand for millions of empty changes.
    if (A.stats(document).numChanges > chunk.byteLength * MAX_CHANGES_PER_BYTE) return false;
    for (const change of A.getAllChanges(document)) out.push(change);
    return true;
  } finally {
    A.free(document);
  }
}

/** This thread's CPU time where the platform tells it (Node 23.9+), else the clock. */
const busyMs: () => number =
  typeof process !== "undefined" && typeof (process as { threadCpuUsage?: unknown }).threadCpuUsage === "function"
    ? () => {
        const usage = (process as unknown as { threadCpuUsage(): { user: number; system: number } }).threadCpuUsage();
        return (usage.user + usage.system) / 1_000;
      }
    : () => performance.now();

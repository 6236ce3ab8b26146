/**
 * What the coordinator of `./dev bench net` (and of `./dev bench soak`) and its node processes say to each other (one
 * JSON object per line, on the worker's stdin and stdout), and the probe that measures each process's longest
 * event-loop stall.
 */

import { readdirSync, readFileSync } from "node:fs";

/** A document handed to a worker: its automerge-repo id and its saved bytes (base64). */
export interface DocBytes {
  readonly docId: string;
  readonly bytes: string;
}

/** Federa node: a FederaNode holding the shared council (identity as written by `exportIdentity`). */
export interface InitFedera {
  readonly cmd: "init";
  readonly mode: "federa";
  readonly index: number;
  readonly identity: { member: string; deviceSeed: string; memberSeed?: string };
  readonly council: DocBytes;
  readonly ledger: DocBytes;
  /** Where the node keeps its documents (its durable storage, as `federa node` does); in memory when absent. */
  readonly storageDir?: string;
  /**
   * The node ran before with this `storageDir`: it opens the council from there, as `federa node` does once
   * restarted, instead of importing the genesis documents.
   */
  readonly restart?: boolean;
  /** Sends large rounds of changes as Automerge bundles (`FederaNodeInit.bundleChanges`); unset: the default. */
  readonly bundleChanges?: boolean;
  /** Sends whole documents as the changes the peer lacks (`FederaNodeInit.trimDocuments`). */
  readonly trimDocuments?: boolean;
}

/** The hub: automerge-repo's stock WebSocket server with a Repo holding the shared document. */
export interface InitHubServer {
  readonly cmd: "init";
  readonly mode: "hub-server";
  readonly doc: DocBytes;
  /** Where the server's Repo keeps documents (`NodeFSStorageAdapter`, as automerge-repo's sync server); in memory when absent. */
  readonly storageDir?: string;
}

/** A hub client: a Repo with the shared document, offline until it is told to connect to the hub. */
export interface InitHubClient {
  readonly cmd: "init";
  readonly mode: "hub-client";
  readonly index: number;
  readonly doc: DocBytes;
  /** Where the client's Repo keeps documents (`NodeFSStorageAdapter`); in memory when absent. */
  readonly storageDir?: string;
}

export type Command =
  | InitFedera
  | InitHubServer
  | InitHubClient
  /** Append `k` more records while offline, one record per change. */
  | { readonly cmd: "write"; readonly k: number }
  /**
   * Federa: dial these multiaddrs; hub client: connect to this WebSocket URL; the hub's server: nothing to dial. Every
   * process starts measuring here; one with a `target` says it has converged once it holds that many records
   * (Federa: valid records, setup included; hub: entries).
   */
  | {
      readonly cmd: "heal";
      readonly peers: readonly string[];
      readonly target?: number;
      /** Announce the peers as discovered (as mDNS does) and let the node choose whom to dial, rather than dial them. */
      readonly discover?: boolean;
    }
  /** Stop dialling again (Federa) or disconnect from the hub (client), so that the nodes can be parted. */
  | { readonly cmd: "part" }
  /** Close every connection (Federa, once every node stopped dialling); answered once none is left. */
  | { readonly cmd: "hangup" }
  | { readonly cmd: "stats" }
  /** Answered with `held` once the node holds `target` records, or after `capMs` (it dials no one for it). */
  | { readonly cmd: "hold"; readonly target: number; readonly capMs: number }
  /** Collects garbage (the process runs with `--expose-gc`), then answers with `heap`. */
  | { readonly cmd: "heap" }
  /** Collects garbage, then writes a V8 heap snapshot to `path`; answered with `snapshot`. */
  | { readonly cmd: "snapshot"; readonly path: string }
  | { readonly cmd: "stop" };

/** The longest stalls one process saw, in ms. */
export interface Stalls {
  /** Longest wall-clock delay of a 5 ms timer beyond its due time (includes time the OS gave to other processes). */
  readonly maxDelayMs: number;
  /** Longest main-thread CPU time between two consecutive timer ticks: JavaScript and wasm that ran without yielding. */
  readonly maxBusyMs: number;
}

/** Automerge-repo messages one process put on the wire. */
export interface Wire {
  readonly messages: number;
  readonly bytes: number;
}

export type Event =
  /** Started; a Federa node gives its listen addresses, the hub its port. */
  | { readonly ev: "ready"; readonly addresses?: readonly string[]; readonly port?: number }
  /** Appended: the time it took, the stall meanwhile, and the Automerge changes made (base64), for the floor. */
  | { readonly ev: "written"; readonly ms: number; readonly stalls: Stalls; readonly changes: readonly string[] }
  /** Acknowledges `part` and `hangup`. */
  | { readonly ev: "parted" }
  /** Holds every record; `at` is the wall clock (ms since the epoch, sub-ms precision). */
  | { readonly ev: "converged"; readonly at: number }
  | {
      readonly ev: "stats";
      /** Stalls since the heal command. */
      readonly stalls: Stalls;
      /** What this process sent since the heal command (Federa nodes; the hub counts both directions). */
      readonly sent: Wire;
      readonly received: Wire;
      readonly records: number;
      /** Main-thread CPU time since the heal command. */
      readonly cpuMs: number;
      /** The whole process's CPU time since the heal command (thread-pool work such as signature checks included). */
      readonly processCpuMs: number;
      /** CPU time since the heal command by kind of thread (Linux only; empty elsewhere). */
      readonly threadsCpuMs: Readonly<Record<string, number>>;
      /** Peer events since the heal command (announced, lost, refused streams by reason). */
      readonly counters: Readonly<Record<string, number>>;
      readonly rssMb: number;
    }
  | ({
      readonly ev: "heap";
      /** Whether `global.gc()` ran first (false when the process was started without `--expose-gc`). */
      readonly gc: boolean;
    } & HeapReport)
  /** Answers `hold`: whether the target was reached, the records held, and when (as `converged`'s `at`). */
  | { readonly ev: "held"; readonly reached: boolean; readonly records: number; readonly at: number }
  | { readonly ev: "snapshot"; readonly path: string }
  | { readonly ev: "error"; readonly message: string };

/** Interval of the probe's timer. */
export const PROBE_MS = 5;

/** Watches the event loop with a 5 ms timer; `onTick` runs on each tick (the worker checks convergence there). */
export class StallProbe {
  #timer: ReturnType<typeof setInterval> | undefined;
  #wall = 0;
  #cpu = 0;
  #maxDelay = 0;
  #maxBusy = 0;
  #onTick: () => void = () => {};
  readonly #trace: ((busyMs: number) => void) | undefined;

  /** `trace` hears of every stretch of more than 40 ms of main-thread work (a diagnostic). */
  constructor(trace?: (busyMs: number) => void) {
    this.#trace = trace;
  }

  /** Starts afresh (forgetting earlier maxima). */
  start(onTick: () => void = () => {}): void {
    this.stop();
    this.#onTick = onTick;
    this.#maxDelay = 0;
    this.#maxBusy = 0;
    this.#wall = performance.now();
    this.#cpu = threadCpuMs();
    this.#timer = setInterval(() => this.#tick(), PROBE_MS);
  }

  stop(): Stalls {
    if (this.#timer !== undefined) {
      this.#tick();
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
    return this.stalls();
  }

  stalls(): Stalls {
    return { maxDelayMs: round(this.#maxDelay), maxBusyMs: round(this.#maxBusy) };
  }

  #tick(): void {
    const wall = performance.now();
    const cpu = threadCpuMs();
    this.#maxDelay = Math.max(this.#maxDelay, wall - this.#wall - PROBE_MS);
    this.#maxBusy = Math.max(this.#maxBusy, cpu - this.#cpu);
    if (this.#trace !== undefined && cpu - this.#cpu > 40) this.#trace(cpu - this.#cpu);
    this.#onTick();
    // Measured from after the check, so the check's own cost is not counted as a stall of the next interval.
    this.#wall = performance.now();
    this.#cpu = threadCpuMs();
  }
}

/** CPU time of this process's main thread (ms): unlike process time it leaves out GC and thread-pool helpers. */
export function threadCpuMs(): number {
  const usage = process.threadCpuUsage();
  return (usage.user + usage.system) / 1_000;
}

/** CPU time of the whole process (ms), every thread included. */
export function processCpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1_000;
}

/** Kinds of thread, from the names Node, V8 and libuv give them (`/proc/self/task/<tid>/comm`). */
function threadKind(comm: string, isMain: boolean): string {
  if (isMain) return "main";
  if (comm.startsWith("libuv-worker")) return "thread pool";
  if (comm.startsWith("V8Worker")) return "V8 helpers";
  return "other";
}

/**
 * CPU time (ms) every thread of this process has used, summed by kind: the main thread, libuv's thread pool (crypto,
 * zlib, file system), V8's helpers (garbage collection, compiling JavaScript and wasm) and the rest. Linux only.
 */
export function threadsCpuMs(): Record<string, number> {
  const out: Record<string, number> = {};
  let tids: string[];
  try {
    tids = readdirSync("/proc/self/task");
  } catch {
    return out;
  }
  const ticksPerMs = 100 / 1_000; // USER_HZ is 100 on every Linux Node supports
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
      // The name is in parentheses and may hold spaces; utime and stime are fields 14 and 15.
      const close = stat.lastIndexOf(")");
      const comm = stat.slice(stat.indexOf("(") + 1, close);
      const fields = stat.slice(close + 2).split(" ");
      const ticks = Number(fields[11]) + Number(fields[12]);
      const kind = threadKind(comm, tid === String(process.pid));
      out[kind] = (out[kind] ?? 0) + ticks / ticksPerMs;
    } catch {
      // The thread ended between listing and reading.
    }
  }
  return out;
}

/** `a` plus `scale` times `b`, kind by kind: a difference of two readings, or a sum over processes. */
export function addKinds(
  a: Readonly<Record<string, number>>,
  b: Readonly<Record<string, number>>,
  scale = 1,
): Record<string, number> {
  const out: Record<string, number> = { ...a };
  for (const [kind, ms] of Object.entries(b)) out[kind] = round((out[kind] ?? 0) + scale * ms);
  return out;
}

export function round(ms: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(ms * f) / f;
}

/** Wall clock in ms since the epoch with sub-millisecond precision, comparable across processes. */
export function wallClock(): number {
  return performance.timeOrigin + performance.now();
}

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

export function fromBase64(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, "base64"));
}

/** A node's memory (`process.memoryUsage()` in MB, after garbage collection when it could) and its collections. */
export interface HeapReport {
  readonly heapUsedMb: number;
  readonly heapTotalMb: number;
  readonly externalMb: number;
  readonly arrayBuffersMb: number;
  readonly rssMb: number;
  /** Valid records it holds (setup included). */
  readonly records: number;
  /** Sizes of the node's internal collections that are cheap to reach (Federa nodes; empty for the hub). */
  readonly sizes: Readonly<Record<string, number>>;
  /** Peer events since the process started (it never heals, so they are never reset). */
  readonly counters: Readonly<Record<string, number>>;
}

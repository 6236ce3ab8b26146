/**
 * Warms Automerge's WebAssembly up before a node's first merge. V8 compiles wasm with a baseline compiler first and
 * optimizes a function only once it has run for a while, on helper threads: a node that has just started pays for that
 * in the middle of its first merge, where the baseline code runs slower and the compiling competes for the cores. A
 * small synthetic sync between two scratch documents, run in slices while the node is otherwise idle, gets the hot
 * paths (applying changes, generating and receiving sync messages, saving and loading) optimized before it counts.
 * Measured in docs/benchmarks.md: about 0.35 s of CPU once per process, against 2 to 5 s less CPU on V8's helper
 * threads after a 16-node merge.
 */
import * as A from "@automerge/automerge";
import { nextTurn } from "./turns.js";

/** Options of `warmUpAutomerge`. */
export interface WarmUpOptions {
  /** Rounds of the synthetic sync: each writes `changes` changes and syncs them to a second document. */
  readonly rounds?: number;
  /** Changes written per round. */
  readonly changes?: number;
  /** Ends the warm-up early (a node stopping). */
  readonly signal?: AbortSignal;
}

interface Scratch {
  [bucket: string]: { [key: string]: Uint8Array };
}

/** Resolves after a turn of the event loop, so timers and I/O run between the warm-up's steps. */
const yieldTurn = () => new Promise<void>((resolve) => nextTurn(resolve));

/** Deterministic bytes that look like a signed record (not compressible to nothing). */
function recordBytes(round: number, i: number): Uint8Array {
  const bytes = new Uint8Array(300);
  let x = (round * 7919 + i * 104_729) >>> 0 || 1;
  for (let k = 0; k < bytes.length; k++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[k] = x & 0xff;
  }
  return bytes;
}

/** The warm-up of this process, once started: optimized code serves every node and Repo in it. */
let once: Promise<void> | undefined;

/** Starts the warm-up unless this process has already started one; resolves when it ends. */
export function warmUpAutomergeOnce(options: WarmUpOptions = {}): Promise<void> {
  once ??= warmUpAutomerge(options).catch(() => {});
  return once;
}

/**
 * Runs a synthetic sync between two scratch documents, a step per event-loop turn, and resolves when done (or when
 * `signal` aborts). Its documents are dropped afterwards; nothing is stored or sent.
 */
export async function warmUpAutomerge(options: WarmUpOptions = {}): Promise<void> {
  const rounds = options.rounds ?? 4;
  const perRound = options.changes ?? 150;
  let writer = A.from<Scratch>({});
  let reader = A.init<Scratch>();
  let writerState = A.initSyncState();
  let readerState = A.initSyncState();
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < perRound; i++) {
      if (i % 50 === 0) {
        if (options.signal?.aborted) return;
        await yieldTurn();
      }
      const bucket = ((round * perRound + i) % 256).toString(16).padStart(2, "0");
      writer = A.change(writer, (d) => {
        d[bucket] ??= {};
        (d[bucket] as Record<string, Uint8Array>)[`${round}-${i}`] = recordBytes(round, i);
      });
    }
    // Both of Automerge's forms: a bundle of changes for a peer that has some, a document chunk for one that lacks most.
    for (let step = 0; step < 20; step++) {
      if (options.signal?.aborted) return;
      await yieldTurn();
      const [nextWriter, toReader] = A.generateSyncMessage(writer, writerState);
      writerState = nextWriter;
      if (toReader !== null) [reader, readerState] = A.receiveSyncMessage(reader, readerState, toReader);
      const [nextReader, toWriter] = A.generateSyncMessage(reader, readerState);
      readerState = nextReader;
      if (toWriter !== null) [writer, writerState] = A.receiveSyncMessage(writer, writerState, toWriter);
      if (toReader === null && toWriter === null) break;
    }
    await yieldTurn();
    const saved = A.save(reader);
    await yieldTurn();
    A.loadIncremental(A.init<Scratch>(), saved);
  }
}

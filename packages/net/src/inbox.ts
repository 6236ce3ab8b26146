/**
 * Received frames waiting to be handled. Bytes from the network arrive in bursts that Node hands over in one
 * event-loop phase; handling every sync message of a burst there would hold the event loop for as long as all of them
 * take. The inbox hands over one message per event-loop turn, taking streams in turn, so timers, I/O and the UI run
 * between messages and one busy peer cannot starve the others.
 */
import { nextTurn } from "./turns.js";

/** What the inbox does with frames. */
export interface InboxHandlers<Owner> {
  /** Handles one frame; returns true when it passed a message on (the turn ends there), false for control frames. */
  handle(owner: Owner, frame: Uint8Array): boolean;
  /** Every frame of `owner` has been handled. */
  drained(owner: Owner): void;
  /** `handle` or `drained` threw: reported here, so one bad turn never stops the others or the process. */
  failed(owner: Owner, error: unknown): void;
}

/**
 * What a waiting frame costs beyond its bytes (its view object and slot): counted with them, so a flood of tiny frames
 * reaches the limits that bound a stream's memory as a flood of large ones does.
 */
export const FRAME_COST_BYTES = 96;

interface Queue {
  readonly frames: Uint8Array[];
  bytes: number;
}

/** Per-owner queues of frames (an owner is a stream), handled one message a turn, owners in round-robin order. */
export class Inbox<Owner> {
  readonly #handlers: InboxHandlers<Owner>;
  /** Owners with frames waiting, in the order they get their next turn. */
  readonly #queues = new Map<Owner, Queue>();
  /** Owners whose frames wait without turns until released. */
  readonly #held = new Set<Owner>();
  #scheduled = false;

  constructor(handlers: InboxHandlers<Owner>) {
    this.#handlers = handlers;
  }

  /** Queues a frame and returns the bytes now waiting from `owner`, counting `FRAME_COST_BYTES` for each frame. */
  push(owner: Owner, frame: Uint8Array): number {
    let queue = this.#queues.get(owner);
    if (queue === undefined) {
      queue = { frames: [], bytes: 0 };
      this.#queues.set(owner, queue);
    }
    queue.frames.push(frame);
    queue.bytes += frame.byteLength + FRAME_COST_BYTES;
    this.#schedule();
    return queue.bytes;
  }

  /** Bytes waiting from `owner`, counting `FRAME_COST_BYTES` for each frame. */
  bytes(owner: Owner): number {
    return this.#queues.get(owner)?.bytes ?? 0;
  }

  /** Whether frames from `owner` are waiting. */
  has(owner: Owner): boolean {
    return this.#queues.has(owner);
  }

  /** Forgets the frames waiting from `owner` (its stream ended). */
  drop(owner: Owner): void {
    this.#queues.delete(owner);
    this.#held.delete(owner);
  }

  /** Gives `owner` no turns until `release`: its frames wait (its answers are not being read). */
  hold(owner: Owner): void {
    this.#held.add(owner);
  }

  /** Gives `owner` turns again. */
  release(owner: Owner): void {
    if (this.#held.delete(owner)) this.#schedule();
  }

  /** Whether `owner` is held. */
  isHeld(owner: Owner): boolean {
    return this.#held.has(owner);
  }

  #schedule(): void {
    if (this.#scheduled || this.#next() === undefined) return;
    this.#scheduled = true;
    nextTurn(() => {
      this.#scheduled = false;
      try {
        this.#turn();
      } finally {
        this.#schedule();
      }
    });
  }

  /** The first owner in line that is not held. */
  #next(): [Owner, Queue] | undefined {
    for (const entry of this.#queues) if (!this.#held.has(entry[0])) return entry;
    return undefined;
  }

  /** Gives the first owner in line one turn. */
  #turn(): void {
    const next = this.#next();
    if (next === undefined) return;
    const [owner, queue] = next;
    try {
      this.#give(owner, queue);
    } catch (err) {
      // The frame that threw is gone; the owner's others wait at the back of the line as after any turn.
      if (this.#queues.get(owner) === queue) {
        this.#queues.delete(owner);
        if (queue.frames.length > 0) this.#queues.set(owner, queue);
      }
      this.#handlers.failed(owner, err);
    }
  }

  /** Hands over `owner`'s frames up to and including one message, then sends it to the back of the line. */
  #give(owner: Owner, queue: Queue): void {
    while (queue.frames.length > 0) {
      const frame = queue.frames.shift() as Uint8Array;
      queue.bytes -= frame.byteLength + FRAME_COST_BYTES;
      const delivered = this.#handlers.handle(owner, frame);
      if (this.#queues.get(owner) !== queue) return; // the handler ended the stream
      if (delivered) break;
    }
    this.#queues.delete(owner);
    if (queue.frames.length > 0)
      this.#queues.set(owner, queue); // to the back of the line
    else this.#handlers.drained(owner);
  }
}

/**
 * Event-loop turns, shared by every part of a node that works in pieces: received messages (inbox.ts), received merges
 * applied in slices (sliced-changes.ts), large messages packed for a peer (libp2p-adapter.ts), Automerge's warm-up.
 * One piece runs per turn, whichever part queued it: Node runs every immediate queued before its check phase began
 * in that one phase, so pieces queued by different parts would run back to back there and add up into one stall.
 */

/** Runs `fn` at the next turn of the platform's loop: setImmediate in Node, a MessageChannel in browsers (setTimeout
 * there is clamped to 4 ms once nested). */
const platformTurn: (fn: () => void) => void = (() => {
  if (typeof globalThis.setImmediate === "function") return (fn: () => void) => void globalThis.setImmediate(fn);
  if (typeof globalThis.MessageChannel === "function") {
    const waiting: (() => void)[] = [];
    const channel = new MessageChannel();
    channel.port1.onmessage = () => waiting.shift()?.();
    // Where ports keep a process alive (Deno, Bun without setImmediate), an idle node must not.
    (channel.port1 as { unref?: () => void }).unref?.();
    return (fn: () => void) => {
      waiting.push(fn);
      channel.port2.postMessage(null);
    };
  }
  return (fn: () => void) => void setTimeout(fn, 0);
})();

const queued: (() => void)[] = [];
let scheduled = false;

function schedule(): void {
  if (scheduled || queued.length === 0) return;
  scheduled = true;
  platformTurn(runOne);
}

function runOne(): void {
  const fn = queued.shift();
  try {
    fn?.();
  } finally {
    // Asked for after `fn` ran: what it queued for the platform's next turn (a write, a timer) goes first.
    scheduled = false;
    schedule();
  }
}

/** Calls `fn` on a later event-loop turn, after the pieces queued before it, each in a turn of its own, with pending
 * I/O and timers between them. */
export function nextTurn(fn: () => void): void {
  queued.push(fn);
  schedule();
}

/** Runs `job` on a later turn (as `nextTurn`); settles as it returns or throws. */
export function inTurn<T>(job: () => T): Promise<T> {
  return new Promise<T>((resolve, reject) =>
    nextTurn(() => {
      try {
        resolve(job());
      } catch (err) {
        reject(err);
      }
    }),
  );
}

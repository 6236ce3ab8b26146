/**
 * A rate limiter for requests from remote peers: a token bucket per peer (kept as a theoretical arrival time, so it is
 * exact in whole milliseconds) and caps on requests in progress, across all peers and per peer.
 */

/** How many requests, how fast, and how many at once. */
export interface RateLimitInit {
  /** Requests one peer may make in a burst; its bucket then refills at this many per `windowMs`. */
  readonly perPeer: number;
  readonly windowMs: number;
  /** Requests in progress at once, all peers together. */
  readonly concurrent: number;
  /** Requests in progress at once from one peer; 1 by default, so a few keys cannot hold every slot open. */
  readonly concurrentPerPeer?: number;
  /** What a request turned away because too many are in progress is told to wait; 1 s by default. */
  readonly busyRetryMs?: number;
  /** The clock (tests pass a fake one). */
  readonly now?: () => number;
}

/** The answer to a request: go ahead (and call `release` when done), or wait this long first. */
export type Admission =
  | { readonly ok: true; readonly release: () => void }
  | { readonly ok: false; readonly reason: "peer" | "busy"; readonly retryAfterMs: number };

/** Peers tracked before buckets that have refilled (no different from a new peer's) are dropped. */
const TRACKED_PEERS = 1_024;

/** The message a refused request is answered with. */
export function rateLimitedMessage(retryAfterMs: number): string {
  return `rate limited, try again in ${Math.max(1, Math.ceil(retryAfterMs / 1_000))} s`;
}

/** Admits or refuses requests by remote peer id. */
export class RateLimiter {
  readonly #interval: number;
  readonly #tolerance: number;
  readonly #concurrent: number;
  readonly #busyRetryMs: number;
  readonly #now: () => number;
  /** Per peer, when its bucket will be full again; a request is admitted while that is at most `tolerance` away. */
  readonly #full = new Map<string, number>();
  /** Requests in progress per peer (peers with none are not kept). */
  readonly #activeOf = new Map<string, number>();
  readonly #concurrentPerPeer: number;
  #active = 0;

  constructor(init: RateLimitInit) {
    if (
      !(init.perPeer >= 1) ||
      !(init.windowMs > 0) ||
      !(init.concurrent >= 1) ||
      !((init.concurrentPerPeer ?? 1) >= 1)
    )
      throw new RangeError("a rate limit needs perPeer >= 1, windowMs > 0 and concurrent >= 1 (per peer too)");
    this.#interval = init.windowMs / init.perPeer;
    this.#tolerance = init.windowMs - this.#interval;
    this.#concurrent = init.concurrent;
    this.#concurrentPerPeer = init.concurrentPerPeer ?? 1;
    this.#busyRetryMs = init.busyRetryMs ?? 1_000;
    this.#now = init.now ?? Date.now;
  }

  /** Requests admitted and not yet released. */
  get active(): number {
    return this.#active;
  }

  /** Takes one request of `peer`: admitted only when both its bucket and the concurrency cap allow it. */
  take(peer: string): Admission {
    if (this.#active >= this.#concurrent) return { ok: false, reason: "busy", retryAfterMs: this.#busyRetryMs };
    const ownActive = this.#activeOf.get(peer) ?? 0;
    if (ownActive >= this.#concurrentPerPeer) return { ok: false, reason: "busy", retryAfterMs: this.#busyRetryMs };
    const now = this.#now();
    const full = Math.max(this.#full.get(peer) ?? now, now);
    if (full - now > this.#tolerance) return { ok: false, reason: "peer", retryAfterMs: full - now - this.#tolerance };
    if (this.#full.size >= TRACKED_PEERS) this.#forget(now);
    this.#full.set(peer, full + this.#interval);
    this.#active++;
    this.#activeOf.set(peer, ownActive + 1);
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.#active--;
        const left = (this.#activeOf.get(peer) ?? 1) - 1;
        if (left > 0) this.#activeOf.set(peer, left);
        else this.#activeOf.delete(peer);
      },
    };
  }

  #forget(now: number): void {
    for (const [peer, full] of this.#full) if (full <= now) this.#full.delete(peer);
  }
}

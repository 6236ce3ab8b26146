/** The rate limiter of the apply protocol: per-peer token buckets and a global cap on requests in progress. */
import { describe, expect, it } from "vitest";
import { type Admission, RateLimiter, rateLimitedMessage } from "../src/index.js";

/** A limiter of 5 requests a minute per peer and `concurrent` at once, on a clock the test moves. */
function limiter(concurrent = 100) {
  const clock = { t: 1_000_000 };
  const limit = new RateLimiter({ perPeer: 5, windowMs: 60_000, concurrent, now: () => clock.t });
  return { clock, limit };
}

/** Takes a request and releases it at once, as a request that was answered. */
function done(limit: RateLimiter, peer: string): Admission {
  const a = limit.take(peer);
  if (a.ok) a.release();
  return a;
}

describe("RateLimiter", () => {
  it("admits a burst of 5 from one peer, then one every 12 s, telling the refused when to come back", () => {
    const { clock, limit } = limiter();
    for (let i = 0; i < 5; i++) expect(done(limit, "p").ok).toBe(true);
    expect(done(limit, "p")).toEqual({ ok: false, reason: "peer", retryAfterMs: 12_000 });
    clock.t += 11_999;
    expect(done(limit, "p")).toEqual({ ok: false, reason: "peer", retryAfterMs: 1 });
    clock.t += 1;
    expect(done(limit, "p").ok).toBe(true);
    expect(done(limit, "p")).toEqual({ ok: false, reason: "peer", retryAfterMs: 12_000 });
  });

  it("refused requests cost nothing: hammering does not push the next admission further away", () => {
    const { clock, limit } = limiter();
    for (let i = 0; i < 5; i++) done(limit, "p");
    for (let i = 0; i < 100; i++) expect(done(limit, "p").ok).toBe(false);
    clock.t += 12_000;
    expect(done(limit, "p").ok).toBe(true);
  });

  it("refills to a full burst after a quiet minute, and never beyond it", () => {
    const { clock, limit } = limiter();
    for (let i = 0; i < 5; i++) done(limit, "p");
    clock.t += 60 * 60_000;
    for (let i = 0; i < 5; i++) expect(done(limit, "p").ok).toBe(true);
    expect(done(limit, "p").ok).toBe(false);
  });

  it("keeps each peer's bucket apart", () => {
    const { limit } = limiter();
    for (let i = 0; i < 5; i++) done(limit, "noisy");
    expect(done(limit, "noisy").ok).toBe(false);
    expect(done(limit, "quiet").ok).toBe(true);
  });

  it("caps requests in progress across peers until one is released, without charging the refused peer", () => {
    const { limit } = limiter(2);
    const a = limit.take("a");
    const b = limit.take("b");
    expect(limit.active).toBe(2);
    expect(limit.take("c")).toEqual({ ok: false, reason: "busy", retryAfterMs: 1_000 });
    if (!a.ok || !b.ok) throw new Error("the first two are admitted");
    a.release();
    a.release(); // a second release frees nothing more
    expect(limit.active).toBe(1);
    const c = limit.take("c");
    expect(c.ok).toBe(true);
    expect(limit.take("d").ok).toBe(false);
    // "c" was turned away once while busy, yet still has the rest of its burst.
    if (c.ok) c.release();
    b.release();
    for (let i = 0; i < 4; i++) expect(done(limit, "c").ok).toBe(true);
    expect(done(limit, "c")).toMatchObject({ ok: false, reason: "peer" });
  });

  it("takes one request at a time from a peer, so a few keys cannot hold every slot, without charging its bucket", () => {
    const { limit } = limiter(8);
    const first = limit.take("p");
    expect(first.ok).toBe(true);
    expect(limit.take("p")).toEqual({ ok: false, reason: "busy", retryAfterMs: 1_000 });
    expect(limit.take("q").ok).toBe(true);
    if (first.ok) first.release();
    // The turned-away request cost nothing: four more of the burst of five are left.
    for (let i = 0; i < 4; i++) expect(done(limit, "p").ok).toBe(true);
    expect(done(limit, "p")).toMatchObject({ ok: false, reason: "peer" });
    const two = new RateLimiter({ perPeer: 5, windowMs: 60_000, concurrent: 8, concurrentPerPeer: 2 });
    expect([two.take("p").ok, two.take("p").ok, two.take("p").ok]).toEqual([true, true, false]);
  });

  it("forgets refilled peers once many are tracked, without forgetting the ones still limited", () => {
    const { clock, limit } = limiter();
    for (let i = 0; i < 5; i++) done(limit, "limited");
    clock.t += 1;
    for (let i = 0; i < 2_000; i++) done(limit, `peer-${i}`);
    clock.t += 12_000; // every one-request peer has refilled; "limited" has one token back
    for (let i = 2_000; i < 4_000; i++) done(limit, `peer-${i}`);
    expect(done(limit, "limited").ok).toBe(true);
    expect(done(limit, "limited").ok).toBe(false);
  });

  it("words the answer in whole seconds, rounding up", () => {
    expect(rateLimitedMessage(12_000)).toBe("rate limited, try again in 12 s");
    expect(rateLimitedMessage(1)).toBe("rate limited, try again in 1 s");
    expect(rateLimitedMessage(12_001)).toBe("rate limited, try again in 13 s");
  });

  it("refuses a limit that would admit nothing", () => {
    expect(() => new RateLimiter({ perPeer: 0, windowMs: 60_000, concurrent: 8 })).toThrow(RangeError);
    expect(() => new RateLimiter({ perPeer: 5, windowMs: 60_000, concurrent: 0 })).toThrow(RangeError);
  });
});

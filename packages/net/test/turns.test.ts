/** Event-loop turns: one piece of work per turn, whichever part of a node queued it, with timers and I/O between. */
import { describe, expect, it } from "vitest";
import { inTurn, nextTurn } from "../src/turns.js";

function busyFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // a piece of work that holds the thread, as applying or packing changes does
  }
}

describe("turns", () => {
  it("runs one piece per turn across queuers, in order, with what a piece queued for the next turn between", async () => {
    const log: string[] = [];
    nextTurn(() => {
      log.push("inbox: message 1");
      setImmediate(() => log.push("a write the message queued"));
    });
    nextTurn(() => log.push("slices: slice 1"));
    await inTurn(() => log.push("adapter: pack 1"));
    expect(log).toEqual(["inbox: message 1", "a write the message queued", "slices: slice 1", "adapter: pack 1"]);
  });

  it("lets a due timer run between two long pieces, so their time never adds up into one stall", async () => {
    const log: string[] = [];
    setTimeout(() => log.push("timer"), 1);
    nextTurn(() => {
      busyFor(10);
      log.push("piece 1");
    });
    await inTurn(() => {
      busyFor(10);
      log.push("piece 2");
    });
    expect(log).toEqual(["piece 1", "timer", "piece 2"]);
  });

  it("rejects the promise of a piece that throws, and runs the pieces after it", async () => {
    const failing = inTurn(() => {
      throw new Error("no such document");
    });
    const next = inTurn(() => "packed");
    await expect(failing).rejects.toThrow("no such document");
    expect(await next).toBe("packed");
  });
});

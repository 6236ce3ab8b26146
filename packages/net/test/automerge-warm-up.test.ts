/** The warm-up of Automerge's WebAssembly: a synthetic sync that yields between steps and ends when asked. */
import { describe, expect, it } from "vitest";
import { warmUpAutomerge, warmUpAutomergeOnce } from "../src/index.js";
import { nextTurn } from "../src/turns.js";

describe("warmUpAutomerge", () => {
  it("runs its sync a step per turn: other work runs between steps while it goes on", async () => {
    let turns = 0;
    let done = false;
    const count = () => {
      if (done) return;
      turns++;
      nextTurn(count);
    };
    nextTurn(count);
    await warmUpAutomerge({ rounds: 2, changes: 100 });
    done = true;
    // Two rounds of 100 changes take at least 4 turns of writing and a few of syncing, saving and loading.
    expect(turns).toBeGreaterThanOrEqual(8);
  });

  it("stops at its next step once its signal aborts", async () => {
    const stop = new AbortController();
    stop.abort();
    let steps = 0;
    const counting = (async () => {
      while (steps < 1_000) {
        steps++;
        await new Promise<void>((resolve) => nextTurn(resolve));
      }
    })();
    await warmUpAutomerge({ rounds: 50, changes: 1_000, signal: stop.signal });
    // Fifty rounds of a thousand changes would take thousands of turns: an aborted warm-up takes none of them.
    expect(steps).toBeLessThan(10);
    steps = 1_000;
    await counting;
  });

  it("is started once per process, however many nodes ask", () => {
    expect(warmUpAutomergeOnce()).toBe(warmUpAutomergeOnce({ rounds: 1 }));
  });
});

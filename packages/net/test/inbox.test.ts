/** The inbox: one message per event-loop turn, streams in turn, control frames handled on the way. */
import { describe, expect, it } from "vitest";
import { FRAME_COST_BYTES, Inbox } from "../src/inbox.js";
import { nextTurn } from "../src/turns.js";

/** A frame whose first byte says whether it is a message (1) or a control frame (0), and the rest names it. */
function frame(name: string, message = true): Uint8Array {
  return Uint8Array.of(message ? 1 : 0, ...new TextEncoder().encode(name));
}

function nameOf(frame: Uint8Array): string {
  return new TextDecoder().decode(frame.subarray(1));
}

/** Runs event-loop turns until `done` says so (or fails after many). */
async function turnsUntil(done: () => boolean): Promise<void> {
  for (let i = 0; i < 1_000 && !done(); i++) await new Promise<void>((resolve) => nextTurn(resolve));
  expect(done()).toBe(true);
}

describe("Inbox", () => {
  it("hands over one message per turn, taking owners in turn, in each owner's order", async () => {
    const log: string[] = [];
    const inbox = new Inbox<string>({
      handle: (owner, f) => {
        log.push(`${owner}:${nameOf(f)}`);
        return f[0] === 1;
      },
      drained: (owner) => log.push(`${owner} drained`),
      failed: (owner, err) => log.push(`${owner} failed: ${(err as Error).message}`),
    });
    for (const name of ["m1", "m2", "m3"]) inbox.push("a", frame(name));
    inbox.push("b", frame("hello", false));
    inbox.push("b", frame("n1"));
    inbox.push("b", frame("n2"));
    expect(log).toEqual([]); // nothing is handled in the turn that received it
    await turnsUntil(() => log.length === 8);
    expect(log).toEqual(["a:m1", "b:hello", "b:n1", "a:m2", "b:n2", "b drained", "a:m3", "a drained"]);
    expect(inbox.has("a") || inbox.has("b")).toBe(false);
  });

  it("lets other work run between two messages", async () => {
    const log: string[] = [];
    const inbox = new Inbox<string>({
      handle: (_, f) => {
        log.push(nameOf(f));
        // Work scheduled while the first message is handled runs before the second one is handed over.
        if (nameOf(f) === "m1") nextTurn(() => log.push("other work"));
        return true;
      },
      drained: () => {},
      failed: () => {},
    });
    inbox.push("a", frame("m1"));
    inbox.push("a", frame("m2"));
    await turnsUntil(() => log.length === 3);
    expect(log).toEqual(["m1", "other work", "m2"]);
  });

  it("counts the bytes waiting per owner, and what each frame costs beyond them, and forgets an owner dropped while its frame is handled", async () => {
    const log: string[] = [];
    const inbox: Inbox<string> = new Inbox<string>({
      handle: (owner, f) => {
        log.push(`${owner}:${nameOf(f)}`);
        if (nameOf(f) === "bad") inbox.drop(owner);
        return false;
      },
      drained: (owner) => log.push(`${owner} drained`),
      failed: (owner, err) => log.push(`${owner} failed: ${(err as Error).message}`),
    });
    expect(inbox.push("a", frame("bad"))).toBe(4 + FRAME_COST_BYTES);
    expect(inbox.push("a", frame("after"))).toBe(10 + 2 * FRAME_COST_BYTES);
    inbox.push("b", frame("ok"));
    await turnsUntil(() => log.includes("b drained"));
    await new Promise<void>((resolve) => nextTurn(resolve));
    expect(log).toEqual(["a:bad", "b:ok", "b drained"]);
    expect(inbox.has("a")).toBe(false);
  });

  it("reports a handler that throws and goes on: the other owners' frames and the owner's next ones", async () => {
    const log: string[] = [];
    const inbox = new Inbox<string>({
      handle: (owner, f) => {
        if (nameOf(f) === "boom") throw new Error("listener threw");
        log.push(`${owner}:${nameOf(f)}`);
        return true;
      },
      drained: (owner) => log.push(`${owner} drained`),
      failed: (owner, err) => log.push(`${owner} failed: ${(err as Error).message}`),
    });
    inbox.push("a", frame("boom"));
    inbox.push("a", frame("m1"));
    inbox.push("b", frame("n1"));
    await turnsUntil(() => log.includes("a drained") && log.includes("b drained"));
    expect(log).toEqual(["a failed: listener threw", "b:n1", "b drained", "a:m1", "a drained"]);
  });
});

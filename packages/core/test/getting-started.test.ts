import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { gettingStarted } from "../examples/getting-started.js";

describe("docs/getting-started.md", () => {
  it("shows exactly the example that runs here", () => {
    const doc = readFileSync(new URL("../../../docs/getting-started.md", import.meta.url), "utf8");
    const example = readFileSync(new URL("../examples/getting-started.ts", import.meta.url), "utf8");
    const blocks = [...doc.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
    expect(blocks).toContain(example);
  });

  it("runs: the later of two offline spends that together overdraw the fund is held", async () => {
    const result = await gettingStarted();
    // Exactly one spend applies; which one depends on the (at, id) order, never on who merged first.
    expect(result.held).toBe(1);
    expect([3_000 - 1_800, 3_000 - 1_500]).toContain(result.balance);
  });
});

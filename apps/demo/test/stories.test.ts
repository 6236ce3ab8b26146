/** Every scripted story plays to its end on a fresh world, and what its last caption promises is what the places derive. */
import { afterEach, describe, expect, it } from "vitest";
import { PLACE_IDS } from "../src/peers/cast.js";
import { World } from "../src/peers/world.js";
import { STORIES } from "../src/scenarios/index.js";
import { StoryPlayer } from "../src/scenarios/player.js";

let world: World | undefined;
afterEach(async () => {
  await world?.stop();
  world = undefined;
});

async function play(id: string): Promise<World> {
  world = await World.create();
  await world.ready();
  const story = STORIES.find((s) => s.id === id)!;
  const player = new StoryPlayer(world, story);
  while (!player.done) await player.next();
  await expect.poll(() => world!.snapshot().merges.every((m) => m.status === "merged"), { timeout: 30_000 }).toBe(true);
  await world.settle();
  expect(world.inSync([...PLACE_IDS])).toBe(true);
  return world;
}

const views = (w: World) => PLACE_IDS.map((p) => w.snapshot().places[p].view!);

describe("scripted stories", () => {
  it("overdraft: the later spend is held everywhere and the north shop's strike vote flips", async () => {
    const w = await play("overdraft");
    for (const v of views(w)) {
      const bakery = v.councils.bakery;
      expect(bakery.funds.find((f) => f.id === "strike-fund")?.balance).toBe(21_000);
      expect(bakery.ledger.filter((e) => e.status === "held").map((e) => e.amount)).toEqual([23_000]);
      expect(bakery.proposals.find((p) => p.title.startsWith("Join"))?.result?.passed).toBe(false);
    }
    const merge = w.snapshot().merges.at(-1)!;
    const north = merge.changes.find((c) => c.place === "north")!.councils.bakery.map((c) => c.type);
    expect(north).toEqual(expect.arrayContaining(["outcome-changed", "expense-held"]));
  });

  it("recall: the delegate's vote after the recall is out of mandate and the federation outcome flips", async () => {
    const w = await play("recall");
    for (const v of views(w)) {
      const kitchen = v.federation.proposals.find((p) => p.title.includes("kitchen"))!;
      expect(kitchen.result?.passed).toBe(true);
      expect(v.federation.conflicts.map((c) => c.type)).toContain("out-of-mandate");
    }
    const north = w
      .snapshot()
      .merges.at(-1)!
      .changes.find((c) => c.place === "north")!;
    expect(north.federation.map((c) => c.type)).toEqual(expect.arrayContaining(["outcome-changed", "out-of-mandate"]));
  });

  it("jar: the round is shared out again by everyone's dots and the jar ends at zero", async () => {
    const w = await play("jar");
    for (const v of views(w)) {
      const bakery = v.councils.bakery;
      expect(bakery.funds.find((f) => f.id === "commons-jar")?.balance).toBe(0);
      const payouts = bakery.ledger.filter((e) => e.type === "jar-payout").map((e) => e.amount);
      expect(payouts.sort()).toEqual([4_500, 5_000]);
    }
  });

  it("rotation: two facilitators for one meeting surface as a rotation conflict; time swaps sum to zero", async () => {
    const w = await play("rotation");
    for (const v of views(w)) {
      const bakery = v.councils.bakery;
      expect(bakery.conflicts.map((c) => c.type)).toContain("rotation-conflict");
      const bank = bakery.funds.find((f) => f.id === "time-bank")!;
      expect(Object.values(bank.accounts).reduce((a, b) => a + b, 0)).toBe(0);
    }
  });

  it("alert: the response time is counted from the alert's own clock", async () => {
    const w = await play("alert");
    for (const v of views(w)) {
      const alert = v.federation.alerts[0]!;
      expect(alert.firstResponseMs).toBeGreaterThan(3 * 60 * 60_000);
      expect(alert.pledges.find((p) => p.status === "met")).toBeDefined();
    }
  });
});

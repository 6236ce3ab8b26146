/** The demo's world in Node: three real nodes over the memory transport, a partition, offline spends, a merge. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { World } from "../src/peers/world.js";

describe("the demo world", () => {
  let world: World;
  beforeAll(async () => {
    world = await World.create();
    await world.ready();
  });
  afterAll(async () => {
    await world.stop();
  });

  it("syncs both councils and the federation to every place", async () => {
    const snap = world.snapshot();
    for (const place of ["north", "south", "hall"] as const) {
      const view = snap.places[place].view;
      expect(view?.councils.bakery.name).toBe("Riverside Bakery Co-op");
      expect(view?.councils.bakery.funds.find((f) => f.id === "strike-fund")?.balance).toBe(45_000);
      expect(view?.councils.bakery.mandates).toHaveLength(1);
      expect(view?.federation.councils).toHaveLength(2);
    }
  });

  it("holds the second of two offline spends that together overdraw", async () => {
    await world.setLink("north", "south", false);
    await world.setOnline("hall", false);
    await world.act("north", "Amara", "bakery", "spend", (c) =>
      c.ledger.spend("strike-fund", 24_000, "Northside Print Shop", "petty"),
    );
    const held = await world.act("south", "Dara", "bakery", "spend", (c) =>
      c.ledger.spend("strike-fund", 23_000, "Mill Street Lettings", "petty"),
    );
    const balance = (place: "north" | "south" | "hall") =>
      world.snapshot().places[place].view?.councils.bakery.funds.find((f) => f.id === "strike-fund")?.balance;
    // Apart, each side applied its own spend.
    expect(balance("north")).toBe(21_000);
    expect(balance("south")).toBe(22_000);
    expect(world.inSync(["north", "south"])).toBe(false);
    await world.healAll();
    await expect.poll(() => world.snapshot().merges.at(-1)?.status, { timeout: 20_000 }).toBe("merged");
    expect(world.inSync(["north", "south", "hall"])).toBe(true);
    for (const place of ["north", "south", "hall"] as const) {
      const view = world.snapshot().places[place].view!;
      expect(view.councils.bakery.funds.find((f) => f.id === "strike-fund")?.balance).toBe(21_000);
      expect(view.councils.bakery.ledger.find((e) => e.record === held)?.status).toBe("held");
    }
    const report = world.snapshot().merges.at(-1)!;
    const south = report.changes.find((c) => c.place === "south")!;
    expect(south.councils.bakery.map((c) => c.type)).toContain("expense-held");
  });

  it("dials a link that is up again when its connection drops, and what was written meanwhile arrives", async () => {
    await expect.poll(() => world.node("south").connected().includes("north"), { timeout: 20_000 }).toBe(true);
    // The connection drops without the link being cut (a slow link timing out does this).
    await Promise.all([world.node("north").hangUp("south"), world.node("south").hangUp("north")]);
    await world.act("south", "Dara", "bakery", "donate", (c) => c.ledger.donate("strike-fund", 500, "a neighbour"));
    await expect.poll(() => world.node("south").connected().includes("north"), { timeout: 20_000 }).toBe(true);
    await expect.poll(() => world.inSync(["north", "south", "hall"]), { timeout: 20_000 }).toBe(true);
  });
});

/**
 * The demo in Chromium: three real Federa nodes in one page. Two shops are cut apart, both spend from the same fund
 * and vote, the link comes back, and every place shows the same merged state with what the merge changed highlighted.
 */
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Served } from "./support/browser.js";
import { act, artifact, balance, openDemo, serveDemo, setLink, text } from "./support/browser.js";

const PLACES = ["north", "south", "hall"] as const;

describe("the demo page", () => {
  let served: Served;
  const errors: string[] = [];
  beforeAll(async () => {
    served = await serveDemo({ built: true });
  });
  afterAll(async () => {
    await served?.close();
  });

  it("merges two shops' offline spends and votes: same balance everywhere, the held expense and the flipped vote highlighted", async () => {
    const page: Page = await openDemo(served, errors);
    for (const place of PLACES) expect(await balance(page, place, "strike-fund")).toBe("450.00");

    await act(page, { person: "Bruno", place: "north", kind: "propose", amount: "120", text: "Join the bread strike" });
    // Connected: every place receives the proposal.
    await expect
      .poll(() => page.locator('[data-testid="proposal"][data-title="Join the bread strike"]').count(), {
        timeout: 20_000,
      })
      .toBe(3);

    // The south shop is cut off from both other places.
    await setLink(page, "north", "south", false);
    await setLink(page, "south", "hall", false);
    await expect.poll(() => text(page.getByTestId("status-south"))).toBe("partitioned");

    await act(page, {
      person: "Amara",
      place: "north",
      kind: "spend",
      fund: "strike-fund",
      amount: "240",
      text: "Northside Print Shop",
    });
    await act(page, {
      person: "Dara",
      place: "south",
      kind: "spend",
      fund: "strike-fund",
      amount: "230",
      text: "Mill Street Lettings",
    });
    for (const [person, choice] of [
      ["Amara", "yes"],
      ["Bruno", "yes"],
      ["Chen", "no"],
    ] as const)
      await act(page, { person, place: "north", kind: "vote", proposal: "Join the bread strike", choice });
    for (const [person, choice] of [
      ["Dara", "no"],
      ["Emeka", "no"],
    ] as const)
      await act(page, { person, place: "south", kind: "vote", proposal: "Join the bread strike", choice });

    // Apart, each side sees only its own spend, and its own votes.
    await expect.poll(() => balance(page, "north", "strike-fund")).toBe("210.00");
    await expect.poll(() => balance(page, "south", "strike-fund")).toBe("220.00");
    const status = (place: string) =>
      text(
        page.locator(
          `[data-testid="place-${place}"] [data-testid="proposal"][data-title="Join the bread strike"] [data-testid="proposal-status"]`,
        ),
      );
    await expect.poll(() => status("north")).toBe("open · passing");
    await expect.poll(() => status("south")).toBe("open · failing");

    await page.click('[data-testid="heal-all"]');
    await page.waitForSelector('[data-testid="merge-report"][data-status="merged"]', { timeout: 30_000 });

    for (const place of PLACES) {
      await expect.poll(() => balance(page, place, "strike-fund")).toBe("210.00");
      await expect.poll(() => status(place)).toBe("open · failing");
      // The later spend (the south shop's 230.00) is held at every place, and highlighted as the merge's doing.
      const held = page.locator(`[data-testid="place-${place}"] [data-testid="ledger-entry"][data-status="held"]`);
      expect(await held.count()).toBe(1);
      expect(await text(held)).toContain("230.00");
      expect(await held.getAttribute("data-highlight")).toBe("true");
    }
    // The north shop saw the strike passing before the merge: its flip is highlighted; the south shop's is not.
    const flipped = (place: string) =>
      page.locator(`[data-testid="place-${place}"] [data-testid="proposal"][data-flipped="true"]`).count();
    expect(await flipped("north")).toBe(1);
    expect(await flipped("south")).toBe(0);
    const types = await page
      .locator('[data-testid="merge-change"]')
      .evaluateAll((els) => els.map((e) => `${e.getAttribute("data-place")}:${e.getAttribute("data-type")}`));
    expect(types).toEqual(
      expect.arrayContaining(["north:outcome-changed", "north:expense-held", "south:expense-held"]),
    );
    // Every place holds the same documents: the same heads badge in each column.
    const heads = await Promise.all(PLACES.map((p) => text(page.getByTestId(`heads-${p}`))));
    expect(new Set(heads).size).toBe(1);

    await artifact(page, "demo-merge.png");
    expect(errors).toEqual([]);
    await page.close();
  });

  it("plays a story from the menu: a delegate's vote after his recall stops counting and the federation's outcome flips", async () => {
    const page = await openDemo(served, errors);
    await page.selectOption('[data-testid="story-select"]', "recall");
    await page.waitForSelector('[data-testid="story-step"]:not([disabled])', { timeout: 60_000 });
    await page.click('[data-testid="story-play"]');
    await page.waitForSelector('[data-testid="story-step"]:has-text("the end")', { timeout: 90_000 });
    await page.waitForSelector('[data-testid="merge-report"][data-status="merged"]', { timeout: 30_000 });
    await page.click('[data-testid="tab-federation"]');
    for (const place of PLACES) {
      const proposal = page.locator(`[data-testid="fed-${place}"] [data-testid="fed-proposal"]`);
      await expect.poll(() => text(proposal.locator('[data-testid="fed-proposal-status"]'))).toBe("open · passing");
      expect(await text(proposal.locator('[data-testid="fed-conflict"]'))).toContain("outside mandate (recalled)");
    }
    expect(
      await page.locator('[data-testid="fed-north"] [data-testid="fed-proposal"][data-flipped="true"]').count(),
    ).toBe(1);
    await artifact(page, "demo-recall.png");
    expect(errors).toEqual([]);
    await page.close();
  });

  it("signs what the act form shows after the person changes, and refuses an amount it cannot read", async () => {
    const page = await openDemo(served, errors);
    await act(page, { person: "Amara", place: "north", kind: "propose", amount: "60", text: "Buy ink" });
    await act(page, { person: "Gus", place: "north", kind: "propose", amount: "60", text: "Fix the roof" });

    // Amara picks her council's proposal; then the voter becomes Gus, of the other council: the form shows, and
    // signs, his council's proposal (before, it kept Amara's choice and the vote was refused or went astray).
    await page.selectOption('[data-testid="act-person"]', "Amara");
    await page.selectOption('[data-testid="act-place"]', "north");
    await page.selectOption('[data-testid="act-kind"]', "vote");
    await page.selectOption('[data-testid="act-proposal"]', { label: "Buy ink" });
    await page.selectOption('[data-testid="act-person"]', "Gus");
    expect(await page.locator('[data-testid="act-proposal"] option:checked').textContent()).toBe("Fix the roof");
    await act(page, { person: "Gus", place: "north", kind: "vote", choice: "yes" });
    await page.click('[data-testid="council-tenants"]');
    const roof = page.locator('[data-testid="place-north"] [data-testid="proposal"][data-title="Fix the roof"]');
    await expect.poll(() => text(roof)).toContain("1 yes · 0 no of 3");

    // "1,000" is not read as 1.00: refused in the form, nothing written.
    await page.click('[data-testid="council-bakery"]');
    const before = await balance(page, "north", "strike-fund");
    await page.selectOption('[data-testid="act-person"]', "Amara");
    // The amount field holds minutes for a proposal and money for a donation: each kind starts from its own default.
    await page.selectOption('[data-testid="act-kind"]', "propose");
    expect(await page.inputValue('[data-testid="act-amount"]')).toBe("60");
    await page.selectOption('[data-testid="act-kind"]', "donate");
    expect(await page.inputValue('[data-testid="act-amount"]')).toBe("240");
    await page.fill('[data-testid="act-amount"]', "1,000");
    await page.click('[data-testid="act-submit"]');
    await expect.poll(() => text(page.locator('[data-testid="act-error"]'))).toMatch(/"1,000" is not an amount/);
    expect(await balance(page, "north", "strike-fund")).toBe(before);
    expect(errors).toEqual([]);
    await page.close();
  });
});

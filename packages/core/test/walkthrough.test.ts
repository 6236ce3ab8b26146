import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WalkthroughResult } from "../examples/walkthrough.js";
import { walkthrough } from "../examples/walkthrough.js";
import { canonicalJson, exportCsv, exportJson } from "../src/index.js";

describe("the demo walkthrough", () => {
  let dir: string;
  let story: WalkthroughResult;
  let lines: string[];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "federa-walkthrough-test-"));
    lines = [];
    story = await walkthrough((line) => lines.push(line), { outDir: dir });
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const member = (name: string) => Object.entries(story.names).find(([, n]) => n === name)![0];
  const strike = (s: WalkthroughResult["merged"]["a"]) => s.funds.find((f) => f.id === "strike-fund")!;

  it("holds the expense that together overdraws the strike fund, and only that one", () => {
    const { a, b } = story.partitions;
    // Apart, each side's petty-cash expense fits the 450.00 it can see.
    expect(a.ledger.find((e) => e.record === story.spends.a)?.status).toBe("applied");
    expect(b.ledger.find((e) => e.record === story.spends.b)?.status).toBe("applied");
    expect([strike(a).balance, strike(b).balance]).toEqual([45_000 - 24_000, 45_000 - 23_000]);

    const merged = story.merged.a;
    expect(merged.ledger.find((e) => e.record === story.spends.a)?.status).toBe("applied");
    const held = merged.ledger.find((e) => e.record === story.spends.b)!;
    expect(held.status).toBe("held");
    expect(held.reason).toMatch(/overdraw strike-fund/);
    expect(strike(merged).balance).toBe(45_000 - 24_000);
    expect(merged.conflicts).toContainEqual(
      expect.objectContaining({ type: "overdraft-held", record: story.spends.b }),
    );
    // Partition B learns its own payment is held: the merge lowered the balance it saw.
    expect(story.changes.b).toContainEqual(expect.objectContaining({ type: "expense-held", ref: story.spends.b }));
    expect(story.changes.b).toContainEqual(expect.objectContaining({ type: "balance-changed", ref: "strike-fund" }));
    expect(story.changes.a).toContainEqual(expect.objectContaining({ type: "expense-held", ref: story.spends.b }));
  });

  it("flips the vote partition A saw passing once B's before-deadline votes arrive", () => {
    const seenByA = story.partitions.a.proposals.find((p) => p.id === story.proposal)!;
    const seenByB = story.partitions.b.proposals.find((p) => p.id === story.proposal)!;
    expect(seenByA.status).toBe("open");
    expect(seenByA.result?.passed).toBe(true);
    expect(seenByB.result?.passed).toBe(false);

    const merged = story.merged.a.proposals.find((p) => p.id === story.proposal)!;
    expect(merged.status).toBe("failed");
    expect(Object.keys(merged.votes)).toHaveLength(5);
    // B's votes were cast before the deadline, so they count even though they arrived after it.
    for (const name of ["Dara", "Emeka"])
      expect(merged.votes[member(name)]).toEqual({ method: "majority", choice: "no" });
    expect(merged.history.map((h) => [h.event, h.passed])).toEqual([
      ["vote", false],
      ["vote", true],
      ["vote", false],
      ["close", false],
    ]);
    expect(merged.history.at(-1)?.at.ms).toBe(merged.closesAt);
    expect(story.changes.a).toContainEqual(expect.objectContaining({ type: "outcome-changed", ref: story.proposal }));
    expect(story.changes.b.some((c) => c.type === "outcome-changed")).toBe(false);
  });

  it("keeps the first facilitator of the meeting and shows the second as a rotation conflict", () => {
    const holders = (s: WalkthroughResult["merged"]["a"]) =>
      s.roles.find((r) => r.role === "facilitator")!.holders.filter((h) => h.meeting === story.meeting);
    expect(holders(story.partitions.a).map((h) => h.holder)).toEqual([member("Chen")]);
    expect(holders(story.partitions.b).map((h) => h.holder)).toEqual([member("Dara")]);
    expect(holders(story.merged.a).map((h) => h.holder)).toEqual([member("Chen")]);
    expect(story.merged.a.conflicts).toContainEqual(
      expect.objectContaining({ type: "rotation-conflict", record: story.roles.b }),
    );
    for (const changes of [story.changes.a, story.changes.b])
      expect(changes).toContainEqual(expect.objectContaining({ type: "rotation-conflict", ref: story.roles.b }));
  });

  it("merges both time swaps into mutual credit that sums to zero", () => {
    const bank = story.merged.a.funds.find((f) => f.id === "time-bank")!;
    expect(bank.accounts).toEqual({
      [member("Bruno")]: -240,
      [member("Chen")]: 240,
      [member("Emeka")]: -90,
      [member("Dara")]: 90,
    });
    expect(Object.values(bank.accounts).reduce((s, m) => s + m, 0)).toBe(0);
  });

  it("derives byte-identical state on both replicas and on one loaded from bytes", () => {
    const { a, b, loaded } = story.merged;
    expect(canonicalJson(b)).toBe(canonicalJson(a));
    expect(canonicalJson(loaded)).toBe(canonicalJson(a));
    expect(story.hashes.a).toMatch(/^[0-9a-f]{16}$/);
    expect(story.hashes.b).toBe(story.hashes.a);
    expect(story.hashes.loaded).toBe(story.hashes.a);
    // The partitions themselves differed, so the equal hashes are the merge's doing.
    expect(canonicalJson(story.partitions.a)).not.toBe(canonicalJson(story.partitions.b));
  });

  it("writes the reports it names", () => {
    expect(story.files.ledgerCsv).toBe(join(dir, "ledger.csv"));
    expect(readFileSync(story.files.ledgerCsv, "utf8")).toBe(exportCsv(story.merged.a, "ledger"));
    expect(readFileSync(story.files.reportJson, "utf8")).toBe(exportJson(story.merged.a));
    expect(lines.some((l) => l.includes(story.files.ledgerCsv))).toBe(true);
  });

  it("tells the same story on every run, without colour unless asked", async () => {
    const again: string[] = [];
    const second = await walkthrough((line) => again.push(line), { outDir: dir });
    expect(second.hashes).toEqual(story.hashes);
    expect(again).toEqual(lines);
    expect(lines.join("\n")).not.toContain("\x1b[");
  });
});

/**
 * Acts the council would exclude, or ballots it would not count, are refused before anything is written; a ledger act
 * written that does not count says why.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { entryLine } from "../src/commands/ledger.js";
import type { CouncilSummary } from "../src/index.js";
import { fundAfter } from "../src/operations.js";
import { federa, federaJson, federaOk, tempDir } from "./support/cli.js";

let tmp: { path: string; remove: () => Promise<void> };

beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(async () => {
  await tmp.remove();
});

describe("refused acts", { timeout: 180_000 }, () => {
  it("exits non-zero with the reason and writes nothing, then writes what is valid", async () => {
    const dir = join(tmp.path, "ada");
    const d = ["--dir", dir];
    await federaOk(["init", "--dir", dir, "--name", "Ada"]);
    await federaOk(["council", "create", "Bakery", ...d]);
    await federaOk(["fund", "create", "food", "--type", "cash", ...d]);
    const poll = await federaOk([
      "propose",
      "-t",
      "Which oven",
      "-m",
      "score",
      "-o",
      "gas,wood",
      "--max-score",
      "3",
      ...d,
    ]);
    const summary = async () => (await federaJson<{ councils: CouncilSummary[] }>(["status", ...d])).councils[0]!;
    const before = await summary();

    const refusals: [string[], RegExp][] = [
      [["donate", "flour", "10"], /error: no fund flour/],
      [["swap", "food", "--provider", "me", "--minutes", "30"], /refused: fund food is a cash fund/],
      [["propose", "-t", "Closed already", "--closes", "2020-01-01"], /refused: closes before it opens/],
      [["propose", "-t", "One option", "-m", "ranked", "-o", "only"], /refused: ranked needs at least two/],
      [["vote", poll, "--scores", "gas=9"], /would not count: gas: 9 is not a whole number from 0 to 3/],
      [["vote", poll, "--scores", "coal=1"], /would not count: coal is not one of the options/],
      [["vote", "", "--scores", "gas=1"], /proposal must be an id|name the proposal by its id/],
      [
        [
          "mandate",
          "issue",
          "--delegate",
          "me",
          "--body",
          "Bakers",
          "--positions",
          "*=yes|no",
          "--starts",
          "+2d",
          "--expires",
          "+1d",
        ],
        /the mandate expires before it starts/,
      ],
      [
        ["mandate", "issue", "--delegate", "me", "--body", "Bakers", "--positions", "*=yes|no", "--expires", "+3000d"],
        /the term is longer than the charter's maximum/,
      ],
    ];
    for (const [args, message] of refusals) {
      const ran = await federa([...args, ...d]);
      expect(ran.code, args.join(" ")).not.toBe(0);
      expect(ran.stderr).toMatch(message);
    }
    // A federation founded "with" the founding council's own token.
    const { token } = await federaJson<{ token: string }>(["invite", ...d]);
    const own = await federa(["federation", "create", "Bakers' federation", "--with", token, ...d]);
    expect(own.code).toBe(2);
    expect(own.stderr).toMatch(/the council founding the federation: pass other councils' tokens/);
    const after = await summary();
    expect(after.records).toBe(before.records);
    expect(after.excluded).toBe(0);

    await federaOk(["vote", poll, "--scores", "gas=3,wood=1", ...d]);
    expect(await federaJson(["donate", "food", "40", ...d])).toMatchObject({ balance: 40 });
    expect(await summary()).toMatchObject({ records: (before.records ?? 0) + 2, excluded: 0, balances: { food: 40 } });
  });
});

describe("a ledger act written that does not count", () => {
  const record = "ab".repeat(32);
  const funds = [{ id: "food", balance: 40 }] as never;
  const state = (excluded: unknown[], conflicts: unknown[] = []) =>
    ({ funds, ledger: [], excluded, conflicts }) as unknown as Parameters<typeof fundAfter>[0];

  it("says why it does not count, instead of leaving its entry out", () => {
    const revoked = { id: record, reason: "device-not-authorised", detail: "device 12D3KooWx was revoked" };
    expect(fundAfter(state([revoked]), "food", record)).toEqual({
      fund: "food",
      balance: 40,
      notCounted: { reason: "device-not-authorised", detail: "device 12D3KooWx was revoked" },
    });
    // Neither excluded nor entered: said all the same.
    expect(fundAfter(state([]), "food", record).notCounted).toMatchObject({ reason: "not-derived" });
    // One that counts has its entry, and nothing else.
    const counted = fundAfter(
      {
        ...state([]),
        ledger: [{ record, status: "held", reason: "over the balance" }] as never,
      },
      "food",
      record,
    );
    expect(counted).toEqual({ fund: "food", balance: 40, entry: { status: "held", reason: "over the balance" } });
  });

  it("prints the record id on stdout and why it does not count on stderr", () => {
    const written: string[] = [];
    const spy = vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
      written.push(String(chunk));
      return true;
    });
    try {
      const lines = entryLine({
        record,
        notCounted: { reason: "device-not-authorised", detail: "device 12D3KooWx was revoked" },
      });
      expect(lines).toEqual([record]);
    } finally {
      spy.mockRestore();
    }
    expect(written).toEqual(["federa: not counted: device 12D3KooWx was revoked (device-not-authorised)\n"]);
  });
});

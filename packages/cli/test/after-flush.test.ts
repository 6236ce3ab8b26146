/** An offline command whose documents are saved succeeds when a file written after them cannot be, and says which. */
import { readFile } from "node:fs/promises";
import { join, sep } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { federaJson, federaOk, spawnTs, tempDir } from "./support/cli.js";
import type { StatusJson } from "./support/node-process.js";

let tmp: { path: string; remove: () => Promise<void> };

beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(async () => {
  await tmp.remove();
});

/** The `federa` command run with every rename onto a path containing one of `failing` failing (EIO). */
const FAILING = join(import.meta.dirname, "support/failing-renames.ts");
function federaFailing(args: readonly string[], failing: readonly string[]) {
  return spawnTs(FAILING, args, { FEDERA_FAIL_RENAMES: failing.join(",") }).done;
}

/** A directory whose council has a food fund holding 600, and this device's id. */
async function funded(name: string): Promise<{ d: string[]; dir: string; device: string }> {
  const dir = join(tmp.path, name.toLowerCase());
  const d = ["--dir", dir];
  const { device } = await federaJson<{ device: string }>(["init", ...d, "--name", name]);
  await federaOk(["council", "create", "Pantry", ...d]);
  await federaOk(["fund", "create", "food", "--type", "cash", ...d]);
  await federaOk(["donate", "food", "600", ...d]);
  return { d, dir, device };
}

/** The device's mark in D/high-water.json (the directory holds one council). */
async function deviceMark(dir: string, device: string): Promise<number | undefined> {
  const marks: Record<string, Record<string, number>> = JSON.parse(
    await readFile(join(dir, "high-water.json"), "utf8"),
  );
  return Object.values(marks)[0]?.[device];
}

async function food(d: readonly string[]) {
  const status = await federaJson<StatusJson>(["status", ...d]);
  return status.councils[0]!.balances?.food;
}

describe("an offline write that cannot save every file", { timeout: 180_000 }, () => {
  it("succeeds once its documents are saved, warning of the files it could not write after them", async () => {
    const { d, dir, device } = await funded("Ada");
    expect(await deviceMark(dir, device)).toBe(1);

    const ran = await federaFailing(["donate", "food", "1", ...d], [`${sep}high-water.json`, `${sep}verified.bin`]);
    expect(ran.code, ran.stderr).toBe(0);
    const record = ran.stdout.trim();
    expect(record).toMatch(/^[0-9a-f]{64}$/);
    const warnings = ran.stderr.trim().split("\n");
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/^federa: warning: the documents are saved, but \S+verified\.bin could not be written/);
    expect(warnings[0]).toContain("only caches signatures already checked");
    expect(warnings[1]).toMatch(
      /^federa: warning: the documents are saved, but \S+high-water\.json could not be written/,
    );
    expect(warnings[1]).toContain("EIO");
    expect(warnings[1]).toContain("the high-water marks were not updated");
    // The mark stayed where it was; the next command stores it.
    expect(await deviceMark(dir, device)).toBe(1);

    expect(await food(d)).toBe(601);
    expect(await deviceMark(dir, device)).toBe(2);
    const report = await federaJson<{ tables: { ledger: { record: string }[] } }>(["export", ...d]);
    expect(report.tables.ledger.filter((e) => e.record === record)).toHaveLength(1);
  });

  it("fails when the documents themselves cannot be saved, and counts nothing", async () => {
    const { d } = await funded("Bo");
    const ran = await federaFailing(["donate", "food", "1", ...d], [`${sep}repo${sep}`]);
    expect(ran.code).toBe(1);
    expect(ran.stdout).toBe("");
    expect(ran.stderr).toMatch(/^federa: error: EIO: i\/o error, rename .*repo/m);
    expect(ran.stderr).not.toContain("warning");
    expect(await food(d)).toBe(600);
  });
});

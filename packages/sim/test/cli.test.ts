/** `federa sim` as a user runs it: a separate process that writes the metrics, tables and charts. */
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { federa } from "../../cli/test/support/cli.js";

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "federa-sim-"));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe("federa sim", { timeout: 120_000 }, () => {
  it("runs a scenario and writes metrics.json, CSV tables and SVG charts", async () => {
    const out = join(tmp, "jar");
    const ran = await federa(["sim", "packages/sim/scenarios/jar-round-partition.json", "--seed", "5", "--out", out]);
    expect(ran.code).toBe(0);
    expect(ran.stderr).toMatch(/federa sim: \[#+-*\] +\d+% /);
    expect(ran.stdout).toContain("jar-round-partition, seed 5");
    expect(ran.stdout).toContain(`written to ${out}`);
    const files = (await readdir(out)).sort();
    expect(files).toEqual(["charts", "heals.csv", "metrics.csv", "metrics.json", "pledges.csv", "series.csv"]);
    const metrics = JSON.parse(await readFile(join(out, "metrics.json"), "utf8"));
    expect(metrics).toMatchObject({ scenario: "jar-round-partition", seed: 5, councils: 1 });
    expect(metrics.runs[0].convergence.consistent).toBe(true);
    const csv = await readFile(join(out, "metrics.csv"), "utf8");
    expect(csv.split("\r\n")[0]).toBe("variant,metric,value");
    expect(csv).toContain("main,traffic.messages,");
    const charts = (await readdir(join(out, "charts"))).sort();
    expect(charts).toEqual(expect.arrayContaining(["convergence.svg", "divergence.svg", "messages.svg"]));
    expect(await readFile(join(out, "charts", "messages.svg"), "utf8")).toMatch(
      /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/,
    );
  });

  it("refuses an invalid scenario with exit code 2 and says what is wrong", async () => {
    const file = join(tmp, "bad.yaml");
    await writeFile(file, "name: bad\nduration: soon\ncouncils:\n  count: 2\n  members: 2\n");
    const ran = await federa(["sim", file, "--out", join(tmp, "bad")]);
    expect(ran.code).toBe(2);
    expect(ran.stderr).toContain(`invalid scenario ${file}`);
    expect(ran.stderr).toContain("duration: a duration");
  });
});

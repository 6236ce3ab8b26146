/** Every shipped scenario parses and runs, and shows what it was written to show. */
import { readdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { RunMetrics, SimResult } from "../src/index.js";
import { loadScenario, runScenario } from "../src/index.js";

const DIR = join(dirname(fileURLToPath(import.meta.url)), "../scenarios");

async function run(name: string, scale?: number): Promise<SimResult> {
  const scenario = await loadScenario(join(DIR, `${name}.json`));
  return runScenario(scenario, scale === undefined ? {} : { scale });
}

function healthy(r: RunMetrics): void {
  expect(r.convergence.consistent).toBe(true);
  expect(r.convergence.final.convergedAfterMs).not.toBeNull();
  expect(r.acts.failed).toEqual({});
  expect(r.heals.every((h) => !h.interrupted)).toBe(true);
}

describe("shipped scenarios", { timeout: 120_000 }, () => {
  it("are at least five, each valid", async () => {
    const files = (await readdir(DIR)).filter((f) => f.endsWith(".json")).sort();
    expect(files).toEqual(
      expect.arrayContaining([
        "federation-1000.json",
        "hub-vs-mesh.json",
        "jar-round-partition.json",
        "recall-race.json",
        "strike-fund-partition.json",
      ]),
    );
    for (const file of files)
      await expect(loadScenario(join(DIR, file))).resolves.toMatchObject({ name: file.slice(0, -5) });
  });

  it("strike-fund-partition: an overdraft across the partition is held, a split vote flips after the heal", async () => {
    const r = (await run("strike-fund-partition")).runs[0]!;
    healthy(r);
    const heal = r.heals.find((h) => h.kind === "partition")!;
    expect(heal.replicasBehind).toBeGreaterThan(0);
    expect(heal.surfaced["expense-held"]).toBeGreaterThanOrEqual(1);
    expect(r.expensesHeld.byReason["overdraft-held"]).toBeGreaterThanOrEqual(1);
    // The vote on extending the strike: failing (no quorum) for members 0 and 1, passing for the others, then passed.
    expect(heal.flipped.council).toBe(1);
  });

  it("recall-race: the recalled delegate's vote is out of mandate and the outcome it saw flips", async () => {
    const r = (await run("recall-race")).runs[0]!;
    healthy(r);
    expect(r.outOfMandate.byReason.recalled).toBe(1);
    expect(r.heals.find((h) => h.kind === "rejoin")!.flipped.federation).toBe(1);
    expect(r.acts.written.mandate).toBe(1);
  });

  it("jar-round-partition: payouts are re-derived after the heal", async () => {
    const r = (await run("jar-round-partition")).runs[0]!;
    healthy(r);
    expect(r.acts.written.dots).toBe(6);
    expect(r.heals.find((h) => h.kind === "partition")!.surfaced["balance-changed"]).toBeGreaterThanOrEqual(1);
  });

  it("churn: every rejoin converges and pledges are answered", async () => {
    const r = (await run("churn")).runs[0]!;
    healthy(r);
    expect(r.heals.filter((h) => h.kind === "rejoin").length).toBeGreaterThan(5);
    expect(r.pledges.responses).toBeGreaterThan(0);
  });

  it("hub-vs-mesh: one workload, three networks, compared", async () => {
    const result = await run("hub-vs-mesh");
    expect(result.runs.map((r) => r.variant)).toEqual(["hub", "mesh", "mesh-sparse"]);
    for (const r of result.runs) healthy(r);
    const [hub, mesh] = result.runs;
    // The same acts were written on every network; only how they travelled differs.
    expect(mesh!.acts.written).toEqual(hub!.acts.written);
    expect(hub!.links).toBeLessThan(mesh!.links);
    expect(hub!.traffic.messages).toBeLessThan(mesh!.traffic.messages);
  });

  it("federation-1000 (reduced to 20 councils): regions converge after the partition", async () => {
    const result = await run("federation-1000", 0.02);
    expect(result.councils).toBe(20);
    const r = result.runs[0]!;
    healthy(r);
    expect(r.nodes).toBe(22);
    expect(r.heals.find((h) => h.kind === "partition")!.convergedAfterMs).not.toBeNull();
    expect(r.acts.written["fed-vote"]).toBeGreaterThan(0);
    // Votes and alerts written through the relays are valid federation records on every relay.
    const { passed = 0, failed = 0, open = 0 } = r.proposals.federation;
    expect(passed + failed + open).toBe(2);
    expect(r.pledges.alerts).toBe(r.acts.written.alert);
    expect(r.outOfMandate.federation).toBeGreaterThan(0);
  });
});

/**
 * `./dev bench soak` end to end at a tiny size: a stable node process and a churning device that restarts from its
 * storage each cycle; the stable node holds every record after every cycle, its heap is sampled after garbage
 * collection, and two heap snapshots are compared. Checks the benchmark's machinery, not the memory it finds.
 */
import { describe, expect, it } from "vitest";
import { formatSoakReport, growthOf, parseSoakArgs, runSoakBench, type SoakCycle, slope } from "../bench/soak-bench.js";
import { soakLines } from "../bench/soak-charts.js";

const machine = { cpu: "test", cores: 2, node: "24", platform: "linux", date: "2026-11-24", load: "0 at the start" };

describe("./dev bench soak", () => {
  it("reads its options and refuses unknown ones", () => {
    expect(parseSoakArgs([])).toEqual({
      cycles: 30,
      churners: 3,
      records: 20,
      stableRecords: 3,
      exit: "stop",
      lingerMs: 0,
      capS: 60,
      snapshots: null,
    });
    const options = parseSoakArgs(["--cycles=5", "--churners=2", "--records=7", "--exit=kill", "--snapshots"]);
    expect(options).toMatchObject({ cycles: 5, churners: 2, records: 7, exit: "kill", snapshots: "" });
    expect(parseSoakArgs(["--snapshots=/tmp/x"]).snapshots).toBe("/tmp/x");
    expect(() => parseSoakArgs(["--cycles=0"])).toThrow(/--cycles takes a whole number/);
    expect(() => parseSoakArgs(["--exit=crash"])).toThrow(/unknown option/);
    expect(() => parseSoakArgs(["--quick"])).toThrow(/unknown option/);
  });

  it("measures growth by least squares over the second half of the cycles", () => {
    expect(slope([1, 2, 3], [10, 12, 14])).toBe(2);
    expect(slope([1], [10])).toBeNull();
    const row = (cycle: number, heapUsedMb: number) =>
      ({ cycle, heapUsedMb, rssMb: 100, externalMb: 5 }) as unknown as SoakCycle;
    // A steep warm-up in the first half is left out: only cycles 3 and 4 count.
    const growth = growthOf([row(1, 10), row(2, 30), row(3, 31), row(4, 32)]);
    expect(growth).toEqual({
      fromCycle: 3,
      toCycle: 4,
      heapKbPerCycle: 1_024,
      rssKbPerCycle: 0,
      externalKbPerCycle: 0,
    });
    expect(growthOf([row(1, 10), row(2, 11)])).toBeNull();
  });

  it("restarts a device from its storage each cycle, and the stable node holds every record", {
    timeout: 90_000,
  }, async () => {
    const lines: string[] = [];
    const result = await runSoakBench(["--cycles=2", "--churners=1", "--records=3", "--snapshots"], (l) =>
      lines.push(l),
    );
    expect(result.failure).toBeUndefined();
    expect(result.heldEvery).toBe(true);
    expect(result.rows.map((r) => r.cycle)).toEqual([1, 2]);
    // Per cycle: the device's 3 records and the stable node's 3; every one held by the end of its cycle.
    expect(result.rows.map((r) => r.expected)).toEqual([result.setupRecords + 6, result.setupRecords + 12]);
    for (const row of result.rows) {
      expect(row.records).toBe(row.expected);
      expect(row.heapUsedMb).toBeGreaterThan(1);
      expect(row.rssMb).toBeGreaterThan(row.heapUsedMb);
      expect(row.syncMs).not.toBeNull();
      expect(row.sizes["repo handles"]).toBe(2); // the council and its ledger
      expect(row.sizes["libp2p connections"]).toBeTypeOf("number");
    }
    // The same device came back: its restart opened the council from its own storage, and synced again.
    expect(result.rows[1]!.counters["peer-candidate"]).toBeGreaterThanOrEqual(2);
    expect(result.growth).toBeNull(); // two cycles leave one in the second half
    expect(result.heapGrowth?.from.cycle).toBe(1);
    expect(result.heapGrowth?.to.cycle).toBe(2);
    expect(result.heapGrowth?.top.length).toBeGreaterThan(0);
    expect(lines.some((l) => l.startsWith("cycle 2/2: heap"))).toBe(true);
    const report = formatSoakReport(result, machine);
    expect(report).toContain("| start |");
    expect(report).toContain("The stable node held every record after every cycle");
    expect(report).toContain("| repo handles | 2 | 2 | 2 |");
    const chart = soakLines(result, machine);
    expect(chart.series.map((s) => s.points.length)).toEqual([3, 3, 3, 3]); // the start, then each cycle
  });
});

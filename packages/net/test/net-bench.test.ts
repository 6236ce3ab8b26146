/**
 * `./dev bench net` end to end at a tiny size: real node processes for both systems meet twice, and the report and
 * raw results say what each meeting did. Checks the benchmark's machinery, not its speed.
 */
import { describe, expect, it } from "vitest";
import { formatNetReport, parseNetArgs, runNetBench } from "../bench/net-bench.js";

const N = 2;
const K = 3;

describe("./dev bench net", () => {
  it("reads its options and refuses unknown ones", () => {
    const options = parseNetArgs(["--sizes=2x3,4x5", "--systems=tree,hub", "--meetings=1", "--storage=disk"]);
    expect(options.sizes).toEqual([
      { n: 2, k: 3 },
      { n: 4, k: 5 },
    ]);
    expect(options.systems).toEqual(["tree", "hub"]);
    expect(options.meetings).toBe(1);
    expect(options.storage).toBe("disk");
    expect(parseNetArgs([]).meetings).toBe(2);
    expect(parseNetArgs([]).bundleChanges).toBeUndefined(); // the node's default
    expect(parseNetArgs(["--bundle-changes"]).bundleChanges).toBe(true);
    expect(parseNetArgs(["--no-bundle-changes"]).bundleChanges).toBe(false);
    expect(parseNetArgs([]).trimDocuments).toBe(false);
    expect(parseNetArgs(["--trim-documents"]).trimDocuments).toBe(true);
    expect(() => parseNetArgs(["--bundle-changes=no"])).toThrow(/unknown option/);
    expect(() => parseNetArgs(["--meetings=3"])).toThrow(/unknown option/);
    expect(() => parseNetArgs(["--systems=star"])).toThrow(/unknown system/);
  });

  it("runs Federa's tree and the hub through two meetings, with documents on disk", async () => {
    const lines: string[] = [];
    const result = await runNetBench([`--sizes=${N}x${K}`, "--systems=tree,hub", "--storage=disk"], (line) =>
      lines.push(line),
    );
    const [row] = result.rows;
    expect(row).toBeDefined();
    expect(row!.runs.map((run) => run.system)).toEqual(["tree", "hub"]);
    for (const run of row!.runs) {
      expect(run.failure).toBeUndefined();
      for (const meeting of [run, run.again!]) {
        expect(meeting.convergeMs).not.toBeNull();
        expect(meeting.converged).toBe(N);
        expect(meeting.wire.bytes).toBeGreaterThan(0);
        expect(meeting.perNode).toHaveLength(N);
        // Each meeting starts from parted nodes: every node's Repo hears of a peer anew after its heal.
        for (const node of meeting.perNode) expect(node.counters["peer-candidate"]).toBeGreaterThan(0);
      }
      // Every node holds both meetings' records: Federa counts valid records (setup included), the hub entries.
      const held = run.again!.perNode.map((node) => node.records);
      expect(held).toEqual(Array(N).fill(run.system === "hub" ? 2 * N * K : row!.setupRecords + 2 * N * K));
      // The first meeting's counts were taken before the second meeting's records were written.
      expect(run.perNode[0]!.records).toBeLessThan(held[0]!);
    }
    expect(row!.federaFloor?.changes).toBe(N * K);
    expect(row!.federaFloorAgain?.changes).toBe(N * K);
    expect(row!.hubFloorAgain?.changes).toBe(N * K);
    expect(lines.some((line) => line.includes("meeting again: converged in"))).toBe(true);
    const report = formatNetReport(result, {
      cpu: "test",
      cores: 2,
      node: process.versions.node,
      platform: process.platform,
      date: "today",
      load: "0",
    });
    expect(report).toContain("documents on disk");
    expect(report).toContain("Meeting again");
    expect(report).toMatch(/\| 2 \| 3 \| Federa, bootstrap tree \(4\) \| [\d.]+ (ms|s) \|/);
  }, 180_000);
});

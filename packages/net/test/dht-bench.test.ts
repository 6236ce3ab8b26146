/**
 * `./dev bench dht` end to end at a tiny size: members, each in its own process, looking each other up in a DHT of
 * strangers link up, and relink after one's process is killed and restarted at a new address; the report says so.
 * Checks the benchmark's machinery, not its speed.
 */
import { describe, expect, it } from "vitest";
import { formatDhtReport, parseDhtArgs, runDhtBench } from "../bench/dht-bench.js";

const machine = { cpu: "test", cores: 2, node: "24", platform: "linux", date: "2026-11-24", load: "0 at the start" };

describe("./dev bench dht", () => {
  it("reads its options and refuses unknown ones", () => {
    const options = parseDhtArgs(["--sizes=5,10", "--members=3", "--modes=lookups", "--cap=20"]);
    expect(options).toEqual({ sizes: [5, 10], members: 3, modes: ["lookups"], capS: 20 });
    expect(parseDhtArgs([]).modes).toEqual(["lookups", "walks"]);
    expect(() => parseDhtArgs(["--modes=gossip"])).toThrow(/--modes takes/);
    expect(() => parseDhtArgs(["--members=1"])).toThrow(/--members/);
    expect(() => parseDhtArgs(["--fast"])).toThrow(/unknown option/);
  });

  it("links members that look each other up, and relinks one that restarts elsewhere", {
    timeout: 120_000,
  }, async () => {
    const lines: string[] = [];
    const result = await runDhtBench(["--sizes=6", "--members=3", "--modes=lookups", "--cap=60"], (l) => lines.push(l));
    const [run] = result.runs;
    expect(run).toMatchObject({ dht: 6, members: 3, mode: "lookups" });
    expect(run!.linkedMs).not.toBeNull();
    expect(run!.foundMs).not.toBeNull();
    expect(run!.rejoinMs).not.toBeNull();
    expect(run!.lookups).toBeGreaterThan(0);
    expect(run!.memberPairs).toBeGreaterThanOrEqual(2); // a tree over three members has two links
    expect(run!.strangerConnections).toBeGreaterThanOrEqual(3); // each member dialled its entry node
    // The member processes report their own CPU, apart from this process's.
    expect(run!.membersCpuPerSecond).toBeGreaterThan(0);
    expect(run!.dhtCpuPerSecond).toBeGreaterThan(0);
    const report = formatDhtReport(result, machine);
    expect(report).toContain("| 6 | 3 | lookups |");
    expect(lines.some((l) => l.includes("dht of 6"))).toBe(true);
  });
});

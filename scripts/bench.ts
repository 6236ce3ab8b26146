/**
 * The benchmark dispatcher behind `./dev bench NAME [OPTIONS]`: runs the named benchmark, prints its report and
 * writes its raw results to `bench-results/NAME.json` and its charts to `bench-results/*.svg`.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg, platform, release } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { PanelChart } from "../packages/core/bench/charts.js";
import type { Machine } from "../packages/core/bench/core-bench.js";
import { barPanels } from "../packages/sim/src/svg.js";

interface Bench {
  readonly summary: string;
  /** Runs the benchmark; `machine` is read once it has finished (its load average included). */
  run(
    args: readonly string[],
    machine: () => Machine,
  ): Promise<{ report: string; results: unknown; charts: readonly PanelChart[] }>;
}

const benches: Record<string, Bench> = {
  core: {
    summary: "Federa against the naive automerge-repo layout: writes, bytes, load to derived state, append at N",
    async run(args, machine) {
      const { formatCoreReport, runCoreBench } = await import("../packages/core/bench/core-bench.js");
      const { coreCharts } = await import("../packages/core/bench/core-charts.js");
      const results = await runCoreBench(args);
      return { report: formatCoreReport(results, machine()), results, charts: coreCharts(results) };
    },
  },
  net: {
    summary:
      "N node processes on loopback heal a partition: Federa on a LAN and over a tree against the automerge-repo WebSocket hub",
    async run(args, machine) {
      const { formatNetReport, runNetBench } = await import("../packages/net/bench/net-bench.js");
      const { netCharts } = await import("../packages/net/bench/net-charts.js");
      const results = await runNetBench(args);
      return { report: formatNetReport(results, machine()), results, charts: netCharts(results) };
    },
  },
  dht: {
    summary: "a council's devices finding each other in a DHT of strangers: looking members up against DHT walks only",
    async run(args, machine) {
      const { formatDhtReport, runDhtBench } = await import("../packages/net/bench/dht-bench.js");
      const { dhtCharts } = await import("../packages/net/bench/dht-charts.js");
      const results = await runDhtBench(args);
      return { report: formatDhtReport(results, machine()), results, charts: dhtCharts(results) };
    },
  },
  soak: {
    summary: "a stable node while devices restart, sync and leave, cycle after cycle: does its memory stay flat?",
    async run(args, machine) {
      const { formatSoakReport, runSoakBench } = await import("../packages/net/bench/soak-bench.js");
      const { soakLines } = await import("../packages/net/bench/soak-charts.js");
      const { lineChart } = await import("../packages/sim/src/svg.js");
      const results = await runSoakBench(args);
      // Lines over the cycles, drawn here: the charts returned are bar panels.
      const svg = join(dirname(fileURLToPath(import.meta.url)), "..", "bench-results", "soak.svg");
      mkdirSync(dirname(svg), { recursive: true });
      writeFileSync(svg, lineChart(soakLines(results, machine())));
      return { report: formatSoakReport(results, machine()), results, charts: [] };
    },
  },
};

function usage(): string {
  const names = Object.entries(benches).map(([name, b]) => `  ${name.padEnd(6)} ${b.summary}`);
  return [
    "usage: ./dev bench NAME [OPTIONS]",
    "",
    "benchmarks:",
    ...names,
    "",
    "core options: --quick, --naive-budget=SECONDS, --naive-n=N",
    "net options: --quick, --sizes=NxK,..., --systems=mesh,tree,hub, --meetings=1|2, --storage=memory|disk,",
    "             --hub-cap=SECONDS, --federa-cap=SECONDS",
    "dht options: --quick, --sizes=NODES,..., --members=M, --modes=lookups,walks, --cap=SECONDS",
  ].join("\n");
}

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...args] = argv;
  const bench = name === undefined ? undefined : benches[name];
  if (bench === undefined) {
    console.error(name === undefined ? usage() : `unknown benchmark "${name}"\n\n${usage()}`);
    return 2;
  }
  const cpu = cpus();
  const loadBefore = loadavg()[0]!.toFixed(2);
  const facts = {
    cpu: cpu[0]?.model.trim() ?? "unknown CPU",
    cores: cpu.length,
    node: process.versions.node,
    platform: `${platform()} ${release()}`,
    date: new Date().toISOString().slice(0, 10),
  };
  const machine = (): Machine => ({
    ...facts,
    load: `${loadBefore} at the start, ${loadavg()[0]!.toFixed(2)} at the end`,
  });
  const { report, results, charts } = await bench.run(args, machine);
  console.log(`\n${report}`);
  const root = join(dirname(fileURLToPath(import.meta.url)), "..");
  const out = join(root, "bench-results", `${name}.json`);
  mkdirSync(dirname(out), { recursive: true });
  const m = machine();
  writeFileSync(out, `${JSON.stringify({ machine: m, args, results }, null, 2)}\n`);
  console.log(`\nRaw results: ${out}`);
  for (const chart of charts) {
    const svg = join(root, "bench-results", `${chart.name}.svg`);
    writeFileSync(svg, barPanels({ ...chart, subtitle: `${chart.subtitle} (${m.date}, ${m.cores} cores)` }));
    console.log(`Chart: ${svg}`);
  }
  return 0;
}

process.exitCode = await main(process.argv.slice(2));

/**
 * The soak benchmark's chart: the stable node's heap after garbage collection and its RSS, cycle after cycle, as the
 * lines the benchmark dispatcher draws with the simulator's `lineChart` (net does not import the simulator).
 */
import type { Machine } from "../../core/bench/core-bench.js";
import { devices, type HeapSample, type SoakBenchResult } from "./soak-bench.js";

/** A chart of lines over the cycles, in the shape `lineChart` (packages/sim/src/svg.ts) takes. */
export interface SoakLines {
  readonly title: string;
  readonly subtitle: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly xMax: number;
  readonly series: readonly { readonly name: string; readonly points: readonly (readonly [number, number])[] }[];
}

/** Heap used after GC, heap total, external memory and RSS (MB) against the cycle, the start as cycle 0. */
export function soakLines(r: SoakBenchResult, machine: Machine): SoakLines {
  const points = (pick: (s: HeapSample) => number): [number, number][] => [
    [0, pick(r.baseline)],
    ...r.rows.map((row): [number, number] => [row.cycle, pick(row)]),
  ];
  const o = r.options;
  const growth =
    r.growth === null
      ? "too few cycles for a slope"
      : `growth per cycle over cycles ${r.growth.fromCycle}-${r.growth.toCycle}: heap ` +
        `${r.growth.heapKbPerCycle.toFixed(0)} kB, RSS ${r.growth.rssKbPerCycle.toFixed(0)} kB`;
  return {
    title: `Stable node while ${devices(o.churners)} restart, sync and leave (${o.records} records each)`,
    subtitle: `${growth} (${machine.date}, ${machine.cores} cores)`,
    xLabel: "cycle (0: the stable node started, before the first)",
    yLabel: "MB",
    xMax: Math.max(1, r.rows.length),
    series: [
      { name: "heap used after GC", points: points((s) => s.heapUsedMb) },
      { name: "heap total", points: points((s) => s.heapTotalMb) },
      { name: "external", points: points((s) => s.externalMb) },
      { name: "RSS", points: points((s) => s.rssMb) },
    ],
  };
}

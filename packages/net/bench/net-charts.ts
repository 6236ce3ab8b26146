/** The net benchmark's results as bar panels: one row per size, one column per measure, one bar per system. */
import type { PanelChart } from "../../core/bench/charts.js";
import type { NetBenchResult, System, SystemRun } from "./net-bench.js";

const LABELS: Record<System, string> = { mesh: "Federa LAN", tree: "Federa tree", hub: "hub" };

const seconds = (v: number) => `${v.toFixed(v < 10 ? 2 : 1)} s`;

function bar(run: SystemRun, value: number | null, note: (v: number) => string) {
  if (run.failure !== undefined) return { label: LABELS[run.system], value: 0, note: "failed" };
  if (value === null) return { label: LABELS[run.system], value: run.capS, note: `> ${run.capS} s` };
  return { label: LABELS[run.system], value, note: note(value) };
}

export function netCharts(r: NetBenchResult): PanelChart[] {
  const again = r.meetings === 2;
  const panels = r.rows.flatMap((row) => {
    const size = `N = ${row.n}, K = ${row.k}`;
    return [
      {
        title: `${size}: converged (s)`,
        bars: row.runs.map((run) => bar(run, run.convergeMs === null ? null : run.convergeMs / 1_000, seconds)),
      },
      {
        title: `${size}: bytes on the wire (MB)`,
        bars: row.runs.map((run) => bar(run, run.wire.bytes / 1e6, (v) => `${v.toFixed(2)} MB`)),
      },
      {
        title: `${size}: longest stall (ms)`,
        bars: row.runs.map((run) => bar(run, run.stalls.maxBusyMs, (v) => `${v.toFixed(0)} ms`)),
      },
      ...(again
        ? [
            {
              title: `${size}: meeting again (s)`,
              bars: row.runs.map((run) => {
                const ms = run.again === undefined ? null : run.again.convergeMs;
                return bar(run, ms === null ? null : ms / 1_000, seconds);
              }),
            },
          ]
        : []),
    ];
  });
  return [
    {
      name: "net",
      // One row per size: converged, bytes, stall, and converged when meeting again.
      columns: again ? 4 : 3,
      title: "N node processes heal a partition: Federa against the automerge-repo WebSocket hub",
      subtitle: "lower is better; aims: 10x faster than the hub, no more bytes, no stall over 100 ms",
      panels,
    },
  ];
}

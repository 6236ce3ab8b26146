/** The DHT benchmark's results as bar panels: one row per DHT size, one bar per way of finding the members. */
import type { PanelChart } from "../../core/bench/charts.js";
import type { DhtBenchResult, DhtRun, Mode } from "./dht-bench.js";

const LABELS: Record<Mode, string> = { lookups: "look up members", walks: "DHT walks only" };

const seconds = (v: number) => `${v.toFixed(v < 10 ? 2 : 1)} s`;

function bar(run: DhtRun, ms: number | null, capS: number) {
  if (ms === null) return { label: LABELS[run.mode], value: capS, note: `> ${capS} s` };
  return { label: LABELS[run.mode], value: ms / 1_000, note: seconds(ms / 1_000) };
}

export function dhtCharts(r: DhtBenchResult): PanelChart[] {
  const sizes = [...new Set(r.runs.map((x) => x.dht))];
  const members = r.runs[0]?.members ?? 0;
  const panels = sizes.flatMap((size) => {
    const runs = r.runs.filter((x) => x.dht === size);
    return [
      { title: `DHT of ${size}: all linked (s)`, bars: runs.map((run) => bar(run, run.linkedMs, r.capS)) },
      {
        title: `DHT of ${size}: one restarts, relinked (s)`,
        bars: runs.map((run) =>
          run.linkedMs === null
            ? { label: LABELS[run.mode], value: 0, note: "never linked" }
            : bar(run, run.rejoinMs, r.capS),
        ),
      },
    ];
  });
  return [
    {
      name: "dht",
      columns: 2,
      title: `${members} devices of a council finding each other in a DHT of strangers`,
      subtitle: `lower is better; a bar at ${r.capS} s did not link by then`,
      panels,
    },
  ];
}

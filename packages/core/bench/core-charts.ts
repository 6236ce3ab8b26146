/** The core benchmark's results as bar panels: one per measure and size, one bar per way of keeping records. */
import type { PanelBar, PanelChart } from "./charts.js";
import type { CoreBenchResult, Point } from "./core-bench.js";

function ms(v: number): string {
  return v >= 1_000 ? `${(v / 1_000).toFixed(1)} s` : `${v.toFixed(v < 10 ? 2 : 0)} ms`;
}

export function coreCharts(r: CoreBenchResult): PanelChart[] {
  const systems = [
    { label: "naive", points: r.naive },
    { label: "Federa", points: r.each },
    { label: "batched", points: r.batched },
  ];
  const measures: { title: string; value: (p: Point) => number | undefined }[] = [
    { title: "write/record", value: (p) => p.writeMs / p.n },
    { title: "load, warm", value: (p) => p.loadWarmMs ?? p.loadMs },
    { title: "append, median", value: (p) => p.appendMs },
  ];
  // The sizes every system reached (the naive layout stops where its writes grow too slow).
  const sizes = [...new Set(r.naive.map((p) => p.n))].filter((n) => r.each.some((p) => p.n === n));
  const panels = sizes.flatMap((n) =>
    measures.map((m) => ({
      title: `N = ${n.toLocaleString("en")}: ${m.title} (ms)`,
      bars: systems.flatMap((s): PanelBar[] => {
        const point = s.points.find((p) => p.n === n);
        const value = point === undefined ? undefined : m.value(point);
        return value === undefined ? [] : [{ label: s.label, value, note: ms(value) }];
      }),
    })),
  );
  return [
    {
      name: "core",
      title: "Keeping a council's ledger: Federa's signed records against a naive automerge-repo layout",
      subtitle: `lower is better; Federa: a signed record per change; batched: ${r.sizes.batch.toLocaleString("en")} per change`,
      panels,
    },
  ];
}

/** A run's outputs: metrics as canonical JSON, CSV tables, and SVG charts, written to a directory. */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { CsvValue } from "@federa/core";
import { canonicalJson, toCsv } from "@federa/core";
import type { RunMetrics, SimResult } from "./run.js";
import type { Band } from "./svg.js";
import { barChart, barPanels, histogram, lineChart } from "./svg.js";

const HOUR = 3_600_000;

/** Every scalar of a value, flattened to dotted paths (arrays of numbers become their length). */
function flatten(value: unknown, prefix: string, out: [string, CsvValue][]): void {
  if (value === null || typeof value !== "object") {
    out.push([prefix, value as CsvValue]);
    return;
  }
  if (Array.isArray(value)) {
    out.push([`${prefix}.count`, value.length]);
    return;
  }
  for (const key of Object.keys(value).sort()) {
    if (prefix === "" && (key === "series" || key === "heals" || key === "schedule")) continue;
    flatten((value as Record<string, unknown>)[key], prefix === "" ? key : `${prefix}.${key}`, out);
  }
}

const HEAL_COLUMNS = [
  "variant",
  "label",
  "kind",
  "at_ms",
  "converged_after_ms",
  "rounds",
  "messages",
  "bytes",
  "replicas_behind",
  "flipped_council",
  "flipped_federation",
  "surfaced",
  "interrupted",
] as const;
const SERIES_COLUMNS = ["variant", "t_ms", "messages", "bytes", "acts", "divergent_documents"] as const;
const PLEDGE_COLUMNS = ["variant", "kind", "response_ms"] as const;
type Row<C extends readonly string[]> = Record<C[number], CsvValue>;

/** The CSV tables of a result, by file name: metrics (variant, metric, value), heals, series and pledges. */
export function csvTables(result: SimResult): Map<string, string> {
  const metrics: Row<["variant", "metric", "value"]>[] = [];
  const heals: Row<typeof HEAL_COLUMNS>[] = [];
  const series: Row<typeof SERIES_COLUMNS>[] = [];
  const pledges: Row<typeof PLEDGE_COLUMNS>[] = [];
  for (const run of result.runs) {
    const flat: [string, CsvValue][] = [];
    flatten(run, "", flat);
    for (const [metric, value] of flat) metrics.push({ variant: run.variant, metric, value });
    for (const h of run.heals)
      heals.push({
        variant: run.variant,
        label: h.label,
        kind: h.kind,
        at_ms: h.at,
        converged_after_ms: h.convergedAfterMs,
        rounds: h.rounds,
        messages: h.messages,
        bytes: h.bytes,
        replicas_behind: h.replicasBehind,
        flipped_council: h.flipped.council,
        flipped_federation: h.flipped.federation,
        surfaced: Object.entries(h.surfaced)
          .map(([k, v]) => `${k}=${v}`)
          .join(";"),
        interrupted: h.interrupted,
      });
    const s = run.series;
    for (const [i, t] of s.t.entries())
      series.push({
        variant: run.variant,
        t_ms: t,
        messages: s.messages[i]!,
        bytes: s.bytes[i]!,
        acts: s.acts[i]!,
        divergent_documents: s.divergent[i]!,
      });
    for (const ms of run.pledges.firstResponseMs)
      pledges.push({ variant: run.variant, kind: "first-response", response_ms: ms });
    for (const ms of run.pledges.responseMs)
      pledges.push({ variant: run.variant, kind: "council-response", response_ms: ms });
  }
  return new Map([
    ["metrics.csv", toCsv(["variant", "metric", "value"], metrics)],
    ["heals.csv", toCsv(HEAL_COLUMNS, heals)],
    ["series.csv", toCsv(SERIES_COLUMNS, series)],
    ["pledges.csv", toCsv(PLEDGE_COLUMNS, pledges)],
  ]);
}

/** How many changes of one kind the merges after heals surfaced. */
function surfaced(run: RunMetrics, kind: string): number {
  return run.heals.reduce((sum, h) => sum + (h.surfaced[kind] ?? 0), 0);
}

function bandsOf(run: RunMetrics): Band[] {
  const bands: Band[] = run.schedule.partitions.map((p) => ({ from: p.from / HOUR, to: p.to / HOUR, label: p.label }));
  // Outages of many nodes at once are one band; a single node's is named.
  const outages = new Map<string, { from: number; to: number; nodes: string[] }>();
  for (const o of run.schedule.offline) {
    const key = `${o.from}-${o.to}`;
    const entry = outages.get(key) ?? { from: o.from, to: o.to, nodes: [] };
    entry.nodes.push(o.node);
    outages.set(key, entry);
  }
  for (const o of outages.values())
    bands.push({
      from: o.from / HOUR,
      to: o.to / HOUR,
      label: o.nodes.length === 1 ? `${o.nodes[0]} offline` : `${o.nodes.length} offline`,
    });
  return bands;
}

/** The SVG charts of a result, by file name (prefixed by the variant when there are several). */
export function charts(result: SimResult): Map<string, string> {
  const out = new Map<string, string>();
  const several = result.runs.length > 1;
  const name = result.title ?? result.scenario;
  for (const run of result.runs) {
    const prefix = several ? `${run.variant}-` : "";
    const sub = `${name}${several ? ` (${run.variant})` : ""}, seed ${result.seed}`;
    const s = run.series;
    const hours = s.t.map((t) => (t + s.bucketMs) / HOUR);
    const xMax = Math.max(result.durationMs / HOUR, ...hours);
    const bands = bandsOf(run);
    out.set(
      `${prefix}messages.svg`,
      lineChart({
        title: "Sync messages over time",
        subtitle: `${sub}; per ${Math.round(s.bucketMs / 60_000)} min, shaded: partitions and outages`,
        xLabel: "hours",
        yLabel: "messages",
        series: [{ name: "sync messages", points: hours.map((h, i) => [h, s.messages[i]!] as const) }],
        bands,
        xMax,
      }),
    );
    out.set(
      `${prefix}bytes.svg`,
      lineChart({
        title: "Bytes sent over time",
        subtitle: `${sub}; automerge-repo wire messages, retransmissions included`,
        xLabel: "hours",
        yLabel: "bytes",
        series: [{ name: "bytes", points: hours.map((h, i) => [h, s.bytes[i]!] as const) }],
        bands,
        xMax,
      }),
    );
    out.set(
      `${prefix}divergence.svg`,
      lineChart({
        title: "Documents whose replicas disagree",
        subtitle: `${sub}; sampled at the end of each bucket`,
        xLabel: "hours",
        yLabel: "documents",
        series: [{ name: "divergent documents", points: hours.map((h, i) => [h, s.divergent[i]!] as const) }],
        bands,
        xMax,
      }),
    );
    const heals = run.heals.filter((h) => h.kind !== "final" || (h.convergedAfterMs ?? 0) > 0);
    out.set(
      `${prefix}convergence.svg`,
      barChart({
        title: "Time to convergence after each heal",
        subtitle: `${sub}; virtual ms until every replica held what its peers held (label: rounds)`,
        yLabel: "ms",
        bars: heals.map((h) =>
          heals.length > 8
            ? {
                label: `${(h.at / HOUR).toFixed(1)}h`,
                value: h.convergedAfterMs ?? 0,
                note: h.convergedAfterMs === null ? "cut" : String(h.convergedAfterMs),
              }
            : {
                label: `${(h.at / HOUR).toFixed(1)}h ${h.label}`,
                value: h.convergedAfterMs ?? 0,
                note: h.convergedAfterMs === null ? "cut short" : `${h.convergedAfterMs} ms, ${h.rounds} r`,
              },
        ),
      }),
    );
    out.set(
      `${prefix}conflicts.svg`,
      barChart({
        title: "What merging decided",
        subtitle: sub,
        yLabel: "count",
        bars: [
          { label: "flipped: councils", value: run.outcomesFlipped.council },
          { label: "flipped: federation", value: run.outcomesFlipped.federation },
          { label: "held at the end", value: run.expensesHeld.total },
          { label: "held by merges", value: run.expensesHeld.surfacedByMerges },
          { label: "balances moved by merges", value: surfaced(run, "balance-changed") },
          { label: "late votes by merges", value: surfaced(run, "late-vote") },
          { label: "out of mandate", value: run.outOfMandate.federation + run.outOfMandate.council },
          { label: "pledges late/missed", value: run.pledges.late + run.pledges.missed },
        ],
      }),
    );
    if (run.pledges.responseMs.length > 0) {
      const minutes = run.pledges.responseMs.map((ms) => ms / 60_000);
      const window = run.pledges.windowMs === null ? undefined : run.pledges.windowMs / 60_000;
      const top = Math.max(...minutes, window ?? 0);
      const binWidth = [5, 10, 15, 30, 60, 120, 240].find((w) => top / w <= 16) ?? 480;
      out.set(
        `${prefix}pledges.svg`,
        histogram({
          title: "Pledge response times",
          subtitle: `${sub}; each council's first response to an alert, by record clocks`,
          xLabel: "minutes after the alert",
          values: minutes,
          binWidth,
          ...(window !== undefined ? { markerAt: window, markerLabel: "pledge window" } : {}),
        }),
      );
    }
  }
  if (several) {
    const bars = (f: (r: RunMetrics) => number) => result.runs.map((r) => ({ label: r.variant, value: f(r) }));
    out.set(
      "compare.svg",
      barPanels({
        title: "One workload, several networks",
        subtitle: `${name}: ${result.runs.map((r) => r.variant).join(", ")}; seed ${result.seed}`,
        panels: [
          { title: "sync messages", bars: bars((r) => r.traffic.messages) },
          { title: "bytes sent", bars: bars((r) => r.traffic.bytes) },
          { title: "mean convergence after heals (ms)", bars: bars((r) => r.convergence.meanMs ?? 0) },
          { title: "max rounds to converge", bars: bars((r) => r.convergence.maxRounds ?? 0) },
          { title: "retransmissions", bars: bars((r) => r.traffic.retransmissions) },
          { title: "links", bars: bars((r) => r.links) },
        ],
      }),
    );
  }
  return out;
}

/** Writes metrics.json, the CSV tables and charts/*.svg into a directory (created if missing). */
export async function writeReport(result: SimResult, dir: string): Promise<string[]> {
  await mkdir(join(dir, "charts"), { recursive: true });
  const written: string[] = [];
  const put = async (name: string, text: string) => {
    await writeFile(join(dir, name), text);
    written.push(name);
  };
  await put("metrics.json", `${JSON.stringify(JSON.parse(canonicalJson(result)), null, 2)}\n`);
  for (const [name, text] of csvTables(result)) await put(name, text);
  for (const [name, svg] of charts(result)) await put(join("charts", name), svg);
  return written;
}

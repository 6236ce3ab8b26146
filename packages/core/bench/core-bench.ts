/**
 * `./dev bench core`: writes the same ledger stream through Federa (one signed record per change, and batched) and
 * the way an automerge-repo application does today (one structured map entry per record, one change each, no
 * signing, no derivation), then compares write time, document bytes, loading to derived state and one append at N.
 */
import type { Council } from "../src/index.js";
import {
  type AppendCost,
  actOf,
  appendCost,
  type BenchCouncil,
  foundBenchCouncil,
  loadToState,
  meanStoredRecord,
  median,
  quantile,
  saveBoth,
  steppingClock,
  writeOne,
} from "./federa.js";
import { NaiveWriter, naiveDerive, naiveRecord } from "./naive.js";
import { best, type Spent, stopwatch } from "./stopwatch.js";
import { type Cast, makeCast, type Payload, payloads } from "./workload.js";

/** Facts about the machine, supplied by the host script (core itself reads no OS state). */
export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly node: string;
  readonly platform: string;
  readonly date: string;
  /** One-minute load averages at the start and the end of the run (other work on the machine skews times). */
  readonly load: string;
}

/** What was measured for one system at one size. */
export interface Point {
  readonly n: number;
  /** Summed time of the write calls that produced the n records. */
  readonly writeMs: number;
  /** The same in CPU time (all threads of the process). */
  readonly writeCpuMs: number;
  /** Time the other simulated devices spent reading those records before their own writes (not in `writeMs`). */
  readonly catchupMs?: number;
  readonly bytes: number;
  /** Federa only: mean length of one stored ledger record (flag, signature when signed, canonical payload). */
  readonly storedRecordBytes?: number;
  /** Best of three, from saved bytes to derived state; for Federa without a verified cache. */
  loadMs?: number;
  loadCpuMs?: number;
  /** Federa only: the same with the device's verified cache. */
  loadWarmMs?: number;
  loadWarmCpuMs?: number;
  /** Median cost of one more record at n, on the documents loaded from bytes. */
  appendMs?: number;
  /** 90th percentile of the same. */
  appendP90Ms?: number;
  /** Median of the last 50 single-record writes of the writing run (documents in memory all along). */
  inSessionMs?: number;
  append?: AppendCost;
}

/** Everything one run measured, as written to `bench-results/core.json`. */
export interface CoreBenchResult {
  readonly sizes: { small: number; large: number; full: number; batch: number; appendSamples: number };
  readonly cast: { members: number; devices: number; setupRecords: number };
  readonly naivePick: {
    /** Seconds of writing allowed beyond `small`. */
    readonly budgetS: number;
    readonly forced: boolean;
    /** Per-change cost fitted on the first `small` records: a + b * records already in the document (ms). */
    readonly fit: { a: number; b: number };
    /** Predicted and actual seconds of writing from `small` to `large`. */
    readonly predictedS: number;
    readonly actualS: number;
  };
  readonly naive: Point[];
  readonly each: Point[];
  readonly batched: Point[];
  readonly totalS: number;
}

interface Options {
  quick: boolean;
  naiveBudgetS: number;
  naiveN: number | null;
}

const MEMBERS = 20;
const SECOND_DEVICES = 5;
const START_MS = Date.UTC(2025, 0, 6, 9);

/** Reads `--quick`, `--naive-budget=SECONDS` and `--naive-n=N`. */
export function parseCoreArgs(args: readonly string[]): Options {
  const options: Options = { quick: false, naiveBudgetS: 180, naiveN: null };
  let budgetSet = false;
  for (const arg of args) {
    const [key, value] = arg.split("=", 2);
    if (key === "--quick") options.quick = true;
    else if (key === "--naive-budget" && value !== undefined) {
      options.naiveBudgetS = Number(value);
      budgetSet = true;
    } else if (key === "--naive-n" && value !== undefined) options.naiveN = Number(value);
    else throw new Error(`unknown option ${arg} (options: --quick, --naive-budget=SECONDS, --naive-n=N)`);
  }
  if (options.quick && !budgetSet) options.naiveBudgetS = 5;
  return options;
}

function logger(): (line: string) => void {
  const start = performance.now();
  return (line) => {
    const heap = Math.round(process.memoryUsage().heapUsed / 1e6);
    console.log(
      `[${((performance.now() - start) / 1000).toFixed(1).padStart(6)} s, heap ${String(heap).padStart(4)} MB] ${line}`,
    );
  };
}

const fmtN = (n: number) => n.toLocaleString("en-US");

/** Runs the benchmark; `log` receives progress lines. */
export async function runCoreBench(args: readonly string[], log = logger()): Promise<CoreBenchResult> {
  const options = parseCoreArgs(args);
  const t0 = performance.now();
  const scale = options.quick ? 0.1 : 1;
  const small = 10_000 * scale;
  const full = 100_000 * scale;
  const batch = 1_000 * scale;
  const appendSamples = 50;
  const candidates = [12_000, 15_000, 20_000, 25_000, 30_000, 40_000, 50_000, 75_000, 100_000].map((n) => n * scale);

  log(`workload: ${MEMBERS} members, ${MEMBERS + SECOND_DEVICES} devices, ${fmtN(full)} ledger payloads`);
  const cast = await makeCast(MEMBERS, SECOND_DEVICES);
  const stream = payloads(full, cast, START_MS);

  // 1. Naive: to `small`, then on to the largest size predicted to fit the budget.
  log(`naive: one structured map entry per record, one change per record, up to ${fmtN(small)} first`);
  const naive = new NaiveWriter();
  const saved = new Map<number, { point: Point; bytes: Uint8Array }>();
  const cumulative: [number, number][] = [];
  const recent: number[] = [];
  let writeMs = 0;
  let writeCpuMs = 0;
  let large = small;
  let target = small;
  let step = small / 10;
  let fit = { a: 0, b: 0 };
  let predictedS = 0;
  let smallMs = 0;
  for (let i = 0; i < target; i++) {
    const spent = naive.write(naiveRecord(stream[i]!, cast));
    const dt = spent.wall;
    writeMs += dt;
    writeCpuMs += spent.cpu;
    recent.push(dt);
    if (recent.length > appendSamples) recent.shift();
    const n = i + 1;
    if (n <= small && n % step === 0) cumulative.push([n, writeMs]);
    if (n % step === 0) {
      const written = `${(writeMs / 1000).toFixed(1)} s writing`;
      log(`naive: ${fmtN(n)} / ${fmtN(target)} records, ${written}, last change ${fmtMs(dt)}`);
    }
    if (n === small) {
      smallMs = writeMs;
      fit = fitGrowth(cumulative);
      // The budget is for the writing beyond `small`, predicted from the growth measured up to it.
      const predict = (N: number) => fit.a * (N - small) + (fit.b * (N * N - small * small)) / 2;
      if (options.naiveN !== null) large = Math.max(small, options.naiveN);
      else for (const c of candidates) if (predict(c) <= options.naiveBudgetS * 1000) large = c;
      predictedS = predict(large) / 1000;
      log(
        `naive: a change costs ${fmtMs(fit.a)} + ${fmtMs(fit.b * 1000)} per 1,000 records held; larger size ` +
          `${fmtN(large)} (predicted ${predictedS.toFixed(0)} s more writing, budget ${options.naiveBudgetS} s` +
          `${options.naiveN !== null ? ", forced" : ""})`,
      );
      target = large;
      step = Math.max(1, (large - small) / 10);
    }
    if (n === small || n === large || (n > small && candidates.includes(n))) {
      const bytes = naive.save();
      saved.set(n, { point: { n, writeMs, writeCpuMs, bytes: bytes.length, inSessionMs: median(recent) }, bytes });
      log(`naive: saved at ${fmtN(n)}: ${fmtBytes(bytes.length)}`);
    }
    if (n > small && n < target && options.naiveN === null && writeMs - smallMs > 1.5 * options.naiveBudgetS * 1000) {
      // Slower than predicted (a busy machine): stop at the last size saved rather than overrun the budget.
      large = Math.max(...saved.keys());
      log(`naive: writing passed 1.5 times the budget; stopping, larger size is ${fmtN(large)}`);
      break;
    }
  }
  const naiveActualS = (saved.get(large)!.point.writeMs - saved.get(small)!.point.writeMs) / 1000;
  const naiveRuns = unique([small, large]).map((n) => saved.get(n)!);

  // 2. Federa, one signed record per change, through the ledger API.
  // Every device holds every record in memory here, so the one-per-change run stops at 50,000 at most.
  const sizesEach = unique([small, large]).filter((n) => n === small || n <= 50_000 * scale);
  log(`federa: one signed record per change (council.ledger.*), to ${sizesEach.map(fmtN).join(" and ")}`);
  const each = await federaRun(cast, stream, {
    sizes: sizesEach,
    perChange: 1,
    device: (n) => stream[n]!.writer,
    live: cast.writers.length,
    log,
    label: "federa one-per-change",
  });

  // 3. Federa, batched: `council.write` with `batch` acts per change, only the last signed.
  const sizesBatched = unique([small, large, full]);
  log(`federa: ${fmtN(batch)} acts per change (council.write), to ${sizesBatched.map(fmtN).join(", ")}`);
  // Five devices of five members (one a second device) take turns batch by batch: each holds the whole council in
  // memory and reads every batch the others write, so more of them would only lengthen the untimed catch-up.
  const batchDevices = [0, 5, 10, 15, 21].map((w) => w % cast.writers.length);
  const batched = await federaRun(cast, stream, {
    sizes: sizesBatched,
    perChange: batch,
    device: (n) => batchDevices[(n / batch) % batchDevices.length]!,
    live: 5,
    log,
    label: "federa batched",
  });

  // 4. Loading to derived state, size by size, the systems taking turns so that other work on the machine weighs
  // on each alike; best of three. Then one append at N.
  const naiveLoad = (bytes: Uint8Array, n: number): Spent => {
    const stop = stopwatch();
    const state = naiveDerive(NaiveWriter.load(bytes).doc);
    const spent = stop();
    if (state.records !== n) throw new Error(`naive load found ${state.records} records, expected ${n}`);
    return spent;
  };
  const federa = [
    { label: "one-per-change", run: each },
    { label: "batched", run: batched },
  ] as const;
  log("loading: one untimed load of each system first");
  naiveLoad(naiveRuns[0]!.bytes, naiveRuns[0]!.point.n);
  for (const { run } of federa) await loadToState(run.points[0]!.bytes, run.points[0]!.records);
  for (const n of unique([
    ...naiveRuns.map((r) => r.point.n),
    ...federa.flatMap((f) => f.run.points.map((p) => p.point.n)),
  ])) {
    const nv = naiveRuns.find((r) => r.point.n === n);
    const fs = federa.flatMap((f) =>
      f.run.points.filter((p) => p.point.n === n).map((p) => ({ ...p, label: f.label })),
    );
    const naiveTimes: Spent[] = [];
    const cold = fs.map((): Spent[] => []);
    const warm = fs.map((): Spent[] => []);
    const caches: (Uint8Array | undefined)[] = fs.map(() => undefined);
    for (let r = 0; r < 3; r++) {
      if (nv) naiveTimes.push(naiveLoad(nv.bytes, n));
      for (const [i, f] of fs.entries()) {
        const loaded = await loadToState(f.bytes, f.records);
        cold[i]!.push(loaded.spent);
        caches[i] ??= loaded.verified.toBytes();
      }
      for (const [i, f] of fs.entries()) warm[i]!.push((await loadToState(f.bytes, f.records, caches[i])).spent);
    }
    if (nv) {
      const p = nv.point;
      const load = best(naiveTimes);
      p.loadMs = load.wall;
      p.loadCpuMs = load.cpu;
      const writer = NaiveWriter.load(nv.bytes);
      const appends: number[] = [];
      for (let i = 0; i < appendSamples + 20; i++) {
        const dt = writer.write(naiveRecord(stream[i]!, cast)).wall;
        if (i >= 20) appends.push(dt);
      }
      p.appendMs = median(appends);
      p.appendP90Ms = quantile(appends, 0.9);
      log(`naive at ${fmtN(n)}: load to derived state ${fmtMs(p.loadMs)}, append ${fmtMs(p.appendMs)}`);
    }
    for (const [i, f] of fs.entries()) {
      const point = f.point;
      const c = best(cold[i]!);
      const w = best(warm[i]!);
      point.loadMs = c.wall;
      point.loadCpuMs = c.cpu;
      point.loadWarmMs = w.wall;
      point.loadWarmCpuMs = w.cpu;
      point.append = await appendCost(f.bytes, f.records, caches[i]!, cast, appendSamples);
      point.appendMs = point.append.totalMs;
      point.appendP90Ms = point.append.totalP90Ms;
      log(
        `federa ${f.label} at ${fmtN(n)}: load cold ${fmtMs(point.loadMs)}, warm ${fmtMs(point.loadWarmMs)}, ` +
          `append ${fmtMs(point.appendMs)} (fold only ${fmtMs(point.append.foldMs)})`,
      );
    }
  }

  return {
    sizes: { small, large, full, batch, appendSamples },
    cast: { members: MEMBERS, devices: MEMBERS + SECOND_DEVICES, setupRecords: each.setupRecords },
    naivePick: {
      budgetS: options.naiveBudgetS,
      forced: options.naiveN !== null,
      fit,
      predictedS,
      actualS: naiveActualS,
    },
    naive: naiveRuns.map((r) => r.point),
    each: each.points.map((p) => p.point),
    batched: batched.points.map((p) => p.point),
    totalS: (performance.now() - t0) / 1000,
  };
}

interface Run {
  readonly setupRecords: number;
  readonly points: { point: Point; bytes: { council: Uint8Array; ledger: Uint8Array }; records: number }[];
}

interface RunPlan {
  /** Sizes at which the documents are saved; the run ends at the largest. */
  readonly sizes: readonly number[];
  readonly perChange: number;
  /** The writing device of the change that starts at record `n`. */
  readonly device: (n: number) => number;
  /** How many devices stay open at once (the least recently used is closed, and reopened when its turn comes). */
  readonly live: number;
  readonly log: (line: string) => void;
  readonly label: string;
}

/**
 * Writes the stream through Federa, `perChange` records per change, saving the documents at each size. Before each
 * timed write the writing device reads what the others wrote (the untimed catch-up).
 */
async function federaRun(cast: Cast, stream: readonly Payload[], plan: RunPlan): Promise<Run> {
  const bench: BenchCouncil = await foundBenchCouncil(cast, steppingClock(START_MS - 3_600_000));
  const open = new Map<number, Council>();
  const end = Math.max(...plan.sizes);
  const step = end / 10;
  const points: Run["points"] = [];
  const recent: number[] = [];
  let writeMs = 0;
  let writeCpuMs = 0;
  let catchupMs = 0;
  let n = 0;
  while (n < end) {
    const c0 = performance.now();
    const w = plan.device(n);
    let council = open.get(w);
    if (council === undefined) {
      council = await bench.open(w);
      if (open.size >= plan.live) open.delete(open.keys().next().value!);
    }
    open.delete(w);
    open.set(w, council);
    await council.refresh();
    let write: Promise<unknown>;
    const w0 = performance.now();
    const stop = stopwatch();
    if (plan.perChange === 1) write = writeOne(council, stream[n]!, cast);
    else {
      const member = cast.writers[w]!.member;
      write = council.write(stream.slice(n, n + plan.perChange).map((p) => actOf(p, member, cast)));
    }
    await write;
    const spent = stop();
    const w1 = w0 + spent.wall;
    writeCpuMs += spent.cpu;
    catchupMs += w0 - c0;
    writeMs += w1 - w0;
    recent.push(w1 - w0);
    if (recent.length > 50) recent.shift();
    const before = n;
    n += plan.perChange;
    if (Math.floor(n / step) > Math.floor(before / step)) {
      plan.log(
        `${plan.label}: ${fmtN(n)} / ${fmtN(end)} records, ${(writeMs / 1000).toFixed(1)} s writing, ` +
          `${(catchupMs / 1000).toFixed(1)} s catching up, last change ${fmtMs(w1 - w0)}`,
      );
    }
    if (plan.sizes.includes(n)) {
      const bytes = saveBoth(bench.sources);
      const size = bytes.council.length + bytes.ledger.length;
      const stored = meanStoredRecord(bench.sources.ledger);
      const point: Point = { n, writeMs, writeCpuMs, catchupMs, bytes: size, storedRecordBytes: stored };
      if (plan.perChange === 1) point.inSessionMs = median(recent);
      points.push({ point, bytes, records: n + bench.setupRecords });
      plan.log(`${plan.label}: saved at ${fmtN(n)}: ${fmtBytes(size)} (council ${fmtBytes(bytes.council.length)})`);
    }
  }
  return { setupRecords: bench.setupRecords, points };
}

function unique(sizes: number[]): number[] {
  return [...new Set(sizes)].sort((a, b) => a - b);
}

/**
 * Fits the total writing time T(n) = a n + b n^2 / 2 (a change costs a + b n when n records are held) to cumulative
 * points by least squares, with a and b kept non-negative.
 */
function fitGrowth(points: readonly [number, number][]): { a: number; b: number } {
  let s11 = 0;
  let s12 = 0;
  let s22 = 0;
  let s1t = 0;
  let s2t = 0;
  for (const [n, t] of points) {
    const x2 = (n * n) / 2;
    s11 += n * n;
    s12 += n * x2;
    s22 += x2 * x2;
    s1t += n * t;
    s2t += x2 * t;
  }
  const det = s11 * s22 - s12 * s12;
  let a = det === 0 ? 0 : (s1t * s22 - s2t * s12) / det;
  let b = det === 0 ? 0 : (s11 * s2t - s12 * s1t) / det;
  if (b < 0) {
    b = 0;
    a = s1t / s11;
  } else if (a < 0) {
    a = 0;
    b = s2t / s22;
  }
  return { a, b };
}

function fmtMs(ms: number | undefined): string {
  if (ms === undefined) return "—";
  if (ms >= 1000) return `${(ms / 1000).toFixed(ms >= 100_000 ? 0 : 1)} s`;
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  if (ms >= 1) return `${ms.toFixed(2)} ms`;
  return `${ms.toFixed(3)} ms`;
}

function fmtBytes(bytes: number | undefined): string {
  if (bytes === undefined) return "—";
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(2)} MB` : `${(bytes / 1e3).toFixed(0)} kB`;
}

function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || b === 0) return "—";
  return `${(a / b).toFixed(a / b >= 10 ? 0 : 2)}×`;
}

/** The report: the comparison table, where an append's time goes, and which aims the run met. */
export function formatCoreReport(r: CoreBenchResult, machine: Machine): string {
  const lines: string[] = [];
  const sizes = unique([...r.naive, ...r.each, ...r.batched].map((p) => p.n));
  const at = (points: Point[], n: number) => points.find((p) => p.n === n);
  const write = (p: Point | undefined) =>
    p === undefined ? "—" : `${fmtMs(p.writeMs)} (${(p.writeMs / p.n).toFixed(2)} ms/record)`;
  const { small, large, full, batch } = r.sizes;
  const pick = r.naivePick;
  const why = pick.forced
    ? "forced by --naive-n"
    : `the largest candidate whose writing beyond ${fmtN(small)} was predicted to fit ${pick.budgetS} s`;
  const header =
    "| N | measure | naive | Federa, 1 record per change | ratio | " +
    `Federa, ${fmtN(batch)} records per change | ratio |`;
  lines.push(
    `Machine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.platform}, ${machine.date}; ` +
      `load average ${machine.load}`,
    `Workload: ${r.cast.members} members, ${r.cast.devices} writing devices, ${r.cast.setupRecords} setup records ` +
      "(genesis, device authorisations, two funds) besides the N ledger records; ~55% donations, ~30% petty " +
      "expenses, ~15% time swaps.",
    large > small
      ? `Naive larger size: ${fmtN(large)} records (${why}, from the growth measured over the first ` +
          `${fmtN(small)}: predicted ${pick.predictedS.toFixed(0)} s, took ${pick.actualS.toFixed(0)} s); ` +
          `the naive layout is not run at ${fmtN(full)}.`
      : `Naive larger size: none (no candidate above ${fmtN(small)} was predicted to fit ${pick.budgetS} s ` +
          `of writing beyond it); the naive layout is run at ${fmtN(small)} only.`,
    "",
    header,
    "|---:|---|---:|---:|---:|---:|---:|",
  );
  for (const n of sizes) {
    const nv = at(r.naive, n);
    const ea = at(r.each, n);
    const ba = at(r.batched, n);
    const row = (measure: string, naive: string, e: string, er: string, b: string, br: string) =>
      lines.push(`| ${fmtN(n)} | ${measure} | ${naive} | ${e} | ${er} | ${b} | ${br} |`);
    row("write", write(nv), write(ea), ratio(ea?.writeMs, nv?.writeMs), write(ba), ratio(ba?.writeMs, nv?.writeMs));
    row(
      "document bytes",
      fmtBytes(nv?.bytes),
      fmtBytes(ea?.bytes),
      ratio(ea?.bytes, nv?.bytes),
      fmtBytes(ba?.bytes),
      ratio(ba?.bytes, nv?.bytes),
    );
    row(
      "load to derived state, cold",
      fmtMs(nv?.loadMs),
      fmtMs(ea?.loadMs),
      ratio(ea?.loadMs, nv?.loadMs),
      fmtMs(ba?.loadMs),
      ratio(ba?.loadMs, nv?.loadMs),
    );
    row(
      "load to derived state, warm",
      fmtMs(nv?.loadMs),
      fmtMs(ea?.loadWarmMs),
      ratio(ea?.loadWarmMs, nv?.loadMs),
      fmtMs(ba?.loadWarmMs),
      ratio(ba?.loadWarmMs, nv?.loadMs),
    );
    row(
      "one record per change at N, while writing",
      fmtMs(nv?.inSessionMs),
      fmtMs(ea?.inSessionMs),
      ratio(ea?.inSessionMs, nv?.inSessionMs),
      "—",
      "—",
    );
    row(
      "append one record at N, after loading (median)",
      fmtMs(nv?.appendMs),
      fmtMs(ea?.appendMs),
      ratio(ea?.appendMs, nv?.appendMs),
      fmtMs(ba?.appendMs),
      ratio(ba?.appendMs, nv?.appendMs),
    );
    row(
      "same, 90th percentile",
      fmtMs(nv?.appendP90Ms),
      fmtMs(ea?.appendP90Ms),
      ratio(ea?.appendP90Ms, nv?.appendP90Ms),
      fmtMs(ba?.appendP90Ms),
      ratio(ba?.appendP90Ms, nv?.appendP90Ms),
    );
  }
  lines.push(
    "",
    "The same phases in CPU time (every thread of the process, so signature checks on the crypto threads count; " +
      "other programs on the machine barely move it):",
    "",
    header,
    "|---:|---|---:|---:|---:|---:|---:|",
  );
  for (const n of sizes) {
    const nv = at(r.naive, n);
    const ea = at(r.each, n);
    const ba = at(r.batched, n);
    const row = (measure: string, of: (p: Point) => number | undefined, naiveOf = of) => {
      const base = nv && naiveOf(nv);
      const e = ea && of(ea);
      const b = ba && of(ba);
      const cells = [fmtN(n), measure, fmtMs(base), fmtMs(e), ratio(e, base), fmtMs(b), ratio(b, base)];
      lines.push(`| ${cells.join(" | ")} |`);
    };
    row("write", (p) => p.writeCpuMs);
    row("load to derived state, cold", (p) => p.loadCpuMs);
    row(
      "load to derived state, warm",
      (p) => p.loadWarmCpuMs,
      (p) => p.loadCpuMs,
    );
  }
  lines.push(
    "",
    "Where one Federa append goes (medians; the document was loaded from bytes with a warm verified cache):",
    "",
    "| N | written as | donate + current() | donate | current() | fold only | Automerge change only |",
    "|---:|---|---:|---:|---:|---:|---:|",
  );
  for (const [label, points] of [
    ["1 per change", r.each],
    [`${fmtN(r.sizes.batch)} per change`, r.batched],
  ] as const) {
    for (const p of points) {
      const a = p.append;
      if (a === undefined) continue;
      const cells = [fmtN(p.n), label, ...[a.totalMs, a.writeMs, a.viewMs, a.foldMs, a.automergeMs].map(fmtMs)];
      lines.push(`| ${cells.join(" | ")} |`);
    }
  }
  lines.push("", "Mean stored ledger record (flag byte, 64-byte signature when signed, canonical CBOR payload):");
  for (const [label, points] of [
    ["1 per change", r.each],
    [`${fmtN(r.sizes.batch)} per change`, r.batched],
  ] as const) {
    for (const p of points) lines.push(`- ${label}, N = ${fmtN(p.n)}: ${p.storedRecordBytes?.toFixed(0)} bytes`);
  }
  lines.push(
    "",
    "Catch-up of the other simulated devices (untimed in the write column, each device reads every record):",
  );
  for (const [label, points] of [
    ["1 per change", r.each],
    [`${fmtN(r.sizes.batch)} per change`, r.batched],
  ] as const) {
    for (const p of points) lines.push(`- ${label}, N = ${fmtN(p.n)}: ${fmtMs(p.catchupMs)}`);
  }
  lines.push("", "Aims:");
  const verdict = (ok: boolean) => (ok ? "met" : "NOT met");
  for (const n of sizes) {
    const nv = at(r.naive, n);
    if (nv === undefined) continue;
    for (const [label, p] of [
      ["1 per change", at(r.each, n)],
      [`${fmtN(r.sizes.batch)} per change`, at(r.batched, n)],
    ] as const) {
      if (p === undefined) continue;
      // A verdict needs wall-clock and CPU time to agree; "mixed" means a busy machine decided it.
      const judge = (a: number | undefined, b: number | undefined, ac: number | undefined, bc: number | undefined) => {
        const wall = a! <= b!;
        const cpu = ac! <= bc!;
        const word = wall && cpu ? "met" : !wall && !cpu ? "NOT met" : "mixed";
        return `${word} (${ratio(a, b)} wall, ${ratio(ac, bc)} CPU)`;
      };
      lines.push(
        `- N = ${fmtN(n)}, ${label}: faster writes ${judge(p.writeMs, nv.writeMs, p.writeCpuMs, nv.writeCpuMs)}; ` +
          `no more bytes ${verdict(p.bytes <= nv.bytes)} (${ratio(p.bytes, nv.bytes)}); ` +
          `load no slower, cold ${judge(p.loadMs, nv.loadMs, p.loadCpuMs, nv.loadCpuMs)}, ` +
          `warm ${judge(p.loadWarmMs, nv.loadMs, p.loadWarmCpuMs, nv.loadCpuMs)}`,
      );
    }
  }
  const top = at(r.batched, r.sizes.full);
  if (top?.append) {
    lines.push(
      `- append at N = ${fmtN(r.sizes.full)} under 1 ms: ${verdict(top.append.totalMs < 1)} ` +
        `(${fmtMs(top.append.totalMs)} for donate + current(); ${fmtMs(top.append.writeMs)} for donate alone)`,
    );
  }
  lines.push("", `Total run: ${(r.totalS / 60).toFixed(1)} min.`);
  return lines.join("\n");
}

/**
 * `./dev bench soak`: does a long-running node's memory stay flat while peers come and go? One stable node process
 * runs throughout; each cycle, C churning devices start as fresh processes from their own storage on disk (a phone
 * app restarted), dial the stable node, append R records each and stop once the stable node holds every record, while
 * the stable node appends a few of its own. After each cycle the stable node collects garbage and reports its heap,
 * RSS, connections and the sizes of the internal collections it can reach cheaply.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportIdentity } from "@federa/core";
import type { Machine } from "../../core/bench/core-bench.js";
import { federaGenesis, logger, Worker } from "./net-bench.js";
import type { Event, HeapReport } from "./protocol.js";
import { round } from "./protocol.js";
import { diffHeapSnapshots, type HeapGrowth, summariseHeapSnapshot } from "./soak-heap.js";

/** How a churning device leaves: it stops its node (closing connections, flushing storage), or is killed. */
export type Exit = "stop" | "kill";

export interface SoakOptions {
  readonly cycles: number;
  readonly churners: number;
  /** Records each churning device appends per cycle. */
  readonly records: number;
  /** Records the stable node appends per cycle. */
  readonly stableRecords: number;
  readonly exit: Exit;
  /** How long the churning devices stay once the stable node holds every record, before they leave (ms). */
  readonly lingerMs: number;
  /** Seconds a cycle may take for the stable node to hold every record. */
  readonly capS: number;
  /**
   * Heap snapshots of the stable node after the middle and the last cycle, compared by constructor: `null` for none,
   * `""` in a temporary directory removed afterwards, else the directory they are kept in.
   */
  readonly snapshots: string | null;
}

/** The stable node's memory after garbage collection, and its internal collections. */
export type HeapSample = HeapReport;

export interface SoakCycle extends HeapSample {
  readonly cycle: number;
  /** Records the stable node should hold by the end of the cycle. */
  readonly expected: number;
  /** From spawning the churning processes until every one had opened its council (from disk after the first cycle). */
  readonly startMs: number;
  /** From their dials until the stable node held every record; null when it did not within the cap. */
  readonly syncMs: number | null;
  /** The whole cycle: start, sync, the churning devices gone. */
  readonly cycleMs: number;
}

/** Least-squares slopes over the second half of the cycles, per cycle. */
export interface Growth {
  readonly fromCycle: number;
  readonly toCycle: number;
  readonly heapKbPerCycle: number;
  readonly rssKbPerCycle: number;
  readonly externalKbPerCycle: number;
}

export interface SoakBenchResult {
  readonly options: SoakOptions;
  /** Records every node holds before the first cycle (genesis, device authorisations, the fund). */
  readonly setupRecords: number;
  /** The stable node once started, before the first cycle. */
  readonly baseline: HeapSample;
  readonly rows: readonly SoakCycle[];
  /** Null with fewer than three cycles (the second half has fewer than two). */
  readonly growth: Growth | null;
  /** Whether the stable node held every record after every cycle. */
  readonly heldEvery: boolean;
  /** What grew between the snapshots after the middle and the last cycle, when taken. */
  readonly heapGrowth?: HeapGrowth;
  /** Why the run stopped early, when it did. */
  readonly failure?: string;
  readonly totalS: number;
}

const USAGE =
  "options: --cycles=N (30), --churners=N (3), --records=N (20), --stable-records=N (3), --exit=stop|kill, " +
  "--linger=MS (0), --cap=SECONDS (60), --snapshots[=DIR]";

/** Reads the options listed in `USAGE`. */
export function parseSoakArgs(args: readonly string[]): SoakOptions {
  const options = {
    cycles: 30,
    churners: 3,
    records: 20,
    stableRecords: 3,
    exit: "stop" as Exit,
    lingerMs: 0,
    capS: 60,
    snapshots: null as string | null,
  };
  const whole = (key: string, value: string | undefined, min: number) => {
    const n = Number(value);
    if (value === undefined || !Number.isInteger(n) || n < min)
      throw new Error(`${key} takes a whole number, ${min} or more`);
    return n;
  };
  for (const arg of args) {
    const [key, value] = arg.split("=", 2) as [string, string | undefined];
    if (key === "--cycles") options.cycles = whole(key, value, 1);
    else if (key === "--churners") options.churners = whole(key, value, 0);
    else if (key === "--records") options.records = whole(key, value, 0);
    else if (key === "--stable-records") options.stableRecords = whole(key, value, 0);
    else if (key === "--cap") options.capS = whole(key, value, 1);
    else if (key === "--linger") options.lingerMs = whole(key, value, 0);
    else if (key === "--exit" && (value === "stop" || value === "kill")) options.exit = value;
    else if (key === "--snapshots") options.snapshots = value ?? "";
    else throw new Error(`unknown option ${arg} (${USAGE})`);
  }
  return options;
}

/** The slope of `ys` against `xs` by least squares; null for fewer than two points. */
export function slope(xs: readonly number[], ys: readonly number[]): number | null {
  if (xs.length < 2) return null;
  const mx = xs.reduce((s, x) => s + x, 0) / xs.length;
  const my = ys.reduce((s, y) => s + y, 0) / ys.length;
  let num = 0;
  let den = 0;
  for (const [i, x] of xs.entries()) {
    num += (x - mx) * (ys[i]! - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? null : num / den;
}

/** Growth per cycle over the second half of the cycles, leaving out the warm-up of the first (compiling, caches). */
export function growthOf(rows: readonly SoakCycle[]): Growth | null {
  const half = rows.slice(Math.floor(rows.length / 2));
  const xs = half.map((r) => r.cycle);
  const kb = (pick: (r: SoakCycle) => number) => {
    const s = slope(
      xs,
      half.map((r) => pick(r) * 1_024),
    );
    return s === null ? null : round(s);
  };
  const heap = kb((r) => r.heapUsedMb);
  const rss = kb((r) => r.rssMb);
  const external = kb((r) => r.externalMb);
  if (heap === null || rss === null || external === null) return null;
  return {
    fromCycle: half[0]!.cycle,
    toCycle: half[half.length - 1]!.cycle,
    heapKbPerCycle: heap,
    rssKbPerCycle: rss,
    externalKbPerCycle: external,
  };
}

function sample(event: Extract<Event, { ev: "heap" }>): HeapSample {
  if (!event.gc) throw new Error("the stable node has no global.gc(): it must run with --expose-gc");
  const { heapUsedMb, heapTotalMb, externalMb, arrayBuffersMb, rssMb, records, sizes, counters } = event;
  return { heapUsedMb, heapTotalMb, externalMb, arrayBuffersMb, rssMb, records, sizes, counters };
}

/** Runs the benchmark; `log` receives a progress line per cycle. */
export async function runSoakBench(args: readonly string[], log = logger()): Promise<SoakBenchResult> {
  const options = parseSoakArgs(args);
  const t0 = performance.now();
  const { cycles, churners, records, stableRecords, capS } = options;
  log(
    `${cycles} cycles of ${devices(churners)}, each starting from its storage, dialling the stable node, appending ` +
      `${records} records and ${leaving(options)}; the stable node appends ${stableRecords}`,
  );
  const genesis = await federaGenesis(1 + churners);
  const root = mkdtempSync(join(tmpdir(), "federa-bench-soak-"));
  const snapshotDir = options.snapshots === null ? null : options.snapshots || join(root, "snapshots");
  if (snapshotDir !== null) mkdirSync(snapshotDir, { recursive: true });
  const dirOf = (index: number) => join(root, `node-${index}`);
  const init = (index: number, restart: boolean) =>
    ({
      cmd: "init",
      mode: "federa",
      index,
      identity: exportIdentity(genesis.identities[index]!),
      council: genesis.council,
      ledger: genesis.ledger,
      storageDir: dirOf(index),
      restart,
    }) as const;
  const stable = new Worker("stable node", ["--expose-gc"]);
  const rows: SoakCycle[] = [];
  let live: Worker[] = [];
  let failure: string | undefined;
  let heapGrowth: HeapGrowth | undefined;
  const snapshots: { cycle: number; path: string }[] = [];
  try {
    stable.send(init(0, false));
    const address = (await stable.next("ready")).addresses!.find((a) => a.includes("/tcp/") && !a.includes("/ws"))!;
    stable.send({ cmd: "heap" });
    const baseline = sample(await stable.next("heap"));
    log(`stable node started: heap ${baseline.heapUsedMb.toFixed(1)} MB after gc, RSS ${baseline.rssMb.toFixed(0)} MB`);
    const perCycle = churners * records + stableRecords;
    for (let cycle = 1; cycle <= cycles; cycle++) {
      const c0 = performance.now();
      live = Array.from({ length: churners }, (_, j) => new Worker(`device ${j + 1}, cycle ${cycle}`));
      for (const [j, w] of live.entries()) w.send(init(j + 1, cycle > 1));
      await Promise.all(live.map((w) => w.next("ready")));
      const startMs = performance.now() - c0;
      const s0 = performance.now();
      stable.send({ cmd: "write", k: stableRecords });
      for (const w of live) {
        // A worker runs its commands in order: it appends once its dial is done, and syncs as it appends.
        w.send({ cmd: "heal", peers: [address] });
        w.send({ cmd: "write", k: records });
      }
      await Promise.all([stable, ...live].map((w) => w.next("written")));
      const expected = genesis.setupRecords + cycle * perCycle;
      stable.send({ cmd: "hold", target: expected, capMs: capS * 1_000 });
      const held = await stable.next("held");
      const syncMs = held.reached ? performance.now() - s0 : null;
      if (options.lingerMs > 0) await new Promise((resolve) => setTimeout(resolve, options.lingerMs));
      await Promise.all(live.map((w) => leave(w, options.exit)));
      live = [];
      stable.send({ cmd: "heap" });
      const heap = sample(await stable.next("heap"));
      if (syncMs === null) {
        const reasons = Object.entries(heap.sizes)
          .filter(([key]) => key.startsWith("excluded: "))
          .map(([key, n]) => `${n} ${key.slice("excluded: ".length)}`);
        failure =
          `cycle ${cycle}: the stable node held ${heap.records} of ${expected} records after ${capS} s ` +
          `(${heap.sizes["records excluded"] ?? 0} excluded${reasons.length > 0 ? `: ${reasons.join(", ")}` : ""})`;
        log(failure);
        break;
      }
      const row: SoakCycle = {
        cycle,
        expected,
        startMs: round(startMs),
        syncMs: round(syncMs),
        cycleMs: round(performance.now() - c0),
        ...heap,
      };
      rows.push(row);
      log(
        `cycle ${cycle}/${cycles}: heap ${heap.heapUsedMb.toFixed(1)} MB after gc, RSS ${heap.rssMb.toFixed(0)} MB, ` +
          `${heap.sizes["libp2p connections"] ?? 0} connections, ${heap.records}/${expected} records, ` +
          `cycle ${(row.cycleMs / 1_000).toFixed(2)} s (start ${(row.startMs / 1_000).toFixed(2)} s, ` +
          `sync ${(syncMs / 1_000).toFixed(2)} s)`,
      );
      if (snapshotDir !== null && (cycle === Math.ceil(cycles / 2) || cycle === cycles) && cycles > 1) {
        stable.send({ cmd: "snapshot", path: join(snapshotDir, `stable-cycle-${cycle}.heapsnapshot`) });
        const { path } = await stable.next("snapshot");
        snapshots.push({ cycle, path });
        log(`heap snapshot after cycle ${cycle}: ${path}`);
      }
    }
    const [from, to] = snapshots;
    if (from !== undefined && to !== undefined) {
      heapGrowth = diffHeapSnapshots(
        { cycle: from.cycle, ...summariseHeapSnapshot(from.path) },
        { cycle: to.cycle, ...summariseHeapSnapshot(to.path) },
      );
    }
    return {
      options,
      setupRecords: genesis.setupRecords,
      baseline,
      rows,
      growth: growthOf(rows),
      heldEvery: failure === undefined && rows.every((r) => r.records >= r.expected),
      ...(heapGrowth ? { heapGrowth } : {}),
      ...(failure ? { failure } : {}),
      totalS: round((performance.now() - t0) / 1_000),
    };
  } finally {
    await Promise.all([stable, ...live].map((w) => w.stop()));
    rmSync(root, { recursive: true, force: true });
  }
}

/** A churning device leaves: its node stops (the worker exits once it has), or its process is killed at once. */
async function leave(w: Worker, exit: Exit): Promise<void> {
  if (exit === "stop") return w.stop();
  if (w.child.exitCode !== null || w.child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => w.child.once("exit", () => resolve()));
  w.child.kill("SIGKILL");
  await exited;
}

/** "1 device" or "N devices", for progress lines, the report and the chart. */
export function devices(n: number): string {
  return n === 1 ? "1 device" : `${n} devices`;
}

/** How the devices leave, in words. */
function leaving(o: SoakOptions): string {
  const when = o.lingerMs > 0 ? `${o.lingerMs} ms after` : "as soon as";
  return `${o.exit === "kill" ? "killed" : "stopping"} ${when} the stable node holds every record`;
}

function fmtMb(mb: number): string {
  return `${mb.toFixed(1)} MB`;
}

function fmtKb(kb: number): string {
  return `${kb >= 0 ? "+" : ""}${kb.toFixed(Math.abs(kb) < 10 ? 1 : 0)} kB`;
}

function fmtS(ms: number | null): string {
  return ms === null ? "—" : `${(ms / 1_000).toFixed(2)} s`;
}

/** The cycles shown in the table: the first, the middle and the last (each once). */
export function shownCycles(rows: readonly SoakCycle[]): SoakCycle[] {
  const picks = [0, Math.floor((rows.length - 1) / 2), rows.length - 1];
  return [...new Set(picks)].map((i) => rows[i]).filter((r): r is SoakCycle => r !== undefined);
}

/** The report: the stable node at start, first, middle and last cycle, the growth per cycle and the sizes seen. */
export function formatSoakReport(r: SoakBenchResult, machine: Machine): string {
  const o = r.options;
  const lines = [
    `Machine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.platform}, ${machine.date}; ` +
      `load average ${machine.load}. ${r.rows.length} of ${o.cycles} cycles, ${devices(o.churners)} churning, ` +
      `appending ${o.records} records each per cycle and ${leaving(o)}, the stable ` +
      `node ${o.stableRecords}, in ${r.totalS.toFixed(0)} s.`,
    "",
    "| after cycle | heap used after GC | heap total | external | RSS | connections | streams | records held | " +
      "cycle time | of which start / sync |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  const base = r.baseline;
  lines.push(
    `| start | ${fmtMb(base.heapUsedMb)} | ${fmtMb(base.heapTotalMb)} | ${fmtMb(base.externalMb)} | ` +
      `${fmtMb(base.rssMb)} | ${base.sizes["libp2p connections"] ?? "—"} | ${base.sizes["libp2p streams"] ?? "—"} | ` +
      `${base.records} | — | — |`,
  );
  for (const row of shownCycles(r.rows)) {
    lines.push(
      `| ${row.cycle} | ${fmtMb(row.heapUsedMb)} | ${fmtMb(row.heapTotalMb)} | ${fmtMb(row.externalMb)} | ` +
        `${fmtMb(row.rssMb)} | ${row.sizes["libp2p connections"] ?? "—"} | ${row.sizes["libp2p streams"] ?? "—"} | ` +
        `${row.records} / ${row.expected} | ${fmtS(row.cycleMs)} | ${fmtS(row.startMs)} / ${fmtS(row.syncMs)} |`,
    );
  }
  lines.push("");
  if (r.growth === null) lines.push("Growth per cycle: too few cycles (the second half needs two or more).");
  else {
    const g = r.growth;
    lines.push(
      `Growth per cycle over cycles ${g.fromCycle} to ${g.toCycle} (least squares): heap used after GC ` +
        `${fmtKb(g.heapKbPerCycle)}, RSS ${fmtKb(g.rssKbPerCycle)}, external ${fmtKb(g.externalKbPerCycle)}.`,
    );
  }
  lines.push(
    r.heldEvery
      ? `The stable node held every record after every cycle (${r.rows.at(-1)?.records ?? base.records} at the end).`
      : `The stable node did NOT hold every record: ${r.failure ?? "see the table"}.`,
  );
  const first = r.rows[0];
  const last = r.rows.at(-1);
  if (first !== undefined && last !== undefined) {
    lines.push("", "| internal collection | start | first cycle | last cycle |", "|---|---:|---:|---:|");
    for (const key of Object.keys(last.sizes)) {
      lines.push(`| ${key} | ${base.sizes[key] ?? "—"} | ${first.sizes[key] ?? "—"} | ${last.sizes[key]} |`);
    }
    const events = Object.entries(last.counters).map(([what, n]) => `${what} ${n}`);
    if (events.length > 0) lines.push("", `Peer events on the stable node over the run: ${events.join(", ")}.`);
  }
  if (r.heapGrowth !== undefined) {
    const h = r.heapGrowth;
    lines.push(
      "",
      `Heap snapshots after cycles ${h.from.cycle} and ${h.to.cycle}: ${h.from.nodes} and ${h.to.nodes} objects, ` +
        `${fmtMb(h.from.bytes / 2 ** 20)} and ${fmtMb(h.to.bytes / 2 ** 20)}. What grew most, by constructor:`,
      "",
      "| constructor | objects then | objects now | more per cycle | bytes more |",
      "|---|---:|---:|---:|---:|",
    );
    for (const g of h.top) {
      lines.push(
        `| ${g.name.replaceAll("|", "\\|")} | ${g.countFrom} | ${g.countTo} | ${g.countPerCycle.toFixed(1)} | ` +
          `${fmtKb(g.bytesDelta / 1_024)} |`,
      );
    }
  }
  lines.push("", "Chart of heap and RSS per cycle: bench-results/soak.svg");
  return lines.join("\n");
}

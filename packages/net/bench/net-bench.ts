/**
 * `./dev bench net`: N node processes on loopback each append K records while partitioned, then heal; measures the
 * time until every node holds every record, the bytes and messages on the wire and the longest event-loop stall,
 * for Federa nodes (dialling each other in a full mesh, or bootstrapped in a tree) and for automerge-repo's stock
 * WebSocket hub with N clients, beside the floor: Automerge alone applying the same changes in one process.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import * as A from "@automerge/automerge";
import { generateAutomergeUrl, parseAutomergeUrl } from "@automerge/automerge-repo";
import type { CouncilDoc, DeviceId, Identity, LedgerDoc } from "@federa/core";
import { Council, createIdentity, exportIdentity, foundCouncil, PlainDocument } from "@federa/core";
import type { Machine } from "../../core/bench/core-bench.js";
import {
  addKinds,
  type Command,
  type DocBytes,
  type Event,
  fromBase64,
  round,
  type Stalls,
  toBase64,
  type Wire,
  wallClock,
} from "./protocol.js";
import type { HubDoc } from "./worker.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../../..");
const WORKER = join(dirname(fileURLToPath(import.meta.url)), "worker.ts");
/** Extra Node or V8 flags for every node process, to see what a runtime setting changes (`--single-threaded`, say). */
const NODE_FLAGS = (process.env.FEDERA_BENCH_NODE_FLAGS ?? "").split(" ").filter((flag) => flag !== "");

/** The systems compared: Federa nodes on a LAN (`mesh`: each told of every other, as mDNS does, dialling whom its sync
 * tree asks for), Federa nodes each bootstrapped from one earlier node (a tree of branching 4), and automerge-repo's
 * WebSocket hub with N clients. */
export type System = "mesh" | "tree" | "hub";

export const SYSTEMS: readonly System[] = ["mesh", "tree", "hub"];

/** Children per node in the `tree` topology: node i bootstraps from node floor((i - 1) / 4). */
export const TREE_BRANCHING = 4;

/** One meeting of the nodes: each appends K records while parted from the others, then they heal. */
export interface Meeting {
  /** Heal to the last node holding every record; null when some node did not within the cap, or the run failed. */
  readonly convergeMs: number | null;
  /** Nodes that held every record by the end. */
  readonly converged: number;
  /** Every automerge-repo message once (at its sender for Federa, at the hub in both directions for the hub). */
  readonly wire: Wire;
  /** Longest stall on any node (and on the hub server) from heal to the end, and where it happened. */
  readonly stalls: Stalls & { readonly busyWhere: string; readonly delayWhere: string };
  /** Longest stall on any node while appending offline. */
  readonly writeStalls: Stalls;
  /** Slowest node's offline appending. */
  readonly writeMs: number;
  /** Main-thread CPU from heal to the end, summed over processes. */
  readonly cpuMs: number;
  /** Whole-process CPU from heal to the end, summed over processes (signature checks run on the thread pool). */
  readonly processCpuMs: number;
  /** CPU from heal to the end by kind of thread (main, thread pool, V8 helpers, other), summed over processes. */
  readonly threadsCpuMs: Readonly<Record<string, number>>;
  readonly perNode: readonly {
    records: number;
    stalls: Stalls;
    sent: Wire;
    cpuMs: number;
    processCpuMs: number;
    threadsCpuMs: Readonly<Record<string, number>>;
    rssMb: number;
    /** Peer events from heal to the end. */
    counters: Readonly<Record<string, number>>;
  }[];
}

/** One system's run at one size: its first meeting (processes just started) and, when run, its second (warm). */
export interface SystemRun extends Meeting {
  readonly system: System;
  readonly nodes: number;
  readonly capS: number;
  /** Why the run stopped early (a node process failed), when it did. */
  readonly failure?: string;
  /** The same processes parted again after converging, each appending K more records, then healed again. */
  readonly again?: Meeting;
}

/** Automerge alone: the N*K changes applied to the genesis document in one process. */
export interface Floor {
  readonly changes: number;
  /** Summed bytes of the changes themselves. */
  readonly changeBytes: number;
  /** Median of three `A.applyChanges(genesis, allChanges)` calls. */
  readonly applyMs: number;
}

export interface NetRow {
  readonly n: number;
  readonly k: number;
  /** Records every Federa node holds before appending (genesis, device authorisations, the fund). */
  readonly setupRecords: number;
  /** The floor of the Federa workload (the ledger changes of the first Federa run), and of the hub's. */
  readonly federaFloor: Floor | null;
  readonly hubFloor: Floor | null;
  /** The second meeting's floors: its changes applied to the documents as the first meeting left them. */
  readonly federaFloorAgain: Floor | null;
  readonly hubFloorAgain: Floor | null;
  /** Federa's own work in one process: load the documents, apply every change, verify every signature, derive. */
  readonly federaDeriveMs: number | null;
  readonly runs: SystemRun[];
}

export interface NetBenchResult {
  readonly quick: boolean;
  readonly systems: readonly System[];
  readonly storage: Storage;
  readonly meetings: 1 | 2;
  /** Federa nodes sent large rounds of changes as Automerge bundles (`--no-bundle-changes`: not; unset: the default). */
  readonly bundleChanges: boolean | undefined;
  /** Federa nodes sent whole documents as the changes their peers lacked (`--trim-documents`). */
  readonly trimDocuments: boolean;
  readonly rows: NetRow[];
  readonly totalS: number;
}

interface Options {
  sizes: { n: number; k: number }[];
  quick: boolean;
  systems: System[];
  hubCapS: number;
  federaCapS: number;
  /** Where every process keeps its documents: in memory, or on disk as deployed nodes and sync servers do. */
  storage: Storage;
  /** 1: the processes meet once after starting; 2: they part, append K more each, and meet again. */
  meetings: 1 | 2;
  /** Federa nodes send large rounds of changes as Automerge bundles (`FederaNodeInit.bundleChanges`); unset: its default. */
  bundleChanges: boolean | undefined;
  /** Federa nodes send whole documents as the changes their peers lack (`FederaNodeInit.trimDocuments`). */
  trimDocuments: boolean;
}

export type Storage = "memory" | "disk";

const FULL = [
  { n: 4, k: 100 },
  { n: 4, k: 500 },
  { n: 8, k: 100 },
  { n: 16, k: 100 },
];

const USAGE =
  "options: --quick, --sizes=NxK,..., --systems=mesh,tree,hub, --meetings=1|2, --storage=memory|disk, " +
  "--hub-cap=SECONDS, --federa-cap=SECONDS, --bundle-changes, --no-bundle-changes, --trim-documents";

/** Reads the options listed in `USAGE`. */
export function parseNetArgs(args: readonly string[]): Options {
  const options: Options = {
    sizes: FULL,
    quick: false,
    systems: [...SYSTEMS],
    hubCapS: 180,
    federaCapS: 120,
    storage: "memory",
    meetings: 2,
    bundleChanges: undefined,
    trimDocuments: false,
  };
  for (const arg of args) {
    const [key, value] = arg.split("=", 2);
    if (key === "--quick") {
      options.quick = true;
      options.sizes = FULL.filter((s) => s.n === 4);
    } else if (key === "--hub-cap" && value !== undefined) options.hubCapS = Number(value);
    else if (key === "--federa-cap" && value !== undefined) options.federaCapS = Number(value);
    else if (key === "--storage" && (value === "memory" || value === "disk")) options.storage = value;
    else if (key === "--bundle-changes" && value === undefined) options.bundleChanges = true;
    else if (key === "--no-bundle-changes" && value === undefined) options.bundleChanges = false;
    else if (key === "--trim-documents" && value === undefined) options.trimDocuments = true;
    else if (key === "--meetings" && (value === "1" || value === "2")) options.meetings = Number(value) as 1 | 2;
    else if (key === "--systems" && value !== undefined) {
      options.systems = value.split(",").map((name) => {
        if (!SYSTEMS.includes(name as System)) throw new Error(`unknown system ${name} (${SYSTEMS.join(", ")})`);
        return name as System;
      });
    } else if (key === "--sizes" && value !== undefined) {
      options.sizes = value.split(",").map((s) => {
        const [n, k] = s.split("x").map(Number);
        if (!Number.isInteger(n) || !Number.isInteger(k) || n! < 2 || k! < 1) throw new Error(`bad size ${s}`);
        return { n: n!, k: k! };
      });
    } else throw new Error(`unknown option ${arg} (${USAGE})`);
  }
  return options;
}

/** Progress lines prefixed with the seconds elapsed since the logger was made. */
export function logger(): (line: string) => void {
  const start = performance.now();
  return (line) => console.log(`[${((performance.now() - start) / 1000).toFixed(1).padStart(6)} s] ${line}`);
}

/** A worker process and the events it sent, taken in order. */
export class Worker {
  readonly child: ChildProcess;
  readonly name: string;
  readonly #events: Event[] = [];
  #wake: (() => void) | undefined;
  #stderr: string[] = [];
  #exited = false;

  /** `flags`: Node or V8 flags for this process besides `FEDERA_BENCH_NODE_FLAGS` (`--expose-gc`, say). */
  constructor(name: string, flags: readonly string[] = []) {
    this.name = name;
    this.child = spawn(process.execPath, [...NODE_FLAGS, ...flags, "--import", "tsx", WORKER], {
      cwd: ROOT,
      stdio: ["pipe", "pipe", "pipe"],
    });
    createInterface({ input: this.child.stdout! }).on("line", (line) => {
      this.#events.push(JSON.parse(line) as Event);
      this.#wake?.();
    });
    this.child.stderr!.setEncoding("utf8").on("data", (d: string) => {
      if (process.env.FEDERA_BENCH_TRACE) process.stderr.write(d);
      this.#stderr.push(d);
      if (this.#stderr.length > 50) this.#stderr.shift();
    });
    this.child.on("exit", () => {
      this.#exited = true;
      this.#wake?.();
    });
  }

  send(command: Command): void {
    this.child.stdin!.write(`${JSON.stringify(command)}\n`);
  }

  /** The next event of type `ev`, skipping none: an error event or an exit throws. */
  async next<E extends Event["ev"]>(ev: E, deadline = Number.POSITIVE_INFINITY): Promise<Extract<Event, { ev: E }>> {
    for (;;) {
      const index = this.#events.findIndex((e) => e.ev === ev || e.ev === "error");
      if (index >= 0) {
        const [event] = this.#events.splice(index, 1);
        if (event!.ev === "error") throw new Error(`${this.name}: ${event!.message}`);
        return event as Extract<Event, { ev: E }>;
      }
      if (this.#exited) throw new Error(`${this.name} exited\n${this.#stderr.join("").slice(-2_000)}`);
      const wait = deadline - performance.now();
      if (wait <= 0) throw new TimeoutError(`${this.name}: no ${ev} in time`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(wait, 2_147_483_647));
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }

  async stop(): Promise<void> {
    if (this.#exited) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.send({ cmd: "stop" });
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

class TimeoutError extends Error {}

function newDocId(): string {
  return parseAutomergeUrl(generateAutomergeUrl()).documentId;
}

/** The shared council: every node's identity a founder with its device authorised, and the fund they donate to. */
export async function federaGenesis(n: number): Promise<{
  identities: Identity[];
  council: DocBytes;
  ledger: DocBytes;
  setupRecords: number;
}> {
  const identities: Identity[] = [];
  for (let i = 0; i < n; i++) identities.push(await createIdentity());
  const founded = await foundCouncil(identities[0]!, {
    name: "Bench co-op",
    founders: identities.map((id) => id.member),
  });
  const sources = { council: new PlainDocument(founded.council), ledger: new PlainDocument(founded.ledger) };
  for (const identity of identities.slice(1)) {
    const council = await Council.open(sources, { identity });
    await council.authorizeDevice(identity.device.id as DeviceId, "bench node");
  }
  const founder = await Council.open(sources, { identity: identities[0]! });
  await founder.ledger.createFund("general", "cash", "Donations");
  const setupRecords = (await founder.state()).records;
  const councilId = newDocId();
  const ledgerId = newDocId();
  sources.council.change((d) => {
    d.federa.ledger = `automerge:${ledgerId}`;
  });
  return {
    identities,
    council: { docId: councilId, bytes: toBase64(sources.council.save()) },
    ledger: { docId: ledgerId, bytes: toBase64(sources.ledger.save()) },
    setupRecords,
  };
}

/**
 * Median time of applying every change to the genesis document in one call, over three tries; with `before`, to the
 * genesis document after those earlier changes were applied (untimed; applied, not loaded from a save, as on a node).
 */
function floorOf<T>(
  genesis: Uint8Array,
  changes: readonly Uint8Array[],
  expect: (doc: A.Doc<T>) => boolean,
  before: readonly Uint8Array[] = [],
): Floor {
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const doc = before.length === 0 ? A.load<T>(genesis) : A.applyChanges(A.load<T>(genesis), [...before])[0];
    const t0 = performance.now();
    const [after] = A.applyChanges(doc, changes as Uint8Array[]);
    times.push(performance.now() - t0);
    if (!expect(after)) throw new Error("the floor's document is missing changes");
  }
  times.sort((a, b) => a - b);
  return {
    changes: changes.length,
    changeBytes: changes.reduce((sum, c) => sum + c.byteLength, 0),
    applyMs: round(times[1]!),
  };
}

function maxStalls(list: readonly { name: string; stalls: Stalls }[]) {
  let busy = { name: "", ms: -1 };
  let delay = { name: "", ms: -1 };
  for (const { name, stalls } of list) {
    if (stalls.maxBusyMs > busy.ms) busy = { name, ms: stalls.maxBusyMs };
    if (stalls.maxDelayMs > delay.ms) delay = { name, ms: stalls.maxDelayMs };
  }
  return { maxBusyMs: busy.ms, maxDelayMs: delay.ms, busyWhere: busy.name, delayWhere: delay.name };
}

/** Settling time after the last node converged, so trailing acknowledgements are on the wire before counting. */
const SETTLE_MS = 1_000;

interface Partition {
  readonly writeMs: number;
  readonly writeStalls: Stalls;
  readonly changes: Uint8Array[];
}

async function partitioned(workers: readonly Worker[], k: number): Promise<Partition> {
  for (const w of workers) w.send({ cmd: "write", k });
  const written = await Promise.all(workers.map((w) => w.next("written")));
  return {
    writeMs: Math.max(...written.map((w) => w.ms)),
    writeStalls: {
      maxBusyMs: Math.max(...written.map((w) => w.stalls.maxBusyMs)),
      maxDelayMs: Math.max(...written.map((w) => w.stalls.maxDelayMs)),
    },
    changes: written.flatMap((w) => w.changes.map(fromBase64)),
  };
}

/** Heals, waits for every node to hold `target` records (up to the cap), settles, and gathers every process's counters. */
async function heal(
  nodes: readonly Worker[],
  others: readonly Worker[],
  peersOf: (i: number) => string[],
  target: number,
  capS: number,
  log: (line: string) => void,
  label: string,
  discover: boolean,
): Promise<
  Pick<Meeting, "convergeMs" | "converged" | "perNode" | "cpuMs" | "processCpuMs" | "threadsCpuMs"> & {
    all: { name: string; stalls: Stalls; sent: Wire; received: Wire }[];
  }
> {
  const t0 = wallClock();
  const deadline = performance.now() + capS * 1_000;
  // The others (the hub's server) start measuring too: their CPU and stalls count from here.
  for (const w of others) w.send({ cmd: "heal", peers: [] });
  for (const [i, w] of nodes.entries()) w.send({ cmd: "heal", peers: peersOf(i), target, discover });
  let last = t0;
  let converged = 0;
  let timedOut = false;
  const progress = setInterval(() => log(`${label}: ${converged}/${nodes.length} nodes hold every record`), 10_000);
  await Promise.all(
    nodes.map(async (w) => {
      try {
        const event = await w.next("converged", deadline);
        converged++;
        last = Math.max(last, event.at);
      } catch (err) {
        if (!(err instanceof TimeoutError)) throw err;
        timedOut = true;
      }
    }),
  );
  clearInterval(progress);
  const convergeMs = timedOut ? null : round(last - t0);
  log(
    convergeMs === null
      ? `${label}: did not converge within ${capS} s (${converged}/${nodes.length} nodes)`
      : `${label}: converged in ${(convergeMs / 1_000).toFixed(2)} s`,
  );
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  const everyone = [...nodes, ...others];
  for (const w of everyone) w.send({ cmd: "stats" });
  const stats = await Promise.all(everyone.map((w) => w.next("stats")));
  const perNode = stats.slice(0, nodes.length).map((s) => ({
    records: s.records,
    stalls: s.stalls,
    sent: s.sent,
    cpuMs: s.cpuMs,
    processCpuMs: s.processCpuMs,
    threadsCpuMs: s.threadsCpuMs,
    rssMb: s.rssMb,
    counters: s.counters,
  }));
  return {
    convergeMs,
    converged,
    perNode,
    cpuMs: round(stats.reduce((sum, s) => sum + s.cpuMs, 0)),
    processCpuMs: round(stats.reduce((sum, s) => sum + s.processCpuMs, 0)),
    threadsCpuMs: stats.reduce((sum, s) => addKinds(sum, s.threadsCpuMs), {}),
    all: stats.map((s, i) => ({ name: everyone[i]!.name, stalls: s.stalls, sent: s.sent, received: s.received })),
  };
}

/** What one system's run gives besides its `SystemRun`: the changes made offline at each meeting (for the floors). */
interface Ran {
  readonly run: SystemRun;
  readonly changes: Uint8Array[][];
}

function failed(system: System, n: number, capS: number, err: unknown): SystemRun {
  const message = err instanceof Error ? err.message : String(err);
  return {
    system,
    convergeMs: null,
    converged: 0,
    nodes: n,
    capS,
    failure: message.split("\n")[0]!.slice(0, 300),
    wire: { messages: 0, bytes: 0 },
    stalls: { maxBusyMs: 0, maxDelayMs: 0, busyWhere: "", delayWhere: "" },
    writeStalls: { maxBusyMs: 0, maxDelayMs: 0 },
    writeMs: 0,
    cpuMs: 0,
    processCpuMs: 0,
    threadsCpuMs: {},
    perNode: [],
  };
}

/** Each process's storage directory for one run, under a fresh temporary directory removed afterwards (disk), or none. */
class RunStorage {
  readonly #root: string | undefined;

  constructor(storage: Storage) {
    this.#root = storage === "disk" ? mkdtempSync(join(tmpdir(), "federa-bench-net-")) : undefined;
  }

  dirOf(name: string): { storageDir?: string } {
    return this.#root === undefined ? {} : { storageDir: join(this.#root, name.replaceAll(" ", "-")) };
  }

  remove(): void {
    if (this.#root !== undefined) rmSync(this.#root, { recursive: true, force: true });
  }
}

/** The peers node i is told of when healing (every other, on a LAN) or dials (its parent in a bootstrap tree). */
function peersOf(system: "mesh" | "tree", addresses: readonly string[], i: number): string[] {
  if (system === "mesh") return addresses.filter((_, j) => j !== i);
  return i === 0 ? [] : [addresses[Math.floor((i - 1) / TREE_BRANCHING)]!];
}

/** How one system's processes meet: who dials whom, what counts as everything, what crossed the wire. */
interface Meet {
  readonly system: System;
  readonly label: string;
  /** The processes that append and must converge, and the others (the hub's server) whose counters count. */
  readonly nodes: readonly Worker[];
  readonly others: readonly Worker[];
  readonly peersOf: (i: number) => string[];
  /** Records every node holds once converged after `meetings` meetings. */
  readonly target: (meetings: number) => number;
  readonly wire: (all: readonly { sent: Wire; received: Wire }[]) => Wire;
  readonly how: string;
}

/** Meets `count` times: each time every node appends `k` records while parted, then they heal and converge. */
async function meet(meet: Meet, k: number, count: 1 | 2, capS: number, log: (line: string) => void): Promise<Ran> {
  const meetings: Meeting[] = [];
  const changes: Uint8Array[][] = [];
  for (let m = 1; m <= count; m++) {
    const label = m === 1 ? meet.label : `${meet.label}, meeting again`;
    if (m > 1) {
      // Nobody dials again before every connection is closed, or a node would reconnect a peer that hung up.
      for (const cmd of ["part", "hangup"] as const) {
        for (const w of [...meet.nodes, ...meet.others]) w.send({ cmd });
        await Promise.all([...meet.nodes, ...meet.others].map((w) => w.next("parted")));
      }
      log(`${label}: parted`);
    }
    const part = await partitioned(meet.nodes, k);
    log(`${label}: appended ${k} records each in ${(part.writeMs / 1_000).toFixed(2)} s; healing: ${meet.how}`);
    const healed = await heal(
      meet.nodes,
      meet.others,
      meet.peersOf,
      meet.target(m),
      capS,
      log,
      label,
      meet.system === "mesh",
    );
    meetings.push({
      convergeMs: healed.convergeMs,
      converged: healed.converged,
      wire: meet.wire(healed.all),
      stalls: maxStalls(healed.all),
      writeStalls: part.writeStalls,
      writeMs: part.writeMs,
      cpuMs: healed.cpuMs,
      processCpuMs: healed.processCpuMs,
      threadsCpuMs: healed.threadsCpuMs,
      perNode: healed.perNode,
    });
    changes.push(part.changes);
    if (healed.convergeMs === null) break;
  }
  const [first, again] = meetings;
  return {
    run: { system: meet.system, nodes: meet.nodes.length, capS, ...first!, ...(again ? { again } : {}) },
    changes,
  };
}

async function runFedera(
  system: "mesh" | "tree",
  genesis: Awaited<ReturnType<typeof federaGenesis>>,
  k: number,
  options: Options,
  log: (line: string) => void,
): Promise<Ran> {
  const n = genesis.identities.length;
  const workers = genesis.identities.map((_, i) => new Worker(`Federa node ${i}`));
  const disk = new RunStorage(options.storage);
  try {
    for (const [i, w] of workers.entries()) {
      w.send({
        cmd: "init",
        mode: "federa",
        index: i,
        identity: exportIdentity(genesis.identities[i]!),
        council: genesis.council,
        ledger: genesis.ledger,
        ...disk.dirOf(w.name),
        ...(options.bundleChanges !== undefined && { bundleChanges: options.bundleChanges }),
        ...(options.trimDocuments && { trimDocuments: true }),
      });
    }
    const ready = await Promise.all(workers.map((w) => w.next("ready")));
    const addresses = ready.map((r) => r.addresses!.find((a) => a.includes("/tcp/") && !a.includes("/ws"))!);
    const label = `N=${n} K=${k} Federa ${system}`;
    log(`${label}: ${n} nodes started; each appends ${k} records (one signed record per change), partitioned`);
    return await meet(
      {
        system,
        label,
        nodes: workers,
        others: [],
        peersOf: (i) => peersOf(system, addresses, i),
        target: (m) => genesis.setupRecords + m * n * k,
        wire: (all) => sumWire(all.map((s) => s.sent)),
        how:
          system === "mesh"
            ? "every node is told of every other (as mDNS does) and dials whom its sync tree asks for"
            : `node i dials node (i - 1) / ${TREE_BRANCHING} (a bootstrap tree)`,
      },
      k,
      options.meetings,
      options.federaCapS,
      log,
    );
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    disk.remove();
  }
}

/** Federa in one process: load the documents, apply every change, open a Council (verifying every signature), derive. */
async function deriveFloor(
  council: Uint8Array,
  ledger: Uint8Array,
  changes: readonly Uint8Array[],
  target: number,
): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    const [applied] = A.applyChanges(A.load<LedgerDoc>(ledger), changes as Uint8Array[]);
    const opened = await Council.open({
      council: new PlainDocument(A.load<CouncilDoc>(council)),
      ledger: new PlainDocument(applied),
    });
    const state = await opened.state();
    times.push(performance.now() - t0);
    if (state.records !== target) throw new Error(`derived ${state.records} records, expected ${target}`);
  }
  times.sort((a, b) => a - b);
  return round(times[1]!);
}

function ledgerRecords(doc: A.Doc<LedgerDoc>): number {
  let records = 0;
  for (const bucket of Object.values(doc.records)) records += Object.keys(bucket).length;
  return records;
}

function sumWire(list: readonly Wire[]): Wire {
  return {
    messages: list.reduce((s, w) => s + w.messages, 0),
    bytes: list.reduce((s, w) => s + w.bytes, 0),
  };
}

async function runHub(
  n: number,
  k: number,
  genesis: { doc: DocBytes },
  options: Options,
  log: (line: string) => void,
): Promise<Ran> {
  const server = new Worker("hub server");
  const clients = Array.from({ length: n }, (_, i) => new Worker(`hub client ${i}`));
  const doc = genesis.doc;
  const disk = new RunStorage(options.storage);
  try {
    server.send({ cmd: "init", mode: "hub-server", doc, ...disk.dirOf(server.name) });
    for (const [i, w] of clients.entries())
      w.send({ cmd: "init", mode: "hub-client", index: i, doc, ...disk.dirOf(w.name) });
    const port = (await server.next("ready")).port!;
    await Promise.all(clients.map((w) => w.next("ready")));
    const label = `N=${n} K=${k} hub`;
    log(`${label}: server and ${n} clients started; each appends ${k} records (one change per record), offline`);
    return await meet(
      {
        system: "hub",
        label,
        nodes: clients,
        others: [server],
        peersOf: () => [`ws://127.0.0.1:${port}`],
        target: (m) => m * n * k,
        // The server sees every message between a client and the hub once, in one direction or the other.
        wire: (all) => sumWire([all[all.length - 1]!.sent, all[all.length - 1]!.received]),
        how: "every client connects to the hub",
      },
      k,
      options.meetings,
      options.hubCapS,
      log,
    );
  } finally {
    await Promise.all([server, ...clients].map((w) => w.stop()));
    disk.remove();
  }
}

/** Runs the benchmark; `log` receives progress lines. */
export async function runNetBench(args: readonly string[], log = logger()): Promise<NetBenchResult> {
  const options = parseNetArgs(args);
  const t0 = performance.now();
  const rows: NetRow[] = [];
  log(
    `sizes: ${options.sizes.map((s) => `N=${s.n} K=${s.k}`).join(", ")}; systems: ${options.systems.join(", ")}; ` +
      `storage: ${options.storage}; caps: Federa ${options.federaCapS} s, hub ${options.hubCapS} s` +
      (options.bundleChanges === false ? "; Federa nodes send no bundles" : "") +
      (options.bundleChanges === true ? "; Federa nodes send large rounds as bundles" : "") +
      (options.trimDocuments ? "; Federa nodes trim whole documents" : ""),
  );
  for (const { n, k } of options.sizes) {
    const runs: SystemRun[] = [];
    let federaFloor: Floor | null = null;
    let hubFloor: Floor | null = null;
    let federaDeriveMs: number | null = null;
    let federaFloorAgain: Floor | null = null;
    let hubFloorAgain: Floor | null = null;
    let setupRecords = 0;
    for (const system of options.systems) {
      if (system === "hub") {
        const genesisBytes = A.save(A.from<HubDoc>({ records: {} }));
        const genesis = { doc: { docId: newDocId(), bytes: toBase64(genesisBytes) } };
        try {
          const ran = await runHub(n, k, genesis, options, log);
          runs.push(ran.run);
          const entries = (d: A.Doc<HubDoc>) => Object.keys(d.records).length;
          hubFloor ??= floorOf<HubDoc>(genesisBytes, ran.changes[0]!, (d) => entries(d) === n * k);
          log(`N=${n} K=${k} floor: Automerge applies the ${n * k} hub changes in ${fmtMs(hubFloor.applyMs)}`);
          if (ran.changes[1] !== undefined) {
            const [first, again] = ran.changes as [Uint8Array[], Uint8Array[]];
            hubFloorAgain ??= floorOf<HubDoc>(genesisBytes, again, (d) => entries(d) === 2 * n * k, first);
          }
        } catch (err) {
          log(`N=${n} K=${k} hub: failed: ${(err as Error).message}`);
          runs.push(failed(system, n, options.hubCapS, err));
        }
        continue;
      }
      const genesis = await federaGenesis(n);
      setupRecords = genesis.setupRecords;
      try {
        const ran = await runFedera(system, genesis, k, options, log);
        runs.push(ran.run);
        const ledger = fromBase64(genesis.ledger.bytes);
        const before = ledgerRecords(A.load<LedgerDoc>(ledger));
        if (federaFloor === null) {
          federaFloor = floorOf<LedgerDoc>(ledger, ran.changes[0]!, (d) => ledgerRecords(d) === before + n * k);
          const target = genesis.setupRecords + n * k;
          federaDeriveMs = await deriveFloor(fromBase64(genesis.council.bytes), ledger, ran.changes[0]!, target);
          log(
            `N=${n} K=${k} floor: Automerge applies the ${n * k} Federa changes in ${fmtMs(federaFloor.applyMs)}; ` +
              `one process applying, verifying and deriving them all takes ${fmtMs(federaDeriveMs)}`,
          );
        }
        if (federaFloorAgain === null && ran.changes[1] !== undefined) {
          const [first, again] = ran.changes as [Uint8Array[], Uint8Array[]];
          const all = (d: A.Doc<LedgerDoc>) => ledgerRecords(d) === before + 2 * n * k;
          federaFloorAgain = floorOf<LedgerDoc>(ledger, again, all, first);
        }
      } catch (err) {
        log(`N=${n} K=${k} Federa ${system}: failed: ${(err as Error).message}`);
        runs.push(failed(system, n, options.federaCapS, err));
      }
    }
    rows.push({ n, k, setupRecords, federaFloor, hubFloor, federaFloorAgain, hubFloorAgain, federaDeriveMs, runs });
  }
  return {
    quick: options.quick,
    systems: options.systems,
    storage: options.storage,
    meetings: options.meetings,
    bundleChanges: options.bundleChanges,
    trimDocuments: options.trimDocuments,
    rows,
    totalS: round((performance.now() - t0) / 1_000),
  };
}

function fmtMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "—";
  return ms >= 1_000 ? `${(ms / 1_000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 1 : 0)} ms`;
}

function fmtBytes(bytes: number | undefined): string {
  if (bytes === undefined) return "—";
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(2)} MB` : `${(bytes / 1e3).toFixed(0)} kB`;
}

function fmtRatio(a: number | null | undefined, b: number | null | undefined): string {
  if (a === null || a === undefined || b === null || b === undefined || b === 0) return "—";
  const r = a / b;
  return `${r >= 10 ? r.toFixed(0) : r.toFixed(1)}x`;
}

const NAMES: Record<System, string> = {
  mesh: "Federa, LAN discovery",
  tree: `Federa, bootstrap tree (${TREE_BRANCHING})`,
  hub: "automerge-repo WebSocket hub",
};

function fmtConverge(run: SystemRun, meeting: Meeting = run): string {
  if (run.failure !== undefined) return `failed (${run.failure.slice(0, 80)})`;
  return meeting.convergeMs === null
    ? `did not converge in ${run.capS} s (${meeting.converged} of ${run.nodes} nodes did)`
    : fmtMs(meeting.convergeMs);
}

/** CPU of V8's helper threads (compiling, collecting garbage) and of libuv's pool; a dash where threads are not listed. */
function fmtHelpers(threads: Readonly<Record<string, number>>): string {
  if (Object.keys(threads).length === 0) return "—";
  return `${fmtMs(threads["V8 helpers"] ?? 0)} / ${fmtMs(threads["thread pool"] ?? 0)}`;
}

/** How many times faster `mine` converged than the hub's same meeting (a lower bound when the hub did not converge). */
function fmtVsHub(run: SystemRun, mine: Meeting, hub: SystemRun | undefined, hubs: Meeting | undefined): string {
  if (run.system === "hub" || hub === undefined || hubs === undefined || mine.convergeMs === null) return "—";
  if (hubs.convergeMs === null)
    return hub.failure === undefined ? `> ${fmtRatio(hub.capS * 1_000, mine.convergeMs)}` : "—";
  return fmtRatio(hubs.convergeMs, mine.convergeMs);
}

/** One meeting's cells: converged in, ÷ floor, hub ÷ this, bytes, messages, longest stall. */
function meetingCells(run: SystemRun, mine: Meeting, floor: Floor | null, vsHub: string): string {
  const ok = run.failure === undefined;
  return (
    `${fmtConverge(run, mine)} | ${fmtRatio(mine.convergeMs, floor?.applyMs)} | ${vsHub} | ` +
    `${ok ? fmtBytes(mine.wire.bytes) : "—"} | ${ok ? mine.wire.messages : "—"} | ` +
    `${ok ? `${fmtMs(mine.stalls.maxBusyMs)} / ${fmtMs(mine.stalls.maxDelayMs)}` : "—"}`
  );
}

/** One meeting's CPU cells: main threads / whole processes, and V8's helpers / thread pool. */
function cpuCells(mine: Meeting): string {
  return `${fmtMs(mine.cpuMs)} / ${fmtMs(mine.processCpuMs)} | ${fmtHelpers(mine.threadsCpuMs)}`;
}

/** The report: one row per size and system, then the floors and the work behind them. */
export function formatNetReport(r: NetBenchResult, machine: Machine): string {
  const lines: string[] = [
    `Machine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.platform}, ${machine.date}; ` +
      `load average ${machine.load}. Sizes run (N x K): ${r.rows.map((row) => `${row.n}x${row.k}`).join(", ")}` +
      `${r.quick ? " (--quick)" : ""}, documents ${r.storage === "disk" ? "on disk" : "in memory"}, in ${r.totalS.toFixed(0)} s.`,
    "",
    "| N | K | system | converged in | ÷ floor | hub ÷ this | bytes on the wire | messages | longest stall, CPU / wall |",
    "|---:|---:|---|---:|---:|---:|---:|---:|---:|",
  ];
  for (const row of r.rows) {
    const hub = row.runs.find((run) => run.system === "hub");
    for (const run of row.runs) {
      const floor = run.system === "hub" ? row.hubFloor : row.federaFloor;
      const cells = meetingCells(run, run, floor, fmtVsHub(run, run, hub, hub));
      lines.push(`| ${row.n} | ${row.k} | ${NAMES[run.system]} | ${cells} |`);
    }
  }
  lines.push(
    "",
    "| N | K | system | CPU after healing: main threads / whole processes | of which V8's helpers / thread pool | " +
      "sync streams lost | offline appending, slowest node |",
    "|---:|---:|---|---:|---:|---:|---:|",
  );
  for (const row of r.rows) {
    for (const run of row.runs) {
      if (run.failure !== undefined) continue;
      const lost = run.perNode.reduce(
        (sum, p) => sum + (p.counters["peer-disconnected"] ?? 0) - (p.counters.held ?? 0),
        0,
      );
      lines.push(`| ${row.n} | ${row.k} | ${NAMES[run.system]} | ${cpuCells(run)} | ${lost} | ${fmtMs(run.writeMs)} |`);
    }
  }
  if (r.rows.some((row) => row.runs.some((run) => run.again !== undefined))) {
    lines.push(
      "",
      "Meeting again: the same processes parted once converged, each appended K more records, and healed.",
      "",
      "| N | K | system | converged in | ÷ floor | hub ÷ this | bytes on the wire | messages | " +
        "longest stall, CPU / wall | CPU: main threads / whole processes | of which V8's helpers / thread pool |",
      "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    );
    for (const row of r.rows) {
      const hub = row.runs.find((run) => run.system === "hub");
      for (const run of row.runs) {
        const again = run.again;
        if (again === undefined) continue;
        const floor = run.system === "hub" ? row.hubFloorAgain : row.federaFloorAgain;
        const cells = meetingCells(run, again, floor, fmtVsHub(run, again, hub, hub?.again));
        lines.push(`| ${row.n} | ${row.k} | ${NAMES[run.system]} | ${cells} | ${cpuCells(again)} |`);
      }
    }
  }
  lines.push(
    "",
    "| N | K | floor: Federa changes / hub changes | meeting again | Federa in one process (apply, verify, derive) | " +
      "changes' own bytes, Federa / hub |",
    "|---:|---:|---:|---:|---:|---:|",
  );
  for (const row of r.rows) {
    lines.push(
      `| ${row.n} | ${row.k} | ${fmtMs(row.federaFloor?.applyMs)} / ${fmtMs(row.hubFloor?.applyMs)} | ` +
        `${fmtMs(row.federaFloorAgain?.applyMs)} / ${fmtMs(row.hubFloorAgain?.applyMs)} | ` +
        `${fmtMs(row.federaDeriveMs)} | ${fmtBytes(row.federaFloor?.changeBytes)} / ${fmtBytes(row.hubFloor?.changeBytes)} |`,
    );
  }
  return lines.join("\n");
}

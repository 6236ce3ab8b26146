/**
 * `./dev bench dht`: how fast a council's devices find each other in a DHT of strangers, each knowing a different
 * entry node. Real libp2p (TCP on loopback, Noise, Yamux) and kad-dht on Federa's protocol, with Federa's discovery
 * dials on every member; compared side by side: members that look each other up by peer id (`PeerLookups`, what a
 * Federa node does) against members that rely on the peers the DHT's own walks meet. The strangers run in this
 * process, as the internet would; each member device runs in its own process (`dht-worker.ts`). The council is a
 * fixed set of member devices here: documents and syncing are the net benchmark's.
 */
import { generateKeyPair, privateKeyToProtobuf } from "@libp2p/crypto/keys";
import type { Libp2p } from "@libp2p/interface";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import type { Machine } from "../../core/bench/core-bench.js";
import { dhtNode } from "./dht-node.js";
import { MemberProcess } from "./dht-process.js";
import { type MemberStatus, MODES, type Mode } from "./dht-protocol.js";
import { toBase64 } from "./protocol.js";

export { MODES, type Mode } from "./dht-protocol.js";

/** One run: a DHT of `dht` strangers, `members` devices of one council joining it at once. */
export interface DhtRun {
  readonly dht: number;
  readonly members: number;
  readonly mode: Mode;
  /** From the members' start until every member knew of every other; null if not within the cap. */
  readonly foundMs: number | null;
  /** ...until every member was connected to each link its sync tree asks for, and the members were all connected. */
  readonly linkedMs: number | null;
  /** From the kill of the device with most links until its new process, at a new address, had the links up again. */
  readonly rejoinMs: number | null;
  /** Lookups the members started before they were linked. */
  readonly lookups: number;
  /** Distinct pairs of members connected once linked (sync-tree links and the DHT's own). */
  readonly memberPairs: number;
  /** Connections the members held to strangers once linked (the DHT's walks). */
  readonly strangerConnections: number;
  /** CPU the strangers' process (this one) used while the members linked up, per second of wall time. */
  readonly dhtCpuPerSecond: number;
  /** CPU the member processes used meanwhile, summed over them, per second of wall time. */
  readonly membersCpuPerSecond: number;
}

export interface DhtBenchResult {
  readonly capS: number;
  readonly runs: readonly DhtRun[];
}

interface Options {
  readonly sizes: readonly number[];
  readonly members: number;
  readonly modes: readonly Mode[];
  readonly capS: number;
}

export function parseDhtArgs(args: readonly string[]): Options {
  let sizes = [20, 60];
  let members = 6;
  let modes: readonly Mode[] = MODES;
  let capS = 60;
  for (const arg of args) {
    const [key, value = ""] = arg.split("=", 2);
    if (key === "--quick") sizes = [20];
    else if (key === "--sizes") sizes = value.split(",").map(Number);
    else if (key === "--members") members = Number(value);
    else if (key === "--modes") modes = value.split(",") as Mode[];
    else if (key === "--cap") capS = Number(value);
    else throw new Error(`unknown option ${arg}`);
  }
  if (sizes.some((n) => !Number.isInteger(n) || n < 1))
    throw new Error("--sizes takes whole numbers of nodes, 1 or more");
  if (!Number.isInteger(members) || members < 2) throw new Error("--members takes a whole number, 2 or more");
  if (modes.some((m) => !MODES.includes(m))) throw new Error(`--modes takes ${MODES.join(",")}`);
  if (!(capS > 0)) throw new Error("--cap takes seconds, more than 0");
  return { sizes, members, modes, capS };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts `n` strangers, each joining through up to three earlier ones, and lets their routing tables fill. */
export async function strangers(n: number): Promise<Libp2p[]> {
  const nodes: Libp2p[] = [];
  for (let i = 0; i < n; i++) {
    const node = await dhtNode();
    const earlier = [...nodes];
    for (let j = 0; j < 3 && earlier.length > 0; j++) {
      const to = earlier.splice(Math.floor(Math.random() * earlier.length), 1)[0]!;
      await node.dial(to.getMultiaddrs()[0]!).catch(() => {});
    }
    nodes.push(node);
  }
  await sleep(3_000); // each node's first walk towards its own id runs a second after it starts
  return nodes;
}

/** True when the members' connections among themselves join them all. */
function joined(members: readonly MemberStatus[]): boolean {
  const seen = new Set([members[0]!.id]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const m of members) {
      for (const other of m.connected) {
        if (seen.has(m.id) === seen.has(other)) continue;
        seen.add(m.id);
        seen.add(other);
        grew = true;
      }
    }
  }
  return seen.size === members.length;
}

/** True when every member knows of every other. */
function allFound(members: readonly MemberStatus[]): boolean {
  return members.every((m) => members.every((o) => o.id === m.id || m.known.includes(o.id)));
}

/** True when every link each member's sync tree asks for is up. */
function linksUp(members: readonly MemberStatus[]): boolean {
  return members.every((m) => m.wanted.every((p) => m.connected.includes(p)));
}

interface Timing {
  readonly foundMs: number | null;
  readonly linkedMs: number | null;
}

/**
 * Asks every member for its status until all know of each other and the sync trees' links are up; times from
 * `start`, and gives the statuses last heard.
 */
async function linkUp(
  members: readonly MemberProcess[],
  start: number,
  capS: number,
): Promise<Timing & { readonly statuses: readonly MemberStatus[] }> {
  let foundMs: number | null = null;
  const deadline = start + capS * 1_000;
  for (;;) {
    const statuses = await Promise.all(members.map((m) => m.status()));
    const now = Math.round(performance.now() - start);
    if (foundMs === null && allFound(statuses)) foundMs = now;
    if (foundMs !== null && linksUp(statuses) && joined(statuses)) return { foundMs, linkedMs: now, statuses };
    if (performance.now() >= deadline) return { foundMs, linkedMs: null, statuses };
    await sleep(50);
  }
}

/** Distinct pairs of members connected to each other. */
function memberPairs(members: readonly MemberStatus[]): number {
  const pairs = new Set<string>();
  for (const m of members) for (const o of m.connected) pairs.add(m.id < o ? `${m.id} ${o}` : `${o} ${m.id}`);
  return pairs.size;
}

const perSecond = (ms: number, wallMs: number) => Math.round((ms / wallMs) * 100) / 100;

async function run(dht: readonly Libp2p[], count: number, mode: Mode, capS: number): Promise<DhtRun> {
  const keys = await Promise.all(Array.from({ length: count }, () => generateKeyPair("Ed25519")));
  const ids = keys.map((k) => peerIdFromPrivateKey(k).toString());
  // Each member knows a different entry node, as devices in different places would.
  const entries = [...dht].sort(() => Math.random() - 0.5);
  const entry = (i: number) => entries[i % entries.length]!.getMultiaddrs()[0]!.toString();
  const joinAs = (p: MemberProcess, i: number, at: string) =>
    p.join({ key: toBase64(privateKeyToProtobuf(keys[i]!)), members: ids, mode, entry: at });
  // The processes load their code first: what is timed is the network, not Node starting.
  const members = await Promise.all(keys.map(() => MemberProcess.start()));
  try {
    const start = performance.now();
    const cpu = process.cpuUsage();
    await Promise.all(members.map((m, i) => joinAs(m, i, entry(i))));
    const join = await linkUp(members, start, capS);
    const used = process.cpuUsage(cpu);
    const wallMs = performance.now() - start;
    const statuses = join.statuses;
    // The device with most links restarts at a new address, entering the DHT elsewhere: its process is killed and a
    // new one, already loaded, starts a node with the same key.
    let rejoin: Timing = { foundMs: null, linkedMs: null };
    if (join.linkedMs !== null) {
      const links = (s: MemberStatus) => s.connected.length + s.strangerConnections;
      const at = statuses.reduce((best, s, i) => (links(s) > links(statuses[best]!) ? i : best), 0);
      const replacement = await MemberProcess.start();
      await members[at]!.kill();
      members[at] = replacement;
      const again = performance.now();
      await joinAs(replacement, at, entry(count + at));
      rejoin = await linkUp(members, again, capS);
    }
    return {
      dht: dht.length,
      members: count,
      mode,
      foundMs: join.foundMs,
      linkedMs: join.linkedMs,
      rejoinMs: rejoin.linkedMs,
      lookups: statuses.reduce((n, s) => n + s.lookups, 0),
      memberPairs: memberPairs(statuses),
      strangerConnections: statuses.reduce((n, s) => n + s.strangerConnections, 0),
      dhtCpuPerSecond: perSecond((used.user + used.system) / 1_000, wallMs),
      membersCpuPerSecond: perSecond(
        statuses.reduce((n, s) => n + s.cpuMs, 0),
        wallMs,
      ),
    };
  } finally {
    await Promise.all(members.map((m) => m.stop()));
  }
}

export async function runDhtBench(
  args: readonly string[],
  log: (line: string) => void = (l) => console.error(l),
): Promise<DhtBenchResult> {
  const options = parseDhtArgs(args);
  const runs: DhtRun[] = [];
  for (const size of options.sizes) {
    log(`dht of ${size}: starting the strangers`);
    const dht = await strangers(size);
    for (const mode of options.modes) {
      log(`dht of ${size}, ${options.members} members, ${mode}...`);
      const ran = await run(dht, options.members, mode, options.capS);
      log(
        `  found ${fmt(ran.foundMs)}, linked ${fmt(ran.linkedMs)}, relinked ${fmt(ran.rejoinMs)}, ${ran.lookups} lookups`,
      );
      runs.push(ran);
    }
    await Promise.all(dht.map((n) => n.stop()));
  }
  return { capS: options.capS, runs };
}

function fmt(ms: number | null): string {
  return ms === null ? "not within the cap" : ms < 1_000 ? `${ms} ms` : `${(ms / 1_000).toFixed(2)} s`;
}

const cell = (ms: number | null, capS: number) => (ms === null ? `> ${capS} s` : fmt(ms));

export function formatDhtReport(r: DhtBenchResult, machine: Machine): string {
  const rows = r.runs.map((x) =>
    [
      x.dht,
      x.members,
      x.mode,
      cell(x.foundMs, r.capS),
      cell(x.linkedMs, r.capS),
      x.linkedMs === null ? "-" : cell(x.rejoinMs, r.capS),
      x.lookups,
      x.memberPairs,
      x.strangerConnections,
      x.dhtCpuPerSecond.toFixed(2),
      x.membersCpuPerSecond.toFixed(2),
    ].join(" | "),
  );
  return [
    "Members of one council finding each other in a DHT of strangers, each entering at a different node; then the",
    "member with most links restarting at a new address. The strangers run in this process, each member in its own;",
    "CPU is given per second of wall time while the members linked up, for this process and for the members' summed.",
    `Machine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.platform}, ${machine.date}; ` +
      `load average ${machine.load}.`,
    "",
    "| DHT nodes | members | how | all found | all linked | relinked after a restart | lookups | member pairs connected | connections to strangers | CPU s per s, DHT process | CPU s per s, member processes |",
    "| --------: | ------: | --- | --------: | ---------: | -----------------------: | ------: | ---------------------: | -----------------------: | ----------------------: | ----------------------------: |",
    ...rows.map((row) => `| ${row} |`),
  ].join("\n");
}

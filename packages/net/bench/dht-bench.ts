/**
 * `./dev bench dht`: how fast a council's devices find each other in a DHT of strangers, each knowing a different
 * entry node. Real libp2p (TCP on loopback, Noise, Yamux) and kad-dht on Federa's protocol, with Federa's discovery
 * dials on every member; compared side by side: members that look each other up by peer id (`PeerLookups`, what a
 * Federa node does) against members that rely on the peers the DHT's own walks meet. The council is a fixed set of
 * member devices here: documents and syncing are the net benchmark's.
 */
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { identify } from "@libp2p/identify";
import type { Libp2p, PrivateKey } from "@libp2p/interface";
import { kadDHT, passthroughMapper } from "@libp2p/kad-dht";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { ping } from "@libp2p/ping";
import { tcp } from "@libp2p/tcp";
import { createLibp2p } from "libp2p";
import type { Machine } from "../../core/bench/core-bench.js";
import { DEFAULT_SYNC_TREE, SYNC_PROTOCOL } from "../src/constants.js";
import { DiscoveryDials } from "../src/discovery-dials.js";
import { FEDERA_DHT_PROTOCOL } from "../src/node/index.js";
import { PeerExchange } from "../src/peer-exchange.js";
import { PeerLookups } from "../src/peer-lookups.js";

/** How members learn of each other: by looking each other up, or only from the DHT's own walks. */
export type Mode = "lookups" | "walks";
export const MODES: readonly Mode[] = ["lookups", "walks"];

/** One run: a DHT of `dht` strangers, `members` devices of one council joining it at once. */
export interface DhtRun {
  readonly dht: number;
  readonly members: number;
  readonly mode: Mode;
  /** From the members' start until every member knew of every other; null if not within the cap. */
  readonly foundMs: number | null;
  /** ...until every member was connected to each link its sync tree asks for, and the members were all connected. */
  readonly linkedMs: number | null;
  /** From the restart of the device with most links, at a new address, until the links were up again. */
  readonly rejoinMs: number | null;
  /** Lookups the members started before they were linked. */
  readonly lookups: number;
  /** Distinct pairs of members connected once linked (sync-tree links and the DHT's own). */
  readonly memberPairs: number;
  /** Connections the members held to strangers once linked (the DHT's walks). */
  readonly strangerConnections: number;
  /** CPU the benchmark's one process used while the members linked up, per second of wall time (2 cores: at most 2). */
  readonly cpuPerSecond: number;
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

/** A libp2p node on loopback TCP in Federa's DHT, keeping loopback addresses; with `privateKey`, that device's. */
function dhtNode(privateKey?: PrivateKey): Promise<Libp2p> {
  return createLibp2p({
    ...(privateKey ? { privateKey } : {}),
    addresses: { listen: ["/ip4/127.0.0.1/tcp/0"] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: {
      identify: identify(),
      ping: ping(),
      dht: kadDHT({ protocol: FEDERA_DHT_PROTOCOL, clientMode: false, peerInfoMapper: passthroughMapper }) as never,
    },
  }) as Promise<Libp2p>;
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

interface Member {
  readonly node: Libp2p;
  readonly dials: DiscoveryDials;
  readonly lookups: PeerLookups | undefined;
  readonly exchange: PeerExchange | undefined;
}

/** A member's device: its libp2p in the DHT with Federa's discovery dials (and lookups, in that mode) over `ids`. */
async function member(key: PrivateKey, ids: ReadonlySet<string>, mode: Mode): Promise<Member> {
  const node = await dhtNode(key);
  // Members speak the sync protocol: discovery leaves out peers whose identify says they do not.
  await node.handle(SYNC_PROTOCOL, (stream) => void stream.close());
  const dials = new DiscoveryDials(node, {
    maxConnections: 32,
    fanout: DEFAULT_SYNC_TREE.fanout,
    groups: (peers) => [new Set([...peers].filter((p) => ids.has(p)))],
    counted: (peer) => ids.has(peer),
  });
  const lookups =
    mode === "lookups"
      ? new PeerLookups(node, {
          targets: () => ids,
          reachable: (peer) => dials.reachable(peer),
          found: (peer) => dials.discovered(peer),
        })
      : undefined;
  // What a Federa node does besides: members that meet tell each other where the others are.
  const exchange =
    mode === "lookups"
      ? await PeerExchange.start(node, {
          knows: (peer) => ids.has(peer),
          tell: () => ids,
          wants: (peer) => ids.has(peer),
          missing: () => lookups?.missing() ?? false,
          heard: (peer) => dials.discovered(peer),
        })
      : undefined;
  return { node, dials, lookups, exchange };
}

async function stopMember(m: Member): Promise<void> {
  m.lookups?.stop();
  m.exchange?.stop();
  m.dials.stop();
  await m.node.stop();
}

/** True when the members' connections among themselves join them all. */
function joined(members: readonly Member[]): boolean {
  const ids = new Set(members.map((m) => m.node.peerId.toString()));
  const seen = new Set([members[0]!.node.peerId.toString()]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const m of members) {
      const self = m.node.peerId.toString();
      for (const c of m.node.getConnections()) {
        const other = c.remotePeer.toString();
        if (!ids.has(other) || seen.has(self) === seen.has(other)) continue;
        seen.add(self);
        seen.add(other);
        grew = true;
      }
    }
  }
  return seen.size === members.length;
}

/** Polls until every member knows of every other and the sync trees' links are up; times from `start`. */
async function linkUp(members: readonly Member[], start: number, capS: number): Promise<Timing> {
  const ids = members.map((m) => m.node.peerId.toString());
  let foundMs: number | null = null;
  const deadline = start + capS * 1_000;
  while (performance.now() < deadline) {
    const now = Math.round(performance.now() - start);
    const knows = (m: Member, other: string) =>
      m.dials.discoveredPeers().includes(other) ||
      m.node.getConnections().some((c) => c.remotePeer.toString() === other);
    if (foundMs === null && members.every((m) => ids.every((o) => o === m.node.peerId.toString() || knows(m, o))))
      foundMs = now;
    const linksUp = members.every((m) => {
      const connected = new Set(m.node.getConnections().map((c) => c.remotePeer.toString()));
      return [...m.dials.wanted()].every((p) => !ids.includes(p) || connected.has(p));
    });
    if (foundMs !== null && linksUp && joined(members)) return { foundMs, linkedMs: now };
    await sleep(50);
  }
  return { foundMs, linkedMs: null };
}

interface Timing {
  readonly foundMs: number | null;
  readonly linkedMs: number | null;
}

/** Distinct pairs of members connected to each other. */
function memberPairs(members: readonly Member[]): number {
  const ids = new Set(members.map((m) => m.node.peerId.toString()));
  const pairs = new Set<string>();
  for (const m of members) {
    const self = m.node.peerId.toString();
    for (const c of m.node.getConnections()) {
      const other = c.remotePeer.toString();
      if (ids.has(other)) pairs.add(self < other ? `${self} ${other}` : `${other} ${self}`);
    }
  }
  return pairs.size;
}

async function run(dht: readonly Libp2p[], count: number, mode: Mode, capS: number): Promise<DhtRun> {
  const keys = await Promise.all(Array.from({ length: count }, () => generateKeyPair("Ed25519")));
  const ids = new Set(keys.map((k) => peerIdFromPrivateKey(k).toString()));
  // Each member knows a different entry node, as devices in different places would.
  const entries = [...dht].sort(() => Math.random() - 0.5);
  const entry = (i: number) => entries[i % entries.length]!.getMultiaddrs()[0]!;
  const start = performance.now();
  const cpu = process.cpuUsage();
  const members = await Promise.all(keys.map((key) => member(key, ids, mode)));
  await Promise.all(members.map((m, i) => m.node.dial(entry(i))));
  const join = await linkUp(members, start, capS);
  const used = process.cpuUsage(cpu);
  const cpuPerSecond = (used.user + used.system) / 1_000 / (performance.now() - start);
  const lookups = members.reduce((n, m) => n + (m.lookups?.started ?? 0), 0);
  const pairs = memberPairs(members);
  const strangerConnections = members.reduce(
    (n, m) => n + m.node.getConnections().filter((c) => !ids.has(c.remotePeer.toString())).length,
    0,
  );
  // The device with most links restarts at a new address, entering the DHT elsewhere.
  let rejoin: Timing = { foundMs: null, linkedMs: null };
  if (join.linkedMs !== null) {
    const moving = members.reduce((a, b) => (b.node.getConnections().length > a.node.getConnections().length ? b : a));
    const at = members.indexOf(moving);
    await stopMember(moving);
    const again = performance.now();
    members[at] = await member(keys[at]!, ids, mode);
    await members[at]!.node.dial(entry(count + at));
    rejoin = await linkUp(members, again, capS);
  }
  await Promise.all(members.map(stopMember));
  return {
    dht: dht.length,
    members: count,
    mode,
    ...join,
    rejoinMs: rejoin.linkedMs,
    lookups,
    memberPairs: pairs,
    strangerConnections,
    cpuPerSecond: Math.round(cpuPerSecond * 100) / 100,
  };
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
      x.cpuPerSecond.toFixed(2),
    ].join(" | "),
  );
  return [
    "Members of one council finding each other in a DHT of strangers, each entering at a different node; then the",
    "member with most links restarting at a new address. Every node runs in this one process.",
    `Machine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.platform}, ${machine.date}; ` +
      `load average ${machine.load}.`,
    "",
    "| DHT nodes | members | how | all found | all linked | relinked after a restart | lookups | member pairs connected | connections to strangers | CPU s per s |",
    "| --------: | ------: | --- | --------: | ---------: | -----------------------: | ------: | ---------------------: | -----------------------: | ----------: |",
    ...rows.map((row) => `| ${row} |`),
  ].join("\n");
}

/**
 * One node process of `./dev bench net` (and `./dev bench soak`), driven by the coordinator over stdin and stdout: a
 * Federa node, the stock automerge-repo WebSocket hub, or one of the hub's clients. Diagnostics: FEDERA_BENCH_TRACE=1
 * prints each Federa node's timeline to stderr; FEDERA_BENCH_PROF=DIR writes each process's CPU profile, from heal to
 * the end, to DIR.
 */
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { createInterface } from "node:readline";
import { writeHeapSnapshot } from "node:v8";
import * as A from "@automerge/automerge";
import {
  type AutomergeUrl,
  type DocHandle,
  type DocumentId,
  type PeerId,
  Repo,
  stringifyAutomergeUrl,
} from "@automerge/automerge-repo";
import { NodeWSServerAdapter, WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket";
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs";
import type { CouncilDoc, LedgerDoc } from "@federa/core";
import { importIdentity } from "@federa/core";
import { peerIdFromString } from "@libp2p/peer-id";
import { multiaddr } from "@multiformats/multiaddr";
import { type WebSocket, WebSocketServer } from "ws";
import {
  createNode,
  type FederaNode,
  type HeldCouncil,
  type Libp2pNetworkAdapter,
  warmUpAutomergeOnce,
} from "../src/index.js";
import { MDNS_INTERVAL_MS, nodeOptions } from "../src/node/index.js";
import {
  addKinds,
  type Command,
  type DocBytes,
  type Event,
  fromBase64,
  type InitFedera,
  type InitHubClient,
  type InitHubServer,
  processCpuMs,
  round,
  StallProbe,
  threadCpuMs,
  threadsCpuMs,
  toBase64,
  type Wire,
  wallClock,
} from "./protocol.js";

/** A donation as an automerge-repo application stores it today: a structured map entry keyed by its id. */
export type HubRecord = {
  kind: "donation";
  fund: string;
  amount: number;
  from: string;
  author: string;
  at: number;
};

/** The hub's shared document: every record in one map. */
export type HubDoc = {
  records: Record<string, HubRecord>;
};

/** The amount and donor of record `k` of node `index` (the same on both systems). */
export function donation(index: number, k: number): { amount: number; from: string } {
  return { amount: 100 + ((index * 7_919 + k * 104_729) % 9_900), from: `donor ${index}-${k}` };
}

function send(event: Event): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

interface Role {
  /** Appends `k` more records offline; returns the changes they made. */
  write(k: number): Promise<Uint8Array[]>;
  heal(peers: readonly string[], discover: boolean): Promise<void>;
  /** Stops reconnecting (dialling again, or the hub client's socket). */
  part(): Promise<void>;
  /** Closes the connections left; resolves once none is. */
  hangup(): Promise<void>;
  records(): number;
  sent(): Wire;
  received(): Wire;
  /** Sizes of internal collections cheap to reach, for `./dev bench soak` (Federa nodes only). */
  sizes?(): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

/** Peers announced to and lost by the Repo, and streams refused or dropped, since the last heal. */
const counters: Record<string, number> = {};

function count(what: string): void {
  counters[what] = (counters[what] ?? 0) + 1;
}

/** Counts an automerge-repo network adapter's peer events. */
function watchPeers(adapter: { on(event: "peer-candidate" | "peer-disconnected", fn: () => void): unknown }): void {
  adapter.on("peer-candidate", () => count("peer-candidate"));
  adapter.on("peer-disconnected", () => count("peer-disconnected"));
}

const probe = new StallProbe(
  process.env.FEDERA_BENCH_TRACE
    ? (ms) =>
        console.error("pid", process.pid, (wallClock() % 100_000).toFixed(1), "main thread busy", ms.toFixed(0), "ms")
    : undefined,
);
let profiler: Session | undefined;
let role: Role | undefined;
let healedCpu = 0;
let healedProcessCpu = 0;
let healedThreads: Record<string, number> = {};
let sentBefore: Wire = { messages: 0, bytes: 0 };
let receivedBefore: Wire = { messages: 0, bytes: 0 };

function docUrl(doc: DocBytes): AutomergeUrl {
  return stringifyAutomergeUrl({ documentId: doc.docId as DocumentId });
}

async function federa(init: InitFedera): Promise<{ role: Role; addresses: string[] }> {
  const identity = await importIdentity(init.identity);
  const defaults = nodeOptions({ listen: ["/ip4/127.0.0.1/tcp/0"], mdns: false, storageDir: init.storageDir });
  // Parted, as on a network split: dials fail and inbound connections are refused until the heal.
  let parted = false;
  const node: FederaNode = await createNode({
    identity,
    ...defaults,
    ...(init.bundleChanges !== undefined && { bundleChanges: init.bundleChanges }),
    ...(init.trimDocuments === true && { trimDocuments: true }),
    libp2p: {
      ...defaults.libp2p,
      // Every node shares one host here, which libp2p's per-host inbound rate limit (5 a second) would refuse.
      connectionManager: { allow: ["/ip4/127.0.0.1/ipcidr/32"] },
      connectionGater: { denyDialPeer: async () => parted, denyInboundConnection: async () => parted },
    },
  });
  if (init.restart !== true) {
    const council = node.repo.import<CouncilDoc>(fromBase64(init.council.bytes), {
      docId: init.council.docId as DocumentId,
    });
    const ledger = node.repo.import<LedgerDoc>(fromBase64(init.ledger.bytes), {
      docId: init.ledger.docId as DocumentId,
    });
    // A Repo saves an imported document on its next change only (it imports before it listens): written now, as a
    // device that fetched them would hold them, so that a node killed before changing the council finds it on restart.
    if (init.storageDir !== undefined) await node.repo.flush([council.documentId, ledger.documentId]);
  }
  const held: HeldCouncil = await node.openCouncil(docUrl(init.council));
  // The node's warm-up (started by createNode) ends before it reports ready, as on a device that started a while
  // before it met anyone: the offline appending and the merge are measured without it. Its own cost is in the docs.
  await warmUpAutomergeOnce();
  const adapter = node.repo.networkSubsystem.adapters[0] as Libp2pNetworkAdapter;
  let written = 0;
  let redial: ReturnType<typeof setInterval> | undefined;
  watchPeers(adapter);
  node.libp2p.addEventListener("connection:close", () => count("connection closed"));
  adapter.events.on("peer:rejected", ({ error }) => count(`rejected: ${error.name}`));
  adapter.events.on("peer:held", () => count("held")); // a spare stream, not a lost one
  if (process.env.FEDERA_BENCH_TRACE) trace(init.index, node, adapter, held);
  const role: Role = {
    async write(k) {
      const heads = A.getHeads(held.ledgerHandle.doc());
      for (let i = written; i < written + k; i++) {
        const { amount, from } = donation(init.index, i);
        await held.council.ledger.donate("general", amount, from);
      }
      written += k;
      return A.getChangesSince(held.ledgerHandle.doc(), heads);
    },
    async heal(peers, discover) {
      parted = false;
      if (discover) {
        // As mDNS does: every peer announced at once and again every interval; the node dials whom its trees ask for.
        const announce = () => {
          for (const p of peers) {
            const address = multiaddr(p);
            const id = peerIdFromString(p.slice(p.lastIndexOf("/") + 1));
            void node.libp2p.peerStore
              .merge(id, { multiaddrs: [address] })
              .then(() => node.libp2p.safeDispatchEvent("peer:discovery", { detail: { id, multiaddrs: [address] } }));
          }
        };
        announce();
        redial = setInterval(announce, MDNS_INTERVAL_MS);
        return;
      }
      await Promise.all(peers.map((p) => dialWithRetries(node, p)));
      // As discovery does (an mDNS answer, a bootstrap redial, every 5 s): a dropped connection is dialled again.
      redial = setInterval(() => {
        const connected = new Set(node.peers());
        for (const p of peers) {
          if (!connected.has(p.slice(p.lastIndexOf("/") + 1))) {
            count("redial");
            node.libp2p.dial(multiaddr(p)).catch(() => count("redial failed"));
          }
        }
      }, MDNS_INTERVAL_MS);
    },
    async part() {
      clearInterval(redial);
      parted = true;
    },
    async hangup() {
      // Both ends hang up at once here, so a graceful close can fail (EPIPE, timeout): the connection is aborted then.
      const closing = node.libp2p.getConnections().map((c) => c.close().catch((e) => c.abort(e as Error)));
      await Promise.all(closing);
      while (node.libp2p.getConnections().length > 0) await new Promise((resolve) => setTimeout(resolve, 10));
    },
    records: () => held.council.records.length,
    sent: () => ({ messages: adapter.traffic.framesSent, bytes: adapter.traffic.bytesSent }),
    received: () => ({ messages: adapter.traffic.framesReceived, bytes: adapter.traffic.bytesReceived }),
    async sizes() {
      const connections = node.libp2p.getConnections();
      const synchronizers = Object.values(node.repo.synchronizer.docSynchronizers);
      const known = await node.libp2p.peerStore.all();
      return {
        "libp2p connections": connections.length,
        "libp2p streams": connections.reduce((n, c) => n + c.streams.length, 0),
        "libp2p listeners": LIBP2P_EVENTS.reduce((n, e) => n + node.libp2p.listenerCount(e), 0),
        "peer store peers": known.length,
        "peer store addresses": known.reduce((n, p) => n + p.addresses.length, 0),
        "repo handles": Object.keys(node.repo.handles).length,
        "repo peers": node.repo.peers.length,
        "repo peer metadata": Object.keys(node.repo.peerMetadataByPeerId).length,
        "doc synchronizers": synchronizers.length,
        "doc synchronizer peers": synchronizers.reduce((n, s) => n + Object.keys(s.peerStates).length, 0),
        "adapter listeners": adapter.eventNames().reduce((n: number, e) => n + adapter.listenerCount(e), 0),
        "discovered peers": node.dials.discoveredPeers().length,
        "slices pending": node.slices.pending,
        "peers banned": node.banned().size,
        "records excluded": held.council.current().excluded.length,
        ...excludedByReason(held),
      };
    },
    async stop() {
      clearInterval(redial);
      await node.stop();
    },
  };
  return { role, addresses: node.addresses() };
}

/** Records the council excludes, by reason (`excluded: equivocation`, say), for the reasons that occur. */
function excludedByReason(held: HeldCouncil): Record<string, number> {
  const out: Record<string, number> = {};
  for (const { reason } of held.council.current().excluded) {
    const key = `excluded: ${reason}`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

/** The libp2p events whose listeners `sizes()` counts: one added per connection and never removed would show there. */
const LIBP2P_EVENTS = [
  "connection:open",
  "connection:close",
  "connection:prune",
  "peer:connect",
  "peer:disconnect",
  "peer:discovery",
  "peer:identify",
  "peer:update",
  "peer:reconnect-failure",
  "self:peer:update",
  "transport:listening",
  "transport:close",
] as const;

/** With FEDERA_BENCH_TRACE set, prints a node's timeline to stderr: connections, sync streams and messages, records. */
function trace(index: number, node: FederaNode, adapter: Libp2pNetworkAdapter, held: HeldCouncil): void {
  const log = (...parts: unknown[]) => console.error(index, (wallClock() % 100_000).toFixed(1), ...parts);
  const short = (peer: string) => peer.slice(-4);
  log("is process", process.pid); // the stall probe's lines name the process
  node.libp2p.addEventListener("connection:open", (e) => log("connection open", short(e.detail.remotePeer.toString())));
  node.libp2p.addEventListener("connection:close", (e) =>
    log("connection closed", short(e.detail.remotePeer.toString())),
  );
  // Dials that fail (a peer not healed yet refuses them) leave it out of a LAN node's tree until announced again.
  const dial = node.libp2p.dial.bind(node.libp2p);
  node.libp2p.dial = (async (...args: Parameters<typeof dial>) => {
    try {
      return await dial(...args);
    } catch (e) {
      log("dial failed", short(String(args[0])), (e as Error).name);
      throw e;
    }
  }) as typeof dial;
  adapter.on("peer-candidate", (e) => log("sync stream", short(e.peerId)));
  adapter.on("peer-disconnected", (e) => log("sync stream closed", short(e.peerId)));
  // Wraps the adapter's emit so each received message's effect on the ledger (new changes applied) is logged.
  const emit = adapter.emit.bind(adapter) as (event: string, payload: unknown) => boolean;
  const changes = () => A.stats(held.ledgerHandle.doc()).numChanges;
  (adapter as { emit: typeof emit }).emit = (event, payload) => {
    if (event !== "message") return emit(event, payload);
    const m = payload as { type: string; senderId: string; documentId?: string; data?: Uint8Array };
    const doc = m.documentId === held.ledgerHandle.documentId ? "ledger" : "council";
    let shape = "";
    if (m.type === "sync" && m.data !== undefined) {
      const d = A.decodeSyncMessage(m.data);
      const have = d.have.map((h) => `${h.lastSync.length}/${h.bloom.byteLength}`).join(",");
      // A storage chunk's type byte follows its magic and checksum: 0 is a whole saved document, else a bundle.
      const whole = d.changes.length === 1 && d.changes[0]?.[8] === 0;
      const changes = `${whole ? "document" : "bundle"} ${d.changes[0]?.byteLength ?? 0}`;
      shape = `heads ${d.heads.length} need ${d.need.length} have [${have}] ${changes}`;
    }
    log("received", m.type, doc, short(m.senderId), m.data?.byteLength ?? 0, shape, "changes held", changes());
    return emit(event, payload);
  };
  const send = adapter.send.bind(adapter);
  adapter.send = (m) => {
    const before = adapter.traffic.bytesSent;
    send(m);
    const data = "data" in m ? m.data : undefined;
    const doc = "documentId" in m && m.documentId === held.ledgerHandle.documentId ? "ledger" : "council";
    // What the frame carried: a whole-document chunk or change chunks, and its bytes before and after deflating.
    const chunks = m.type === "sync" && data !== undefined ? A.decodeSyncMessage(data).changes : [];
    const kind = chunks[0]?.[8] === 0 ? "document" : chunks.length > 0 ? "bundle" : "none";
    log(
      "sent",
      m.type,
      doc,
      short(m.targetId),
      data?.byteLength ?? 0,
      kind,
      "wire",
      // Packed later (`bundleChanges`): the frame's bytes are not known yet.
      adapter.traffic.bytesSent - before || "later",
    );
  };
  node.repo.on("doc-metrics", (m) => {
    if ("durationMillis" in m && m.durationMillis > 20) log(m.type, m.durationMillis.toFixed(0), "ms");
  });
  let records = 0;
  setInterval(() => {
    if (held.council.records.length === records) return;
    records = held.council.records.length;
    log("records", records);
  }, 5).unref();
}

/** Dials a peer, trying again a few times as a discovery service would on its next announcement. */
async function dialWithRetries(node: FederaNode, address: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await node.libp2p.dial(multiaddr(address));
      return;
    } catch (err) {
      if (attempt === 5) throw err;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
}

/** The hub's storage on disk, as automerge-repo's sync server and its Node clients keep documents; none in memory. */
function hubStorage(dir: string | undefined): NodeFSStorageAdapter | undefined {
  return dir === undefined ? undefined : new NodeFSStorageAdapter(dir);
}

async function hubServer(init: InitHubServer): Promise<{ role: Role; port: number }> {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise<void>((resolve) => wss.once("listening", () => resolve()));
  const sent = { messages: 0, bytes: 0 };
  const received = { messages: 0, bytes: 0 };
  wss.on("connection", (socket: WebSocket) => {
    const original = socket.send.bind(socket);
    socket.send = ((data: ArrayBufferLike | Uint8Array, ...rest: never[]) => {
      sent.messages++;
      sent.bytes += data.byteLength;
      return original(data, ...rest);
    }) as typeof socket.send;
    socket.on("message", (data: Buffer) => {
      received.messages++;
      received.bytes += data.byteLength;
    });
  });
  const adapter = new NodeWSServerAdapter(wss as never);
  watchPeers(adapter);
  const repo = new Repo({ network: [adapter], peerId: "hub" as PeerId, storage: hubStorage(init.storageDir) });
  const handle = repo.import<HubDoc>(fromBase64(init.doc.bytes), { docId: init.doc.docId as DocumentId });
  const address = wss.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return {
    port,
    role: {
      write: async () => [],
      heal: async () => {},
      part: async () => {},
      hangup: async () => {},
      records: () => Object.keys(handle.doc()?.records ?? {}).length,
      sent: () => ({ ...sent }),
      received: () => ({ ...received }),
      async stop() {
        await repo.shutdown();
        for (const client of wss.clients) client.terminate();
        await new Promise<void>((resolve) => wss.close(() => resolve()));
      },
    },
  };
}

async function hubClient(init: InitHubClient): Promise<Role> {
  const repo = new Repo({
    network: [],
    peerId: `client-${init.index}` as PeerId,
    storage: hubStorage(init.storageDir),
  });
  const handle: DocHandle<HubDoc> = repo.import<HubDoc>(fromBase64(init.doc.bytes), {
    docId: init.doc.docId as DocumentId,
  });
  await handle.whenReady();
  const author = `member-${init.index}`;
  let written = 0;
  let adapter: WebSocketClientAdapter | undefined;
  return {
    async write(k) {
      const heads = A.getHeads(handle.doc());
      for (let i = written; i < written + k; i++) {
        const { amount, from } = donation(init.index, i);
        const id = createHash("sha256").update(`${init.index}:${i}`).digest("hex");
        handle.change((d) => {
          d.records[id] = { kind: "donation", fund: "general", amount, from, author, at: Date.now() };
        });
      }
      written += k;
      return A.getChangesSince(handle.doc(), heads);
    },
    async heal([url]) {
      adapter = new WebSocketClientAdapter(url!);
      watchPeers(adapter);
      repo.networkSubsystem.addNetworkAdapter(adapter);
    },
    async part() {
      // Closes the socket without the adapter's retries; the next heal connects a new adapter.
      if (adapter !== undefined) repo.networkSubsystem.removeNetworkAdapter(adapter);
      adapter = undefined;
    },
    hangup: async () => {},
    records: () => Object.keys(handle.doc().records).length,
    sent: () => ({ messages: 0, bytes: 0 }),
    received: () => ({ messages: 0, bytes: 0 }),
    async stop() {
      await repo.shutdown();
    },
  };
}

async function handle(command: Command): Promise<void> {
  switch (command.cmd) {
    case "init": {
      if (command.mode === "federa") {
        const node = await federa(command);
        role = node.role;
        send({ ev: "ready", addresses: node.addresses });
      } else if (command.mode === "hub-server") {
        const server = await hubServer(command);
        role = server.role;
        send({ ev: "ready", port: server.port });
      } else {
        role = await hubClient(command);
        send({ ev: "ready" });
      }
      return;
    }
    case "write": {
      probe.start();
      const t0 = performance.now();
      const changes = await role!.write(command.k);
      const ms = performance.now() - t0;
      send({ ev: "written", ms: round(ms), stalls: probe.stop(), changes: changes.map(toBase64) });
      return;
    }
    case "heal": {
      if (process.env.FEDERA_BENCH_PROF) {
        profiler = new Session();
        profiler.connect();
        await profiler.post("Profiler.enable");
        await profiler.post("Profiler.setSamplingInterval", { interval: 200 });
        await profiler.post("Profiler.start");
      }
      const target = command.target;
      for (const what of Object.keys(counters)) delete counters[what];
      sentBefore = role!.sent();
      receivedBefore = role!.received();
      healedCpu = threadCpuMs();
      healedProcessCpu = processCpuMs();
      healedThreads = threadsCpuMs();
      let converged = false;
      probe.start(() => {
        if (!converged && target !== undefined && role!.records() >= target) {
          converged = true;
          send({ ev: "converged", at: wallClock() });
        }
      });
      await role!.heal(command.peers, command.discover ?? false);
      return;
    }
    case "part":
    case "hangup": {
      await (command.cmd === "part" ? role!.part() : role!.hangup());
      send({ ev: "parted" });
      return;
    }
    case "stats": {
      if (profiler !== undefined) {
        const { profile } = await profiler.post("Profiler.stop");
        writeFileSync(`${process.env.FEDERA_BENCH_PROF}/node-${process.pid}.cpuprofile`, JSON.stringify(profile));
      }
      const sent = role!.sent();
      const received = role!.received();
      send({
        ev: "stats",
        stalls: probe.stop(),
        sent: { messages: sent.messages - sentBefore.messages, bytes: sent.bytes - sentBefore.bytes },
        received: {
          messages: received.messages - receivedBefore.messages,
          bytes: received.bytes - receivedBefore.bytes,
        },
        records: role!.records(),
        cpuMs: round(threadCpuMs() - healedCpu),
        processCpuMs: round(processCpuMs() - healedProcessCpu),
        threadsCpuMs: addKinds(threadsCpuMs(), healedThreads, -1),
        counters: { ...counters },
        rssMb: round(process.memoryUsage().rss / 2 ** 20),
      });
      return;
    }
    case "hold": {
      // Checked every 5 ms, as the probe checks a heal's target.
      const deadline = performance.now() + command.capMs;
      const reached = await new Promise<boolean>((resolve) => {
        const check = () => {
          const reached = role!.records() >= command.target;
          if (!reached && performance.now() < deadline) return;
          clearInterval(timer);
          resolve(reached);
        };
        const timer = setInterval(check, 5);
        check();
      });
      send({ ev: "held", reached, records: role!.records(), at: wallClock() });
      return;
    }
    case "heap": {
      const gc = await collectGarbage();
      const m = process.memoryUsage();
      const mb = (bytes: number) => round(bytes / 2 ** 20, 2);
      send({
        ev: "heap",
        gc,
        heapUsedMb: mb(m.heapUsed),
        heapTotalMb: mb(m.heapTotal),
        externalMb: mb(m.external),
        arrayBuffersMb: mb(m.arrayBuffers),
        rssMb: mb(m.rss),
        records: role!.records(),
        sizes: (await role!.sizes?.()) ?? {},
        counters: { ...counters },
      });
      return;
    }
    case "snapshot": {
      await collectGarbage();
      send({ ev: "snapshot", path: writeHeapSnapshot(command.path) });
      return;
    }
    case "stop": {
      await role?.stop();
      process.exit(0);
    }
  }
}

/**
 * Collects garbage twice with a turn of the event loop between, so objects freed by finalizers (Automerge's wasm
 * handles) go too; false when the process was started without `--expose-gc`.
 */
async function collectGarbage(): Promise<boolean> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) return false;
  gc();
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  return true;
}

const lines = createInterface({ input: process.stdin });
let queue = Promise.resolve();
lines.on("line", (line) => {
  const command = JSON.parse(line) as Command;
  // Commands run in order; a heal returns once its dials are done, while syncing goes on.
  queue = queue
    .then(() => handle(command))
    .catch((err: unknown) =>
      send({ ev: "error", message: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
    );
});
lines.on("close", () => process.exit(0));

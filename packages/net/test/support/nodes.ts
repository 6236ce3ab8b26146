/** libp2p nodes for the tests (TCP on loopback or in-memory), with wiring helpers and a teardown that stops them all. */
import { Repo } from "@automerge/automerge-repo";
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { identify } from "@libp2p/identify";
import type { Libp2p, PrivateKey } from "@libp2p/interface";
import { memory } from "@libp2p/memory";
import { tcp } from "@libp2p/tcp";
import { createLibp2p } from "libp2p";
import type { Libp2pNetworkAdapterInit } from "../../src/index.js";
import { Libp2pNetworkAdapter, SYNC_PROTOCOL } from "../../src/index.js";
import { waitFor } from "./wait.js";

export type TransportKind = "tcp" | "memory";

const running = new Set<Libp2p>();
const repos = new Set<Repo>();

/** A started node with Noise, Yamux and identify listening on loopback TCP or a fresh memory address. */
export async function createNode(
  transport: TransportKind = "tcp",
  options: { start?: boolean; privateKey?: PrivateKey } = {},
): Promise<Libp2p> {
  const node = await createLibp2p({
    ...(options.privateKey ? { privateKey: options.privateKey } : {}),
    addresses: { listen: [transport === "tcp" ? "/ip4/127.0.0.1/tcp/0" : `/memory/${crypto.randomUUID()}`] },
    transports: [transport === "tcp" ? tcp() : memory()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() },
    start: options.start ?? true,
  });
  running.add(node);
  return node;
}

/** A node with the adapter and a Repo whose peer id is the node's. */
export interface SyncPeer {
  readonly node: Libp2p;
  readonly adapter: Libp2pNetworkAdapter;
  readonly repo: Repo;
}

/** Starts a node, its adapter (ready) and a Repo on it. */
export async function createSyncPeer(
  transport: TransportKind = "tcp",
  init: Omit<Libp2pNetworkAdapterInit, "libp2p"> = {},
): Promise<SyncPeer> {
  const node = await createNode(transport);
  const adapter = new Libp2pNetworkAdapter({ libp2p: node, ...init });
  await adapter.whenReady();
  const repo = new Repo({ network: [adapter], peerId: adapter.peerId });
  repos.add(repo);
  return { node, adapter, repo };
}

/** Dials `b` from `a` and waits until each has identified the other as speaking the sync protocol. */
export async function link(a: Libp2p, b: Libp2p, protocol = SYNC_PROTOCOL): Promise<void> {
  await a.dial(b.getMultiaddrs());
  await waitFor(async () => (await speaks(a, b, protocol)) && (await speaks(b, a, protocol)), "identify");
}

async function speaks(from: Libp2p, to: Libp2p, protocol: string): Promise<boolean> {
  try {
    return (await from.peerStore.get(to.peerId)).protocols.includes(protocol);
  } catch {
    return false;
  }
}

/** Connects two sync peers and waits until each Repo counts the other as a peer. */
export async function meet(a: SyncPeer, b: SyncPeer): Promise<void> {
  await link(a.node, b.node);
  await waitFor(
    () => a.repo.peers.includes(b.adapter.peerId) && b.repo.peers.includes(a.adapter.peerId),
    "both Repos to meet",
  );
}

/** Stops the given nodes (they are also stopped by `stopAll`). */
export async function stopNodes(nodes: Iterable<Libp2p>): Promise<void> {
  await Promise.all(
    [...nodes].map(async (node) => {
      running.delete(node);
      await node.stop();
    }),
  );
}

/** Shuts every Repo down and stops every node the tests created; run after each test. */
export async function stopAll(): Promise<void> {
  const open = [...repos];
  repos.clear();
  await Promise.allSettled(open.map((repo) => repo.shutdown()));
  await stopNodes([...running]);
}

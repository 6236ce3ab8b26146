/**
 * Discovery dials over real libp2p (memory transport): nodes that discover each other connect along the sync tree,
 * not as a full mesh, stay connected when one leaves, and never dial peers outside the groups they share documents with.
 */
import { generateKeyPair } from "@libp2p/crypto/keys";
import type { Libp2p, PeerId } from "@libp2p/interface";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { afterEach, describe, expect, it } from "vitest";
import { DiscoveryDials } from "../src/discovery-dials.js";
import { createSyncPeer, type SyncPeer, stopAll } from "./support/nodes.js";
import { waitFor } from "./support/wait.js";

afterEach(stopAll);

interface Dialler {
  readonly peer: SyncPeer;
  readonly dials: DiscoveryDials;
}

async function nodes(
  n: number,
  groups?: (self: string) => (peers: ReadonlySet<string>) => ReadonlySet<string>[],
  fanout = 2,
) {
  const out: Dialler[] = [];
  for (let i = 0; i < n; i++) {
    const peer = await createSyncPeer("memory");
    const self = peer.node.peerId.toString();
    const dials = new DiscoveryDials(peer.node, {
      maxConnections: 32,
      fanout,
      ...(groups ? { groups: groups(self) } : {}),
    });
    out.push({ peer, dials });
  }
  return out;
}

/** Tells every node of every other, as mDNS does: addresses into the peer store, then the discovery event. */
async function discoverAll(all: readonly Dialler[]): Promise<void> {
  for (const a of all) {
    for (const b of all) {
      if (a === b) continue;
      await a.peer.node.peerStore.merge(b.peer.node.peerId, { multiaddrs: b.peer.node.getMultiaddrs() });
      a.dials.discovered(b.peer.node.peerId);
    }
  }
}

/** Distinct pairs of the nodes with an open connection between them. */
function links(all: readonly Libp2p[]): Set<string> {
  const ids = new Set(all.map((n) => n.peerId.toString()));
  const pairs = new Set<string>();
  for (const node of all) {
    const self = node.peerId.toString();
    for (const c of node.getConnections()) {
      const other = c.remotePeer.toString();
      if (c.status === "open" && ids.has(other)) pairs.add(self < other ? `${self} ${other}` : `${other} ${self}`);
    }
  }
  return pairs;
}

/** Whether the open connections join every one of `all`. */
function connected(all: readonly Libp2p[]): boolean {
  const edges = [...links(all)].map((pair) => pair.split(" "));
  const seen = new Set([all[0]!.peerId.toString()]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [a, b] of edges) {
      if (seen.has(a!) !== seen.has(b!)) {
        seen.add(a!);
        seen.add(b!);
        grew = true;
      }
    }
  }
  return seen.size === all.length;
}

const id = (p: PeerId | Libp2p) => ("peerId" in p ? p.peerId : p).toString();

describe("DiscoveryDials", () => {
  it("connects nodes that all discover each other along one tree, not a full mesh", async () => {
    const all = await nodes(9);
    await discoverAll(all);
    const libp2ps = all.map((d) => d.peer.node);
    await waitFor(() => connected(libp2ps), "every node connected");
    await new Promise((resolve) => setTimeout(resolve, 2_500)); // past the wait before dialling back
    // Nine nodes with a fan-out of 2: the tree's 8 edges, where dialling every discovered peer opened 36.
    expect(links(libp2ps).size).toBe(8);
    // One connection per link, seen from both ends: neighbours do not both dial.
    expect(libp2ps.reduce((n, node) => n + node.getConnections().length, 0)).toBe(16);
    for (const d of all) {
      for (const wanted of d.dials.wanted())
        expect(d.peer.node.getConnections().map((c) => id(c.remotePeer))).toContain(wanted);
    }
  });

  it("links a small LAN as a tree too: four nodes make a star of three links, not six", async () => {
    const all = await nodes(4, undefined, 4);
    await discoverAll(all);
    const libp2ps = all.map((d) => d.peer.node);
    await waitFor(() => connected(libp2ps), "every node connected");
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(links(libp2ps).size).toBe(3);
    const hub = [...libp2ps].sort((a, b) => (id(a) < id(b) ? -1 : 1))[0]!;
    expect(hub.getConnections().length).toBe(3); // the smallest id is the root
  });

  it("lays the tree again around a node that leaves, so the others stay connected", async () => {
    const all = await nodes(9);
    await discoverAll(all);
    const libp2ps = all.map((d) => d.peer.node);
    await waitFor(() => connected(libp2ps), "every node connected");
    // The node with most links is inside the tree: leaving cuts it in parts until the others dial around it.
    const inner = [...all].sort(
      (a, b) => b.peer.node.getConnections().length - a.peer.node.getConnections().length,
    )[0]!;
    expect(inner.peer.node.getConnections().length).toBeGreaterThan(1);
    await inner.peer.node.stop();
    const rest = libp2ps.filter((n) => n !== inner.peer.node);
    await waitFor(() => connected(rest), "the others connected again");
  });

  it("dials only the peers its groups name", async () => {
    // Two councils on one LAN: the first four nodes share one, the last three the other; none shares both.
    const all = await nodes(7, (self) => {
      return (peers) => {
        const ids = all.map((d) => id(d.peer.node));
        const mine = ids.indexOf(self) < 4 ? ids.slice(0, 4) : ids.slice(4);
        return [new Set([...peers].filter((p) => mine.includes(p)))];
      };
    });
    await discoverAll(all);
    const first = all.slice(0, 4).map((d) => d.peer.node);
    const second = all.slice(4).map((d) => d.peer.node);
    await waitFor(() => connected(first) && connected(second), "each council connected");
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const node of first)
      for (const c of node.getConnections()) expect(second.map(id)).not.toContain(id(c.remotePeer));
  });

  it("leaves out a peer that cannot be dialled until it is announced again", async () => {
    const all = await nodes(2);
    const [a, b] = all as [Dialler, Dialler];
    await a.peer.node.peerStore.merge(b.peer.node.peerId, { multiaddrs: b.peer.node.getMultiaddrs() });
    await b.peer.node.stop();
    a.dials.discovered(b.peer.node.peerId);
    await waitFor(() => a.dials.wanted().size === 0, "the unreachable peer left out");
    await b.peer.node.start();
    await a.peer.node.peerStore.merge(b.peer.node.peerId, { multiaddrs: b.peer.node.getMultiaddrs() });
    a.dials.discovered(b.peer.node.peerId);
    await waitFor(() => a.peer.node.getConnections(b.peer.node.peerId).length > 0, "dialled once announced again");
  });

  it("remembers at most maxKnown announced peers, forgetting the one announced longest ago", async () => {
    const [node] = await nodes(1);
    const dials = new DiscoveryDials(node!.peer.node, { maxConnections: 0, fanout: 2, maxKnown: 2 }); // dials nothing
    const ids = await Promise.all([1, 2, 3].map(async () => peerIdFromPrivateKey(await generateKeyPair("Ed25519"))));
    dials.discovered(ids[0]!);
    dials.discovered(ids[1]!);
    dials.discovered(ids[0]!); // announced again: now the latest
    dials.discovered(ids[2]!);
    expect(dials.discoveredPeers()).toHaveLength(2);
    expect(dials.discoveredPeers().sort()).toEqual([ids[0]!.toString(), ids[2]!.toString()].sort());
  });

  it("while busy, waits to dial a neighbour of a group it is connected into, and dials it once quiet", async () => {
    const all = (await nodes(3)) as Dialler[];
    for (const d of all) d.dials.stop();
    const [root, first, second] = [...all].sort((x, y) =>
      x.peer.node.peerId.toString() < y.peer.node.peerId.toString() ? -1 : 1,
    ) as [Dialler, Dialler, Dialler];
    let busy = true;
    const dials = new DiscoveryDials(root.peer.node, { maxConnections: 32, fanout: 2, settleMs: 0, busy: () => busy });
    await root.peer.node.dial(first.peer.node.getMultiaddrs()); // into the group already
    await root.peer.node.peerStore.merge(second.peer.node.peerId, { multiaddrs: second.peer.node.getMultiaddrs() });
    dials.discovered(second.peer.node.peerId);
    expect(dials.wanted().has(second.peer.node.peerId.toString())).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(root.peer.node.getConnections(second.peer.node.peerId)).toEqual([]);
    busy = false;
    await waitFor(() => root.peer.node.getConnections(second.peer.node.peerId).length > 0, "the dial once quiet");
    dials.stop();
  });

  it("while busy, dials at once a neighbour of a group it has no connection into", async () => {
    const [a, b] = (await nodes(2)) as [Dialler, Dialler];
    a.dials.stop();
    b.dials.stop();
    const dials = new DiscoveryDials(a.peer.node, { maxConnections: 32, fanout: 2, settleMs: 0, busy: () => true });
    await a.peer.node.peerStore.merge(b.peer.node.peerId, { multiaddrs: b.peer.node.getMultiaddrs() });
    dials.discovered(b.peer.node.peerId);
    // Whichever id is smaller, a dials: the dial-back wait is 2 s at most.
    await waitFor(() => a.peer.node.getConnections(b.peer.node.peerId).length > 0, "the dial", 5_000);
    dials.stop();
  });

  it("forgets a peer whose dials keep failing with no announcement between, until it is announced again", async () => {
    // `a` the smaller id, so it dials at once rather than first waiting for `b` to dial it (`DIAL_BACK_MS`) before each
    // attempt (the tree cases above go through that wait). Three quick failures in a row: this case found a retry
    // timer firing a millisecond early by `Date.now()`, which left the peer undialled for good about one time in three.
    const [a, b] = ((await nodes(2)) as [Dialler, Dialler]).sort((x, y) =>
      x.peer.node.peerId.toString() < y.peer.node.peerId.toString() ? -1 : 1,
    ) as [Dialler, Dialler];
    a.dials.stop();
    const dials = new DiscoveryDials(a.peer.node, { maxConnections: 32, fanout: 2, unreachableMs: 50, settleMs: 0 });
    await a.peer.node.peerStore.merge(b.peer.node.peerId, { multiaddrs: b.peer.node.getMultiaddrs() });
    await b.peer.node.stop();
    dials.discovered(b.peer.node.peerId);
    expect(dials.discoveredPeers()).toHaveLength(1);
    await waitFor(() => dials.discoveredPeers().length === 0, "the peer forgotten after three failed dials");
    await b.peer.node.start();
    await a.peer.node.peerStore.merge(b.peer.node.peerId, { multiaddrs: b.peer.node.getMultiaddrs() });
    dials.discovered(b.peer.node.peerId);
    await waitFor(() => a.peer.node.getConnections(b.peer.node.peerId).length > 0, "dialled once announced again");
    dials.stop();
  });
});

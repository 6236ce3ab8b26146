/**
 * The sync tree over real adapters: a mesh syncs first over a tree of its streams, releases the rest once traffic is
 * quiet (or held too long), still converges across a sparse mesh, and speaks to protocol 1.0 peers as before.
 */
import * as A from "@automerge/automerge";
import type { DocHandle, Message, PeerId } from "@automerge/automerge-repo";
import type { Libp2p } from "@libp2p/interface";
import { afterEach, describe, expect, it } from "vitest";
import { decodeFrame, isActivate } from "../src/frames.js";
import {
  DEFAULT_MAX_FRAME_SIZE,
  InvalidFrameError,
  Libp2pNetworkAdapter,
  type Libp2pNetworkAdapterInit,
  type PeerRejectedPayload,
  SYNC_PROTOCOL,
} from "../src/index.js";
import type { SyncTreeOptions } from "../src/sync-tree.js";
import { syncTreeNeighbours } from "../src/sync-tree.js";
import { createNode, createSyncPeer, link, type SyncPeer, stopAll, stopNodes } from "./support/nodes.js";
import { RawSyncPeer } from "./support/raw-peer.js";
import { waitFor } from "./support/wait.js";

afterEach(stopAll);

/** Short timings that only the quiet release can end: no stream is held long enough to be released regardless. */
const QUIET = { settleMs: 100, quietMs: 400, maxDeferMs: 120_000 } as const;
/** Timings under which nothing held is released within a test: what is announced is the tree and first streams. */
const NEVER = { settleMs: 100, quietMs: 60_000, maxDeferMs: 120_000 } as const;

interface Notes {
  text: string;
}

/** A peer's adapter and Repo, and every peer its adapter ever announced (peer-candidate). */
interface Watched extends SyncPeer {
  readonly id: string;
  readonly announced: Set<string>;
}

/**
 * Starts `n` sync peers with the given sync tree options, watching what each announces from the start. They use the
 * memory transport: libp2p limits inbound TCP connections per host and second, which a loopback mesh exceeds.
 */
async function peers(n: number, syncTree: Libp2pNetworkAdapterInit["syncTree"]): Promise<Watched[]> {
  const started = await Promise.all(Array.from({ length: n }, () => createSyncPeer("memory", { syncTree })));
  return started.map((peer) => {
    const announced = new Set<string>();
    peer.adapter.on("peer-candidate", ({ peerId }) => announced.add(peerId));
    return { ...peer, id: peer.adapter.peerId, announced };
  });
}

/** Links every pair of the peers, all at once. */
async function mesh(group: readonly Watched[]): Promise<void> {
  const links: Promise<void>[] = [];
  for (const [i, a] of group.entries()) for (const b of group.slice(i + 1)) links.push(link(a.node, b.node));
  await Promise.all(links);
}

/** The unordered pairs of which at least one end announced the other. */
function activatedPairs(group: readonly Watched[]): Set<string> {
  const pairs = new Set<string>();
  for (const a of group) for (const b of a.announced) pairs.add(a.id < b ? `${a.id} ${b}` : `${b} ${a.id}`);
  return pairs;
}

/** Whether each end of the pair currently counts the other as a Repo peer. */
function syncing(a: SyncPeer, b: SyncPeer): boolean {
  return a.repo.peers.includes(b.adapter.peerId) && b.repo.peers.includes(a.adapter.peerId);
}

/** The edges of the tree every peer of `group` computes over the whole group. */
function treeEdges(group: readonly Watched[], fanout: number): Array<[Watched, Watched]> {
  const ids = group.map((p) => p.id);
  const edges: Array<[Watched, Watched]> = [];
  for (const [i, a] of group.entries()) {
    const neighbours = syncTreeNeighbours(a.id, ids, fanout);
    for (const b of group.slice(i + 1)) if (neighbours.has(b.id)) edges.push([a, b]);
  }
  return edges;
}

/** Waits until every peer holds the document, ready, with the heads of `source`, and finds it there. */
async function converged(group: readonly SyncPeer[], source: DocHandle<Notes>, what: string): Promise<void> {
  const heads = () => [...source.heads()].sort();
  await waitFor(
    () =>
      group.every((peer) => {
        const handle = peer.repo.handles[source.documentId];
        return handle?.isReady() === true && JSON.stringify([...handle.heads()].sort()) === JSON.stringify(heads());
      }),
    what,
    30_000,
  );
  for (const peer of group) {
    const found = await peer.repo.find<Notes>(source.url);
    expect([...found.heads()].sort()).toEqual(heads());
    expect(found.doc().text).toBe(source.doc().text);
  }
}

/** A plain node whose id, joined to `others`, is not a tree neighbour of `self`: its stream with `self` is held. */
async function nodeOutsideTree(self: string, others: readonly string[], fanout: number): Promise<Libp2p> {
  for (let tries = 0; tries < 50; tries++) {
    const node = await createNode("memory");
    const id = node.peerId.toString();
    if (!syncTreeNeighbours(self, [...others, id], fanout).has(id)) return node;
    await stopNodes([node]);
  }
  throw new Error("no node id outside the tree after 50 tries");
}

/** Whether `from` has an open sync stream with `to`. */
function hasSyncStream(from: Libp2p, to: Libp2p): boolean {
  return from
    .getConnections(to.peerId)
    .some((connection) =>
      connection.streams.some((stream) => stream.protocol === SYNC_PROTOCOL && stream.status === "open"),
    );
}

/**
 * A peer `a` with sync streams to three other peers under fanout 1 and nothing released (so it has announced its
 * first stream and its tree neighbours, holding the rest), and a plain node whose stream with `a` would be held.
 */
async function hubWithHeldSlot(): Promise<{ a: Watched; outsider: Libp2p }> {
  const [a, ...others] = await peers(4, { ...NEVER, fanout: 1 });
  if (a === undefined) throw new Error("no peers");
  await Promise.all(others.map((other) => link(a.node, other.node)));
  await waitFor(
    () => others.every((other) => hasSyncStream(a.node, other.node)) && a.repo.peers.length > 0,
    "a's sync streams to the others, its first one announced",
  );
  const outsider = await nodeOutsideTree(
    a.id,
    others.map((p) => p.id),
    1,
  );
  return { a, outsider };
}

/** A request for `documentId` from `from` to `to`, carrying a valid first sync message of an empty document. */
function request(from: string, to: string, documentId: string): Message {
  const data = A.generateSyncMessage(A.init(), A.initSyncState())[1];
  if (data === null) throw new Error("an empty document has a first sync message");
  return { type: "request", senderId: from as PeerId, targetId: to as PeerId, documentId, data } as Message;
}

/** The frames after the hello, decoded. */
function laterFrames(raw: RawSyncPeer) {
  return raw.frames.slice(1).map((frame) => decodeFrame(frame, DEFAULT_MAX_FRAME_SIZE));
}

describe("the sync tree over libp2p adapters", () => {
  it("a mesh of 8 syncs a document to everyone over the tree, far fewer streams than the mesh's 28", async () => {
    const group = await peers(8, NEVER);
    await mesh(group);
    // Every peer ends up computing over all 8 ids: the tree's 7 edges are then announced at both ends.
    const tree = treeEdges(group, 4);
    expect(tree).toHaveLength(7);
    await waitFor(() => tree.every(([a, b]) => syncing(a, b)), "the tree's edges to be announced at both ends");

    const [first, , , other] = group as [Watched, Watched, Watched, Watched];
    const source = first.repo.create<Notes>({ text: "agenda" });
    await converged(group, source, "the document to reach all 8");
    const handle = await other.repo.find<Notes>(source.url);
    handle.change((d) => {
      d.text = "agenda, amended";
    });
    await waitFor(() => source.doc().text === "agenda, amended", "the change to come back");
    await converged(group, source, "the change to reach all 8");

    // Held streams stay held (quiet is a minute away): only the tree and each peer's first stream were announced.
    const pairs = activatedPairs(group);
    expect(pairs.size).toBeGreaterThanOrEqual(tree.length);
    expect(pairs.size).toBeLessThan(28);
    // A stream activated at one end only (its first stream, or a tree taken over fewer peers) is activated at the
    // other by the activate frame, not by the tree, so both ends sync over it.
    const byId = new Map(group.map((peer) => [peer.id, peer]));
    await waitFor(
      () => group.every((a) => [...a.announced].every((b) => byId.get(b)?.announced.has(a.id) === true)),
      "every activated stream to be announced at both ends",
    );
  });

  it("refuses, when made, sync tree options its timers and tree could not run with", async () => {
    const node = await createNode();
    const bad: Partial<SyncTreeOptions>[] = [
      { fanout: 0 },
      { fanout: 1.5 },
      { quietMs: 0 },
      { maxDeferMs: 0 },
      { settleMs: 2 ** 31 },
    ];
    for (const syncTree of bad) {
      expect(() => new Libp2pNetworkAdapter({ libp2p: node, syncTree }), JSON.stringify(syncTree)).toThrow(RangeError);
    }
    expect(() => new Libp2pNetworkAdapter({ libp2p: node, syncTree: { settleMs: 0 } })).not.toThrow();
  });

  it("once traffic is quiet, every held stream of the mesh is announced at both ends", async () => {
    const group = await peers(8, QUIET);
    await mesh(group);
    const source = group[0]?.repo.create<Notes>({ text: "minutes" });
    if (source === undefined) throw new Error("no peers");
    await waitFor(() => group.every((peer) => peer.repo.peers.length === 7), "all 28 pairs at both ends", 30_000);
    expect(activatedPairs(group).size).toBe(28);
    await converged(group, source, "the document to reach all 8");
  });

  it("releases held streams after maxDeferMs even while traffic never goes quiet", async () => {
    const timings: Partial<SyncTreeOptions> = { settleMs: 100, quietMs: 4_000, maxDeferMs: 1_500 };
    const group = await peers(6, { ...timings, fanout: 1 });
    const [first] = group;
    if (first === undefined) throw new Error("no peers");
    const source = first.repo.create<Notes>({ text: "" });
    // A change every 100 ms crosses every peer's tree streams: no check of held streams (every second) sees quiet.
    let n = 0;
    const busy = setInterval(() => {
      source.change((d) => {
        d.text = `tick ${++n}`;
      });
    }, 100);
    try {
      await mesh(group);
      await waitFor(() => group.every((peer) => peer.repo.peers.length === 5), "all 15 pairs at both ends", 30_000);
    } finally {
      clearInterval(busy);
    }
    await converged(group, source, "the ticks to reach all 6");
  });

  it("a stranger opening refused streams over and over cannot keep held streams held past maxDeferMs", async () => {
    const stranger = await createNode("memory");
    const strangerId = stranger.peerId.toString();
    const syncTree = { fanout: 1, settleMs: 300, quietMs: 60_000, maxDeferMs: 1_500 };
    const started = await Promise.all(
      Array.from({ length: 5 }, () => createSyncPeer("memory", { syncTree, allowPeer: (peer) => peer !== strangerId })),
    );
    const group = started.map((peer) => ({ ...peer, id: peer.adapter.peerId, announced: new Set<string>() }));
    // Each refused stream ends a session; were that to restart the tree's settle timer, nothing would ever be chosen.
    let churning = true;
    const churn = (async () => {
      while (churning) {
        await Promise.allSettled(group.map((peer) => RawSyncPeer.open(stranger, peer.node)));
        await new Promise((resolve) => setTimeout(resolve, 150));
      }
    })();
    try {
      await mesh(group);
      await waitFor(() => group.every((peer) => peer.repo.peers.length === 4), "all 10 pairs at both ends", 15_000);
    } finally {
      churning = false;
      await churn;
    }
    expect(group.every((peer) => !peer.repo.peers.includes(strangerId as PeerId))).toBe(true);
  });

  it("two groups of 4 joined by one held link converge on a document made in one group", async () => {
    const all = await peers(8, { ...QUIET, fanout: 1 });
    const sorted = [...all].sort((p, q) => (p.id < q.id ? -1 : 1));
    const left = sorted.slice(0, 4);
    const right = sorted.slice(4);
    const x = left[0] as Watched;
    const y = right[3] as Watched;
    // With fanout 1 the tree is the sorted chain: x is lowest on both sides and y highest, so neither picks the link.
    expect(syncTreeNeighbours(x.id, [...left.map((p) => p.id), y.id], 1).has(y.id)).toBe(false);
    expect(syncTreeNeighbours(y.id, [...right.map((p) => p.id), x.id], 1).has(x.id)).toBe(false);

    await Promise.all([mesh(left), mesh(right)]);
    for (const group of [left, right]) {
      const tree = treeEdges(group, 1);
      await waitFor(() => tree.every(([a, b]) => syncing(a, b)), "each group's tree");
    }
    const source = (left[2] as Watched).repo.create<Notes>({ text: "left's proposal" });
    await converged(left, source, "the document to reach the left group");

    await link(x.node, y.node);
    await converged(all, source, "the document to cross the link");
    const far = await (right[1] as Watched).repo.find<Notes>(source.url);
    far.change((d) => {
      d.text = "right's amendment";
    });
    await converged(all, far, "the amendment to come back across the link");
    expect(x.announced.has(y.id) && y.announced.has(x.id)).toBe(true);
  });

  it("announces a protocol 1.0 peer at once, with no activate frame, and takes its messages", async () => {
    const { a, outsider } = await hubWithHeldSlot();
    const source = a.repo.create<Notes>({ text: "for the old peer" });
    const rejected: PeerRejectedPayload[] = [];
    a.adapter.events.on("peer:rejected", (payload) => rejected.push(payload));
    const delivered: Message[] = [];
    a.adapter.on("message", (message) => {
      if (message.senderId === outsider.peerId.toString()) delivered.push(message);
    });

    const raw = await RawSyncPeer.open(outsider, a.node);
    raw.writeHello({ version: { major: 1, minor: 0 } });
    await waitFor(() => a.announced.has(raw.peerId), "the 1.0 peer to be announced");
    raw.writeMessage(request(raw.peerId, a.id, source.documentId));
    // The Repo takes the request and sends the document: anything the adapter wrote before is on the stream already.
    await waitFor(
      () =>
        delivered.some((m) => m.type === "request") &&
        laterFrames(raw).some((m) => m.type === "sync" && "documentId" in m && m.documentId === source.documentId),
      "the 1.0 peer's request to be taken and the document sent",
    );
    expect(laterFrames(raw).filter(isActivate)).toEqual([]);
    expect(rejected).toEqual([]);
  });

  it("rejects a 1.1 peer that sends a message on its held stream before an activate frame", async () => {
    const { a, outsider } = await hubWithHeldSlot();
    const source = a.repo.create<Notes>({ text: "not yet" });
    const candidates: string[] = [];
    a.adapter.on("peer-candidate", ({ peerId }) => candidates.push(peerId));
    const delivered: Message[] = [];
    a.adapter.on("message", (message) => {
      if (message.senderId === outsider.peerId.toString()) delivered.push(message);
    });

    const rejected: PeerRejectedPayload[] = [];
    a.adapter.events.on("peer:rejected", (payload) => rejected.push(payload));

    const raw = await RawSyncPeer.open(outsider, a.node);
    raw.writeHello();
    await raw.hello();
    raw.writeMessage(request(raw.peerId, a.id, source.documentId));
    await waitFor(() => rejected.length > 0 || delivered.length > 0, "the message to be rejected or taken");
    expect(rejected.map((r) => r.peerId)).toEqual([raw.peerId]);
    expect(rejected[0]?.error).toBeInstanceOf(InvalidFrameError);
    await raw.closed;
    expect(candidates).not.toContain(raw.peerId);
    expect(delivered).toEqual([]);
    expect(laterFrames(raw).filter(isActivate)).toEqual([]);
  });

  it("activates a held stream when its 1.1 peer sends the activate frame, then takes its messages", async () => {
    const { a, outsider } = await hubWithHeldSlot();
    const source = a.repo.create<Notes>({ text: "now" });
    const delivered: Message[] = [];
    a.adapter.on("message", (message) => {
      if (message.senderId === outsider.peerId.toString()) delivered.push(message);
    });
    const raw = await RawSyncPeer.open(outsider, a.node);
    raw.writeHello();
    await raw.hello();
    raw.writeActivate();
    raw.writeMessage(request(raw.peerId, a.id, source.documentId));
    await waitFor(() => a.announced.has(raw.peerId), "the peer to be announced");
    await waitFor(
      () =>
        delivered.some((m) => m.type === "request") &&
        laterFrames(raw).some((m) => m.type === "sync" && "documentId" in m && m.documentId === source.documentId),
      "the request to be taken and the document sent",
    );
  });

  it("with syncTree false, announces every stream at once and tells 1.1 peers with an activate frame", async () => {
    const group = await peers(4, false);
    await mesh(group);
    await waitFor(() => group.every((peer) => peer.repo.peers.length === 3), "all 6 pairs at both ends");
    expect(activatedPairs(group).size).toBe(6);

    // A peer that is not the first stream and sends a message right after the hellos would be rejected on a held
    // stream; with the tree off its stream is live as soon as the hellos are through.
    const [a] = group as [Watched];
    const source = a.repo.create<Notes>({ text: "open to all" });
    const rejected: PeerRejectedPayload[] = [];
    a.adapter.events.on("peer:rejected", (payload) => rejected.push(payload));
    const outsider = await createNode("memory");
    const raw = await RawSyncPeer.open(outsider, a.node);
    raw.writeHello();
    await raw.hello();
    raw.writeMessage(request(raw.peerId, a.id, source.documentId));
    await waitFor(
      () => laterFrames(raw).some((m) => m.type === "sync" && "documentId" in m && m.documentId === source.documentId),
      "the document to be sent to the new peer",
    );
    expect(laterFrames(raw)[0]?.type).toBe("activate");
    expect(rejected).toEqual([]);
  });
});

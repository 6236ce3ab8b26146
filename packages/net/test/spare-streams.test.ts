/**
 * Spare streams (protocol 1.3): once a node's streams to its neighbours in the discovered trees are up, a stream to
 * another member of its groups stops syncing if both ends find it spare (hold, then held each way), stays open, and
 * documents still reach everyone through the trees. A stream spare from the start syncs once first (it may join two
 * halves of a tree laid in part). A peer that does not agree keeps it syncing; messages sent before
 * the peer saw the held frame are dropped, not taken for a violation; 1.2 peers are never asked.
 */
import * as A from "@automerge/automerge";
import type { Message, PeerId } from "@automerge/automerge-repo";
import type { Libp2p } from "@libp2p/interface";
import { afterEach, describe, expect, it, vi } from "vitest";
import { decodeFrame, encodeControl, isControl } from "../src/frames.js";
import { DEFAULT_MAX_FRAME_SIZE, InvalidFrameError, type PeerRejectedPayload, SYNC_PROTOCOL } from "../src/index.js";
import { FIRST_ROUND_QUIET_MS } from "../src/libp2p-adapter.js";
import type { DiscoveredTree } from "../src/sync-tree.js";
import { createNode, createSyncPeer, link, type SyncPeer, stopAll } from "./support/nodes.js";
import { RawSyncPeer } from "./support/raw-peer.js";
import { waitFor } from "./support/wait.js";

afterEach(stopAll);

/** Nothing held is released by the quiet timer within a test: what stops syncing stays stopped. */
const NEVER = { settleMs: 100, quietMs: 60_000, maxDeferMs: 120_000 } as const;

interface Notes {
  text: string;
}

/** A sync peer whose discovered tree the test sets, with what its adapter reported. */
interface Peer extends SyncPeer {
  readonly id: PeerId;
  tree: DiscoveredTree | undefined;
  readonly held: string[];
  readonly rejected: PeerRejectedPayload[];
}

async function peer(): Promise<Peer> {
  const made = { tree: undefined, held: [], rejected: [] } as unknown as Peer;
  const started = await createSyncPeer("memory", { syncTree: NEVER, discoveredTree: () => made.tree });
  const self = Object.assign(made, started, { id: started.adapter.peerId });
  started.adapter.events.on("peer:held", ({ peerId }) => self.held.push(peerId));
  started.adapter.events.on("peer:rejected", (payload) => self.rejected.push(payload));
  return self;
}

function tree(neighbours: readonly Peer[], members: readonly Peer[]): DiscoveredTree {
  return { neighbours: new Set(neighbours.map((p) => p.id)), members: new Set(members.map((p) => p.id)) };
}

function syncing(a: SyncPeer, b: SyncPeer): boolean {
  return a.repo.peers.includes(b.adapter.peerId) && b.repo.peers.includes(a.adapter.peerId);
}

function openSyncStream(from: Libp2p, to: Libp2p): boolean {
  return from
    .getConnections(to.peerId)
    .some((c) => c.streams.some((s) => s.protocol === SYNC_PROTOCOL && s.status === "open"));
}

/** Three peers: a the hub of the discovered tree, b and c its leaves, b and c already syncing with each other. */
async function triangle(): Promise<{ a: Peer; b: Peer; c: Peer }> {
  const [a, b, c] = await Promise.all([peer(), peer(), peer()]);
  a.tree = tree([b, c], [b, c]);
  b.tree = tree([a], [a, c]);
  c.tree = tree([a], [a, b]);
  // b and c meet first: with their neighbour a not connected yet, nothing is spare and they sync.
  await link(b.node, c.node);
  await waitFor(() => syncing(b, c), "b and c to sync");
  await Promise.all([link(a.node, b.node), link(a.node, c.node)]);
  await waitFor(() => syncing(a, b) && syncing(a, c), "a to sync with b and c");
  return { a, b, c };
}

describe("spare streams", () => {
  it("stop syncing at both ends once the tree's streams are up, stay open, and documents still reach everyone", async () => {
    const { a, b, c } = await triangle();
    await waitFor(() => !b.repo.peers.includes(c.id) && !c.repo.peers.includes(b.id), "b and c to stop syncing");
    expect(b.held).toEqual([c.id]);
    expect(c.held).toEqual([b.id]);
    expect(openSyncStream(b.node, c.node) && openSyncStream(c.node, b.node)).toBe(true);
    expect(syncing(a, b) && syncing(a, c)).toBe(true);

    const source = b.repo.create<Notes>({ text: "from b" });
    await waitFor(() => c.repo.handles[source.documentId]?.isReady() === true, "b's document to reach c through a");
    const there = await c.repo.find<Notes>(source.url);
    there.change((d) => {
      d.text = "c's answer";
    });
    await waitFor(() => source.doc().text === "c's answer", "c's change to come back to b through a");
    expect([a, b, c].flatMap((p) => p.rejected)).toEqual([]);
  });

  it("keep syncing when the peer does not find the stream spare", async () => {
    const [a, b, c] = await Promise.all([peer(), peer(), peer()]);
    a.tree = tree([b, c], [b, c]);
    b.tree = tree([a], [a, c]);
    c.tree = tree([a, b], [a, b]); // c lays another tree, with b in it
    await link(b.node, c.node);
    await waitFor(() => syncing(b, c), "b and c to sync");
    await Promise.all([link(a.node, b.node), link(a.node, c.node)]);
    await waitFor(() => syncing(a, b) && syncing(a, c), "a to sync with b and c");
    // b asks as soon as a's stream is up and c answers at once; a second of traffic-free waiting is ample.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(syncing(b, c)).toBe(true);
    expect([...b.held, ...c.held]).toEqual([]);
    expect([a, b, c].flatMap((p) => p.rejected)).toEqual([]);
  });

  it("sync once over a new stream spare at both ends before holding it: it may be all that joins two halves", async () => {
    // The tree laid over the four is a - b - d - c, but b has not dialled d yet (a busy node waits to): a and c
    // each find their own neighbour linked, and so their new stream spare.
    const [a, b, c, d] = await Promise.all([peer(), peer(), peer(), peer()]);
    a.tree = tree([b], [b, c, d]);
    b.tree = tree([a, d], [a, c, d]);
    c.tree = tree([d], [a, b, d]);
    d.tree = tree([c, b], [a, b, c]);
    await Promise.all([link(a.node, b.node), link(c.node, d.node)]);
    await waitFor(() => syncing(a, b) && syncing(c, d), "each half to sync");
    const fromB = b.repo.create<Notes>({ text: "from b" });
    const fromD = d.repo.create<Notes>({ text: "from d" });
    await waitFor(() => a.repo.handles[fromB.documentId]?.isReady() === true, "b's document to reach a");
    await waitFor(() => c.repo.handles[fromD.documentId]?.isReady() === true, "d's document to reach c");

    await link(a.node, c.node);
    await waitFor(() => d.repo.handles[fromB.documentId]?.isReady() === true, "b's document to reach d", 5_000);
    await waitFor(() => b.repo.handles[fromD.documentId]?.isReady() === true, "d's document to reach b", 5_000);
    // Its round over, the stream is spare: both ends hold it.
    await waitFor(() => a.held.includes(c.id) && c.held.includes(a.id), "a and c to hold their stream", 5_000);
    expect(openSyncStream(a.node, c.node)).toBe(true);
    expect([a, b, c, d].flatMap((p) => p.rejected)).toEqual([]);
  });

  it("start syncing again when a tree stream goes, so that nothing is cut off", async () => {
    const { a, b, c } = await triangle();
    await waitFor(() => !b.repo.peers.includes(c.id) && !c.repo.peers.includes(b.id), "b and c to stop syncing");
    // b loses its tree neighbour a: its stream to c is all it has left, so it activates it, and c follows.
    await Promise.all(b.node.getConnections(a.node.peerId).map((connection) => connection.close()));
    await waitFor(() => syncing(b, c), "b and c to sync again");
    const source = a.repo.create<Notes>({ text: "from a" });
    await waitFor(() => b.repo.handles[source.documentId]?.isReady() === true, "a's document to reach b through c");
  });
});

describe("the hold handshake with a hand-driven peer", () => {
  /** x syncs with y, its only neighbour; `raw` is in x's group but no neighbour, so x finds it spare. */
  async function spareRaw(version?: { major: number; minor: number }) {
    const [x, y] = await Promise.all([peer(), peer()]);
    const outsider = await createNode("memory");
    x.tree = { neighbours: new Set([y.id]), members: new Set([y.id, outsider.peerId.toString()]) };
    await link(x.node, y.node);
    await waitFor(() => syncing(x, y), "x and y to sync");
    const raw = await RawSyncPeer.open(outsider, x.node);
    raw.writeHello(version === undefined ? {} : { version });
    raw.writeFrame(encodeControl("activate"));
    await raw.hello();
    await waitFor(() => x.repo.peers.includes(raw.peerId as PeerId), "x to sync with the raw peer");
    return { x, raw };
  }

  function message(raw: RawSyncPeer, x: Peer): Message {
    const doc = A.from({ text: "in flight" });
    const [, data] = A.generateSyncMessage(doc, A.initSyncState());
    return {
      type: "sync",
      senderId: raw.peerId as PeerId,
      targetId: x.id as PeerId,
      documentId: "3Wq5RtxygJJLBPxA7ru6EDA5NTpd" as never,
      data: data as Uint8Array,
    } as Message;
  }

  it("drops the peer's messages sent before it saw the held frame, and rejects one sent after its own", async () => {
    const { x, raw } = await spareRaw();
    // Past the stream's first round, when x asks for a hold itself and agrees to one.
    await waitFor(() => controlsFrom(raw).includes("hold"), "x's hold frame", 5_000);
    const delivered: Message[] = [];
    x.adapter.on("message", (m) => {
      if (m.senderId === raw.peerId) delivered.push(m);
    });
    raw.writeFrame(encodeControl("hold"));
    await waitFor(() => x.held.includes(raw.peerId), "x to stop syncing with the raw peer");
    expect(x.repo.peers).not.toContain(raw.peerId);
    await waitFor(
      () => raw.frames.slice(1).some((f) => isControl(decodeFrame(f, DEFAULT_MAX_FRAME_SIZE))),
      "x's held frame",
    );
    const controls = raw.frames
      .slice(1)
      .map((f) => decodeFrame(f, DEFAULT_MAX_FRAME_SIZE))
      .filter(isControl)
      .map((f) => f.type);
    expect(controls).toContain("held");

    raw.writeMessage(message(raw, x)); // crossed x's held frame on the way
    raw.writeFrame(encodeControl("held"));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(delivered).toEqual([]);
    expect(x.rejected).toEqual([]);

    raw.writeMessage(message(raw, x)); // after its own held frame: a violation
    await waitFor(() => x.rejected.length > 0, "the late message to be rejected");
    expect(x.rejected[0]?.error).toBeInstanceOf(InvalidFrameError);
    expect(delivered).toEqual([]);
  });

  it("never asks a 1.2 peer to hold, and rejects a hold frame from one", async () => {
    const { x, raw } = await spareRaw({ major: 1, minor: 2 });
    await new Promise((resolve) => setTimeout(resolve, 300)); // past the tree's settle time
    const controls = raw.frames
      .slice(1)
      .map((f) => decodeFrame(f, DEFAULT_MAX_FRAME_SIZE))
      .filter(isControl)
      .map((f) => f.type);
    expect(controls).not.toContain("hold");
    expect(x.repo.peers).toContain(raw.peerId);

    raw.writeFrame(encodeControl("hold"));
    await waitFor(() => x.rejected.length > 0, "the hold frame to be rejected");
    expect(x.rejected[0]?.error).toBeInstanceOf(InvalidFrameError);
  });

  function controlsFrom(raw: RawSyncPeer): string[] {
    return raw.frames
      .slice(1)
      .map((f) => decodeFrame(f, DEFAULT_MAX_FRAME_SIZE))
      .filter(isControl)
      .map((f) => f.type);
  }

  it("refuses a hold in the first round of a stream spare from the start, and asks for one once it is quiet", async () => {
    const { x, raw } = await spareRaw();
    const started = Date.now();
    raw.writeFrame(encodeControl("hold")); // at once, as a peer of another mind would
    await waitFor(() => controlsFrom(raw).includes("activate"), "x's activate frame, its refusal");
    expect(controlsFrom(raw)).not.toContain("held");
    expect(x.repo.peers).toContain(raw.peerId);
    await waitFor(() => controlsFrom(raw).includes("hold"), "x's hold frame once the round is over", 5_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(FIRST_ROUND_QUIET_MS - 200);
    expect(x.rejected).toEqual([]);
  });

  it("answers a hold with an activate frame and keeps syncing when the stream is not spare here", async () => {
    const { x, raw } = await spareRaw();
    x.tree = {
      neighbours: new Set([...(x.tree?.neighbours ?? []), raw.peerId]),
      members: x.tree?.members ?? new Set(),
    };
    const before = controlsFrom(raw).filter((t) => t === "activate").length;
    raw.writeFrame(encodeControl("hold"));
    await waitFor(
      () => controlsFrom(raw).filter((t) => t === "activate").length > before,
      "x's activate frame, its refusal",
    );
    expect(controlsFrom(raw)).not.toContain("held");
    expect(x.repo.peers).toContain(raw.peerId);
    expect(x.held).toEqual([]);
  });

  it("asks a spare peer once until it answers, and again a second after a refusal", async () => {
    const { x, raw } = await spareRaw();
    const holds = () => controlsFrom(raw).filter((t) => t === "hold").length;
    await waitFor(() => holds() === 1, "x's hold frame");
    // Streams coming up lay x's tree again; with the first hold unanswered, no second one goes.
    const z = await peer();
    await link(x.node, z.node);
    await waitFor(() => syncing(x, z), "x and z to sync");
    await new Promise((resolve) => setTimeout(resolve, 400)); // past the tree's settle time
    expect(holds()).toBe(1);
    raw.writeFrame(encodeControl("activate")); // the raw peer keeps syncing: its refusal
    const refusedAt = Date.now();
    await waitFor(() => holds() === 2, "x's hold frame asked again after the refusal", 5_000);
    expect(Date.now() - refusedAt).toBeGreaterThanOrEqual(900); // not at once: 1 s on, doubling
    expect(x.rejected).toEqual([]);
  });

  it("asks again after a refusal even when the wall clock falls behind its timer", async () => {
    const { raw } = await spareRaw();
    const holds = () => controlsFrom(raw).filter((t) => t === "hold").length;
    await waitFor(() => holds() === 1, "x's hold frame");
    raw.writeFrame(encodeControl("activate")); // refused: x asks again a second on, by the wall clock
    await new Promise((resolve) => setTimeout(resolve, 200));
    // The wall clock steps back 50 ms (an NTP correction, or a timer firing a little early by Date.now()).
    const now = Date.now;
    const behind = vi.spyOn(Date, "now").mockImplementation(() => now() - 50);
    try {
      await waitFor(() => holds() === 2, "x's hold frame asked again", 5_000);
    } finally {
      behind.mockRestore();
    }
  });

  it("asks a 1.3 peer it finds spare to hold", async () => {
    const { raw } = await spareRaw();
    // The raw peer's stream came after y's: x's next look at its tree (at the latest when streams settle) asks.
    await waitFor(
      () =>
        raw.frames
          .slice(1)
          .map((f) => decodeFrame(f, DEFAULT_MAX_FRAME_SIZE))
          .some((f) => isControl(f) && f.type === "hold"),
      "x's hold frame",
    );
  });
});

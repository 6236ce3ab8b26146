/** The libp2p sync adapter over real nodes: syncing, large documents, hostile peers, reconnects, dedup and refusal. */
import { randomBytes } from "node:crypto";
import * as A from "@automerge/automerge";
import type { DocHandle, EphemeralMessage, Message, PeerId, SessionId } from "@automerge/automerge-repo";
import { cbor, generateAutomergeUrl, parseAutomergeUrl, Repo } from "@automerge/automerge-repo";
import type { Libp2p, Stream } from "@libp2p/interface";
import { deflateSync } from "fflate";
import { afterEach, describe, expect, it, vi } from "vitest";
import { DEFLATE_RAW, DEFLATE_RAW_WINDOW, DeflateWindow } from "../src/frame-compression.js";
import { type Control, decodeFrame, encodeLength, type Hello, isControl } from "../src/frames.js";
import {
  DEFAULT_MAX_FRAME_SIZE,
  FrameTooLargeError,
  HandshakeTimeoutError,
  IncompatibleVersionError,
  InvalidFrameError,
  Libp2pNetworkAdapter,
  PeerIdMismatchError,
  PeerMismatchError,
  PeerRefusedError,
  type PeerRejectedPayload,
  SYNC_PROTOCOL,
  SYNC_PROTOCOL_VERSION,
  TruncatedFrameError,
} from "../src/index.js";
import { MAX_STREAMS_OPENED, PACK_TURN_BYTES, type PackTarget } from "../src/libp2p-adapter.js";
import { createNode, createSyncPeer, link, meet, type SyncPeer, stopAll } from "./support/nodes.js";
import { establishedRawPeer, RawSyncPeer, receivingStream } from "./support/raw-peer.js";
import { nextEvent, waitFor } from "./support/wait.js";

afterEach(stopAll);

interface Counter {
  n: number;
}

/** The frames the adapter wrote after its hello, decoded in order through one receiving window, as its peer reads them. */
function afterHello(frames: readonly Uint8Array[]): (Control | Message)[] {
  const window = new DeflateWindow();
  return frames.slice(1).map((frame) => decodeFrame(frame, DEFAULT_MAX_FRAME_SIZE, window));
}

/**
 * A raw peer that completes the handshake with `a` (its hello changed by `hello`) and asks for a document `a` creates
 * then: the request makes the Repo count the raw peer among the document's peers, so its sync rounds and broadcasts
 * reach it.
 */
async function askedByRawPeer(a: SyncPeer, hello: Partial<Hello>, minutes: string) {
  const raw = await RawSyncPeer.open(await createNode(), a.node);
  const announced = nextEvent(a.adapter, "peer-candidate");
  raw.writeHello(hello);
  raw.writeActivate();
  const theirs = await raw.hello();
  await announced;
  const handle = a.repo.create<{ minutes: string }>({ minutes });
  const [, data] = A.generateSyncMessage(A.init(), A.initSyncState());
  raw.writeMessage({
    type: "request",
    senderId: raw.peerId as PeerId,
    targetId: a.adapter.peerId,
    documentId: handle.documentId,
    data: data as Uint8Array,
  });
  return { raw, hello: theirs, handle };
}

/** Whether a decoded frame carries an ephemeral message. */
function isEphemeral(decoded: Control | Message): boolean {
  return !isControl(decoded) && decoded.type === "ephemeral";
}

/** The order in which `adapter` announced and dropped `peer`. */
function peerEvents(adapter: Libp2pNetworkAdapter, peer: () => string): string[] {
  const seen: string[] = [];
  adapter.on("peer-candidate", ({ peerId }) => {
    if (peerId === peer()) seen.push("candidate");
  });
  adapter.on("peer-disconnected", ({ peerId }) => {
    if (peerId === peer()) seen.push("disconnected");
  });
  return seen;
}

/** Every rejection `adapter` reports. */
function rejections(adapter: Libp2pNetworkAdapter): PeerRejectedPayload[] {
  const seen: PeerRejectedPayload[] = [];
  adapter.events.on("peer:rejected", (payload) => seen.push(payload));
  return seen;
}

/** Announcements must alternate, starting with a candidate: never a new candidate before the old one left. */
function expectAlternating(events: string[]): void {
  events.forEach((event, i) => {
    expect(event).toBe(i % 2 === 0 ? "candidate" : "disconnected");
  });
}

/** The open sync streams of a node. */
function syncStreams(node: Libp2p): Stream[] {
  return node
    .getConnections()
    .flatMap((connection) => connection.streams)
    .filter((stream) => stream.protocol === SYNC_PROTOCOL && stream.status === "open");
}

/** The parties of an attack on `a`, with `b` the good peer. */
interface Ends {
  readonly a: SyncPeer;
  readonly b: SyncPeer;
  readonly raw: RawSyncPeer;
}

/** Two synced peers `a` and `b` sharing a counter document, and a plain node to attack `a` from. */
async function victimAndGoodPeer(): Promise<{
  a: SyncPeer;
  b: SyncPeer;
  handle: DocHandle<Counter>;
  remote: DocHandle<Counter>;
  attacker: Libp2p;
}> {
  const [a, b, attacker] = await Promise.all([createSyncPeer(), createSyncPeer(), createNode()]);
  await meet(a, b);
  const handle = a.repo.create<Counter>({ n: 0 });
  const remote = await b.repo.find<Counter>(handle.url);
  return { a, b, handle, remote, attacker };
}

/** A change on `handle` reaches `remote`. */
async function stillSyncs(handle: DocHandle<Counter>, remote: DocHandle<Counter>, n: number): Promise<void> {
  handle.change((d) => {
    d.n = n;
  });
  await waitFor(() => remote.doc().n === n, `n = ${n} to sync`);
}

describe("Libp2pNetworkAdapter", () => {
  it("syncs a document both ways between two Repos, as the authenticated libp2p peers", async () => {
    const [a, b] = await Promise.all([createSyncPeer(), createSyncPeer()]);
    expect(a.adapter.peerId).toBe(a.node.peerId.toString());
    const met = Promise.all([nextEvent(a.adapter, "peer-candidate"), nextEvent(b.adapter, "peer-candidate")]);
    await link(a.node, b.node);
    const [atA, atB] = await met;
    expect(atA).toMatchObject({ peerId: b.node.peerId.toString(), peerMetadata: { isEphemeral: true } });
    expect(atB).toMatchObject({ peerId: a.node.peerId.toString() });

    const handle = a.repo.create<{ title: string }>({ title: "minutes" });
    const remote = await b.repo.find<{ title: string }>(handle.url);
    expect(remote.doc().title).toBe("minutes");
    remote.change((d) => {
      d.title = "minutes, amended";
    });
    await waitFor(() => handle.doc().title === "minutes, amended", "the change to come back");
  });

  it("syncs a document of several MiB: one frame over many 64 KiB muxer chunks, past libp2p's 4 MiB buffers", async () => {
    const [a, b] = await Promise.all([createSyncPeer(), createSyncPeer()]);
    await meet(a, b);
    const blob = new Uint8Array(randomBytes(6 * 1024 * 1024));
    const handle = a.repo.create<{ blob: Uint8Array }>({ blob });
    const remote = await b.repo.find<{ blob: Uint8Array }>(handle.url);
    const received = remote.doc().blob;
    expect(received.byteLength).toBe(blob.byteLength);
    expect(Buffer.from(received).equals(Buffer.from(blob))).toBe(true);
  });

  it("pauses, never resets, a stream whose messages arrive faster than they are handled, and delivers them in order", async () => {
    const { a, handle, remote, attacker } = await victimAndGoodPeer();
    const raw = await establishedRawPeer(a, attacker);
    const stream = receivingStream(a.node, attacker);
    const pause = vi.spyOn(stream, "pause");
    const resume = vi.spyOn(stream, "resume");
    const delivered: number[] = [];
    a.adapter.on("message", (message) => {
      if (message.type === "ephemeral" && message.senderId === raw.peerId) {
        delivered.push((message as EphemeralMessage).count);
      }
    });
    // Five 3 MiB messages written at once: more than the inbox holds before it pauses the stream (8 MiB).
    const data = cbor.encode(new Uint8Array(randomBytes(3 * 1024 * 1024)));
    for (let count = 1; count <= 5; count++) {
      const message: EphemeralMessage = {
        type: "ephemeral",
        senderId: raw.peerId as PeerId,
        targetId: a.adapter.peerId,
        documentId: handle.documentId,
        sessionId: "burst" as SessionId,
        count,
        data,
      };
      await raw.sendMessage(message);
    }
    await waitFor(() => delivered.length === 5, "every message to be handled");
    expect(delivered).toEqual([1, 2, 3, 4, 5]);
    expect(pause).toHaveBeenCalled();
    expect(resume).toHaveBeenCalledTimes(pause.mock.calls.length);
    expect(stream.status).toBe("open");
    await stillSyncs(handle, remote, 3);
  });

  it.each([
    [
      "deflated against what it sent before, to a peer whose hello accepts deflate-raw-window",
      [DEFLATE_RAW_WINDOW],
      "windowed",
    ],
    ["deflated alone, to a peer whose hello accepts only deflate-raw (protocol 1.2 and 1.3)", [DEFLATE_RAW], "alone"],
    ["as it is, to a peer whose hello names no codec (protocol 1.1 and before)", undefined, "plain"],
  ])("sends a large compressible message %s", async (_, compression, how) => {
    const a = await createSyncPeer();
    const { raw, hello, handle } = await askedByRawPeer(a, compression === undefined ? {} : { compression }, "");
    expect(hello.compression).toEqual([DEFLATE_RAW_WINDOW, DEFLATE_RAW]);
    await waitFor(() => raw.frames.length >= 2, "an answer to the request");
    handle.broadcast({ minutes: "The assembly agreed to meet on Thursdays. ".repeat(2_000) });
    await waitFor(() => afterHello(raw.frames).some(isEphemeral), "the broadcast to arrive");
    const frame = raw.frames[1 + afterHello(raw.frames).findIndex(isEphemeral)] as Uint8Array;
    const decoded = cbor.decode(frame) as { type: string; window?: number };
    expect(decoded.type).toBe(how === "plain" ? "ephemeral" : "deflate");
    // The answer to the request crossed first: a windowed frame names it as its dictionary.
    expect(decoded.window !== undefined && decoded.window > 0).toBe(how === "windowed");
    // The minutes are 86 kB as they are; deflated, their repetition all but vanishes.
    if (how === "plain") expect(frame.byteLength).toBeGreaterThan(80_000);
    else expect(frame.byteLength).toBeLessThan(8_000);
  });

  it.each([
    [4, true],
    [3, false],
  ])(
    "repacks sync messages with packChanges for a peer of protocol 1.%i, which reads bundles: %s",
    async (minor, bundles) => {
      const marker = A.encodeSyncMessage({ heads: [], need: [], have: [], changes: [] });
      const asked: PackTarget[] = [];
      const a = await createSyncPeer("tcp", {
        packChanges: (_documentId, _data, peer) => {
          asked.push(peer);
          return marker;
        },
      });
      const { raw } = await askedByRawPeer(a, { version: { major: 1, minor } }, "The assembly meets on Thursdays.");
      const isSync = (m: Control | Message) => !isControl(m) && m.type === "sync";
      await waitFor(() => afterHello(raw.frames).some(isSync), "an answer to the request");
      const answer = afterHello(raw.frames).find(isSync) as Message & { data: Uint8Array };
      expect(Buffer.from(answer.data).equals(Buffer.from(marker))).toBe(true);
      expect(asked.length).toBeGreaterThan(0);
      expect(asked.every((peer) => peer.readsBundles === bundles)).toBe(true);
    },
  );

  it("tells packChanges what the peer's last sync message about the document said it holds", async () => {
    const asked: (readonly string[] | undefined)[] = [];
    const a = await createSyncPeer("tcp", {
      packChanges: (_documentId, _data, peer) => {
        asked.push(peer.said?.heads);
        return undefined;
      },
    });
    const raw = await establishedRawPeer(a, await createNode());
    const handle = a.repo.create<{ minutes: string[] }>({ minutes: ["opened"] });
    handle.change((d) => {
      d.minutes.push("the budget passed");
    });
    // The raw peer holds the document's first change only.
    const [first] = A.getAllChanges(handle.doc());
    const [partial] = A.applyChanges(A.init(), [first as Uint8Array]);
    const [, data] = A.generateSyncMessage(partial, A.initSyncState());
    raw.writeMessage({
      type: "sync",
      senderId: raw.peerId as PeerId,
      targetId: a.adapter.peerId,
      documentId: handle.documentId,
      data: data as Uint8Array,
    });
    await waitFor(() => asked.some((heads) => heads?.[0] === A.getHeads(partial)[0]), "a reply packed for its heads");
    expect(asked.find((heads) => heads !== undefined)).toEqual(A.getHeads(partial));
  });

  it("packs large sync messages after the Repo's round, one per event-loop turn, and sends every message in order", async () => {
    const log: string[] = [];
    const a = await createSyncPeer("tcp", {
      packChanges: (_documentId, data) => {
        log.push(`pack ${data.byteLength}`);
        return undefined;
      },
    });
    const raw = await establishedRawPeer(a, await createNode());
    const { documentId } = parseAutomergeUrl(generateAutomergeUrl());
    const sizes = [PACK_TURN_BYTES + 1_000, 100, PACK_TURN_BYTES * 2];
    for (const size of sizes) {
      const data = new Uint8Array(size).fill(size % 251);
      a.adapter.send({ type: "sync", senderId: a.adapter.peerId, targetId: raw.peerId as PeerId, documentId, data });
    }
    log.push("sent");
    setImmediate(() => log.push("next turn"));
    const isSync = (m: Control | Message) => !isControl(m) && m.type === "sync";
    await waitFor(() => afterHello(raw.frames).filter(isSync).length === sizes.length, "the three messages");
    // None is packed inside the round; a small message goes with the one before it, a large one waits for a turn.
    expect(log).toEqual(["sent", `pack ${sizes[0]}`, "pack 100", "next turn", `pack ${sizes[2]}`]);
    const received = afterHello(raw.frames).filter(isSync) as (Message & { data: Uint8Array })[];
    expect(received.map((m) => m.data.byteLength)).toEqual(sizes);
  });

  it("does not count the streams of a peer allowPeer refuses as churn: a device not authorised yet may try again", async () => {
    const a = await createSyncPeer("tcp", { allowPeer: () => false });
    const reasons: string[] = [];
    a.adapter.events.on("peer:rejected", ({ error }) => reasons.push(error.name));
    const opener = await createNode();
    for (let i = 0; i < MAX_STREAMS_OPENED + 4; i++) {
      await RawSyncPeer.open(opener, a.node);
      await waitFor(() => reasons.length === i + 1, "the stream to be refused");
    }
    expect(reasons).toHaveLength(MAX_STREAMS_OPENED + 4);
    expect(new Set(reasons)).toEqual(new Set(["PeerRefusedError"]));
  });

  it("requires the Repo's peer id to be the libp2p peer id", async () => {
    const node = await createNode();
    const adapter = new Libp2pNetworkAdapter({ libp2p: node });
    expect(() => adapter.connect("alice" as PeerId)).toThrow(PeerIdMismatchError);
    expect(() => adapter.connect(node.peerId.toString() as PeerId)).not.toThrow();
  });

  it("is ready once the node is started and the protocol registered, and never waits for peers", async () => {
    const node = await createNode("tcp", { start: false });
    const adapter = new Libp2pNetworkAdapter({ libp2p: node });
    await Promise.resolve();
    expect(adapter.isReady()).toBe(false);
    await node.start();
    await adapter.whenReady();
    expect(adapter.isReady()).toBe(true);
    expect(node.getProtocols()).toContain(SYNC_PROTOCOL);

    // With no peer at all, the Repo gives up on an unknown document instead of waiting forever.
    const repo = new Repo({ network: [adapter], peerId: adapter.peerId });
    await expect(repo.find(generateAutomergeUrl())).rejects.toThrow(/unavailable/);
    await repo.shutdown();
  });

  it("fails whenReady, rather than hanging, when the protocol cannot be registered", async () => {
    const node = await createNode();
    await new Libp2pNetworkAdapter({ libp2p: node }).whenReady();
    const second = new Libp2pNetworkAdapter({ libp2p: node });
    await expect(second.whenReady()).rejects.toThrow();
    expect(second.isReady()).toBe(false);
  });

  it("close() removes the protocol from the node, closes the streams and emits close", async () => {
    const [a, b] = await Promise.all([createSyncPeer(), createSyncPeer()]);
    await meet(a, b);
    const gone = nextEvent(b.adapter, "peer-disconnected");
    const closed = nextEvent(a.adapter, "close");
    await a.adapter.close();
    await Promise.all([gone, closed]);
    expect(a.node.getProtocols()).not.toContain(SYNC_PROTOCOL);
    expect(a.adapter.isReady()).toBe(false);
  });

  it.each([
    ["undecodable CBOR", (raw: RawSyncPeer) => raw.writeFrame(Uint8Array.of(0xff, 0xfe, 0xfd)), InvalidFrameError],
    [
      "an oversized length prefix (and never its payload)",
      (raw: RawSyncPeer) => raw.write(encodeLength(DEFAULT_MAX_FRAME_SIZE + 1)),
      FrameTooLargeError,
    ],
    [
      "a deflated frame claiming to inflate past the frame limit",
      (raw: RawSyncPeer) =>
        raw.writeFrame(
          cbor.encode({ type: "deflate", size: DEFAULT_MAX_FRAME_SIZE + 1, data: deflateSync(Uint8Array.of(0)) }),
        ),
      FrameTooLargeError,
    ],
    [
      "a deflated frame that is not deflate",
      (raw: RawSyncPeer) => raw.writeFrame(cbor.encode({ type: "deflate", size: 1_000, data: randomBytes(64) })),
      InvalidFrameError,
    ],
    [
      "a truncated frame, then closing",
      async (raw: RawSyncPeer) => {
        raw.write(Uint8Array.of(100, 1, 2, 3));
        await raw.stream.close();
      },
      TruncatedFrameError,
    ],
  ])("a peer sending %s is rejected and disconnected while another peer keeps syncing", async (_, attack, reason) => {
    const { a, b, handle, remote, attacker } = await victimAndGoodPeer();
    const attackerEvents = peerEvents(a.adapter, () => attacker.peerId.toString());
    const goodEvents = peerEvents(a.adapter, () => b.adapter.peerId);
    const raw = await establishedRawPeer(a, attacker);

    const rejected = nextEvent(a.adapter.events, "peer:rejected");
    await attack(raw);
    const { peerId, error } = await rejected;
    expect(peerId).toBe(raw.peerId);
    expect(error).toBeInstanceOf(reason);
    await raw.closed;
    expect(attackerEvents).toEqual(["candidate", "disconnected"]);

    await stillSyncs(handle, remote, 1);
    expect(goodEvents).toEqual([]);
  });

  it("rejects garbage sent instead of a hello without ever announcing the peer", async () => {
    const { a, attacker } = await victimAndGoodPeer();
    const attackerEvents = peerEvents(a.adapter, () => attacker.peerId.toString());
    const raw = await RawSyncPeer.open(attacker, a.node);
    const rejected = nextEvent(a.adapter.events, "peer:rejected");
    raw.write(new TextEncoder().encode("\u0010GET / HTTP/1.1\r\n\r\n"));
    expect((await rejected).error).toBeInstanceOf(InvalidFrameError);
    await raw.closed;
    expect(attackerEvents).toEqual([]);
  });

  it.each([
    ["claims another peer's senderId", ({ a, b }: Ends) => [b.adapter.peerId, a.adapter.peerId]],
    ["is addressed to another peer", ({ b, raw }: Ends) => [raw.peerId, b.adapter.peerId]],
  ])("a message that %s is dropped, never delivered, and its peer disconnected", async (_, ends) => {
    const { a, b, handle, remote, attacker } = await victimAndGoodPeer();
    const raw = await establishedRawPeer(a, attacker);
    const documentId = parseAutomergeUrl(generateAutomergeUrl()).documentId;
    const delivered: Message[] = [];
    a.adapter.on("message", (message) => {
      if (message.documentId === documentId) delivered.push(message);
    });
    const gone = nextEvent(a.adapter, "peer-disconnected", (p) => p.peerId === raw.peerId);
    const rejected = nextEvent(a.adapter.events, "peer:rejected");
    const [senderId, targetId] = ends({ a, b, raw }) as [PeerId, PeerId];
    raw.writeMessage({ type: "request", senderId, targetId, documentId, data: Uint8Array.of(1) });

    expect((await rejected).error).toBeInstanceOf(PeerMismatchError);
    await gone;
    await raw.closed;
    expect(delivered).toEqual([]);
    await stillSyncs(handle, remote, 2);
  });

  it.each([
    [
      "claims another peer's id",
      (raw: RawSyncPeer, other: string) => raw.writeHello({ peerId: other }),
      PeerMismatchError,
    ],
    [
      "speaks an incompatible major version",
      (raw: RawSyncPeer) => raw.writeHello({ version: { major: 2, minor: 0 } }),
      IncompatibleVersionError,
    ],
  ])("a peer whose hello %s is rejected and never announced", async (_, hello, reason) => {
    const { a, b, attacker } = await victimAndGoodPeer();
    const attackerEvents = peerEvents(a.adapter, () => attacker.peerId.toString());
    const raw = await RawSyncPeer.open(attacker, a.node);
    const rejected = nextEvent(a.adapter.events, "peer:rejected");
    hello(raw, b.adapter.peerId);
    expect((await rejected).error).toBeInstanceOf(reason);
    await raw.closed;
    expect(attackerEvents).toEqual([]);
  });

  it("accepts a newer minor version of the protocol", async () => {
    const [a, attacker] = await Promise.all([createSyncPeer(), createNode()]);
    const announced = nextEvent(a.adapter, "peer-candidate");
    const raw = await RawSyncPeer.open(attacker, a.node);
    raw.writeHello({ version: { major: 1, minor: 7 } });
    expect((await announced).peerId).toBe(raw.peerId);
    expect((await raw.hello()).version).toEqual(SYNC_PROTOCOL_VERSION);
  });

  it("closes a stream whose peer never says hello", async () => {
    const [a, attacker] = await Promise.all([createSyncPeer("tcp", { handshakeTimeout: 300 }), createNode()]);
    const rejected = nextEvent(a.adapter.events, "peer:rejected");
    const raw = await RawSyncPeer.open(attacker, a.node);
    expect((await rejected).error).toBeInstanceOf(HandshakeTimeoutError);
    await raw.closed;
  });

  it("after a connection drops, emits peer-disconnected before the new peer-candidate, and sync resumes", async () => {
    const [a, b] = await Promise.all([createSyncPeer(), createSyncPeer()]);
    const events = peerEvents(a.adapter, () => b.adapter.peerId);
    await meet(a, b);
    const handle = a.repo.create<Counter>({ n: 0 });
    const remote = await b.repo.find<Counter>(handle.url);

    const gone = nextEvent(a.adapter, "peer-disconnected");
    await a.node.hangUp(b.node.peerId);
    await gone;
    await waitFor(() => b.node.getConnections(a.node.peerId).length === 0, "b to see the connection gone");
    handle.change((d) => {
      d.n = 1;
    });
    await b.node.dial(a.node.getMultiaddrs());
    await waitFor(() => remote.doc().n === 1, "sync to resume");
    expect(events.slice(0, 3)).toEqual(["candidate", "disconnected", "candidate"]);
    expectAlternating(events);
  });

  it("replaces a known peer's stream when it opens a new one, disconnecting the old first", async () => {
    const [a, attacker] = await Promise.all([createSyncPeer(), createNode()]);
    const events = peerEvents(a.adapter, () => attacker.peerId.toString());
    const first = await establishedRawPeer(a, attacker);
    const second = await establishedRawPeer(a, attacker);
    expect(events).toEqual(["candidate", "disconnected", "candidate"]);
    await first.closed;
    expect(second.stream.status).toBe("open");
  });

  it("when both peers open a stream at once, both keep the one opened by the lower peer id", async () => {
    const [x, y] = await Promise.all([createNode(), createNode()]);
    const ax = new Libp2pNetworkAdapter({ libp2p: x, openDelay: 0 });
    const ay = new Libp2pNetworkAdapter({ libp2p: y, openDelay: 0 });
    await Promise.all([ax.whenReady(), ay.whenReady()]);
    await link(x, y);
    const xEvents = peerEvents(ax, () => ay.peerId);
    const yEvents = peerEvents(ay, () => ax.peerId);
    const met = Promise.all([nextEvent(ax, "peer-candidate"), nextEvent(ay, "peer-candidate")]);
    ax.connect(ax.peerId, {});
    ay.connect(ay.peerId, {});
    await met;
    const [lower, higher] = ax.peerId < ay.peerId ? [x, y] : [y, x];
    // The loser may stay open for a moment while the winner's stream is still being negotiated: wait for the end state.
    await waitFor(
      () =>
        syncStreams(lower).length === 1 &&
        syncStreams(higher).length === 1 &&
        syncStreams(lower)[0]?.direction === "outbound" &&
        syncStreams(higher)[0]?.direction === "inbound" &&
        syncStreams(lower)[0]?.id === syncStreams(higher)[0]?.id,
      "one sync stream, opened by the lower peer id, at both ends",
    );
    expectAlternating(xEvents);
    expectAlternating(yEvents);
    ax.disconnect();
    ay.disconnect();
  });

  it("a peer refused by allowPeer is never announced and gets no document, while others do", async () => {
    const stranger = await createSyncPeer();
    const member = await createSyncPeer();
    const host = await createSyncPeer("tcp", { allowPeer: async (peer) => peer !== stranger.adapter.peerId });
    const refused = rejections(host.adapter);
    const strangerEvents = peerEvents(stranger.adapter, () => host.adapter.peerId);
    const hostEvents = peerEvents(host.adapter, () => stranger.adapter.peerId);
    const handle = host.repo.create<{ secret: string }>({ secret: "strike budget" });

    await Promise.all([link(host.node, member.node), link(host.node, stranger.node)]);
    // Both ends try: the host refuses before opening its own stream, and closes the stranger's without a hello.
    await waitFor(() => refused.length >= 2, "both attempts to be refused");
    expect(refused.every((r) => r.peerId === stranger.adapter.peerId && r.error instanceof PeerRefusedError)).toBe(
      true,
    );

    await waitFor(() => member.repo.peers.includes(host.adapter.peerId), "the member to be announced");
    const copy = await member.repo.find<{ secret: string }>(handle.url);
    expect(copy.doc().secret).toBe("strike budget");
    await expect(stranger.repo.find(handle.url)).rejects.toThrow(/unavailable/);
    expect(strangerEvents).toEqual([]);
    expect(hostEvents).toEqual([]);
  });

  it("sends nothing about a document `permits` denies a peer, even when its Repo shares everything", async () => {
    let secretId: string | undefined;
    const host = await createSyncPeer("tcp", { permits: (_peer, document) => document !== secretId });
    const member = await createSyncPeer();
    const heard = new Set<string>();
    member.adapter.on("message", (m) => {
      if (m.documentId !== undefined) heard.add(m.documentId);
    });
    const secret = host.repo.create<{ text: string }>({ text: "strike budget" });
    secretId = secret.documentId;
    const open = host.repo.create<{ text: string }>({ text: "minutes" });
    await meet(host, member);
    expect((await member.repo.find<{ text: string }>(open.url)).doc().text).toBe("minutes");
    await expect(member.repo.find(secret.url, { signal: AbortSignal.timeout(2_000) })).rejects.toThrow();
    expect(heard.has(secret.documentId)).toBe(false);
  });

  it("counts a document's sync messages as traffic in quietFor, and not ephemeral messages", async () => {
    const [a, b] = await Promise.all([createSyncPeer(), createSyncPeer()]);
    expect(a.adapter.quietFor()).toBe(Number.POSITIVE_INFINITY);
    await meet(a, b);
    const handleA = a.repo.create<Counter>({ n: 0 });
    const handleB = await b.repo.find<Counter>(handleA.url);
    expect(a.adapter.quietFor()).toBeLessThan(1_000);
    await waitFor(() => a.adapter.quietFor() >= 300 && b.adapter.quietFor() >= 300, "the sync to go quiet");

    const before = [a.adapter.quietFor(), b.adapter.quietFor()];
    for (let i = 0; i < 3; i++) {
      const heard = nextEvent(handleB, "ephemeral-message");
      handleA.broadcast({ presence: i });
      await heard;
    }
    expect(a.adapter.quietFor()).toBeGreaterThanOrEqual(before[0] as number);
    expect(b.adapter.quietFor()).toBeGreaterThanOrEqual(before[1] as number);

    handleA.change((d) => {
      d.n = 1;
    });
    await waitFor(() => handleB.doc().n === 1, "the change to sync");
    expect(b.adapter.quietFor()).toBeLessThan(300);
  });

  it.each([
    [false, ["from b"]],
    [true, ["from a", "from b"]],
  ])("with relayEphemeral %s, a peer two hops away hears %j", async (relayEphemeral, expected) => {
    const [a, b, c] = await Promise.all([
      createSyncPeer("tcp", { relayEphemeral }),
      createSyncPeer("tcp", { relayEphemeral }),
      createSyncPeer("tcp", { relayEphemeral }),
    ]);
    const refused = rejections(c.adapter);
    // b must hold the document before c appears: a peer asked for a document it lacks marks it unavailable.
    await meet(a, b);
    const handleA = a.repo.create<Counter>({ n: 0 });
    const handleB = await b.repo.find<Counter>(handleA.url);
    await meet(b, c);
    const handleC = await c.repo.find<Counter>(handleA.url);
    const heard: Array<{ from: string; text: string }> = [];
    handleC.on("ephemeral-message", ({ senderId, message }) => {
      heard.push({ from: senderId, text: (message as { text: string }).text });
    });

    const atB = nextEvent(handleB, "ephemeral-message");
    handleA.broadcast({ text: "from a" });
    await atB;
    // b relays (or not) as it receives; its own message follows on the same ordered stream to c.
    const marker = nextEvent(handleC, "ephemeral-message", (e: { message: unknown }) => {
      return (e.message as { text: string }).text === "from b";
    });
    handleB.broadcast({ text: "from b" });
    await marker;
    expect(heard.map((h) => h.text)).toEqual(expected);
    if (relayEphemeral) expect(heard[0]?.from).toBe(a.adapter.peerId);
    expect(refused).toEqual([]);
  });
});

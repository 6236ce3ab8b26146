/**
 * A member's device that misbehaves within the protocol's grammar: its frames are well formed and it may open a sync
 * stream, so nothing rejects it outright. The node must neither crash nor keep growing, and must keep serving.
 */
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, sep } from "node:path";
import { deflateRawSync } from "node:zlib";
import type { DocumentId, EphemeralMessage, Message, PeerId, SessionId } from "@automerge/automerge-repo";
import { cbor, generateAutomergeUrl, parseAutomergeUrl } from "@automerge/automerge-repo";
import { createIdentity, type Identity } from "@federa/core";
import { generateKeyPairFromSeed } from "@libp2p/crypto/keys";
import { afterEach, describe, expect, it } from "vitest";
import { encodeControl, encodeMessage } from "../src/frames.js";
import { type FederaNode, InvalidFrameError, type PeerRejectedPayload, StreamChurnError } from "../src/index.js";
import { MAX_CONTROL_FRAMES, MAX_STREAMS_OPENED } from "../src/libp2p-adapter.js";
import { authorizeOnCopy } from "./support/authorize.js";
import { startFederaNode, stopFederaNodes } from "./support/federa-nodes.js";
import { createNode, stopAll } from "./support/nodes.js";
import { RawSyncPeer } from "./support/raw-peer.js";
import { waitFor } from "./support/wait.js";

const dirs: string[] = [];
const rejections: unknown[] = [];
const onRejection = (reason: unknown) => rejections.push(reason);

afterEach(async () => {
  process.off("unhandledRejection", onRejection);
  rejections.length = 0;
  await stopFederaNodes();
  await stopAll();
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** Ana's node, on disk, holding a council of which Ben is a member with an authorised device. */
async function council(): Promise<{ node: FederaNode; ben: Identity; dir: string; documentId: DocumentId }> {
  const [ana, ben] = await Promise.all([createIdentity(), createIdentity()]);
  const dir = await mkdtemp(join(tmpdir(), "federa-abuse-"));
  dirs.push(dir);
  const { nodeOptions } = await import("../src/node/index.js");
  const node = await startFederaNode(ana, { storage: nodeOptions({ storageDir: dir, mdns: false }).storage });
  const held = await node.foundCouncil({ name: "Print shop", founders: [ben.member] });
  await authorizeOnCopy(held, ben);
  return { node, ben, dir, documentId: held.councilHandle.documentId };
}

/** A raw sync stream from Ben's device (his key, no Repo behind it) to `node`, past the handshake. */
async function rawDevice(node: FederaNode, ben: Identity, storageId?: string): Promise<RawSyncPeer> {
  const privateKey = await generateKeyPairFromSeed("Ed25519", ben.device.seed);
  const libp2p = await createNode("tcp", { privateKey });
  const raw = await RawSyncPeer.open(libp2p, node.libp2p);
  raw.writeHello({
    peerMetadata: storageId === undefined ? {} : { storageId: storageId as never, isEphemeral: false },
  });
  // Anything but a hello before the node's own hello breaks the protocol: the node greets once it has checked the peer.
  await raw.hello();
  raw.writeActivate();
  return raw;
}

/** Every rejection the node's adapter reports, as it happens. */
function peersRejected(node: FederaNode): PeerRejectedPayload[] {
  const seen: PeerRejectedPayload[] = [];
  node.adapter.events.on("peer:rejected", (payload) => seen.push(payload));
  return seen;
}

/** A frame carrying `message` deflated, as a peer that negotiated compression sends it. */
function deflated(message: Message): Uint8Array {
  const payload = encodeMessage(message);
  return cbor.encode({ type: "deflate", size: payload.byteLength, data: deflateRawSync(payload) });
}

describe("a member's device that misbehaves", () => {
  it("announcing a storage id that is no file name neither crashes the node nor stops it answering", async () => {
    process.on("unhandledRejection", onRejection);
    const { node, ben, documentId } = await council();
    const raw = await rawDevice(node, ben, "../x/y");
    const before = raw.frames.length;
    raw.writeMessage(raw.nothingHeld(node.adapter.peerId, documentId));
    await waitFor(() => raw.frames.length > before, "the node's answer");
    await node.flush();
    await new Promise((resolve) => setTimeout(resolve, 500)); // the Repo saves sync states on a 100 ms throttle
    expect(rejections).toEqual([]);
    expect(node.libp2p.status).toBe("started");
  });

  it("keeps sync state under the first storage id a device announced, not under every new one", async () => {
    const { node, ben, dir, documentId } = await council();
    const ids = ["5f0c6d2e-1111-4c8e-9e55-000000000001", "5f0c6d2e-1111-4c8e-9e55-000000000002"];
    // The storage ids sync states are kept under, over every document (`dir/ab/cdef…/sync-state/ID`).
    const stored = async () => {
      const files = await readdir(dir, { recursive: true });
      const ids = files.map((f) => f.split(sep)).filter((p) => p.length === 4 && p[2] === "sync-state");
      return [...new Set(ids.map((p) => p[3]))];
    };
    for (const id of [...ids, ids[1]!]) {
      const raw = await rawDevice(node, ben, id);
      const before = raw.frames.length;
      raw.writeMessage(raw.nothingHeld(node.adapter.peerId, documentId));
      await waitFor(() => raw.frames.length > before, "the node's answer");
      // The Repo saves sync states on a throttle: the first device's is on disk before the next one comes.
      await waitFor(async () => (await stored()).length > 0, "a sync state on disk");
      await new Promise((resolve) => setTimeout(resolve, 300));
      await raw.node.stop();
      await waitFor(() => node.libp2p.getConnections().length === 0, "the device to be gone");
    }
    await node.flush();
    expect(await stored()).toEqual([ids[0]]);
  });

  it("messages about documents it may not read never reach the Repo", async () => {
    const { node, ben, documentId } = await council();
    const raw = await rawDevice(node, ben);
    const seen: Message[] = [];
    node.adapter.on("message", (m) => {
      if (m.senderId === raw.peerId) seen.push(m);
    });
    for (let i = 0; i < 200; i++) {
      const other = parseAutomergeUrl(generateAutomergeUrl()).documentId;
      raw.writeMessage({ ...raw.nothingHeld(node.adapter.peerId, documentId), type: "request", documentId: other });
      const ephemeral: EphemeralMessage = {
        type: "ephemeral",
        senderId: raw.peerId as PeerId,
        targetId: node.adapter.peerId,
        documentId: other,
        sessionId: `s${i}` as SessionId,
        count: 1,
        data: cbor.encode(i),
      };
      raw.writeMessage(ephemeral);
    }
    // A message about the council it belongs to, sent last, is handled: the others were taken and dropped before it.
    raw.writeMessage(raw.nothingHeld(node.adapter.peerId, documentId));
    await waitFor(() => seen.some((m) => m.documentId === documentId), "the council's message to reach the Repo");
    expect(seen.filter((m) => m.documentId !== documentId)).toEqual([]);
    expect(node.adapter.traffic.framesReceived).toBeGreaterThanOrEqual(401);
  });

  it("ephemeral messages with ever-new session ids reach the application under one session the Repo notes", async () => {
    const { node, ben, documentId } = await council();
    const raw = await rawDevice(node, ben);
    const handle = await node.repo.find(documentId);
    const received: unknown[] = [];
    handle.on("ephemeral-message", ({ senderId, message }) => {
      if (senderId === raw.peerId) received.push(message);
    });
    const toRepo: EphemeralMessage[] = [];
    node.adapter.on("message", (m) => {
      if (m.type === "ephemeral" && m.senderId === raw.peerId) toRepo.push(m as EphemeralMessage);
    });
    const ephemeral = (sessionId: string, count: number, data: unknown): EphemeralMessage => ({
      type: "ephemeral",
      senderId: raw.peerId as PeerId,
      targetId: node.adapter.peerId,
      documentId,
      sessionId: sessionId as SessionId,
      count,
      data: cbor.encode(data),
    });
    // Each with a new, long session id: automerge-repo would keep every one of them for as long as it runs.
    const padding = "x".repeat(120);
    for (let i = 0; i < 300; i++) raw.writeMessage(ephemeral(`${padding}${i}`, 1, i));
    await waitFor(() => received.length === 300, "300 ephemeral messages to reach the application");
    expect(received).toEqual([...Array(300).keys()]);
    expect(new Set(toRepo.map((m) => m.sessionId)).size).toBe(1);
    expect(toRepo[0]!.sessionId.length).toBeLessThan(64);
    const counts = toRepo.map((m) => m.count);
    expect(counts).toEqual([...counts].sort((a, b) => a - b));
    expect(new Set(counts).size).toBe(300);

    // Within one session, a replayed count is dropped (as the Repo would), a higher one delivered; a new session (the
    // device restarted, counting from 1 again) is delivered too.
    raw.writeMessage(ephemeral("run-1", 1, "first"));
    raw.writeMessage(ephemeral("run-1", 1, "replayed"));
    raw.writeMessage(ephemeral("run-1", 2, "second"));
    raw.writeMessage(ephemeral("run-2", 1, "after a restart"));
    await waitFor(() => received.includes("after a restart"), "the restarted session's message");
    expect(received.slice(300)).toEqual(["first", "second", "after a restart"]);
  });
  it("is refused for a sync message whose entries would decode to gigabytes, before anything decodes it", async () => {
    const { node, ben, documentId } = await council();
    const rejected = peersRejected(node);
    const raw = await rawDevice(node, ben);
    // Twelve million empty have entries: 24 MB inflated from a frame of about 24 kB.
    const haves = 12_000_000;
    const count = [0x80 | (haves & 0x7f), 0x80 | ((haves >> 7) & 0x7f), 0x80 | ((haves >> 14) & 0x7f), haves >> 21];
    const data = new Uint8Array(3 + count.length + 2 * haves + 1);
    data.set([0x42, 0, 0, ...count]);
    const target = node.adapter.peerId;
    raw.writeFrame(deflated({ type: "sync", senderId: raw.peerId as PeerId, targetId: target, documentId, data }));
    await raw.closed;
    expect(rejected.map((r) => r.error)).toEqual([expect.any(InvalidFrameError)]);
    expect(rejected[0]!.error.message).toMatch(/12000000 have entries/);
    expect(node.libp2p.status).toBe("started");
    await node.flush();
  });

  it("is refused once it toggles held and active faster than any change of streams would", async () => {
    const { node, ben } = await council();
    const rejected = peersRejected(node);
    const raw = await rawDevice(node, ben);
    const disconnects: string[] = [];
    node.adapter.on("peer-disconnected", ({ peerId }) => disconnects.push(peerId));
    for (let i = 0; i < 5_000; i++) {
      raw.writeFrame(encodeControl("held"));
      raw.writeFrame(encodeControl("activate"));
    }
    await raw.closed;
    expect(rejected[0]?.error.message).toMatch(new RegExp(`More than ${MAX_CONTROL_FRAMES} control frames`));
    // The activate after the hello counts too; the Repo saw at most that many toggles, not thousands.
    expect(disconnects.length).toBeLessThanOrEqual(MAX_CONTROL_FRAMES / 2 + 1);
  });

  it("is refused, and banned, once it opens sync streams faster than any reconnect would", async () => {
    const { node, ben } = await council();
    const rejected = peersRejected(node);
    const privateKey = await generateKeyPairFromSeed("Ed25519", ben.device.seed);
    const libp2p = await createNode("tcp", { privateKey });
    // Each stream replaces the last, with a handshake and a pass of the Repo's over documents.
    let opened = 0;
    for (let i = 0; i < MAX_STREAMS_OPENED + 4; i++) {
      const raw = await RawSyncPeer.open(libp2p, node.libp2p).catch(() => undefined);
      if (raw === undefined) break;
      opened++;
      try {
        raw.writeHello();
      } catch {
        break; // refused already
      }
    }
    await waitFor(() => rejected.some((r) => r.error instanceof StreamChurnError), "the stream churn to be refused");
    expect(opened).toBeGreaterThan(MAX_STREAMS_OPENED);
    expect(node.banned().has(libp2p.peerId.toString())).toBe(true);
    expect(node.libp2p.status).toBe("started");
    await node.flush();
  });

  it("has messages of a type the Repo does not handle dropped before the Repo sees them", async () => {
    const { node, ben, documentId } = await council();
    const rejected = peersRejected(node);
    const raw = await rawDevice(node, ben);
    const seen: string[] = [];
    node.adapter.on("message", (m) => {
      if (m.senderId === raw.peerId) seen.push(m.type);
    });
    // 32 MiB inside: the Repo would stringify the whole message just to log that it does not know the type.
    const odd = { type: "x", senderId: raw.peerId, targetId: node.adapter.peerId, data: new Uint8Array(32 << 20) };
    raw.writeFrame(deflated(odd as unknown as Message));
    const before = raw.frames.length;
    raw.writeMessage(raw.nothingHeld(node.adapter.peerId, documentId));
    await waitFor(() => raw.frames.length > before, "the node's answer to the next message");
    expect(seen).toEqual(["sync"]);
    expect(rejected).toEqual([]);
  });
});

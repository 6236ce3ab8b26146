/** The adapter's inbox under pressure: paused streams, peers closing their side, frames it drops, listeners that throw. */
import { randomBytes } from "node:crypto";
import { deflateRawSync } from "node:zlib";
import type { DocumentId, EphemeralMessage, PeerId, SessionId } from "@automerge/automerge-repo";
import { cbor } from "@automerge/automerge-repo";
import { afterEach, describe, expect, it, vi } from "vitest";
import { encodeFrame, encodeMessage } from "../src/frames.js";
import type { PeerRejectedPayload } from "../src/index.js";
import { OUTBOX_HOLD_BYTES } from "../src/libp2p-adapter.js";
import { createNode, createSyncPeer, meet, type SyncPeer, stopAll } from "./support/nodes.js";
import { establishedRawPeer, type RawSyncPeer, receivingStream } from "./support/raw-peer.js";
import { waitFor } from "./support/wait.js";

afterEach(async () => {
  vi.useRealTimers();
  await stopAll();
});

/** An ephemeral message from `raw` to `to`, numbered `count`, carrying `size` random bytes. */
function ephemeral(raw: RawSyncPeer, to: SyncPeer, documentId: DocumentId, count: number, size: number) {
  return {
    type: "ephemeral",
    senderId: raw.peerId as PeerId,
    targetId: to.adapter.peerId,
    documentId,
    sessionId: "burst" as SessionId,
    count,
    data: cbor.encode(new Uint8Array(randomBytes(size))),
  } satisfies EphemeralMessage;
}

/** The counts of the ephemeral messages `peer` hands its Repo from `raw`, in order. */
function deliveredFrom(peer: SyncPeer, raw: RawSyncPeer): number[] {
  const delivered: number[] = [];
  peer.adapter.on("message", (message) => {
    if (message.type === "ephemeral" && message.senderId === raw.peerId) {
      delivered.push((message as EphemeralMessage).count);
    }
  });
  return delivered;
}

/** Every rejection `peer` reports. */
function rejections(peer: SyncPeer): PeerRejectedPayload[] {
  const seen: PeerRejectedPayload[] = [];
  peer.adapter.events.on("peer:rejected", (payload) => seen.push(payload));
  return seen;
}

/** A peer with a document, and a raw peer whose stream to it is established: the stream's receiving end, and the
 * counts of the raw peer's ephemeral messages as the peer hands them to its Repo. */
async function attacked(options: Parameters<typeof createSyncPeer>[1] = {}) {
  const [a, attacker] = await Promise.all([createSyncPeer("tcp", options), createNode()]);
  const raw = await establishedRawPeer(a, attacker);
  const documentId = a.repo.create<{ n: number }>({ n: 0 }).documentId;
  return { a, raw, documentId, stream: receivingStream(a.node, attacker), delivered: deliveredFrom(a, raw) };
}

/** Runs the inbox turns (setImmediate, faked) queued so far and those they queue. */
function runTurns(): void {
  vi.runAllTimers();
}

describe("inbox and a paused stream", () => {
  // Guards against: with a frame limit under Yamux's 16 MiB window, a paused stream is reset by libp2p's 4 MiB read buffer limit.
  it("never resets a paused stream of an adapter with a 1 MiB frame limit while its peer sends what Yamux allows", async () => {
    const { a, raw, documentId, stream, delivered } = await attacked({ maxFrameSize: 1 << 20 });
    vi.useFakeTimers({ toFake: ["setImmediate"] });
    // One 64 kB message at a time, each received before the next goes: the peer's window is refilled after each.
    let count = 0;
    while (stream.readStatus !== "paused") {
      const received = a.adapter.traffic.framesReceived;
      await raw.sendMessage(ephemeral(raw, a, documentId, ++count, 64_000));
      await waitFor(() => a.adapter.traffic.framesReceived > received, "the message to be received");
    }
    // The peer still holds Yamux window for several MiB more, which land in the paused stream's read buffer.
    const sent = count + 100;
    while (count < sent) await raw.sendMessage(ephemeral(raw, a, documentId, ++count, 64_000));
    await waitFor(() => stream.readBufferLength > 6_000_000 || stream.status !== "open", "the window's worth");
    await waitFor(() => {
      runTurns();
      return delivered.length === sent || stream.status !== "open";
    }, "every message to be handled");
    expect(stream.status).toBe("open");
    expect(delivered).toHaveLength(sent);
  });

  // Guards against: messages that were buffered in the paused stream when its peer closed are dropped when the stream resumes.
  it("hands over every message a peer sent before closing its side, even those buffered while the stream was paused", async () => {
    const { a, raw, documentId, stream, delivered } = await attacked();
    const rejected = rejections(a);
    // Inbox turns wait until the test runs them, as they would behind a busy event loop.
    vi.useFakeTimers({ toFake: ["setImmediate"] });
    for (let count = 1; count <= 3; count++) await raw.sendMessage(ephemeral(raw, a, documentId, count, 3 << 20));
    await waitFor(() => stream.readStatus === "paused", "the stream to pause past 8 MiB waiting");
    raw.writeMessage(ephemeral(raw, a, documentId, 4, 16));
    await raw.stream.close();
    await waitFor(() => stream.readBufferLength > 0 && stream.remoteWriteStatus === "closed", "the last bytes");
    runTurns();
    await waitFor(() => stream.status !== "open", "the stream to close");
    runTurns();
    expect(rejected).toEqual([]);
    expect(delivered).toEqual([1, 2, 3, 4]);
  });

  // Guards against: a stream paused again while resume() hands over its buffer has Yamux resumed anyway, and is reset at 64 MiB.
  it("keeps a stream paused when what it buffered while paused is past the threshold again", async () => {
    const { a, raw, documentId, stream, delivered } = await attacked();
    vi.useFakeTimers({ toFake: ["setImmediate"] });
    let count = 0;
    while (stream.readStatus !== "paused") {
      const received = a.adapter.traffic.framesReceived;
      await raw.sendMessage(ephemeral(raw, a, documentId, ++count, 1 << 20));
      await waitFor(() => a.adapter.traffic.framesReceived > received, "the message to be received");
    }
    // Ten MiB more wait in the paused stream, within the Yamux window the peer was granted.
    for (let i = 0; i < 10; i++) await raw.sendMessage(ephemeral(raw, a, documentId, ++count, 1 << 20));
    await waitFor(() => stream.readBufferLength > 10_000_000, "ten more messages in the read buffer");
    // Turn by turn until the inbox drains and resumes the stream, which hands it the ten MiB: past 8 MiB again.
    for (let turn = 0; turn < 1_000 && stream.readBufferLength > 0; turn++) vi.advanceTimersToNextTimer();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(stream.readStatus).toBe("paused");
    // An honest peer writes 64 MiB more, waiting whenever its stream says to; the receiver must hold it back.
    const total = count + 64;
    let waitingForWindow = false;
    void (async () => {
      while (count < total && stream.status === "open") {
        const frame = encodeFrame(encodeMessage(ephemeral(raw, a, documentId, ++count, 1 << 20)), 64 << 20);
        if (!raw.stream.send(frame)) {
          waitingForWindow = true;
          await raw.stream.onDrain();
          waitingForWindow = false;
        }
      }
    })().catch(() => {});
    let last = -1;
    let still = 0;
    await waitFor(() => {
      still = (waitingForWindow || count === total) && stream.readBufferLength === last ? still + 1 : 0;
      last = stream.readBufferLength;
      return stream.status !== "open" || still >= 20;
    }, "the stream to be reset or its peer to be held back");
    await waitFor(() => {
      runTurns();
      return delivered.length === total || stream.status !== "open";
    }, "every message to be handled");
    expect(stream.status).toBe("open");
    expect(delivered).toHaveLength(total);
  });
});

describe("inbox turns", () => {
  // Guards against: frames the adapter decodes (inflating them) and then drops do not end a turn, so one peer holds the loop.
  it("ends the turn after each deflated frame it inflates, even a relayed ephemeral message it drops", async () => {
    const { a, raw, documentId, delivered } = await attacked();
    vi.useFakeTimers({ toFake: ["setImmediate"] });
    // Each 4 kB frame inflates to a 4 MiB ephemeral message relayed from a third peer, which the adapter drops.
    const relayed = encodeMessage({
      ...ephemeral(raw, a, documentId, 0, 0),
      senderId: "12D3KooWThirdPeer" as PeerId,
      data: new Uint8Array(4 << 20),
    });
    const bomb = cbor.encode({
      type: "deflate",
      size: relayed.byteLength,
      data: deflateRawSync(relayed, { level: 9 }),
    });
    expect(bomb.byteLength).toBeLessThan(8_000);
    for (let i = 0; i < 32; i++) raw.writeFrame(bomb);
    raw.writeMessage(ephemeral(raw, a, documentId, 1, 16));
    const frames = a.adapter.traffic.framesReceived;
    await waitFor(() => a.adapter.traffic.framesReceived === frames + 33, "every frame to be received");
    vi.advanceTimersToNextTimer();
    // One turn inflated at most one frame: 128 MiB of inflating in a single turn is what the inbox exists to prevent.
    expect(delivered).toEqual([]);
    runTurns();
    expect(delivered).toEqual([1]);
  });

  // Guards against: a listener throwing inside a turn leaves the inbox unscheduled, so other streams' messages wait forever.
  it("goes on handing other streams' messages after a peer:rejected listener throws in a turn", async () => {
    const [a, x, y] = await Promise.all([createSyncPeer(), createNode(), createNode()]);
    const bad = await establishedRawPeer(a, x);
    const good = await establishedRawPeer(a, y);
    const documentId = a.repo.create<{ n: number }>({ n: 0 }).documentId;
    const delivered = deliveredFrom(a, good);
    a.adapter.events.on("peer:rejected", () => {
      throw new Error("a listener failed");
    });
    vi.useFakeTimers({ toFake: ["setImmediate"] });
    const frames = a.adapter.traffic.framesReceived;
    bad.writeFrame(Uint8Array.of(0xff)); // not CBOR: rejected when its turn comes
    await waitFor(() => a.adapter.traffic.framesReceived === frames + 1, "the bad frame to be received");
    good.writeMessage(ephemeral(good, a, documentId, 1, 16));
    await waitFor(() => a.adapter.traffic.framesReceived === frames + 2, "the good message to be received");
    for (let turn = 0; turn < 10; turn++) {
      try {
        vi.advanceTimersToNextTimer();
      } catch {
        // The listener's own failure; what matters is that the inbox carries on.
      }
    }
    expect(delivered).toEqual([1]);
  });
});

describe("a peer that stops reading", () => {
  // Guards against: every message of a peer that reads nothing is answered into an unbounded queue (73 MB for 22 kB sent).
  it("takes no more of its messages while its answers wait past OUTBOX_HOLD_BYTES, and answers them once it reads", async () => {
    const { a, raw } = await attacked();
    const big = a.repo.create<{ blob: Uint8Array }>({ blob: new Uint8Array(randomBytes(500_000)) });
    raw.stream.pause();
    const before = a.adapter.traffic.bytesSent;
    const asked = 40; // 40 answers of about 500 kB: 20 MB if every one were queued
    for (let i = 0; i < asked; i++) raw.writeMessage(raw.nothingHeld(a.adapter.peerId, big.documentId));
    await waitFor(() => a.adapter.traffic.framesReceived >= asked + 2, "the messages to arrive");
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const queued = a.adapter.traffic.bytesSent - before;
    expect(queued).toBeGreaterThan(OUTBOX_HOLD_BYTES);
    expect(queued).toBeLessThan(OUTBOX_HOLD_BYTES + 2_000_000);
    // Reading again, the peer gets its answers and the adapter takes the rest of its messages.
    raw.stream.resume();
    await waitFor(() => a.adapter.traffic.bytesSent - before > 15_000_000, "the other answers");
    expect(raw.stream.status).toBe("open");
  });
});

describe("a peer that reads nothing for long", () => {
  // Guards against: a peer whose answers pile up past any bound keeps its stream, and the node's memory grows.
  it("has its stream closed once more than maxOutboxBytes wait, while the node goes on serving others", async () => {
    const { a, raw, stream } = await attacked({ maxOutboxBytes: 2_000_000 });
    const good = await createSyncPeer("tcp");
    await meet(a, good);
    const big = a.repo.create<{ blob: Uint8Array; n: number }>({ blob: new Uint8Array(randomBytes(500_000)), n: 0 });
    raw.stream.pause();
    for (let i = 0; i < 40; i++) raw.writeMessage(raw.nothingHeld(a.adapter.peerId, big.documentId));
    await waitFor(() => stream.status !== "open", "the stream to close");
    expect(a.repo.peers).not.toContain(raw.peerId);
    big.change((d) => {
      d.n = 1;
    });
    const copy = await good.repo.find<{ n: number }>(big.url);
    await waitFor(() => copy.doc().n === 1, "the good peer to get the change");
  });
});

describe("a held peer that goes on sending", () => {
  // Guards against: a held stream paused like a full one, so two peers holding each other both stop reading for good.
  it("is read on while held, and closed once more than maxOutboxBytes of its frames wait", async () => {
    const { a, raw, stream, documentId } = await attacked({ maxOutboxBytes: 20_000_000 });
    const big = a.repo.create<{ blob: Uint8Array }>({ blob: new Uint8Array(randomBytes(500_000)) });
    raw.stream.pause();
    for (let i = 0; i < 40; i++) raw.writeMessage(raw.nothingHeld(a.adapter.peerId, big.documentId));
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(stream.readStatus).toBe("readable");
    for (let count = 1; count <= 30 && stream.status === "open"; count++)
      await raw.sendMessage(ephemeral(raw, a, documentId, count, 1_000_000));
    await waitFor(() => stream.status !== "open", "the stream to close");
  });
});

describe("two peers with much to send each other", () => {
  // Guards against: honest peers each holding the other's frames while their answers wait, and never getting through.
  it("both get everything when each has far more to send than the other takes in at once", async () => {
    const [a, b] = await Promise.all([createSyncPeer("tcp"), createSyncPeer("tcp")]);
    // Incompressible, in frames of 4 MB: 40 MB each way, past the 8 MiB hold, the 8 MiB inbox pause and Yamux's
    // 16 MiB window together.
    const docs = (peer: SyncPeer) =>
      Array.from({ length: 10 }, () =>
        peer.repo.create<{ blob: Uint8Array }>({ blob: new Uint8Array(randomBytes(4_000_000)) }),
      );
    const [fromA, fromB] = [docs(a), docs(b)];
    await meet(a, b);
    const fetched = await Promise.all([
      ...fromA.map((d) => b.repo.find<{ blob: Uint8Array }>(d.url, { signal: AbortSignal.timeout(60_000) })),
      ...fromB.map((d) => a.repo.find<{ blob: Uint8Array }>(d.url, { signal: AbortSignal.timeout(60_000) })),
    ]);
    for (const handle of fetched) expect(handle.doc().blob.byteLength).toBe(4_000_000);
  }, 90_000);
});

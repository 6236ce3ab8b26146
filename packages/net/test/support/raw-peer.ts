/**
 * A hand-driven end of a sync stream, opened from a plain libp2p node, to feed the adapter arbitrary bytes: the
 * attacks a misbehaving or malicious peer could try.
 */

import * as A from "@automerge/automerge";
import type { DocumentId, Message, PeerId } from "@automerge/automerge-repo";
import type { Libp2p, Stream } from "@libp2p/interface";
import { Uint8ArrayList } from "uint8arraylist";
import { SYNC_PROTOCOL, SYNC_PROTOCOL_VERSION } from "../../src/constants.js";
import type { Hello } from "../../src/frames.js";
import {
  decodeHello,
  encodeActivate,
  encodeFrame,
  encodeHello,
  encodeMessage,
  FrameDecoder,
} from "../../src/frames.js";
import type { SyncPeer } from "./nodes.js";
import { nextEvent } from "./wait.js";

const MAX = 64 * 1024 * 1024;

export class RawSyncPeer {
  readonly node: Libp2p;
  readonly stream: Stream;
  /** Frames received from the adapter, the hello first. */
  readonly frames: Uint8Array[] = [];
  /** Resolves when the stream is closed, reset or aborted, whoever did it. */
  readonly closed: Promise<void>;
  readonly #decoder = new FrameDecoder(MAX);
  readonly #waiters: Array<() => void> = [];

  private constructor(node: Libp2p, stream: Stream) {
    this.node = node;
    this.stream = stream;
    this.closed = new Promise((resolve) => stream.addEventListener("close", () => resolve(), { once: true }));
    stream.addEventListener("message", (event) => {
      for (const frame of this.#decoder.push(event.data)) this.frames.push(frame);
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  /** Opens a sync stream from `node` to `target` (dialling it if need be). */
  static async open(node: Libp2p, target: Libp2p, protocol = SYNC_PROTOCOL): Promise<RawSyncPeer> {
    const stream = await node.dialProtocol(target.getMultiaddrs(), protocol, { signal: AbortSignal.timeout(10_000) });
    return new RawSyncPeer(node, stream);
  }

  /** The automerge-repo peer id this end is authenticated as. */
  get peerId(): string {
    return this.node.peerId.toString();
  }

  /** Writes raw bytes, as they are. */
  write(bytes: Uint8Array | Uint8ArrayList): void {
    this.stream.send(bytes);
  }

  /** Writes one well-formed frame around `payload`. */
  writeFrame(payload: Uint8Array): void {
    this.write(encodeFrame(payload, MAX));
  }

  /** Writes a hello; by default an honest one for this node. */
  writeHello(overrides: Partial<Hello> = {}): void {
    const hello: Hello = {
      version: SYNC_PROTOCOL_VERSION,
      peerId: this.peerId,
      peerMetadata: {},
      maxFrameSize: MAX,
      ...overrides,
    };
    this.writeFrame(encodeHello(hello));
  }

  /** Writes a message frame. */
  writeMessage(message: Message): void {
    this.writeFrame(encodeMessage(message));
  }

  /** Writes a message frame, waiting while the stream's write buffer is full (as an honest sender does). */
  async sendMessage(message: Message): Promise<void> {
    if (!this.stream.send(encodeFrame(encodeMessage(message), MAX))) await this.stream.onDrain();
  }

  /** The first sync message of a peer holding nothing of `documentId`, to `target`: its Repo answers with the document. */
  nothingHeld(target: string, documentId: DocumentId): Message {
    const [, data] = A.generateSyncMessage(A.init(), A.initSyncState());
    return { type: "sync", senderId: this.peerId as PeerId, targetId: target as PeerId, documentId, data: data! };
  }

  /** Waits for the adapter's hello. */
  async hello(): Promise<Hello> {
    while (this.frames.length === 0) await new Promise<void>((resolve) => this.#waiters.push(resolve));
    return decodeHello(this.frames[0] as Uint8Array);
  }

  /** Writes the activate frame: this end starts syncing, so the adapter must too, tree neighbour or not. */
  writeActivate(): void {
    this.writeFrame(encodeActivate());
  }

  /** Sends an honest hello and activate frame and waits for the adapter's hello: the stream then carries messages. */
  async handshake(): Promise<Hello> {
    this.writeHello();
    this.writeActivate();
    return this.hello();
  }
}

/** Concatenates byte arrays. */
export function bytes(...parts: ArrayLike<number>[]): Uint8Array {
  return new Uint8ArrayList(...parts.map((p) => Uint8Array.from(p))).subarray();
}

/** Opens a raw stream from `attacker` to `victim` and completes the handshake, waiting until `victim` announces it. */
export async function establishedRawPeer(victim: SyncPeer, attacker: Libp2p): Promise<RawSyncPeer> {
  const id = attacker.peerId.toString();
  const announced = nextEvent(victim.adapter, "peer-candidate", (p) => p.peerId === id);
  const raw = await RawSyncPeer.open(attacker, victim.node);
  await raw.handshake();
  await announced;
  return raw;
}

/** The receiving end, at `node`, of the sync stream `from` opened to it. */
export function receivingStream(node: Libp2p, from: Libp2p): Stream {
  const stream = node
    .getConnections(from.peerId)
    .flatMap((connection) => connection.streams)
    .find((s) => s.protocol === SYNC_PROTOCOL && s.status === "open");
  if (stream === undefined) throw new Error("no sync stream at the receiving end");
  return stream;
}

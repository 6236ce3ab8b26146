/**
 * The sync protocol's wire format: each frame is an unsigned-varint length followed by one CBOR value; the first
 * frame each way is a hello, every later one an automerge-repo message, deflated or not (protocol 1.2), or a control
 * frame: activate (protocol 1.1), hold and held (protocol 1.3).
 */
import type { Message, PeerMetadata } from "@automerge/automerge-repo/slim";
import { cbor } from "@automerge/automerge-repo/slim";
import { Uint8ArrayList } from "uint8arraylist";
import { FrameTooLargeError, InvalidFrameError, TruncatedFrameError } from "./errors.js";
import { type DeflateWindow, deflatePayload, inflatePayload } from "./frame-compression.js";

/** The sync protocol version a peer speaks. */
export interface ProtocolVersion {
  readonly major: number;
  readonly minor: number;
}

/** The first frame each peer sends on a sync stream. */
export interface Hello {
  readonly version: ProtocolVersion;
  /** The sender's automerge-repo peer id; it must be the libp2p peer id Noise authenticated. */
  readonly peerId: string;
  /** What the sender's Repo says about itself (storage id, ephemeral or not). */
  readonly peerMetadata: PeerMetadata;
  /** The largest frame the sender accepts, so the other side can refuse to send bigger ones. */
  readonly maxFrameSize: number;
  /** Codecs the sender accepts deflated frames in (protocol 1.2; absent before): see frame-compression.ts. */
  readonly compression?: readonly string[];
}

/** Bytes the varint length of a frame of `length` bytes takes. */
export function varintLength(length: number): number {
  let bytes = 1;
  while (length >= 0x80) {
    length = Math.floor(length / 0x80);
    bytes++;
  }
  return bytes;
}

/** Frames a payload: varint length prefix then the payload, as a list so the payload is never copied. */
export function encodeFrame(payload: Uint8Array, maxFrameSize: number): Uint8ArrayList {
  if (payload.byteLength > maxFrameSize) {
    throw new FrameTooLargeError(`Frame of ${payload.byteLength} bytes exceeds the limit of ${maxFrameSize}`);
  }
  return new Uint8ArrayList(encodeLength(payload.byteLength), payload);
}

/** The unsigned-varint length prefix of a frame of `length` bytes (the encoding libp2p's own framing uses). */
export function encodeLength(length: number): Uint8Array {
  const prefix = new Uint8Array(varintLength(length));
  let rest = length;
  for (let i = 0; i < prefix.length; i++) {
    prefix[i] = (rest % 0x80) | (i < prefix.length - 1 ? 0x80 : 0);
    rest = Math.floor(rest / 0x80);
  }
  return prefix;
}

/**
 * Reads an unsigned varint (LEB128, as libp2p's framing and Automerge's chunks write lengths) starting at `from`: its
 * value and the bytes it took, or undefined when it does not end within the `available` bytes or `maxBytes`.
 */
export function readVarint(
  byteAt: (i: number) => number,
  from: number,
  available: number,
  maxBytes: number,
): { value: number; size: number } | undefined {
  let value = 0;
  for (let i = 0; i < Math.min(available - from, maxBytes); i++) {
    const byte = byteAt(from + i);
    value += (byte & 0x7f) * 2 ** (7 * i);
    if ((byte & 0x80) === 0) return { value, size: i + 1 };
  }
  return undefined;
}

/**
 * Splits a byte stream into frames. The limit is enforced on the length prefix alone, before any payload is buffered,
 * and a prefix longer than the limit can need is rejected at once rather than waited on.
 */
export class FrameDecoder {
  readonly #buffer = new Uint8ArrayList();
  readonly #maxFrameSize: number;
  readonly #maxPrefixLength: number;
  /** Payload length of the frame being read, once its prefix is complete. */
  #expected: number | undefined;

  constructor(maxFrameSize: number) {
    this.#maxFrameSize = maxFrameSize;
    this.#maxPrefixLength = varintLength(maxFrameSize);
  }

  /** Bytes received that do not yet form a whole frame. */
  get bufferedBytes(): number {
    return this.#buffer.byteLength;
  }

  /** Appends received bytes and yields every frame they complete, in order; throws on the first bad prefix. */
  *push(chunk: Uint8Array | Uint8ArrayList): Generator<Uint8Array> {
    this.#buffer.append(chunk);
    while (true) {
      if (this.#expected === undefined) {
        const length = this.#readPrefix();
        if (length === undefined) return;
        this.#expected = length;
      }
      if (this.#buffer.byteLength < this.#expected) return;
      const frame = this.#buffer.subarray(0, this.#expected);
      this.#buffer.consume(this.#expected);
      this.#expected = undefined;
      yield frame;
    }
  }

  /** Called when the stream ends: throws if it ended in the middle of a frame. */
  end(): void {
    if (this.#buffer.byteLength > 0 || this.#expected !== undefined) {
      throw new TruncatedFrameError(`Stream ended with ${this.#buffer.byteLength} bytes of an unfinished frame`);
    }
  }

  /** Reads and consumes a complete length prefix, or returns undefined when more bytes are needed. */
  #readPrefix(): number | undefined {
    const buffered = this.#buffer.byteLength;
    const prefix = readVarint((i) => this.#buffer.get(i), 0, buffered, this.#maxPrefixLength);
    if (prefix === undefined) {
      if (buffered >= this.#maxPrefixLength) {
        throw new FrameTooLargeError(`Frame length prefix exceeds the limit of ${this.#maxFrameSize}`);
      }
      return undefined;
    }
    if (prefix.value > this.#maxFrameSize) {
      throw new FrameTooLargeError(`Frame of ${prefix.value} bytes exceeds the limit of ${this.#maxFrameSize}`);
    }
    if (prefix.value === 0) throw new InvalidFrameError("Empty frame");
    this.#buffer.consume(prefix.size);
    return prefix.value;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

function decodeCbor(payload: Uint8Array): unknown {
  try {
    return cbor.decode(payload);
  } catch (err) {
    throw new InvalidFrameError(`Frame is not valid CBOR: ${(err as Error).message}`);
  }
}

/** Encodes the payload of a hello frame. */
export function encodeHello(hello: Hello): Uint8Array {
  return cbor.encode({
    type: "hello",
    version: [hello.version.major, hello.version.minor],
    peerId: hello.peerId,
    peerMetadata: hello.peerMetadata,
    maxFrameSize: hello.maxFrameSize,
    ...(hello.compression === undefined ? {} : { compression: hello.compression }),
  });
}

/** Decodes and checks the shape of a hello frame's payload; the version is checked by the caller. */
export function decodeHello(payload: Uint8Array): Hello {
  const value = decodeCbor(payload);
  if (!isRecord(value) || value.type !== "hello") throw new InvalidFrameError("First frame is not a hello");
  const { version, peerId, peerMetadata, maxFrameSize, compression } = value;
  if (!Array.isArray(version) || version.length < 2 || !version.every((n) => Number.isSafeInteger(n) && n >= 0)) {
    throw new InvalidFrameError("Hello has no valid version");
  }
  if (typeof peerId !== "string" || peerId.length === 0) throw new InvalidFrameError("Hello has no peer id");
  if (!Number.isSafeInteger(maxFrameSize) || (maxFrameSize as number) <= 0) {
    throw new InvalidFrameError("Hello has no valid frame size limit");
  }
  if (compression !== undefined && !(Array.isArray(compression) && compression.every((c) => typeof c === "string"))) {
    throw new InvalidFrameError("Hello compression is not a list of codec names");
  }
  return {
    version: { major: version[0] as number, minor: version[1] as number },
    peerId,
    peerMetadata: decodePeerMetadata(peerMetadata),
    maxFrameSize: maxFrameSize as number,
    ...(compression === undefined ? {} : { compression: compression as string[] }),
  };
}

function decodePeerMetadata(value: unknown): PeerMetadata {
  if (value === undefined || value === null) return {};
  if (!isRecord(value)) throw new InvalidFrameError("Hello peer metadata is not a map");
  if (value.storageId !== undefined && typeof value.storageId !== "string") {
    throw new InvalidFrameError("Hello storage id is not a string");
  }
  if (value.isEphemeral !== undefined && typeof value.isEphemeral !== "boolean") {
    throw new InvalidFrameError("Hello ephemeral flag is not a boolean");
  }
  const { storageId, ...rest } = value;
  // The Repo stores sync state under the storage id: one that is no plain name would be a storage key it cannot write.
  return (isStorageId(storageId) ? { ...rest, storageId } : rest) as PeerMetadata;
}

/** True for a storage id that is a plain name: automerge-repo makes them UUIDs. */
export function isStorageId(value: unknown): value is string {
  return typeof value === "string" && /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/.test(value);
}

/**
 * A control frame. `activate` (protocol 1.1): the sender starts syncing over this stream, so the receiver should too.
 * `hold` (1.3): the sender's sync tree has no use for this stream and asks to stop syncing over it. `held` (1.3): the
 * sender stopped syncing over it, and sends no message after this frame until an `activate`.
 */
export interface Control {
  readonly type: ControlType;
}

/** The kinds of control frame. */
export type ControlType = "activate" | "hold" | "held";

const CONTROL_TYPES: ReadonlySet<string> = new Set<ControlType>(["activate", "hold", "held"]);

/** Whether a decoded frame is a control frame (automerge-repo message types are plain strings, so no narrowing). */
export function isControl(frame: Control | Message): frame is Control {
  return CONTROL_TYPES.has(frame.type) && !("senderId" in frame);
}

/** Whether a decoded frame is the activate frame. */
export function isActivate(frame: Control | Message): frame is Control {
  return isControl(frame) && frame.type === "activate";
}

/** The message types automerge-repo 2 handles; the adapter drops any other before the Repo sees it. */
export const REPO_MESSAGE_TYPES: ReadonlySet<string> = new Set([
  "sync",
  "request",
  "doc-unavailable",
  "ephemeral",
  "remote-heads-changed",
  "remote-subscription-change",
]);

/** Encodes the payload of a control frame. */
export function encodeControl(type: ControlType): Uint8Array {
  return cbor.encode({ type });
}

/** Encodes the payload of an activate frame. */
export function encodeActivate(): Uint8Array {
  return encodeControl("activate");
}

/**
 * Decodes a frame after the hello: a control frame, or an automerge-repo message, inflated first if it came
 * deflated, whose envelope is checked. `maxFrameSize` bounds what a deflated frame may inflate to. `window`, the
 * stream's receiving window, is what a windowed frame was deflated against; every message's payload joins it.
 */
export function decodeFrame(payload: Uint8Array, maxFrameSize: number, window?: DeflateWindow): Control | Message {
  const value = decodeCbor(payload);
  if (isRecord(value) && typeof value.type === "string" && CONTROL_TYPES.has(value.type)) {
    return { type: value.type as ControlType };
  }
  if (isRecord(value) && value.type === "deflate") {
    const { size, data } = value;
    if (!Number.isSafeInteger(size) || (size as number) <= 0 || !(data instanceof Uint8Array)) {
      throw new InvalidFrameError("Deflated frame has no valid size or data");
    }
    if ((size as number) > maxFrameSize) {
      throw new FrameTooLargeError(`Deflated frame of ${size} bytes exceeds the limit of ${maxFrameSize}`);
    }
    const dictionary = windowUsed(value.window, window);
    // Inside is exactly one message: never a control frame or another deflated one.
    const inflated = inflatePayload(data, size as number, dictionary);
    window?.append(inflated);
    return checkMessage(decodeCbor(inflated));
  }
  window?.append(payload);
  return checkMessage(value);
}

/** The dictionary a deflated frame names (`window`: how many bytes of the receiving window's tail), if any. */
function windowUsed(used: unknown, window: DeflateWindow | undefined): Uint8Array | undefined {
  if (used === undefined) return undefined;
  if (window === undefined) throw new InvalidFrameError("Windowed frame on a stream without a window");
  if (!Number.isSafeInteger(used) || (used as number) <= 0 || (used as number) > window.size) {
    throw new InvalidFrameError(`Deflated frame names ${String(used)} bytes of a ${window.size} byte window`);
  }
  return window.tail(used as number);
}

/**
 * The payload of a deflated message frame, or undefined when deflating would not make it at least 10% smaller. With
 * `window` (the stream's sending window, for a peer that reads windowed frames) the tail of what crossed before is
 * the dictionary, and the payload joins the window whether it is deflated or not.
 */
export function encodeDeflated(payload: Uint8Array, window?: DeflateWindow): Uint8Array | undefined {
  const used = window?.size ?? 0;
  const data = deflatePayload(payload, used > 0 ? window?.tail(used) : undefined);
  window?.append(payload);
  if (data === undefined) return undefined;
  const frame = cbor.encode({ type: "deflate", size: payload.byteLength, data, ...(used > 0 && { window: used }) });
  // A short payload can save less than its envelope costs.
  return frame.byteLength < payload.byteLength ? frame : undefined;
}

/** Encodes the payload of a message frame, as automerge-repo's WebSocket adapter encodes a message. */
export function encodeMessage(message: Message): Uint8Array {
  return cbor.encode(message);
}

/** Checks a decoded message's envelope (type, sender, target, optional document id and data), so malformed messages
 * stop here instead of throwing inside the Repo. */
function checkMessage(value: unknown): Message {
  if (!isRecord(value)) throw new InvalidFrameError("Message is not a map");
  if (typeof value.type !== "string" || value.type.length === 0) throw new InvalidFrameError("Message has no type");
  if (value.type === "hello") throw new InvalidFrameError("Second hello on the stream");
  if (typeof value.senderId !== "string" || typeof value.targetId !== "string") {
    throw new InvalidFrameError("Message has no sender or target");
  }
  if (value.documentId !== undefined && typeof value.documentId !== "string") {
    throw new InvalidFrameError("Message document id is not a string");
  }
  if (value.data !== undefined && !(value.data instanceof Uint8Array)) {
    throw new InvalidFrameError("Message data is not bytes");
  }
  return value as unknown as Message;
}

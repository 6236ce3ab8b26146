/**
 * Deflate for sync frames (protocol 1.2, and its window since 1.4). Automerge sends fewer than about a hundred changes
 * a peer lacks as change chunks laid end to end, each compressed on its own if at all: about 440 bytes a Federa record,
 * against 132 in a saved document. Deflating the frame alone halves a large bundle but not a small one; with the tail
 * of what crossed the stream before as its dictionary (the signer's key, the last change's actor, the envelope's ids),
 * a frame of one record is about 210 bytes. A saved document is compressed already, so a small probe decides first.
 */
import { deflateSync, Inflate } from "fflate";
import { InvalidFrameError } from "./errors.js";

/** Raw deflate (RFC 1951) of one frame alone, named in the hello's `compression` list by those who accept it. */
export const DEFLATE_RAW = "deflate-raw";
/** Raw deflate with a preset dictionary: the tail of the message payloads that crossed the stream before (1.4). */
export const DEFLATE_RAW_WINDOW = "deflate-raw-window";

/** How much of what crossed before a windowed frame may use as its dictionary: deflate reaches back no further. */
export const WINDOW_BYTES = 32 * 1024;

/** Payloads smaller than this go as they are: the envelope and a deflate block would eat most of the gain. */
const MIN_BYTES = 1024;
/** With a window, even a short message shares its ids and a record's keys with what came before. */
const MIN_WINDOWED_BYTES = 128;
/** How much of a payload (its end) is deflated first to see whether it compresses at all. */
const PROBE_BYTES = 16 * 1024;
/** Compressed data is sent only if it is at most this fraction of the payload. */
const MAX_RATIO = 0.9;

/** Raw deflate, fast (level 1), and its inverse bounded to an exact output size; either with a preset dictionary. */
export interface RawDeflate {
  deflate(data: Uint8Array, dictionary?: Uint8Array): Uint8Array;
  /** Inflates `data`, which must hold exactly `size` bytes; throws on bad data or a different size. */
  inflate(data: Uint8Array, size: number, dictionary?: Uint8Array): Uint8Array;
}

/**
 * Compressed bytes the portable inflater is fed at a time. Deflate expands at most about 1,032 times, so data that
 * inflates past its size is stopped within about 4 MiB of output, where a one-shot inflate decodes all of it first.
 */
export const INFLATE_STEP_BYTES = 4 * 1024;

/** Plain JavaScript, for browsers: fflate, streamed so that a deflate bomb costs no more than its declared size. */
export const portableDeflate: RawDeflate = {
  deflate: (data, dictionary) => deflateSync(data, { level: 1, ...(dictionary && { dictionary }) }),
  inflate(data, size, dictionary) {
    const out = new Uint8Array(size);
    let written = 0;
    let read = 0;
    const inflater = new Inflate(dictionary ? { dictionary } : {}, (chunk) => {
      if (written + chunk.byteLength > size)
        throw new RangeError(`inflates to more bytes (stopped after ${read} of ${data.byteLength} compressed bytes)`);
      out.set(chunk, written);
      written += chunk.byteLength;
    });
    do {
      const end = Math.min(read + INFLATE_STEP_BYTES, data.byteLength);
      const step = data.subarray(read, end);
      read = end;
      inflater.push(step, end === data.byteLength);
    } while (read < data.byteLength);
    if (written !== size) throw new RangeError("inflates to fewer bytes");
    return out;
  },
};

type Zlib = typeof import("node:zlib");

/** A Buffer's bytes as a plain Uint8Array, as the rest of the protocol handles them in any runtime. */
function plain(buffer: Uint8Array): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/** Node's zlib, about four times faster, when the runtime has it (looked up at run time, so bundlers never see it). */
const nativeDeflate: RawDeflate | undefined = (() => {
  const runtime = globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } };
  const zlib = runtime.process?.getBuiltinModule?.("node:zlib") as Zlib | undefined;
  if (zlib === undefined) return undefined;
  return {
    deflate: (data, dictionary) => plain(zlib.deflateRawSync(data, { level: 1, ...(dictionary && { dictionary }) })),
    inflate(data, size, dictionary) {
      const out = zlib.inflateRawSync(data, { maxOutputLength: size + 1, ...(dictionary && { dictionary }) });
      if (out.byteLength !== size)
        throw new RangeError(`inflates to ${out.byteLength > size ? "more" : "fewer"} bytes`);
      return plain(out);
    },
  };
})();

/** The implementation in use: both write and read the same raw deflate, so a browser and a Node peer interoperate. */
const codec: RawDeflate = nativeDeflate ?? portableDeflate;

/**
 * Deflates a payload, with `dictionary` as what came before it when given, or returns undefined when it is small or
 * does not compress (a saved document, random bytes).
 */
export function deflatePayload(payload: Uint8Array, dictionary?: Uint8Array): Uint8Array | undefined {
  if (payload.byteLength < (dictionary === undefined ? MIN_BYTES : MIN_WINDOWED_BYTES)) return undefined;
  if (payload.byteLength > PROBE_BYTES) {
    // The tail: a sync message ends with its changes, after heads and a bloom filter that never compress.
    const probe = codec.deflate(payload.subarray(payload.byteLength - PROBE_BYTES));
    if (probe.byteLength > PROBE_BYTES * MAX_RATIO) return undefined;
  }
  const data = codec.deflate(payload, dictionary);
  return data.byteLength <= payload.byteLength * MAX_RATIO ? data : undefined;
}

/** How many bytes `data` deflates to alone, as a frame of it would be sent: to weigh one way of sending against another. */
export function deflatedLength(data: Uint8Array): number {
  return codec.deflate(data).byteLength;
}

/**
 * Inflates data its sender said holds `size` bytes; the caller has checked `size` against its frame limit, so a small
 * frame can never inflate past it. Throws `InvalidFrameError` if the data is not deflate or not exactly `size` bytes.
 */
export function inflatePayload(data: Uint8Array, size: number, dictionary?: Uint8Array): Uint8Array {
  try {
    return codec.inflate(data, size, dictionary);
  } catch (err) {
    throw new InvalidFrameError(`Compressed frame of ${size} bytes does not inflate: ${(err as Error).message}`);
  }
}

/**
 * The last `WINDOW_BYTES` of the message payloads that crossed a stream one way, in order: the sender's and the
 * receiver's copies hold the same bytes, so a frame can be deflated against them and inflated alike.
 */
export class DeflateWindow {
  /** Twice the window, so that sliding (a copy of one window) happens once per window's worth of appends. */
  #buffer: Uint8Array | undefined;
  #end = 0;

  /** Bytes held: the dictionary a frame may name, at most `WINDOW_BYTES`. */
  get size(): number {
    return Math.min(this.#end, WINDOW_BYTES);
  }

  /** Adds a payload that crossed, keeping only the window's tail. */
  append(payload: Uint8Array): void {
    this.#buffer ??= new Uint8Array(2 * WINDOW_BYTES);
    if (payload.byteLength >= WINDOW_BYTES) {
      this.#buffer.set(payload.subarray(payload.byteLength - WINDOW_BYTES));
      this.#end = WINDOW_BYTES;
      return;
    }
    if (this.#end + payload.byteLength > this.#buffer.byteLength) {
      this.#buffer.copyWithin(0, this.#end - WINDOW_BYTES, this.#end);
      this.#end = WINDOW_BYTES;
    }
    this.#buffer.set(payload, this.#end);
    this.#end += payload.byteLength;
  }

  /** The last `size` bytes held (a view, valid until the next append). */
  tail(size = this.size): Uint8Array {
    if (size > this.size) throw new RangeError(`the window holds ${this.size} bytes, not ${size}`);
    return (this.#buffer ?? new Uint8Array(0)).subarray(this.#end - size, this.#end);
  }
}

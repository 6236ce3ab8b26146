/**
 * Deflate for sync frames (protocol 1.2). Automerge sends the changes a peer lacks as a bundle of change chunks, each
 * compressed on its own if at all: about 440 bytes a Federa record, against 132 in a saved document. Deflating the
 * frame halves a bundle; a saved document is compressed already, so a small probe decides before the whole is tried.
 */
import { deflateSync, inflateSync } from "fflate";
import { InvalidFrameError } from "./errors.js";

/** The one codec: raw deflate (RFC 1951), named in the hello's `compression` list by those who accept it. */
export const DEFLATE_RAW = "deflate-raw";

/** Payloads smaller than this go as they are: the envelope and a deflate block would eat most of the gain. */
const MIN_BYTES = 1024;
/** How much of a payload (its end) is deflated first to see whether it compresses at all. */
const PROBE_BYTES = 16 * 1024;
/** Compressed data is sent only if it is at most this fraction of the payload. */
const MAX_RATIO = 0.9;

/** Raw deflate, fast (level 1), and its inverse bounded to an exact output size. */
export interface RawDeflate {
  deflate(data: Uint8Array): Uint8Array;
  /** Inflates `data`, which must hold exactly `size` bytes; throws on bad data or a different size. */
  inflate(data: Uint8Array, size: number): Uint8Array;
}

/** Plain JavaScript, for browsers: fflate. */
export const portableDeflate: RawDeflate = {
  deflate: (data) => deflateSync(data, { level: 1 }),
  inflate(data, size) {
    // One byte of room past `size` tells a longer stream (fflate stops there) from an exact one.
    const out = inflateSync(data, { out: new Uint8Array(size + 1) });
    if (out.byteLength !== size) throw new RangeError(`inflates to ${out.byteLength > size ? "more" : "fewer"} bytes`);
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
    deflate: (data) => plain(zlib.deflateRawSync(data, { level: 1 })),
    inflate(data, size) {
      const out = zlib.inflateRawSync(data, { maxOutputLength: size + 1 });
      if (out.byteLength !== size)
        throw new RangeError(`inflates to ${out.byteLength > size ? "more" : "fewer"} bytes`);
      return plain(out);
    },
  };
})();

/** The implementation in use: both write and read the same raw deflate, so a browser and a Node peer interoperate. */
const codec: RawDeflate = nativeDeflate ?? portableDeflate;

/** Deflates a payload, or returns undefined when it is small or does not compress (a saved document, random bytes). */
export function deflatePayload(payload: Uint8Array): Uint8Array | undefined {
  if (payload.byteLength < MIN_BYTES) return undefined;
  if (payload.byteLength > PROBE_BYTES) {
    // The tail: a sync message ends with its changes, after heads and a bloom filter that never compress.
    const probe = codec.deflate(payload.subarray(payload.byteLength - PROBE_BYTES));
    if (probe.byteLength > PROBE_BYTES * MAX_RATIO) return undefined;
  }
  const data = codec.deflate(payload);
  return data.byteLength <= payload.byteLength * MAX_RATIO ? data : undefined;
}

/**
 * Inflates data its sender said holds `size` bytes; the caller has checked `size` against its frame limit, so a small
 * frame can never inflate past it. Throws `InvalidFrameError` if the data is not deflate or not exactly `size` bytes.
 */
export function inflatePayload(data: Uint8Array, size: number): Uint8Array {
  try {
    return codec.inflate(data, size);
  } catch (err) {
    throw new InvalidFrameError(`Compressed frame of ${size} bytes does not inflate: ${(err as Error).message}`);
  }
}

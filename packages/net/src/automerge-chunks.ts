/**
 * Automerge's storage chunks, as far as Federa reads them: each starts with a 4-byte magic number, a 4-byte checksum,
 * a type byte and a LEB128 length. A sync message carries the changes a peer lacks as change chunks laid end to end in
 * one byte array (or, when the peer lacks a third of the document or more, as one chunk of the document format; or,
 * from a Federa node, as bundles); finding where each chunk ends is all it takes to hand them over one by one.
 */
import { Uint8ArrayList } from "uint8arraylist";
import { readVarint } from "./frames.js";

const MAGIC = [0x85, 0x6f, 0x4a, 0x83] as const;
const TYPE_AT = 8;
/** A chunk's length takes at most this many LEB128 bytes here (35 bits, past any frame this node accepts). */
const MAX_LENGTH_BYTES = 5;

/** Chunk types. */
export const DOCUMENT_CHUNK = 0;
export const CHANGE_CHUNK = 1;
export const COMPRESSED_CHANGE_CHUNK = 2;
/** A bundle: a set of changes packed in columns (`A.saveBundle`), which Automerge loads like changes. */
export const BUNDLE_CHUNK = 3;

/** The type byte of the chunk at the start of `bytes`, or undefined if it does not start like a chunk. */
export function chunkType(bytes: Uint8Array): number | undefined {
  if (bytes.length <= TYPE_AT || MAGIC.some((b, i) => bytes[i] !== b)) return undefined;
  return bytes[TYPE_AT];
}

/**
 * The chunks laid end to end in `bytes` (views, not copies), or undefined if they are not whole chunks: a bad magic
 * number, or a length past the end (or longer than five LEB128 bytes).
 */
export function splitChunks(bytes: Uint8Array): Uint8Array[] | undefined {
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < bytes.length) {
    if (chunkType(bytes.subarray(at)) === undefined) return undefined;
    const length = readVarint((i) => bytes[i] as number, at + TYPE_AT + 1, bytes.length, MAX_LENGTH_BYTES);
    if (length === undefined) return undefined;
    const end = at + TYPE_AT + 1 + length.size + length.value;
    if (end > bytes.length) return undefined;
    out.push(bytes.subarray(at, end));
    at = end;
  }
  return out;
}

/** Concatenates byte chunks into one array. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  return new Uint8ArrayList(...parts).subarray();
}

/** Bytes of a change hash. */
const HASH_BYTES = 32;

/**
 * The hashes (lowercase hex) of the changes a change chunk depends on, read from the start of its body, where
 * Automerge writes them; undefined if `chunk` is no change chunk or ends inside them.
 */
export function changeDeps(chunk: Uint8Array): string[] | undefined {
  if (chunkType(chunk) !== CHANGE_CHUNK) return undefined;
  const read = (at: number) => readVarint((i) => chunk[i] as number, at, chunk.length, MAX_LENGTH_BYTES);
  const length = read(TYPE_AT + 1);
  if (length === undefined) return undefined;
  const count = read(TYPE_AT + 1 + length.size);
  if (count === undefined) return undefined;
  const from = TYPE_AT + 1 + length.size + count.size;
  if (from + count.value * HASH_BYTES > chunk.length) return undefined;
  const deps: string[] = [];
  for (let d = 0; d < count.value; d++)
    deps.push(toHex(chunk.subarray(from + d * HASH_BYTES, from + (d + 1) * HASH_BYTES)));
  return deps;
}

/** Bytes as lowercase hex, as Automerge writes change hashes. */
export function toHex(bytes: Uint8Array): string {
  let hex = "";
  for (const byte of bytes) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

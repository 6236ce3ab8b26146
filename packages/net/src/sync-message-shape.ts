/**
 * The shape of an Automerge sync message, checked before anything decodes it into objects. Decoding turns each entry
 * into a JavaScript object of a hundred bytes or more, whatever its size on the wire: two bytes per empty `have`
 * entry, deflated a thousandfold, let a 24 kB frame take gigabytes. The walk reads only counts and lengths.
 *
 * Layout (Automerge 2 and 3): a type byte (0x42, or 0x43 when the message may carry a document chunk), then the heads
 * and the needed hashes (each a count and 32-byte hashes), the haves (a count, then per entry its last-sync hashes and
 * a length-prefixed bloom filter), the changes (a count of length-prefixed chunks), then optional fields this walk
 * leaves to Automerge.
 */
import { chunkType, DOCUMENT_CHUNK, toHex } from "./automerge-chunks.js";
import { InvalidFrameError } from "./errors.js";

/** The first byte of a sync message: one that may not carry a document chunk, and one that may. */
const SYNC_MESSAGE_TYPES = new Set([0x42, 0x43]);
/** Bytes of a change hash. */
const HASH_BYTES = 32;
/** Hashes in one list (heads, needs, a have's last sync): a document's concurrent heads, with room to spare. */
export const MAX_SYNC_HASHES = 65_536;
/** `have` entries: Automerge sends none or one. */
export const MAX_SYNC_HAVES = 64;
/** Change chunks: Automerge 3 sends one (a bundle or a document chunk), Automerge 2 one per change. */
export const MAX_SYNC_CHANGES = 1_048_576;
/** The smallest chunk: magic bytes, checksum, type and a length. */
const MIN_CHUNK_BYTES = 10;

/** Reads unsigned LEB128 numbers and skips bytes, throwing when the message ends early. */
class Reader {
  #at = 0;
  readonly #bytes: Uint8Array;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  byte(): number {
    const b = this.#bytes[this.#at];
    if (b === undefined) throw new InvalidFrameError("Sync message ends early");
    this.#at++;
    return b;
  }

  /** An unsigned LEB128 number of at most 32 bits, as Automerge writes counts and lengths. */
  uleb(): number {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = this.byte();
      value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) {
        if (value > 0xffff_ffff) break;
        return value;
      }
    }
    throw new InvalidFrameError("Sync message has a count or length out of range");
  }

  /** The next `n` bytes (a view). */
  take(n: number): Uint8Array {
    this.skip(n);
    return this.#bytes.subarray(this.#at - n, this.#at);
  }

  skip(n: number): void {
    if (n > this.#bytes.length - this.#at) throw new InvalidFrameError("Sync message ends early");
    this.#at += n;
  }
}

function count(reader: Reader, max: number, what: string): number {
  const n = reader.uleb();
  if (n > max) throw new InvalidFrameError(`Sync message has ${n} ${what}, more than ${max}`);
  return n;
}

function hashes(reader: Reader, what: string): void {
  reader.skip(count(reader, MAX_SYNC_HASHES, what) * HASH_BYTES);
}

/** Reads the message's type byte, refusing an unknown one; returns the reader, at the heads. */
function typed(reader: Reader): Reader {
  const type = reader.byte();
  if (!SYNC_MESSAGE_TYPES.has(type)) throw new InvalidFrameError(`Sync message of unknown type 0x${type.toString(16)}`);
  return reader;
}

/** From after the heads, skips the needed hashes and the haves; returns the count of changes that follow. */
function skipToChanges(reader: Reader): number {
  hashes(reader, "needed hashes");
  const haves = count(reader, MAX_SYNC_HAVES, "have entries");
  for (let i = 0; i < haves; i++) {
    hashes(reader, "last-sync hashes");
    reader.skip(reader.uleb()); // the bloom filter
  }
  return count(reader, MAX_SYNC_CHANGES, "changes");
}

/**
 * Throws `InvalidFrameError` unless `data` is laid out as an Automerge sync message within the bounds above: no
 * honest peer sends one that is not, so the sender is in breach of the protocol.
 */
export function checkSyncMessageShape(data: Uint8Array): void {
  const reader = new Reader(data);
  hashes(typed(reader), "heads");
  const changes = skipToChanges(reader);
  for (let i = 0; i < changes; i++) {
    const length = reader.uleb();
    if (length < MIN_CHUNK_BYTES) throw new InvalidFrameError(`Sync message has a change of ${length} bytes`);
    reader.skip(length);
  }
}

/** What a sync message says of what its sender holds: its heads, the changes it asks for, and its Bloom filters. */
export interface SyncHeader {
  readonly heads: readonly string[];
  readonly need: readonly string[];
  /** The heads it last synced at with this node, and the changes it holds since (a `SyncBloom`'s bytes). */
  readonly have: readonly { readonly lastSync: readonly string[]; readonly bloom: Uint8Array }[];
}

/**
 * The start of a sync message, up to its changes, with hashes as lowercase hex (as Automerge names them) and the
 * filters copied out of it; read without decoding the rest. Throws `InvalidFrameError` as `checkSyncMessageShape` does.
 */
export function readSyncHeader(data: Uint8Array): SyncHeader {
  const reader = typed(new Reader(data));
  const hexes = (what: string) => {
    const list: string[] = [];
    for (let n = count(reader, MAX_SYNC_HASHES, what); list.length < n; ) list.push(toHex(reader.take(HASH_BYTES)));
    return list;
  };
  const heads = hexes("heads");
  const need = hexes("needed hashes");
  const have: { lastSync: string[]; bloom: Uint8Array }[] = [];
  for (let n = count(reader, MAX_SYNC_HAVES, "have entries"); have.length < n; ) {
    const lastSync = hexes("last-sync hashes");
    have.push({ lastSync, bloom: reader.take(reader.uleb()).slice() });
  }
  return { heads, need, have };
}

/**
 * The bytes of the document chunk a sync message carries in place of changes, or undefined when it carries changes or
 * nothing; read without decoding the message.
 */
export function syncMessageDocumentBytes(data: Uint8Array): number | undefined {
  const reader = new Reader(data);
  hashes(typed(reader), "heads");
  if (skipToChanges(reader) !== 1) return undefined;
  const chunk = reader.take(reader.uleb());
  return chunkType(chunk) === DOCUMENT_CHUNK ? chunk.byteLength : undefined;
}

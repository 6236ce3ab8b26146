/**
 * The Bloom filter a sync message's `have` carries: the changes its sender holds since the heads it last synced at.
 * Read as Automerge writes it (a count of entries, bits per entry and probes as LEB128 numbers, then the bits), to
 * tell which of a document's changes the sender holds without asking Automerge, which keeps that to itself.
 */
import { InvalidFrameError } from "./errors.js";
import { readVarint } from "./frames.js";

/** Probes a filter may name at most: Automerge uses 7, and each costs a step per hash looked up. */
const MAX_PROBES = 64;
/** A count in a filter's header fits in 32 bits: five LEB128 bytes. */
const MAX_COUNT_BYTES = 5;

export class SyncBloom {
  readonly #bits: Uint8Array;
  readonly #probes: number;
  readonly #entries: number;

  /** Reads a filter as Automerge encodes it; an empty one holds nothing. Throws `InvalidFrameError` on a bad one. */
  constructor(bytes: Uint8Array) {
    if (bytes.byteLength === 0) {
      this.#bits = bytes;
      this.#probes = 0;
      this.#entries = 0;
      return;
    }
    let at = 0;
    const uleb = (): number => {
      const read = readVarint((i) => bytes[i] as number, at, bytes.length, MAX_COUNT_BYTES);
      if (read === undefined) throw new InvalidFrameError("Bloom filter with a bad count");
      at += read.size;
      return read.value;
    };
    this.#entries = uleb();
    uleb(); // bits per entry: the length of the bits says it again
    this.#probes = uleb();
    if (this.#probes > MAX_PROBES) throw new InvalidFrameError(`Bloom filter with ${this.#probes} probes`);
    this.#bits = bytes.subarray(at);
  }

  /** How many changes the sender put in it. */
  get entries(): number {
    return this.#entries;
  }

  /** Whether the sender may hold the change of this hex hash (false positives happen; false negatives do not). */
  contains(hash: string): boolean {
    const modulo = 8 * this.#bits.byteLength;
    if (this.#entries === 0 || modulo === 0) return false;
    // The probes come from the hash's first three little-endian 32-bit words, as Automerge derives them.
    let x = word(hash, 0) % modulo;
    let y = word(hash, 1) % modulo;
    const z = word(hash, 2) % modulo;
    for (let i = 0; i < this.#probes; i++) {
      if (((this.#bits[x >>> 3] as number) & (1 << (x & 7))) === 0) return false;
      x = (x + y) % modulo;
      y = (y + z) % modulo;
    }
    return true;
  }
}

/** The `index`th little-endian 32-bit word of a hex hash. */
function word(hash: string, index: number): number {
  let value = 0;
  for (let byte = 3; byte >= 0; byte--)
    value = value * 256 + Number.parseInt(hash.substr((index * 4 + byte) * 2, 2), 16);
  return value;
}

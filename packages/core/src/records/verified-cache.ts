/** A device's memory of signatures it has already checked, so loading a large document does not re-verify them all. */
import { fromHex, type RecordId, toHex } from "../ids.js";

/** Where verified record ids are remembered; the host persists it (it is local knowledge, never synced). */
export interface VerifiedCache {
  has(id: RecordId): boolean;
  add(id: RecordId): void;
}

/** An in-memory cache that can be written to and read from compact bytes (32 bytes per record). */
export class MemoryVerifiedCache implements VerifiedCache {
  readonly #ids = new Set<string>();
  #dirty = false;

  has(id: RecordId): boolean {
    return this.#ids.has(id);
  }

  add(id: RecordId): void {
    if (!this.#ids.has(id)) {
      this.#ids.add(id);
      this.#dirty = true;
    }
  }

  get size(): number {
    return this.#ids.size;
  }

  /** True when ids were added since the last `toBytes`. */
  get dirty(): boolean {
    return this.#dirty;
  }

  toBytes(): Uint8Array {
    const out = new Uint8Array(this.#ids.size * 32);
    let i = 0;
    for (const id of this.#ids) out.set(fromHex(id)!, 32 * i++);
    this.#dirty = false;
    return out;
  }

  static fromBytes(bytes: Uint8Array): MemoryVerifiedCache {
    const cache = new MemoryVerifiedCache();
    for (let i = 0; i + 32 <= bytes.length; i += 32) cache.#ids.add(toHex(bytes.subarray(i, i + 32)));
    return cache;
  }
}

/**
 * A node directory's storage read by a command that cannot write the directory: loads go to the real adapter, and
 * what automerge-repo would save or remove (its storage id on a directory that has none, say) is dropped.
 */
import type { Chunk, StorageAdapterInterface, StorageKey } from "@automerge/automerge-repo";

/** Reads through `inner`; every write resolves at once, writing nothing. */
export class ReadOnlyStorage implements StorageAdapterInterface {
  readonly #inner: StorageAdapterInterface;

  constructor(inner: StorageAdapterInterface) {
    this.#inner = inner;
  }

  load(key: StorageKey): Promise<Uint8Array | undefined> {
    return this.#inner.load(key);
  }

  loadRange(keyPrefix: StorageKey): Promise<Chunk[]> {
    return this.#inner.loadRange(keyPrefix);
  }

  save(_key: StorageKey, _data: Uint8Array): Promise<void> {
    return Promise.resolve();
  }

  remove(_key: StorageKey): Promise<void> {
    return Promise.resolve();
  }

  removeRange(_keyPrefix: StorageKey): Promise<void> {
    return Promise.resolve();
  }
}

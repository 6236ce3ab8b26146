/**
 * The node's storage as its Repo sees it. It tells which documents the storage held when the Repo loaded them: a
 * document being fetched may be asked of peers only once it is known not to be on disk already, or the Repo would
 * offer what it loads to every peer asked. It also ends writes once the node has stopped, and keeps a failed save of
 * sync state (a cache of what a peer holds) from failing the node.
 */
import type { Chunk, StorageAdapterInterface, StorageKey } from "@automerge/automerge-repo/slim";

/** What the storage held of a document when the Repo loaded it. */
export type Stored = "unknown" | "loading" | "stored" | "absent";

/** Where automerge-repo's storage subsystem keeps a document's chunks, in the order it loads them. */
const SNAPSHOT = "snapshot";
const INCREMENTAL = "incremental";
/** Where it keeps the sync state of each peer's storage. */
const SYNC_STATE = "sync-state";

export class NodeStorage implements StorageAdapterInterface {
  readonly #inner: StorageAdapterInterface;
  readonly #stored = new Map<string, Stored>();
  /** Documents whose snapshots, in the load under way, held something. */
  readonly #held = new Set<string>();
  readonly #onLoaded: (document: string) => void;
  readonly #onError: (key: StorageKey, error: unknown) => void;
  #closed = false;

  /** `onLoaded` hears of each document once the storage has said whether it held it. */
  constructor(
    inner: StorageAdapterInterface,
    init: { onLoaded?: (document: string) => void; onError?: (key: StorageKey, error: unknown) => void } = {},
  ) {
    this.#inner = inner;
    this.#onLoaded = init.onLoaded ?? (() => {});
    this.#onError = init.onError ?? (() => {});
  }

  /** What the storage held of `document` when the Repo last loaded it. */
  stored(document: string): Stored {
    return this.#stored.get(document) ?? "unknown";
  }

  /** Ends writing: saves and removes from now on do nothing (the node has flushed what it keeps and stopped). */
  close(): void {
    this.#closed = true;
  }

  load(key: StorageKey): Promise<Uint8Array | undefined> {
    return this.#inner.load(key);
  }

  async loadRange(prefix: StorageKey): Promise<Chunk[]> {
    const [document, kind] = prefix;
    const watched = prefix.length === 2 && document !== undefined && (kind === SNAPSHOT || kind === INCREMENTAL);
    // Known once is enough: the Repo loads a document again for every message about it while it is being fetched.
    if (watched && kind === SNAPSHOT && this.stored(document) === "unknown") this.#stored.set(document, "loading");
    const first = watched && this.stored(document) === "loading";
    let chunks: Chunk[];
    try {
      chunks = await this.#inner.loadRange(prefix);
    } catch (e) {
      if (first) this.#stored.delete(document); // unknown again: the next load may tell
      throw e;
    }
    if (!first) return chunks;
    const some = chunks.some((c) => c.data !== undefined);
    // Snapshots are loaded first, then increments: after the increments, the storage has said all it holds.
    if (kind === SNAPSHOT) {
      if (some) this.#held.add(document);
      return chunks;
    }
    const snapshots = this.#held.delete(document);
    this.#stored.set(document, some || snapshots ? "stored" : "absent");
    this.#onLoaded(document);
    return chunks;
  }

  async save(key: StorageKey, data: Uint8Array): Promise<void> {
    if (this.#closed) return;
    try {
      await this.#inner.save(key, data);
    } catch (e) {
      // The Repo does not wait for sync-state saves: a failure would reach no one but the process.
      if (key[1] !== SYNC_STATE) throw e;
      this.#onError(key, e);
    }
  }

  async remove(key: StorageKey): Promise<void> {
    if (this.#closed) return;
    await this.#inner.remove(key);
  }

  async removeRange(prefix: StorageKey): Promise<void> {
    if (this.#closed) return;
    await this.#inner.removeRange(prefix);
  }
}

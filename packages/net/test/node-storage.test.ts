/** The node's storage as its Repo sees it: what each document held on load, writes after the stop, failed saves. */
import { Repo } from "@automerge/automerge-repo";
import type { Chunk, StorageAdapterInterface, StorageKey } from "@automerge/automerge-repo/slim";
import { describe, expect, it, vi } from "vitest";
import { NodeStorage } from "../src/node-storage.js";

/** Chunks in memory, keyed by their joined key. */
class MemoryStorage implements StorageAdapterInterface {
  readonly chunks = new Map<string, Uint8Array>();
  async load(key: StorageKey) {
    return this.chunks.get(key.join("/"));
  }
  async loadRange(prefix: StorageKey): Promise<Chunk[]> {
    return [...this.chunks]
      .filter(([k]) => k.startsWith(`${prefix.join("/")}/`) || k === prefix.join("/"))
      .map(([k, data]) => ({ key: k.split("/"), data }));
  }
  async save(key: StorageKey, data: Uint8Array) {
    this.chunks.set(key.join("/"), data);
  }
  async remove(key: StorageKey) {
    this.chunks.delete(key.join("/"));
  }
  async removeRange(prefix: StorageKey) {
    for (const { key } of await this.loadRange(prefix)) this.chunks.delete(key.join("/"));
  }
}

describe("NodeStorage", () => {
  it("tells, once the Repo has loaded a document, whether the storage held it", async () => {
    const inner = new MemoryStorage();
    const first = new Repo({ storage: inner, network: [] });
    const saved = first.create<{ n: number }>({ n: 1 });
    await first.flush();
    await first.shutdown();

    const loaded: string[] = [];
    const storage = new NodeStorage(inner, { onLoaded: (d) => loaded.push(d) });
    const repo = new Repo({ storage, network: [] });
    expect(storage.stored(saved.documentId)).toBe("unknown");
    await repo.find(saved.url);
    expect(storage.stored(saved.documentId)).toBe("stored");
    const missing = "4NMNnkMhL8jXrdJ9jamS58PAVdXu" as never;
    void repo.find(`automerge:${missing}` as never, { signal: AbortSignal.timeout(100) }).catch(() => {});
    await vi.waitFor(() => expect(storage.stored(missing)).toBe("absent"));
    expect(loaded).toEqual([saved.documentId, missing]);
    await repo.shutdown().catch(() => {}); // it flushes the handle never found too, which throws
  });

  it("keeps what it learnt when the Repo loads the document again, as it does for each message while fetching it", async () => {
    const storage = new NodeStorage(new MemoryStorage());
    await storage.loadRange(["doc", "snapshot"]);
    await storage.loadRange(["doc", "incremental"]);
    expect(storage.stored("doc")).toBe("absent");
    const again = storage.loadRange(["doc", "snapshot"]);
    expect(storage.stored("doc")).toBe("absent");
    await again;
  });

  it("writes nothing once closed", async () => {
    const inner = new MemoryStorage();
    const storage = new NodeStorage(inner);
    await storage.save(["doc", "snapshot", "a"], Uint8Array.of(1));
    storage.close();
    await storage.save(["doc", "snapshot", "b"], Uint8Array.of(2));
    await storage.remove(["doc", "snapshot", "a"]);
    await storage.removeRange(["doc"]);
    expect((await inner.loadRange(["doc"])).map((c) => c.key)).toEqual([["doc", "snapshot", "a"]]);
  });

  it("reports a failed save of sync state instead of failing, and passes any other failure on", async () => {
    const failing: StorageAdapterInterface = {
      load: async () => undefined,
      loadRange: async (): Promise<Chunk[]> => [],
      save: async (key: StorageKey) => {
        throw new Error(`refused ${key.join("/")}`);
      },
      remove: async () => {},
      removeRange: async () => {},
    };
    const errors: string[] = [];
    const storage = new NodeStorage(failing, { onError: (key) => errors.push(key.join("/")) });
    await storage.save(["doc", "sync-state", "peer"], Uint8Array.of(1));
    expect(errors).toEqual(["doc/sync-state/peer"]);
    await expect(storage.save(["doc", "incremental", "h"], Uint8Array.of(1))).rejects.toThrow(/refused/);
  });
});

/** React's view of the world: the current world, its snapshots, and starting it again for a new story. */
import { IndexedDBStorageAdapter } from "@automerge/automerge-repo-storage-indexeddb";
import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from "react";
import type { PlaceId } from "./peers/cast.js";
import type { WorldSnapshot } from "./peers/world.js";
import { World } from "./peers/world.js";

const DB_PREFIX = "federa-demo-";

/** Deletes the IndexedDB databases earlier runs of the demo left behind. */
async function forgetEarlierRuns(keep: ReadonlySet<string>): Promise<void> {
  if (typeof indexedDB === "undefined" || typeof indexedDB.databases !== "function") return;
  for (const db of await indexedDB.databases()) {
    if (db.name?.startsWith(DB_PREFIX) && !keep.has(db.name)) indexedDB.deleteDatabase(db.name);
  }
}

function storageFor(run: string, place: PlaceId): IndexedDBStorageAdapter {
  return new IndexedDBStorageAdapter(`${DB_PREFIX}${run}-${place}`);
}

const EMPTY = (): (() => void) => () => {};

/** The running world and its latest snapshot; `restart()` stops it and builds a fresh one. */
export function useWorld(): { world: World | null; snapshot: WorldSnapshot | null; restart: () => Promise<World> } {
  const [world, setWorld] = useState<World | null>(null);
  const current = useRef<World | null>(null);
  const generation = useRef(0);

  const restart = useCallback(async () => {
    const mine = ++generation.current;
    const old = current.current;
    current.current = null;
    setWorld(null);
    if (old !== null) await old.stop();
    const next = await World.create({ storage: storageFor });
    // A later restart (or an unmount) won the race: this world is not needed.
    if (mine !== generation.current) {
      await next.stop();
      return next;
    }
    current.current = next;
    setWorld(next);
    void forgetEarlierRuns(new Set(["north", "south", "hall"].map((p) => `${DB_PREFIX}${next.run}-${p}`)));
    return next;
  }, []);

  useEffect(() => {
    void restart();
    return () => {
      generation.current++;
      void current.current?.stop();
      current.current = null;
    };
  }, [restart]);

  const subscribe = useCallback((fn: () => void) => world?.subscribe(fn) ?? EMPTY(), [world]);
  const snapshot = useSyncExternalStore(subscribe, () => world?.snapshot() ?? null);
  return { world, snapshot, restart };
}

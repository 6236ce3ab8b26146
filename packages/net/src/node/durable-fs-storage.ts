/**
 * A crash-safe automerge-repo storage adapter on the local file system, with the file layout of
 * `NodeFSStorageAdapter`: every save replaces its file atomically and durably, so no acknowledged chunk is lost or torn.
 */
import { randomBytes } from "node:crypto";
import { type Dirent, statSync } from "node:fs";
import { mkdir, readdir, readFile, rm, unlink } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import type { Chunk, StorageAdapterInterface, StorageKey } from "@automerge/automerge-repo/slim";
import { DirectorySyncer, replaceFile, tempName, tempOwner } from "./durable-write.js";
import { PidLock } from "./pid-lock.js";

/** A file or directory the adapter could not read or clean up, and skipped. */
export interface StorageFileFailure {
  /** The path on disk. */
  readonly path: string;
  /** The storage key the file holds, when it is a chunk. */
  readonly key?: StorageKey;
  readonly error: Error;
}

/**
 * Thrown when the storage directory's path holds something else (a file): nothing could be stored. Shaped as Node's
 * file system errors are (`code`, `syscall`, `path`), so whatever reports those reports it as plainly.
 */
export class StorageDirectoryError extends Error {
  readonly code = "ENOTDIR";
  readonly syscall = "stat";
  readonly path: string;
  constructor(path: string) {
    super(`the storage directory ${path} is not a directory: move what is there away, or use another directory`);
    this.name = "StorageDirectoryError";
    this.path = path;
  }
}

/** Thrown when a node starts on a storage directory another node (in this process or another live one) is using. */
export class StorageBusyError extends Error {
  readonly path: string;
  /** The process using it. */
  readonly pid: number;
  constructor(path: string, pid: number) {
    const who = pid === process.pid ? "another node in this process" : `process ${pid}`;
    super(`the storage directory ${path} is in use by ${who}: one node at a time may use a directory`);
    this.name = "StorageBusyError";
    this.path = path;
    this.pid = pid;
  }
}

/** Options of a `DurableFsStorageAdapter`. */
export interface DurableFsStorageInit {
  /**
   * Told of each file that cannot be read (the load goes on without it) or temporary file that cannot be removed.
   * Such files are never deleted. Default: a process warning.
   */
  readonly onError?: (failure: StorageFileFailure) => void;
}

/** Owner tokens of the adapters created in this process: their temporary files may be mid-write, never swept. */
const liveOwners = new Set<string>();

const noop = () => {};

function warn(failure: StorageFileFailure): void {
  process.emitWarning(`Skipped storage file ${failure.path}: ${failure.error.message}`, {
    code: "FEDERA_STORAGE_FILE",
  });
}

function codeOf(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

/** Why a key is refused: it would escape the directory, collide in the two-level layout or look like a temporary file. */
function invalidKey(key: StorageKey, what: string, allowEmpty: boolean): TypeError | undefined {
  if (key.length === 0 && !allowEmpty) return new TypeError(`${what}: the storage key is empty`);
  const bad = key.find(
    (part, i) =>
      typeof part !== "string" ||
      part === "" ||
      part.startsWith(".") ||
      /[/\\\0]/.test(part) ||
      (i === 0 && part.length < 3),
  );
  return bad === undefined ? undefined : new TypeError(`${what}: invalid storage key component ${JSON.stringify(bad)}`);
}

function startsWith(key: StorageKey, prefix: StorageKey): boolean {
  return prefix.length <= key.length && prefix.every((part, i) => key[i] === part);
}

/**
 * Readers and writers of single keys share the store; `removeRange` takes it alone, after every operation called
 * before it and before every operation called after it.
 */
class RangeGate {
  /** Resolves when the last `exclusive` called so far has finished. */
  #barrier: Promise<void> = Promise.resolve();
  readonly #shared = new Set<Promise<unknown>>();

  shared<T>(op: () => Promise<T>): Promise<T> {
    // Always through the barrier, even when idle, so operations start in the order they were called.
    return this.#track(this.#barrier.then(op));
  }

  async exclusive<T>(op: () => Promise<T>): Promise<T> {
    const previous = this.#barrier;
    const before = [...this.#shared];
    let release = noop;
    this.#barrier = new Promise((r) => {
      release = r;
    });
    try {
      await previous;
      await Promise.allSettled(before);
      return await op();
    } finally {
      release();
    }
  }

  #track<T>(running: Promise<T>): Promise<T> {
    this.#shared.add(running);
    void running.then(
      () => this.#shared.delete(running),
      () => this.#shared.delete(running),
    );
    return running;
  }
}

/**
 * Stores automerge-repo chunks under a directory, one file per key (`["abcdef", "incremental", "h"]` at
 * `dir/ab/cdef/incremental/h`, like `NodeFSStorageAdapter`, whose directories it reads). A save resolves only once its
 * bytes and its rename are on the disk; operations on one key apply in call order. Temporary files a crash leaves
 * are never loaded and are removed on first use. Use one adapter per directory at a time. The constructor throws
 * `StorageDirectoryError` when something other than a directory stands at `baseDirectory`.
 */
export class DurableFsStorageAdapter implements StorageAdapterInterface {
  readonly baseDirectory: string;
  readonly #onError: (failure: StorageFileFailure) => void;
  readonly #owner = randomBytes(6).toString("hex");
  readonly #syncer = new DirectorySyncer();
  readonly #gate = new RangeGate();
  /** The tail of each key's operations, so a save lands after the ones called before it. */
  readonly #tails = new Map<string, { key: StorageKey; tail: Promise<void> }>();
  /** Keys saved by this adapter, in the order first saved: `loadRange` lists them in that order, as upstream does. */
  readonly #saved = new Set<string>();
  #seq = 0;
  #swept: Promise<void> | undefined;
  #lock: PidLock | undefined;

  constructor(baseDirectory = "automerge-repo-data", init: DurableFsStorageInit = {}) {
    // Checked now, synchronously: automerge-repo leaves the rejection of its first save unhandled, and would crash.
    if (statSync(baseDirectory, { throwIfNoEntry: false })?.isDirectory() === false)
      throw new StorageDirectoryError(resolve(baseDirectory));
    this.baseDirectory = baseDirectory;
    this.#onError = init.onError ?? warn;
    liveOwners.add(this.#owner);
  }

  /**
   * Claims the directory for this process (`<directory>.lock`, naming its pid; a dead process's claim is taken over),
   * or throws `StorageBusyError`: a node calls it when it starts and `unlock` when it stops.
   */
  async lock(): Promise<void> {
    if (this.#lock !== undefined) return;
    const path = `${resolve(this.baseDirectory)}.lock`;
    await mkdir(dirname(path), { recursive: true });
    const taken = await PidLock.tryAcquire(path, { use: "Federa node storage" });
    if (!(taken instanceof PidLock)) throw new StorageBusyError(resolve(this.baseDirectory), taken.pid);
    this.#lock = taken;
  }

  /** Gives up the claim `lock` took. */
  async unlock(): Promise<void> {
    const lock = this.#lock;
    this.#lock = undefined;
    await lock?.release();
  }

  load(key: StorageKey): Promise<Uint8Array | undefined> {
    const invalid = invalidKey(key, "load", false);
    if (invalid) return Promise.reject(invalid);
    return this.#gate.shared(() => this.#serial(key, () => this.#read(key, this.#path(key))));
  }

  save(key: StorageKey, data: Uint8Array): Promise<void> {
    const invalid = invalidKey(key, "save", false);
    if (invalid) return Promise.reject(invalid);
    return this.#gate.shared(() =>
      this.#serial(key, async () => {
        const target = this.#path(key);
        await this.#syncer.makeDirectory(dirname(target));
        this.#seq += 1;
        await replaceFile(target, join(dirname(target), tempName(this.#owner, this.#seq)), data, this.#syncer);
        this.#saved.add(JSON.stringify(key));
      }),
    );
  }

  remove(key: StorageKey): Promise<void> {
    const invalid = invalidKey(key, "remove", false);
    if (invalid) return Promise.reject(invalid);
    return this.#gate.shared(() =>
      this.#serial(key, async () => {
        const target = this.#path(key);
        this.#saved.delete(JSON.stringify(key));
        try {
          await unlink(target);
        } catch (e) {
          if (codeOf(e) === "ENOENT") return;
          throw e;
        }
        await this.#syncer.sync(dirname(target));
      }),
    );
  }

  loadRange(keyPrefix: StorageKey): Promise<Chunk[]> {
    const invalid = invalidKey(keyPrefix, "loadRange", true);
    if (invalid) return Promise.reject(invalid);
    return this.#gate.shared(async () => {
      // Read what was saved before this call: wait for the operations under way on keys in the range.
      await Promise.all([...this.#tails.values()].filter((t) => startsWith(t.key, keyPrefix)).map((t) => t.tail));
      await this.#sweep();
      const found = new Map<string, { key: StorageKey; path: string }>();
      for (const path of await this.#files(this.#path(keyPrefix))) {
        const key = this.#keyOf(path);
        if (startsWith(key, keyPrefix)) found.set(JSON.stringify(key), { key, path });
      }
      const ordered = [...this.#saved].filter((id) => found.has(id));
      const rest = [...found.keys()].filter((id) => !this.#saved.has(id)).sort();
      const chunks = await Promise.all(
        [...ordered, ...rest].map(async (id) => {
          const { key, path } = found.get(id)!;
          return { key, data: await this.#read(key, path) };
        }),
      );
      return chunks.filter((c): c is Chunk & { data: Uint8Array } => c.data !== undefined);
    });
  }

  removeRange(keyPrefix: StorageKey): Promise<void> {
    const invalid = invalidKey(keyPrefix, "removeRange", true);
    if (invalid) return Promise.reject(invalid);
    return this.#gate.exclusive(async () => {
      await this.#sweep();
      for (const id of [...this.#saved])
        if (startsWith(JSON.parse(id) as StorageKey, keyPrefix)) this.#saved.delete(id);
      if (keyPrefix.length > 0) {
        const path = this.#path(keyPrefix);
        await rm(path, { recursive: true, force: true });
        await this.#syncer.sync(dirname(path));
        return;
      }
      const entries = await this.#entries(this.baseDirectory);
      const chunks = entries.filter((e) => !e.name.startsWith("."));
      await Promise.all(chunks.map((e) => rm(join(this.baseDirectory, e.name), { recursive: true, force: true })));
      if (chunks.length > 0) await this.#syncer.sync(this.baseDirectory);
    });
  }

  /** Runs `op` after every operation on `key` called before it; a failed one does not stop the next. */
  #serial<T>(key: StorageKey, op: () => Promise<T>): Promise<T> {
    const id = JSON.stringify(key);
    const previous = this.#tails.get(id)?.tail ?? Promise.resolve();
    const run = previous.then(async () => {
      await this.#sweep();
      return op();
    });
    const tail = run.then(noop, noop);
    this.#tails.set(id, { key, tail });
    void tail.then(() => {
      if (this.#tails.get(id)?.tail === tail) this.#tails.delete(id);
    });
    return run;
  }

  /** The file of a key, or the directory of a key prefix (`[]` is the whole store). */
  #path(key: StorageKey): string {
    const [first, ...rest] = key;
    if (first === undefined) return this.baseDirectory;
    return join(this.baseDirectory, first.slice(0, 2), first.slice(2), ...rest);
  }

  /** The key of a chunk file: the first two directory levels join into the key's first component. */
  #keyOf(path: string): StorageKey {
    const [a = "", b, ...rest] = relative(this.baseDirectory, path).split(sep);
    return b === undefined ? [a] : [a + b, ...rest];
  }

  /** A chunk's bytes; undefined when it is absent, or unreadable (then reported, and left on disk). */
  async #read(key: StorageKey, path: string): Promise<Uint8Array | undefined> {
    try {
      return new Uint8Array(await readFile(path));
    } catch (e) {
      // Absent, or a prefix of longer keys: no value at this key.
      if (codeOf(e) === "ENOENT" || codeOf(e) === "EISDIR") return undefined;
      this.#onError({ path, key, error: asError(e) });
      return undefined;
    }
  }

  /** A directory's entries; none when it is absent, and reported when unreadable. */
  async #entries(dir: string): Promise<Dirent[]> {
    try {
      return await readdir(dir, { withFileTypes: true });
    } catch (e) {
      if (codeOf(e) !== "ENOENT") this.#onError({ path: dir, error: asError(e) });
      return [];
    }
  }

  /** Every chunk file at or under `path`: names starting with "." are never chunks (temporary files among them). */
  async #files(path: string): Promise<string[]> {
    try {
      const entries = await readdir(path, { withFileTypes: true });
      const nested = await Promise.all(
        entries
          .filter((e) => !e.name.startsWith("."))
          .map((e) => (e.isDirectory() ? this.#files(join(path, e.name)) : [join(path, e.name)])),
      );
      return nested.flat();
    } catch (e) {
      if (codeOf(e) === "ENOTDIR") return [path];
      if (codeOf(e) !== "ENOENT") this.#onError({ path, error: asError(e) });
      return [];
    }
  }

  /** Removes, once per adapter, the temporary files of writers no longer alive (a crash's leftovers). */
  #sweep(): Promise<void> {
    this.#swept ??= this.#sweepUnder(this.baseDirectory);
    return this.#swept;
  }

  async #sweepUnder(dir: string): Promise<void> {
    const entries = await this.#entries(dir);
    await Promise.all(
      entries.map(async (e) => {
        const path = join(dir, e.name);
        if (e.isDirectory()) return this.#sweepUnder(path);
        const owner = tempOwner(e.name);
        if (owner === undefined || liveOwners.has(owner)) return;
        await unlink(path).catch((error: unknown) => {
          if (codeOf(error) !== "ENOENT") this.#onError({ path, error: asError(error) });
        });
      }),
    );
  }
}

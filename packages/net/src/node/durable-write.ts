/**
 * Crash-safe replacement of a file's contents: a unique temporary sibling is written and fsynced, renamed over the
 * target, and the directory is fsynced (coalesced per directory) so the rename itself survives a power cut.
 */
import { mkdir, open, rename, rm } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";

const noop = () => {};

/** Every temporary file starts with this; no stored key component may start with ".", so none is a chunk. */
export const TEMP_PREFIX = ".federa-tmp.";

/** The name of a temporary file owned by `owner` (a token unique to one writer), numbered `seq` within it. */
export function tempName(owner: string, seq: number): string {
  return `${TEMP_PREFIX}${owner}.${seq}`;
}

/** The owner token of a temporary file's name, or undefined when the name is not one of ours. */
export function tempOwner(name: string): string | undefined {
  if (!name.startsWith(TEMP_PREFIX)) return undefined;
  return name.slice(TEMP_PREFIX.length).split(".")[0];
}

/** Error codes with which a file system says it cannot fsync a directory (the rename is then as durable as it gets). */
const UNSUPPORTED_DIRECTORY_SYNC = new Set(["EINVAL", "ENOTSUP", "EISDIR"]);

async function fsyncDirectory(dir: string): Promise<void> {
  // Windows cannot open a directory for fsync; NTFS journals renames itself.
  if (process.platform === "win32") return;
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(dir, "r");
    await handle.sync();
  } catch (e) {
    if (!UNSUPPORTED_DIRECTORY_SYNC.has((e as NodeJS.ErrnoException).code ?? "")) throw e;
  } finally {
    await handle?.close();
  }
}

interface DirectoryState {
  running: Promise<void> | undefined;
  queued: Promise<void> | undefined;
}

/**
 * Fsyncs directories, sharing one fsync between every caller whose rename happened before it started: a batch of
 * saves into one directory costs one or two directory fsyncs, not one each. It also creates directories durably.
 */
export class DirectorySyncer {
  readonly #states = new Map<string, DirectoryState>();
  /** Directories created whose entries are not yet fsynced in their parents. */
  readonly #creating = new Map<string, Promise<void>>();

  /**
   * Creates `dir` and its missing parents; resolves once the entry of each new directory on the way, whether this
   * call or a concurrent one created it, is fsynced in its parent.
   */
  async makeDirectory(dir: string): Promise<void> {
    const target = resolve(dir);
    const created = await mkdir(target, { recursive: true });
    if (created !== undefined) {
      const fresh = [resolve(created)];
      for (const part of relative(fresh[0]!, target)
        .split(sep)
        .filter((p) => p !== ""))
        fresh.push(join(fresh.at(-1)!, part));
      const done = Promise.all([dirname(fresh[0]!), ...fresh.slice(0, -1)].map((p) => this.sync(p))).then(noop);
      for (const d of fresh) this.#creating.set(d, done);
      const forget = () => {
        for (const d of fresh) if (this.#creating.get(d) === done) this.#creating.delete(d);
      };
      void done.then(forget, forget);
    }
    const pending: Promise<void>[] = [];
    for (let d = target; ; d = dirname(d)) {
      const creation = this.#creating.get(d);
      if (creation !== undefined) pending.push(creation);
      if (dirname(d) === d) break;
    }
    await Promise.all(pending);
  }

  /** Resolves once an fsync of `dir` that started after this call has completed. */
  sync(path: string): Promise<void> {
    const dir = resolve(path);
    let state = this.#states.get(dir);
    if (state === undefined) {
      state = { running: undefined, queued: undefined };
      this.#states.set(dir, state);
    }
    if (state.queued !== undefined) return state.queued;
    if (state.running === undefined) return this.#start(dir, state);
    // The fsync under way may have started before this caller's rename: one more, shared by all who arrive meanwhile.
    const current = state;
    const queued = state.running.catch(noop).then(() => {
      current.queued = undefined;
      return this.#start(dir, current);
    });
    state.queued = queued;
    return queued;
  }

  #start(dir: string, state: DirectoryState): Promise<void> {
    const running = fsyncDirectory(dir).finally(() => {
      if (state.running !== running) return;
      state.running = undefined;
      if (state.queued === undefined) this.#states.delete(dir);
    });
    state.running = running;
    return running;
  }
}

/**
 * Replaces `target` with `data` so that after a crash at any point the target holds either its old bytes or all of
 * the new ones: writes `temp` (a fresh name in the same directory), fsyncs it, renames it over the target and fsyncs
 * the directory. The target's directory must exist.
 */
export async function replaceFile(target: string, temp: string, data: Uint8Array, syncer: DirectorySyncer) {
  const handle = await open(temp, "wx");
  try {
    await handle.writeFile(data);
    await handle.datasync();
    await handle.close();
    await rename(temp, target);
  } catch (e) {
    await handle.close().catch(noop);
    await rm(temp, { force: true }).catch(noop);
    throw e;
  }
  await syncer.sync(dirname(target));
}

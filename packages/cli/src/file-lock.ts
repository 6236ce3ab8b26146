/**
 * Read-modify-write of a node directory's JSON files, one writer at a time: the node daemon and a command in another
 * process (or two acts inside the daemon) may update the same file at once, and the later write must not drop the
 * earlier one's entry.
 */
import { open, rm, stat } from "node:fs/promises";

/** A lock older than this was left by a process that died holding it. */
export const STALE_LOCK_MS = 30_000;
const RETRY_MS = 10;
const GIVE_UP_MS = 10_000;

// Within one process, writers of a file queue up here before taking the file lock.
const queues = new Map<string, Promise<unknown>>();

async function acquire(lock: string): Promise<void> {
  const deadline = Date.now() + GIVE_UP_MS;
  for (;;) {
    try {
      await (await open(lock, "wx", 0o600)).close();
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const age = await stat(lock).then(
      (s) => Date.now() - s.mtimeMs,
      () => 0,
    );
    if (age > STALE_LOCK_MS) await rm(lock, { force: true });
    else if (Date.now() > deadline) throw new Error(`${lock} is held by another process for too long`);
    else await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
  }
}

/** Runs `update` while holding `path`'s lock (`path.lock`, made exclusively), in this process and across processes. */
export function withFileLock<T>(path: string, update: () => Promise<T>): Promise<T> {
  const lock = `${path}.lock`;
  const run = (queues.get(path) ?? Promise.resolve()).then(
    () => undefined,
    () => undefined,
  );
  const result = run.then(async () => {
    await acquire(lock);
    try {
      return await update();
    } finally {
      await rm(lock, { force: true });
    }
  });
  queues.set(path, result);
  void result
    .finally(() => {
      if (queues.get(path) === result) queues.delete(path);
    })
    .catch(() => {});
  return result;
}

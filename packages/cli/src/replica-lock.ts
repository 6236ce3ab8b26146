/**
 * One process at a time works on a directory's replica. Two processes writing the same council from one device would
 * each sign the device's next record with the same sequence number: a fork of the device's chain, which every peer
 * then excludes, with everything the device writes after it. The running node holds the lock for its lifetime (other
 * commands go through its control socket); an offline command holds it while it works.
 */
import { open, readFile, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { CliError, CliErrorCodes } from "./errors.js";

/** Who holds a directory's replica. */
export type ReplicaHolder = "node" | "command";

interface LockFile {
  readonly pid: number;
  readonly holder: ReplicaHolder;
  readonly since: number;
}

/** A lock file that names no process is one its writer died creating, once it is this old. */
const UNNAMED_STALE_MS = 5_000;

/** Thrown when another live process keeps the directory's replica longer than a command waits. */
export class DirectoryBusyError extends CliError {
  constructor(dir: string, held: LockFile) {
    const what = held.holder === "node" ? "a federa node" : "another federa command";
    super(
      CliErrorCodes.DIRECTORY_BUSY,
      `${dir} is busy: ${what} (process ${held.pid}) is working on its replica; try again when it is done`,
    );
    this.name = "DirectoryBusyError";
  }
}

/** The lock's path in a node directory. */
export function replicaLockPath(root: string): string {
  return join(root, "replica.lock");
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"; // alive, owned by someone else
  }
}

async function read(path: string): Promise<{ lock: LockFile | null; raw: string } | undefined> {
  const raw = await readFile(path, "utf8").catch(() => undefined);
  if (raw === undefined) return undefined;
  try {
    const parsed = JSON.parse(raw) as Partial<LockFile>;
    if (typeof parsed.pid === "number" && (parsed.holder === "node" || parsed.holder === "command"))
      return { lock: { pid: parsed.pid, holder: parsed.holder, since: Number(parsed.since) || 0 }, raw };
  } catch {
    // written halfway: judged by its age below
  }
  return { lock: null, raw };
}

/** A held replica lock; `release` removes it (only if it is still this process's). */
export class ReplicaLock {
  readonly path: string;
  readonly #token: string;

  private constructor(path: string, token: string) {
    this.path = path;
    this.#token = token;
  }

  /**
   * Takes the lock now if nobody holds it (or its holder died), else returns who holds it. A lock whose process is gone
   * (killed, crashed) is taken over: it is moved aside first, so two processes taking it over cannot both win.
   */
  static async tryAcquire(root: string, holder: ReplicaHolder): Promise<ReplicaLock | LockFile> {
    const path = replicaLockPath(root);
    const token = JSON.stringify({ pid: process.pid, holder, since: Date.now() } satisfies LockFile);
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const file = await open(path, "wx", 0o600);
        try {
          await file.writeFile(token);
          await file.sync();
        } finally {
          await file.close();
        }
        return new ReplicaLock(path, token);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      }
      const found = await read(path);
      if (found === undefined) continue; // released meanwhile
      if (found.lock !== null && (found.lock.pid === process.pid || alive(found.lock.pid))) return found.lock;
      if (found.lock === null) {
        const age = await stat(path).then(
          (st) => Date.now() - st.mtimeMs,
          () => 0,
        );
        if (age < UNNAMED_STALE_MS) return { pid: 0, holder: "command", since: Date.now() };
      }
      // The holder is gone: move its lock aside, and put it back if what moved was someone else's fresh one.
      const aside = `${path}.${process.pid}.stale`;
      if (
        await rename(path, aside).then(
          () => true,
          () => false,
        )
      ) {
        const moved = await readFile(aside, "utf8").catch(() => "");
        if (moved === found.raw) await rm(aside, { force: true });
        else await rename(aside, path).catch(() => rm(aside, { force: true }));
      }
    }
    const found = await read(path);
    return found?.lock ?? { pid: 0, holder: "command", since: Date.now() };
  }

  /** Removes the lock if it is still the one this process wrote. */
  async release(): Promise<void> {
    const current = await readFile(this.path, "utf8").catch(() => undefined);
    if (current === this.#token) await rm(this.path, { force: true });
  }
}

/**
 * Takes the lock for a node: waits for an offline command to finish (up to `waitMs`, or `undefined` once `cancelled`),
 * and refuses when another node
 * holds it (one starting or stopping, whose control socket is not up).
 */
export async function lockForNode(
  root: string,
  onWait: (held: LockFile) => void,
  cancelled: () => boolean = () => false,
  waitMs = 60_000,
): Promise<ReplicaLock | undefined> {
  const deadline = Date.now() + waitMs;
  let told = false;
  for (;;) {
    const lock = await ReplicaLock.tryAcquire(root, "node");
    if (lock instanceof ReplicaLock) return lock;
    if (cancelled()) return undefined;
    if (lock.holder === "node")
      throw new CliError(CliErrorCodes.NODE_RUNNING, `a node is already running on ${root} (process ${lock.pid})`);
    if (Date.now() > deadline) throw new DirectoryBusyError(root, lock);
    if (!told) onWait(lock);
    told = true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

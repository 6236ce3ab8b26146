/**
 * One process at a time works on a directory's replica. Two processes writing the same council from one device would
 * each sign the device's next record with the same sequence number: a fork of the device's chain, which every peer
 * then excludes, with everything the device writes after it. The running node holds the lock for its lifetime (other
 * commands go through its control socket); an offline command holds it while it works.
 */
import { join } from "node:path";
import { PidLock } from "@federa/net/node";
import { CliError, CliErrorCodes } from "./errors.js";

/** Who holds a directory's replica. */
export type ReplicaHolder = "node" | "command";

interface LockFile {
  readonly pid: number;
  readonly holder: ReplicaHolder;
  readonly since: number;
}

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

/** A held replica lock; `release` removes it (only if it is still this process's). */
export class ReplicaLock {
  readonly #lock: PidLock;

  private constructor(lock: PidLock) {
    this.#lock = lock;
  }

  get path(): string {
    return this.#lock.path;
  }

  /** Takes the lock now if nobody holds it (or its holder died), else returns who holds it. */
  static async tryAcquire(root: string, holder: ReplicaHolder): Promise<ReplicaLock | LockFile> {
    const taken = await PidLock.tryAcquire(replicaLockPath(root), { holder });
    if (taken instanceof PidLock) return new ReplicaLock(taken);
    // A lock naming no holder (or none yet) is a command's: only a node's refuses a node at once.
    return { pid: taken.pid, holder: taken.holder === "node" ? "node" : "command", since: taken.since };
  }

  release(): Promise<void> {
    return this.#lock.release();
  }
}

/**
 * Takes the lock for a node: waits for an offline command to finish (up to `waitMs`, or `undefined` once `cancelled`),
 * and refuses when another node holds it (one starting or stopping, whose control socket is not up).
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

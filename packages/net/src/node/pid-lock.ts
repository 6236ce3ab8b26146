/**
 * A lock file naming the process that holds it: made exclusively, taken over when that process is gone. Two processes
 * writing one replica would each sign the device's next record with the same sequence number, a fork of its chain that
 * every peer excludes; this is what keeps a storage directory (and the `federa` command's node directory) to one.
 */
import { open, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** What a lock file holds: the process, since when, and what its taker added (what it is doing). */
export interface LockHolder {
  readonly pid: number;
  readonly since: number;
  readonly [detail: string]: unknown;
}

/** A lock file that names no process is one its writer died creating, once it is this old. */
const UNNAMED_STALE_MS = 5_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"; // alive, owned by someone else
  }
}

async function read(path: string): Promise<{ holder: LockHolder | null; raw: string } | undefined> {
  const raw = await readFile(path, "utf8").catch(() => undefined);
  if (raw === undefined) return undefined;
  try {
    const parsed = JSON.parse(raw) as Partial<LockHolder>;
    if (typeof parsed.pid === "number")
      return { holder: { ...parsed, pid: parsed.pid, since: Number(parsed.since) || 0 }, raw };
  } catch {
    // written halfway: judged by its age below
  }
  return { holder: null, raw };
}

/**
 * Removes the locks that takeovers of `path` moved aside (`path.PID.stale`) and whose processes died before removing
 * them (a SIGKILL between the two steps). A live process's is left: it may be putting a fresh lock back.
 */
async function removeLeftAside(path: string): Promise<void> {
  const prefix = `${basename(path)}.`;
  const names = await readdir(dirname(path)).catch(() => [] as string[]);
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith(".stale")) continue;
    const pid = Number(name.slice(prefix.length, -".stale".length));
    if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && !alive(pid)) {
      await rm(join(dirname(path), name), { force: true }).catch(() => {});
    }
  }
}

/** Errors with which a file system refuses any change in a directory this process may only read. */
const UNWRITABLE: ReadonlySet<string> = new Set(["EACCES", "EPERM", "EROFS"]);

/** False for a rename that lost a race; throws when the directory cannot be written at all, which no retry mends. */
function unlessUnwritable(error: unknown): false {
  if (UNWRITABLE.has((error as NodeJS.ErrnoException).code ?? "")) throw error;
  return false;
}

/** A held lock; `release` removes it (only if it is still this one). */
export class PidLock {
  readonly path: string;
  readonly #token: string;

  private constructor(path: string, token: string) {
    this.path = path;
    this.#token = token;
  }

  /**
   * Takes the lock at `path` now if nobody holds it (or its process died), else returns who holds it (this process
   * included: a second taker in one process is refused too). A dead holder's lock is moved aside first, so two
   * processes taking it over cannot both win. `detail` is written beside the pid for whoever finds the lock held.
   */
  static async tryAcquire(path: string, detail: Readonly<Record<string, string>> = {}): Promise<PidLock | LockHolder> {
    const token = JSON.stringify({ ...detail, pid: process.pid, since: Date.now() });
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const file = await open(path, "wx", 0o600);
        try {
          await file.writeFile(token);
          await file.sync();
        } finally {
          await file.close();
        }
        await removeLeftAside(path);
        return new PidLock(path, token);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      }
      const found = await read(path);
      if (found === undefined) continue; // released meanwhile
      const { holder } = found;
      if (holder !== null && (holder.pid === process.pid || alive(holder.pid))) return holder;
      if (holder === null) {
        const age = await stat(path).then(
          (st) => Date.now() - st.mtimeMs,
          () => 0,
        );
        if (age < UNNAMED_STALE_MS) return { pid: 0, since: Date.now() };
      }
      // The holder is gone: move its lock aside, and put it back if what moved was someone else's fresh one.
      const aside = `${path}.${process.pid}.stale`;
      if (await rename(path, aside).then(() => true, unlessUnwritable)) {
        const moved = await readFile(aside, "utf8").catch(() => "");
        if (moved === found.raw) await rm(aside, { force: true });
        else await rename(aside, path).catch(() => rm(aside, { force: true }));
      }
    }
    return (await read(path))?.holder ?? { pid: 0, since: Date.now() };
  }

  /** Removes the lock if it is still the one this process wrote. */
  async release(): Promise<void> {
    const current = await readFile(this.path, "utf8").catch(() => undefined);
    if (current === this.#token) await rm(this.path, { force: true });
  }
}

/** Runs a request where it belongs: through the node running on the directory when there is one, else offline. */
import { ControlClient } from "./control-socket.js";
import { CliError, CliErrorCodes } from "./errors.js";
import type { NodeDir } from "./node-dir.js";
import type { Request } from "./operations.js";
import { perform, READ_OPS } from "./operations.js";
import type { Progress } from "./output.js";
import { DirectoryBusyError, ReplicaLock } from "./replica-lock.js";
import { LocalWorkspace } from "./workspace.js";

/** Where a request ran. */
export type Via = "node" | "offline";

/** How long a command waits for the directory's replica while another process works on it. */
const BUSY_WAIT_MS = 60_000;
const RETRY_MS = 100;

/** Errors with which a file system refuses to create a file in a directory this process may only read. */
const READ_ONLY_CODES: ReadonlySet<string> = new Set(["EACCES", "EPERM", "EROFS"]);
const READ_ONLY: unique symbol = Symbol("read-only");

function unwritable(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === "string" && READ_ONLY_CODES.has(code);
}

/**
 * Performs a request through the running node's control socket, or on the directory's own storage while holding its
 * replica lock (waiting while another command holds it, or while a node starts or stops). A request that only reads,
 * on a directory where the lock cannot even be made (a read-only mount, another user's directory), reads it without
 * the lock and writes nothing: where it can write, it takes the lock like any other, since opening the storage sweeps
 * away the temporary files of writers in other processes and the marks it merges into high-water.json are rewritten
 * whole.
 */
export async function execute(
  dir: NodeDir,
  request: Request,
  progress: Progress,
): Promise<{ result: Record<string, unknown>; via: Via }> {
  await dir.identity(); // no directory, or no identity in it: said plainly before any lock is taken
  const deadline = Date.now() + BUSY_WAIT_MS;
  let waiting: Promise<void> | undefined;
  let stopWaiting = () => {};
  try {
    for (;;) {
      const client = await ControlClient.connect(dir.socketPath);
      if (client !== null) {
        try {
          const result = await progress.during("asking the running node", () => client.call(request));
          return { result, via: "node" };
        } catch (e) {
          // Nothing was done: once the node has stopped, the command runs offline.
          if (!(e instanceof CliError && e.code === CliErrorCodes.NODE_STOPPING)) throw e;
        } finally {
          client.close();
        }
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
        continue;
      }
      const lock = await ReplicaLock.tryAcquire(dir.root, "command").catch((e: unknown): typeof READ_ONLY => {
        if (READ_OPS.has(request.op) && unwritable(e)) return READ_ONLY;
        throw e;
      });
      if (lock === READ_ONLY)
        return { result: await offline(dir, request, progress, { readOnly: true }), via: "offline" };
      if (lock instanceof ReplicaLock) {
        try {
          return { result: await offline(dir, request, progress), via: "offline" };
        } finally {
          await lock.release();
        }
      }
      if (Date.now() > deadline) throw new DirectoryBusyError(dir.root, lock);
      const what = lock.holder === "node" ? "the node starting or stopping" : "another federa command";
      waiting ??= progress.during(
        `waiting for ${what} on ${dir.root}`,
        () => new Promise<void>((resolve) => (stopWaiting = resolve)),
      );
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
  } finally {
    stopWaiting();
    await waiting;
  }
}

async function offline(
  dir: NodeDir,
  request: Request,
  progress: Progress,
  options: { readonly readOnly?: boolean } = {},
): Promise<Record<string, unknown>> {
  const ws = await progress.during("opening the node directory", () => LocalWorkspace.open(dir, options));
  try {
    return await progress.during("working on the local replica", () => perform(ws, request));
  } finally {
    // Only the documents' flush fails the command: what it could not write after them is a warning.
    for (const problem of await ws.close()) progress.warn(problem);
  }
}

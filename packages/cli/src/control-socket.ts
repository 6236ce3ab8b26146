/**
 * The control socket of a running node (D/node.sock): line-delimited JSON requests and answers over a Unix socket,
 * so that commands run while the node runs act through it instead of opening the storage a second time. While it
 * holds a client's requests the node sends it a blank line now and then, so a client tells a busy node from one that
 * does not answer.
 */
import { chmod, rm } from "node:fs/promises";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import {
  CliError,
  CliErrorCodes,
  describeError,
  NodeNotAnsweringError,
  NodeStoppingError,
  NodeUnreachableError,
  remoteError,
} from "./errors.js";
import type { Request } from "./operations.js";

/** One line a client sends. */
export interface ControlRequest {
  readonly id: number;
  readonly request: Request;
}

/** One line the node answers. */
export type ControlResponse =
  | { readonly id: number; readonly ok: true; readonly result: Record<string, unknown> }
  | {
      readonly id: number;
      readonly ok: false;
      readonly error: { readonly code: string; readonly message: string; readonly exitCode: number };
    };

/** Longest request line the node reads (a request is small; this bounds memory per client). */
const MAX_LINE = 1 << 20;

/** How often the node tells a client whose requests it holds (queued or under way) that it is still at work. */
export const HEARTBEAT_MS = 5_000;

/**
 * How long a client waits without a line from the node, answer or heartbeat, before giving up on it: several
 * heartbeats, and longer than the node's event loop is ever busy at a stretch (loading a large council takes seconds).
 */
export const SILENCE_MS = 30_000;

/** Splits a byte stream into lines and hands each to `onLine`. */
function lines(socket: Socket, onLine: (line: string) => void, onOverflow: () => void): void {
  let buffer = "";
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => {
    buffer += chunk;
    let nl = buffer.indexOf("\n");
    while (nl >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (line.trim().length > 0) onLine(line);
      nl = buffer.indexOf("\n");
    }
    if (buffer.length > MAX_LINE) onOverflow();
  });
}

/** Longest Unix socket path Linux and macOS accept (sun_path holds 108 and 104 bytes with the terminator). */
const MAX_SOCKET_PATH = 103;

function tooLong(path: string): boolean {
  return Buffer.byteLength(path) > MAX_SOCKET_PATH;
}

/** A socket that accepts no connection was left by a process that died: true when that is the case. */
async function isStale(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createConnection(path);
    probe.once("connect", () => {
      probe.destroy();
      resolve(false);
    });
    probe.once("error", (e: NodeJS.ErrnoException) => resolve(e.code === "ECONNREFUSED" || e.code === "ENOENT"));
  });
}

/** The listening side; `close` stops accepting and removes the socket file. */
export interface ControlServer {
  close(): Promise<void>;
}

/** Listens on `path`; requests are handled one at a time, in arrival order, whatever the client. */
export async function serveControl(
  path: string,
  handle: (request: Request) => Promise<Record<string, unknown>>,
  heartbeatMs = HEARTBEAT_MS,
): Promise<ControlServer> {
  if (tooLong(path)) {
    throw new CliError(
      CliErrorCodes.BAD_DIR,
      `the node directory's path is too long for its control socket (${path}): use a shorter --dir`,
    );
  }
  if (!(await isStale(path))) {
    throw new CliError(CliErrorCodes.NODE_RUNNING, `a node is already running on this directory (${path})`);
  }
  await rm(path, { force: true });
  let queue: Promise<unknown> = Promise.resolve();
  let closing = false;
  const clients = new Set<Socket>();
  const server: Server = createServer((socket) => {
    clients.add(socket);
    /** This client's requests queued or under way: while there are any, it hears a blank line every heartbeat. */
    let held = 0;
    const heartbeat = setInterval(() => {
      if (held > 0 && !socket.destroyed) socket.write("\n");
    }, heartbeatMs);
    heartbeat.unref();
    socket.on("close", () => {
      clients.delete(socket);
      clearInterval(heartbeat);
    });
    socket.on("error", () => socket.destroy());
    const answer = (response: ControlResponse) => {
      if (!socket.destroyed) socket.write(`${JSON.stringify(response)}\n`);
    };
    lines(
      socket,
      (line) => {
        let parsed: ControlRequest;
        try {
          parsed = JSON.parse(line) as ControlRequest;
          if (typeof parsed.id !== "number" || typeof parsed.request?.op !== "string") throw new Error("bad request");
        } catch {
          answer({ id: -1, ok: false, error: { code: "BAD_REQUEST", message: "not a control request", exitCode: 1 } });
          return;
        }
        held++;
        const run = queue.then(async () => {
          try {
            // Once stopping, nothing more is done: a request is answered as done only if it was, and only once.
            if (closing) throw new NodeStoppingError();
            answer({ id: parsed.id, ok: true, result: await handle(parsed.request) });
          } catch (e) {
            const { code, message, exitCode } = describeError(e);
            answer({ id: parsed.id, ok: false, error: { code, message, exitCode } });
          } finally {
            held--;
          }
        });
        queue = run;
      },
      () => socket.destroy(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => {
      server.off("error", reject);
      resolve();
    });
  });
  await chmod(path, 0o600);
  return {
    close: async () => {
      // The request under way finishes and is answered; those waiting are answered that the node is stopping.
      closing = true;
      await queue.catch(() => {});
      // Ended, not destroyed at once: an answer just written must reach its client; one that lingers is dropped.
      for (const c of clients) {
        c.end();
        setTimeout(() => c.destroy(), 1_000).unref();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(path, { force: true });
    },
  };
}

/** A connection to a running node's control socket. */
export class ControlClient {
  readonly #socket: Socket;
  readonly #path: string;
  readonly #silenceMs: number;
  readonly #waiting = new Map<number, { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  /** Runs out when the node has sent nothing for `#silenceMs` while requests wait; unset when none waits. */
  #silence: NodeJS.Timeout | undefined;
  #next = 1;
  #closed: Error | null = null;

  private constructor(socket: Socket, path: string, silenceMs: number) {
    this.#socket = socket;
    this.#path = path;
    this.#silenceMs = silenceMs;
    lines(
      socket,
      (line) => this.#receive(line),
      () => socket.destroy(new Error("answer too long")),
    );
    // Any line, a heartbeat as much as an answer, shows the node is alive (read after the answer it may carry).
    socket.on("data", () => this.#listen());
    socket.on("close", () => this.#fail(new NodeUnreachableError("the node closed the control socket")));
    socket.on("error", (e) => this.#fail(new NodeUnreachableError(`control socket: ${e.message}`)));
  }

  /**
   * Connects to the node running on `path`; null when no node runs there (no socket, or a stale one). A request
   * fails with `NodeNotAnsweringError` once the node has sent nothing for `silenceMs`.
   */
  static connect(path: string, silenceMs = SILENCE_MS): Promise<ControlClient | null> {
    // No node can listen on a path that long, so none runs there.
    if (tooLong(path)) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      const socket = createConnection(path);
      socket.once("connect", () => resolve(new ControlClient(socket, path, silenceMs)));
      socket.once("error", (e: NodeJS.ErrnoException) => {
        if (e.code === "ENOENT" || e.code === "ECONNREFUSED") resolve(null);
        else reject(new NodeUnreachableError(`cannot reach the node at ${path}: ${e.message}`));
      });
    });
  }

  #receive(line: string): void {
    let response: ControlResponse;
    try {
      response = JSON.parse(line) as ControlResponse;
    } catch {
      return;
    }
    const waiter = this.#waiting.get(response.id);
    if (waiter === undefined) return;
    this.#waiting.delete(response.id);
    if (response.ok) waiter.resolve(response.result);
    else waiter.reject(remoteError(response.error.code, response.error.message, response.error.exitCode));
  }

  /** Waits afresh for the node's next line while requests wait for answers. */
  #listen(): void {
    clearTimeout(this.#silence);
    this.#silence = undefined;
    if (this.#waiting.size === 0) return;
    this.#silence = setTimeout(() => {
      this.#fail(new NodeNotAnsweringError(this.#path, this.#silenceMs));
      this.#socket.destroy();
    }, this.#silenceMs);
  }

  #fail(error: Error): void {
    clearTimeout(this.#silence);
    this.#silence = undefined;
    this.#closed ??= error;
    for (const w of this.#waiting.values()) w.reject(error);
    this.#waiting.clear();
  }

  /** Sends a request and waits for its answer. */
  call(request: Request): Promise<Record<string, unknown>> {
    if (this.#closed) return Promise.reject(this.#closed);
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      if (this.#silence === undefined) this.#listen();
      this.#socket.write(`${JSON.stringify({ id, request } satisfies ControlRequest)}\n`);
    });
  }

  close(): void {
    this.#closed ??= new NodeUnreachableError("closed");
    this.#socket.end();
  }
}

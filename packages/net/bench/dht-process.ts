/**
 * The benchmark's handle on one member process of `./dev bench dht`: forks `dht-worker.ts` (Node with tsx), sends it
 * commands over the IPC channel and awaits each answer, and kills it to restart the device.
 */
import { type ChildProcess, fork } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { DhtCommand, DhtEvent, Join, MemberStatus } from "./dht-protocol.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "../../..");
const WORKER = join(HERE, "dht-worker.ts");

/** Thrown when a member process answers with an error, or exits while an answer is awaited. */
export class MemberProcessError extends Error {
  override name = "MemberProcessError";
}

interface Waiter {
  readonly ev: DhtEvent["ev"];
  resolve(event: DhtEvent): void;
  reject(err: Error): void;
}

export class MemberProcess {
  readonly #child: ChildProcess;
  /** Answers awaited, in the order their commands were sent: the worker answers each command once, in order. */
  readonly #waiters: Waiter[] = [];
  readonly #exited: Promise<void>;
  #stderr = "";
  #gone = false;

  private constructor() {
    this.#child = fork(WORKER, [], {
      cwd: ROOT,
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "ignore", "pipe", "ipc"],
    });
    this.#child.stderr!.setEncoding("utf8").on("data", (d: string) => {
      this.#stderr = (this.#stderr + d).slice(-2_000);
    });
    this.#child.on("message", (event: DhtEvent) => {
      const waiter = this.#waiters.shift();
      if (waiter === undefined) return;
      if (event.ev === waiter.ev) waiter.resolve(event);
      else
        waiter.reject(new MemberProcessError(event.ev === "error" ? event.message : `${event.ev}, not ${waiter.ev}`));
    });
    this.#exited = new Promise((resolve) =>
      this.#child.once("exit", () => {
        this.#gone = true;
        const err = new MemberProcessError(`member process exited\n${this.#stderr}`);
        for (const waiter of this.#waiters.splice(0)) waiter.reject(err);
        resolve();
      }),
    );
  }

  /** Forks a member process and waits until its code is loaded, so that what is timed next is the network's. */
  static async start(): Promise<MemberProcess> {
    const p = new MemberProcess();
    await p.#answer("loaded");
    return p;
  }

  /** Starts the member's node, which dials its entry node until it answers. */
  async join(init: Omit<Join, "cmd">): Promise<string> {
    const joined = await this.#ask({ cmd: "join", ...init }, "joined");
    return joined.id;
  }

  async status(): Promise<MemberStatus> {
    const { ev: _, ...status } = await this.#ask({ cmd: "status" }, "status");
    return status;
  }

  /** Kills the process at once (SIGKILL), as a device that dies: the OS closes its connections. */
  async kill(): Promise<void> {
    if (!this.#gone) this.#child.kill("SIGKILL");
    await this.#exited;
  }

  /** Stops the node and lets the process exit; kills it after 10 s. */
  async stop(): Promise<void> {
    if (this.#gone) return;
    this.#child.send({ cmd: "stop" } satisfies DhtCommand);
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), 10_000);
    await this.#exited;
    clearTimeout(timer);
  }

  #ask<E extends DhtEvent["ev"]>(command: DhtCommand, ev: E): Promise<Extract<DhtEvent, { ev: E }>> {
    const answer = this.#answer(ev);
    this.#child.send(command);
    return answer;
  }

  #answer<E extends DhtEvent["ev"]>(ev: E): Promise<Extract<DhtEvent, { ev: E }>> {
    if (this.#gone) return Promise.reject(new MemberProcessError(`member process exited\n${this.#stderr}`));
    return new Promise((resolve, reject) =>
      this.#waiters.push({ ev, resolve: (e) => resolve(e as Extract<DhtEvent, { ev: E }>), reject }),
    );
  }
}

/**
 * Long-running test processes (`federa node`, helper scripts): start them, wait for a node's address line, stop or
 * kill them, and kill every one left whatever happened.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { ControlClient, type CouncilSummary, type Request } from "../../src/index.js";
import { MAIN, type Ran, ROOT, spawnTs, tempDir } from "./cli.js";

/** Every process started and not yet seen to exit: `killNodes` ends them, whatever a test left. */
const running = new Set<ChildProcess>();

/** A `federa node` process that has printed its address line. */
export interface RunningNode {
  readonly dir: string;
  readonly child: ChildProcess;
  readonly peerId: string;
  readonly addresses: string[];
  /** Resolves with the exit code (null when a signal ended it). */
  readonly exited: Promise<number | null>;
  /** Everything the node has written to stderr so far. */
  stderr(): string;
}

/** The lines of the node's log so far that contain `text`. */
export function logLines(node: RunningNode, text: string): string[] {
  return node
    .stderr()
    .split("\n")
    .filter((l) => l.includes(text));
}

/** How to start a node; every node listens on loopback only. */
export interface NodeStart {
  readonly bootstrap?: readonly string[];
  /** mDNS discovery; off unless asked (a test must not multicast out of the machine's own interfaces). */
  readonly mdns?: boolean;
  /** Runs the node inside this network namespace (`ip netns exec`). */
  readonly netns?: string;
  readonly env?: Readonly<Record<string, string>>;
  /** More `federa node` arguments. */
  readonly args?: readonly string[];
}

/** The JSON `federa status --json` prints (the parts tests read). */
export interface StatusJson {
  readonly member: string;
  readonly device: string;
  readonly node: {
    running: boolean;
    peerId?: string;
    addresses?: string[];
    peers?: string[];
    discovered?: string[];
    links?: string[];
    lookups?: number;
  };
  readonly peers: string[];
  readonly councils: CouncilSummary[];
}

/** Starts `federa node` on `dir` and resolves once it has printed its address line. */
export function startNode(dir: string, options: NodeStart = {}): Promise<RunningNode> {
  const args = ["--import", "tsx", MAIN, "node", "--dir", dir, "--listen", "/ip4/127.0.0.1/tcp/0", "--json"];
  if (!options.mdns) args.push("--no-mdns");
  for (const address of options.bootstrap ?? []) args.push("--bootstrap", address);
  args.push(...(options.args ?? []));
  const [command, argv] =
    options.netns === undefined
      ? [process.execPath, args]
      : ["ip", ["netns", "exec", options.netns, process.execPath, ...args]];
  // The caller's own settings must not leak in: the node's directory and clock are the test's.
  const { FEDERA_DIR: _dir, FEDERA_CLOCK_OFFSET_MS: _offset, DEBUG: _debug, ...inherited } = process.env;
  const child = spawn(command, argv, {
    cwd: ROOT,
    env: { ...inherited, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(child);
  let stdout = "";
  let stderr = "";
  const exited = new Promise<number | null>((resolve) =>
    child.on("exit", (code) => {
      running.delete(child);
      resolve(code);
    }),
  );
  child.stderr!.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
  });
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      const nl = stdout.indexOf("\n");
      if (nl < 0) return;
      const first = JSON.parse(stdout.slice(0, nl)) as { peerId: string; addresses: string[] };
      resolve({ dir, child, ...first, exited, stderr: () => stderr });
    });
    void exited.then((code) => reject(new Error(`federa node exited ${code} before its address line: ${stderr}`)));
  });
}

/** Sends `signal` (SIGTERM: a clean stop) and resolves with the exit code. */
export async function stopNode(node: RunningNode, signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
  if (node.child.exitCode === null && node.child.signalCode === null) node.child.kill(signal);
  return node.exited;
}

/** Runs a TypeScript file with the repository's Node and tsx, tracked like the nodes; resolves when it exits. */
export function runScript(script: string, args: readonly string[]): Promise<Ran> {
  const { child, done } = spawnTs(script, args);
  running.add(child);
  return done.finally(() => running.delete(child));
}

/** SIGKILLs every process still running and waits until each has exited. */
export async function killNodes(): Promise<void> {
  const left = [...running];
  await Promise.all(
    left.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once("exit", () => resolve());
          child.kill("SIGKILL");
        }),
    ),
  );
}

/** A temporary directory for one test file's nodes: made before its tests, removed after them, every node killed. */
export function nodeScratchDir(): { readonly path: string } {
  let dir: Awaited<ReturnType<typeof tempDir>> | undefined;
  beforeAll(async () => {
    dir = await tempDir();
  });
  afterAll(async () => {
    await killNodes();
    await dir?.remove();
  });
  return {
    get path(): string {
      if (dir === undefined) throw new Error("the scratch directory exists only while the file's tests run");
      return dir.path;
    },
  };
}

/** One request to the node running on `dir`, through its control socket (cheap enough to poll with). */
export async function askNode(dir: string, request: Request): Promise<Record<string, unknown>> {
  const client = await ControlClient.connect(join(dir, "node.sock"));
  if (client === null) throw new Error(`no node runs on ${dir}`);
  try {
    return await client.call(request);
  } finally {
    client.close();
  }
}

/** `federa status` of the node running on `dir`. */
export async function nodeStatus(dir: string): Promise<StatusJson> {
  return (await askNode(dir, { op: "status" })) as unknown as StatusJson;
}

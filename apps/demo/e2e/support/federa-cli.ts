/** Runs the `federa` command and a `federa node` daemon as separate processes, for live mode's tests. */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "./paths.js";

const MAIN = join(REPO_ROOT, "packages/cli/src/main.ts");

function env(): NodeJS.ProcessEnv {
  // The caller's own settings must not leak in: each test names its directory and keeps the real clock.
  const { FEDERA_DIR: _dir, FEDERA_CLOCK_OFFSET_MS: _offset, ...inherited } = process.env;
  return inherited;
}

/** Runs `federa ARGS` to completion and returns its stdout; throws with its stderr when it fails. */
export function federa(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", MAIN, ...args], {
      cwd: REPO_ROOT,
      env: env(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve(stdout.trim()) : reject(new Error(`federa ${args.join(" ")} exited ${code}: ${stderr}`)),
    );
  });
}

/** A running `federa node`. */
export interface RunningNode {
  readonly peerId: string;
  readonly addresses: readonly string[];
  stop(): Promise<void>;
}

/** Starts `federa node` on `dir`, listening for WebSockets on loopback, once it has printed its addresses. */
export function startNode(dir: string): Promise<RunningNode> {
  const args = [
    "--import",
    "tsx",
    MAIN,
    "node",
    "--dir",
    dir,
    "--listen",
    "/ip4/127.0.0.1/tcp/0/ws",
    "--no-mdns",
    "--json",
  ];
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: env(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  child.stderr!.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
  };
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      const nl = stdout.indexOf("\n");
      if (nl < 0) return;
      const first = JSON.parse(stdout.slice(0, nl)) as { peerId: string; addresses: string[] };
      resolve({ ...first, stop });
    });
    void exited.then(() => reject(new Error(`federa node exited before printing its addresses: ${stderr}`)));
  });
}

/** A node directory with a member, a council whose proposals close after `window`, and that council's id. */
export async function councilDir(
  window = "4s",
): Promise<{ dir: string; council: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "federa-demo-live-"));
  await federa(["init", "--dir", dir, "--name", "Ana"]);
  const council = await federa(["council", "create", "Night Shift Assembly", "--dir", dir, "--voting-window", window]);
  return { dir, council, remove: () => rm(dir, { recursive: true, force: true }) };
}

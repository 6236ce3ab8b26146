/** Runs the `federa` command as a separate OS process, as a user would, and collects what it printed. */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (tsx and the workspace packages resolve from there). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");
/** The command's entry point, run with tsx. */
export const MAIN = join(ROOT, "packages/cli/src/main.ts");

/** What a finished command left. */
export interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a TypeScript file with the repository's Node and tsx from the repository root, collecting what it prints; the
 * caller's own FEDERA_DIR and clock offset never leak in (every test names its directory and clock).
 */
export function spawnTs(
  script: string,
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
): { child: ChildProcess; done: Promise<Ran> } {
  const { FEDERA_DIR: _dir, FEDERA_CLOCK_OFFSET_MS: _offset, ...inherited } = process.env;
  const child = spawn(process.execPath, ["--import", "tsx", script, ...args], {
    cwd: ROOT,
    env: { ...inherited, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => {
    stdout += d;
  });
  child.stderr!.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
  });
  const done = new Promise<Ran>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
  return { child, done };
}

/** Runs `federa ARGS` to completion. */
export function federa(args: readonly string[], env: Readonly<Record<string, string>> = {}): Promise<Ran> {
  return spawnTs(MAIN, args, env).done;
}

/** Runs a command that must succeed and returns its stdout parsed as the one JSON line `--json` prints. */
export async function federaJson<T = Record<string, unknown>>(args: readonly string[]): Promise<T> {
  const ran = await federa([...args, "--json"]);
  if (ran.code !== 0) throw new Error(`federa ${args.join(" ")} exited ${ran.code}: ${ran.stderr}`);
  return JSON.parse(ran.stdout) as T;
}

/** Runs a command that must succeed and returns its stdout trimmed. */
export async function federaOk(args: readonly string[], env: Readonly<Record<string, string>> = {}): Promise<string> {
  const ran = await federa(args, env);
  if (ran.code !== 0) throw new Error(`federa ${args.join(" ")} exited ${ran.code}: ${ran.stderr}`);
  return ran.stdout.trim();
}

/** A fresh temporary directory and its removal. */
export async function tempDir(prefix = "federa-cli-"): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** Runs the `federa` command and a `federa node` daemon as separate processes, for live mode's tests. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { federaOk } from "../../../../packages/cli/test/support/cli.js";
import { startNode as startCliNode, stopNode } from "../../../../packages/cli/test/support/node-process.js";

/** Runs `federa ARGS` to completion and returns its stdout; throws with its stderr when it fails. */
export function federa(args: readonly string[]): Promise<string> {
  return federaOk(args);
}

/** A running `federa node`. */
export interface RunningNode {
  readonly peerId: string;
  readonly addresses: readonly string[];
  stop(): Promise<void>;
}

/** Starts `federa node` on `dir`, listening for WebSockets on loopback too, once it has printed its addresses. */
export async function startNode(dir: string): Promise<RunningNode> {
  const node = await startCliNode(dir, { args: ["--listen", "/ip4/127.0.0.1/tcp/0/ws"] });
  return {
    peerId: node.peerId,
    addresses: node.addresses,
    stop: async () => {
      await stopNode(node);
    },
  };
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

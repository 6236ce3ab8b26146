/** Runs a request where it belongs: through the node running on the directory when there is one, else offline. */
import { ControlClient } from "./control-socket.js";
import type { NodeDir } from "./node-dir.js";
import type { Request } from "./operations.js";
import { perform } from "./operations.js";
import type { Progress } from "./output.js";
import { LocalWorkspace } from "./workspace.js";

/** Where a request ran. */
export type Via = "node" | "offline";

/** Performs a request through the running node's control socket, or on the directory's own storage. */
export async function execute(
  dir: NodeDir,
  request: Request,
  progress: Progress,
): Promise<{ result: Record<string, unknown>; via: Via }> {
  const client = await ControlClient.connect(dir.socketPath);
  if (client !== null) {
    try {
      return { result: await progress.during("asking the running node", () => client.call(request)), via: "node" };
    } finally {
      client.close();
    }
  }
  const ws = await progress.during("opening the node directory", () => LocalWorkspace.open(dir));
  try {
    const result = await progress.during("working on the local replica", () => perform(ws, request));
    return { result, via: "offline" };
  } finally {
    await ws.close();
  }
}

/** Commands run while a node holds the directory go through its control socket, not a second copy of the storage. */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serveControl } from "../src/control-socket.js";
import { ControlClient, NodeDir } from "../src/index.js";
import { perform } from "../src/operations.js";
import { LocalWorkspace } from "../src/workspace.js";
import { federa, federaJson, federaOk, tempDir } from "./support/cli.js";

let tmp: { path: string; remove: () => Promise<void> };
let dir: NodeDir;

beforeAll(async () => {
  tmp = await tempDir();
  dir = new NodeDir(join(tmp.path, "alice"));
  await federaOk(["init", "--dir", dir.root, "--name", "Alice"]);
  await federaOk(["council", "create", "Print shop", "--dir", dir.root]);
  await federaOk(["fund", "create", "paper", "--type", "cash", "--dir", dir.root]);
});
afterAll(async () => {
  await tmp.remove();
});

describe("the control socket", { timeout: 180_000 }, () => {
  it("carries commands to the process holding the directory, which sees their writes at once", async () => {
    const ws = await LocalWorkspace.open(dir);
    const server = await serveControl(dir.socketPath, (request) => perform(ws, request));
    try {
      const donated = await federaJson(["donate", "paper", "250", "--dir", dir.root]);
      expect(donated).toMatchObject({ via: "node", balance: 250 });
      const councils = await dir.councils();
      const [id, url] = Object.entries(councils)[0]!;
      const held = await ws.open(id as never, url);
      expect(held.council.current().funds).toEqual([expect.objectContaining({ id: "paper", balance: 250 })]);

      // Errors cross the socket with their message and exit code (a proposal the council does not hold: usage, 2).
      const missing = await federa(["vote", "ffff", "--choice", "yes", "--dir", dir.root]);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toMatch(/no proposal ffff/);
      const proposal = await federaOk(["propose", "--title", "More paper", "--dir", dir.root]);
      const bad = await federa(["vote", proposal, "--choice", "maybe", "--dir", dir.root]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/must be one of yes, no, abstain/);

      // A second node on the same directory is refused while the first runs.
      await expect(serveControl(dir.socketPath, (request) => perform(ws, request))).rejects.toThrow(/already running/);
    } finally {
      await server.close();
      await ws.close();
    }
    // Once the node is gone, commands work offline on the storage it flushed.
    expect(await federaJson(["donate", "paper", "50", "--dir", dir.root])).toMatchObject({
      via: "offline",
      balance: 300,
    });
  });

  it("treats a socket file nobody listens on as no node", async () => {
    await writeFile(dir.socketPath, "");
    expect(await ControlClient.connect(dir.socketPath)).toBeNull();
    const status = await federaJson<{ node: { running: boolean } }>(["status", "--dir", dir.root]);
    expect(status.node.running).toBe(false);
    // A node starting later replaces the stale file.
    const ws = await LocalWorkspace.open(dir);
    const server = await serveControl(dir.socketPath, (request) => perform(ws, request));
    const client = await ControlClient.connect(dir.socketPath);
    expect(client).not.toBeNull();
    expect(await client!.call({ op: "ping" })).toMatchObject({ member: ws.identity.member });
    client!.close();
    await server.close();
    await ws.close();
  });
});

/**
 * A node's lifecycle as an embedding program sees it: `flush` makes acts durable, `stop` ends opens under way and
 * refuses later writes instead of losing them, and documents that cannot be opened say why.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AutomergeUrl } from "@automerge/automerge-repo";
import { Repo } from "@automerge/automerge-repo";
import { Council, createIdentity, UnknownDocumentError } from "@federa/core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { DocumentUnavailableError, NodeStoppedError } from "../src/index.js";
import { DurableFsStorageAdapter, StorageBusyError } from "../src/node/durable-fs-storage.js";
import { startFederaNode, stopFederaNodes } from "./support/federa-nodes.js";
import { waitFor } from "./support/wait.js";

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "federa-lifecycle-"));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});
afterEach(stopFederaNodes);

/** A TCP port free on loopback right now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The balance of `fund` as a fresh Repo reading `dir` finds it, while the node writing there may still run. */
async function balanceOnDisk(dir: string, councilUrl: string, fund: string): Promise<number | undefined> {
  const repo = new Repo({ storage: new DurableFsStorageAdapter(dir) });
  try {
    const council = await repo.find(councilUrl as AutomergeUrl);
    const ledger = await repo.find((council.doc() as { federa: { ledger: string } }).federa.ledger as AutomergeUrl);
    const opened = await Council.open({ council, ledger } as never);
    return (await opened.state()).funds.find((f) => f.id === fund)?.balance;
  } finally {
    await repo.shutdown();
  }
}

describe("a node's lifecycle", () => {
  it("has an act on disk once flush resolves, and refuses acts after stop instead of losing them", async () => {
    const dir = join(scratch, "flush");
    const ana = await createIdentity();
    const node = await startFederaNode(ana, { storage: new DurableFsStorageAdapter(dir) });
    const held = await node.foundCouncil({ name: "Kitchen" });
    await held.council.ledger.createFund("food", "cash");
    await held.council.ledger.donate("food", 40);
    await node.flush();
    expect(await balanceOnDisk(dir, held.councilHandle.url, "food")).toBe(40);

    await node.stop();
    await expect(held.council.ledger.donate("food", 5)).rejects.toBeInstanceOf(NodeStoppedError);
    await expect(node.foundCouncil({ name: "Another" })).rejects.toBeInstanceOf(NodeStoppedError);
    await expect(node.openCouncil(held.councilHandle.url)).rejects.toBeInstanceOf(NodeStoppedError);
    expect((await held.council.state()).funds[0]?.balance).toBe(40);

    // Started again on the same storage, the node holds what was acknowledged, and only that.
    const again = await startFederaNode(ana, { storage: new DurableFsStorageAdapter(dir) });
    const reopened = await again.openCouncil(held.councilHandle.url, { timeoutMs: 5_000 });
    expect((await reopened.council.state()).funds[0]?.balance).toBe(40);
  });

  it("ends an open waiting for a document nobody serves when the node stops", async () => {
    const node = await startFederaNode(await createIdentity());
    const elsewhere = await startFederaNode(await createIdentity());
    const absent = (await elsewhere.foundCouncil({ name: "Absent" })).councilHandle.url;
    const waiting = node.openCouncil(absent, { timeoutMs: 60_000 });
    const outcome = waiting.then(
      () => "opened",
      (e: Error) => e,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    await node.stop();
    // Settled by the stop, not by the minute-long wait (which would outlast the test's timeout).
    expect(await outcome).toBeInstanceOf(NodeStoppedError);
  });

  it("says why a document cannot be opened: a malformed URL, no peer serving it, or not a council", async () => {
    const node = await startFederaNode(await createIdentity());
    await expect(node.openCouncil("garbage" as AutomergeUrl)).rejects.toBeInstanceOf(DocumentUnavailableError);
    const elsewhere = await startFederaNode(await createIdentity());
    const absent = (await elsewhere.foundCouncil({ name: "Absent" })).councilHandle.url;
    const unserved = await node.openCouncil(absent, { timeoutMs: 500 }).catch((e: Error) => e);
    expect(unserved).toBeInstanceOf(DocumentUnavailableError);
    expect((unserved as Error).message).toContain(absent);

    const held = await node.foundCouncil({ name: "Own" });
    await expect(node.openCouncil(held.ledgerHandle.url)).rejects.toBeInstanceOf(UnknownDocumentError);
  });

  it("dials its bootstrap peers again while they are away, so one that restarts is reconnected", async () => {
    const port = await freePort();
    const hub = await createIdentity();
    const listen = { addresses: { listen: [`/ip4/127.0.0.1/tcp/${port}`] } };
    const first = await startFederaNode(hub, { libp2p: listen });
    const member = await startFederaNode(await createIdentity(), {
      bootstrap: [`/ip4/127.0.0.1/tcp/${port}/p2p/${hub.device.id}`],
    });
    await waitFor(() => member.peers().includes(hub.device.id), "the first connection");
    await first.stop();
    await waitFor(() => member.peers().length === 0, "the hang-up");
    // The hub comes back on the same address; nothing on its side dials the member.
    const again = await startFederaNode(hub, { libp2p: listen });
    await waitFor(() => member.peers().includes(hub.device.id), "the redial", 20_000);
    await waitFor(() => again.peers().includes(member.identity.device.id), "the hub's side of it");
  }, 30_000);

  it("keeps a storage directory to one node at a time, and takes over the claim of a process that died", async () => {
    const dir = join(scratch, "shared");
    const first = await startFederaNode(await createIdentity(), { storage: new DurableFsStorageAdapter(dir) });
    const second = await createIdentity();
    const refused = await startFederaNode(second, { storage: new DurableFsStorageAdapter(dir) }).catch((e) => e);
    expect(refused).toBeInstanceOf(StorageBusyError);
    expect((refused as Error).message).toContain(`${dir} is in use by another node in this process`);
    await first.stop();
    const next = await startFederaNode(second, { storage: new DurableFsStorageAdapter(dir) });
    await next.stop();

    // A claim left by a process killed before it could give it up is taken over.
    const gone = spawn(process.execPath, ["-e", ""]);
    await new Promise((resolve) => gone.on("exit", resolve));
    await writeFile(`${dir}.lock`, JSON.stringify({ pid: gone.pid, since: Date.now() }));
    const after = await startFederaNode(second, { storage: new DurableFsStorageAdapter(dir) });
    expect(JSON.parse(await readFile(`${dir}.lock`, "utf8"))).toMatchObject({ pid: process.pid });
    await after.stop();
    await expect(readFile(`${dir}.lock`, "utf8")).rejects.toThrow(/ENOENT/);
  });
});

/**
 * A document a node is opening, before its council is known here: it may be asked of the peers the node knows while
 * nothing of it is here, and goes to none of them once something is (loaded from disk, or arrived). A plain
 * automerge-repo peer that accepts any document stands for a member's device that would take what it is offered.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AutomergeUrl, type DocumentId, type Message, Repo } from "@automerge/automerge-repo";
import { type CouncilId, createIdentity, type Identity } from "@federa/core";
import { generateKeyPairFromSeed } from "@libp2p/crypto/keys";
import type { Libp2p } from "@libp2p/interface";
import { afterEach, describe, expect, it } from "vitest";
import { Libp2pNetworkAdapter } from "../src/index.js";
import { DurableFsStorageAdapter } from "../src/node/index.js";
import { authorizeOnCopy } from "./support/authorize.js";
import { startFederaNode, stopFederaNodes } from "./support/federa-nodes.js";
import { createNode, stopAll } from "./support/nodes.js";
import { waitFor } from "./support/wait.js";

const dirs: string[] = [];
const repos: Repo[] = [];

afterEach(async () => {
  await Promise.allSettled(repos.splice(0).map((r) => r.shutdown()));
  await stopFederaNodes();
  await stopAll();
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** A device with a plain Repo that takes every document it is offered, and the ids of every message it receives. */
async function greedyDevice(identity: Identity): Promise<{ repo: Repo; heard: Set<DocumentId>; libp2p: Libp2p }> {
  const privateKey = await generateKeyPairFromSeed("Ed25519", identity.device.seed);
  const libp2p = await createNode("tcp", { privateKey });
  const adapter = new Libp2pNetworkAdapter({ libp2p });
  await adapter.whenReady();
  const repo = new Repo({ network: [adapter], peerId: adapter.peerId });
  repos.push(repo);
  const heard = new Set<DocumentId>();
  adapter.on("message", (m: Message) => {
    if (m.documentId !== undefined) heard.add(m.documentId);
  });
  return { repo, heard, libp2p };
}

/** True when `repo` holds some content of `document`. */
function holds(repo: Repo, document: DocumentId): boolean {
  const handle = repo.handles[document];
  return handle?.isReady() === true && Object.keys(handle.doc() as object).length > 0;
}

/** Ana's node on disk with two councils: Ben's device is in the first only. */
async function twoCouncils() {
  const [ana, ben] = await Promise.all([createIdentity(), createIdentity()]);
  const dir = await mkdtemp(join(tmpdir(), "federa-fetch-"));
  dirs.push(dir);
  const a = await startFederaNode(ana, { storage: new DurableFsStorageAdapter(dir) });
  const shared = await a.foundCouncil({ name: "Food bank", founders: [ben.member] });
  await authorizeOnCopy(shared, ben);
  const own = await a.foundCouncil({ name: "Tenants" });
  const urls = { shared: shared.councilHandle.url as AutomergeUrl, own: own.councilHandle.url as AutomergeUrl };
  const ids = {
    own: [own.councilHandle.documentId, own.ledgerHandle.documentId],
    ownCouncil: own.council.id as CouncilId,
    shared: shared.council.id as CouncilId,
  };
  await a.stop();
  return { ana, ben, dir, urls, ids };
}

describe("a document being opened", () => {
  it("loaded from disk goes to no device of another council before its own council is known", async () => {
    const { ana, ben, dir, urls, ids } = await twoCouncils();
    const a = await startFederaNode(ana, { storage: new DurableFsStorageAdapter(dir) });
    await a.openCouncil(urls.shared, { council: ids.shared });
    const device = await greedyDevice(ben);
    await device.libp2p.dial(a.libp2p.getMultiaddrs()[0]!);
    await waitFor(() => device.repo.peers.includes(a.adapter.peerId), "Ben's device to sync with Ana's node");
    await a.openCouncil(urls.own, { council: ids.ownCouncil });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    for (const id of ids.own) {
      expect(holds(device.repo, id)).toBe(false);
      expect(device.heard.has(id)).toBe(false);
    }
  });

  it("that turns out to be another council goes to no one afterwards", async () => {
    const { ana, ben, dir, urls, ids } = await twoCouncils();
    const a = await startFederaNode(ana, { storage: new DurableFsStorageAdapter(dir) });
    await a.openCouncil(urls.shared, { council: ids.shared });
    await expect(a.openCouncil(urls.own, { council: ids.shared, timeoutMs: 2_000 })).rejects.toThrow(/is not council/);
    const device = await greedyDevice(ben);
    await device.libp2p.dial(a.libp2p.getMultiaddrs()[0]!);
    await waitFor(() => device.repo.peers.includes(a.adapter.peerId), "Ben's device to sync with Ana's node");
    const asked = device.repo.find(urls.own, { signal: AbortSignal.timeout(2_000) });
    await expect(asked).rejects.toThrow();
    for (const id of ids.own) expect(holds(device.repo, id)).toBe(false);
  });
});

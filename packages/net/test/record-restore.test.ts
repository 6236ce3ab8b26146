/**
 * A member's device that deletes or alters records in a council's documents, with a plain automerge-repo Repo over
 * libp2p: the node that held them writes them back, and the device's own replica gets them again by sync; a node that
 * loads a harmed replica from disk recovers them from its history.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as A from "@automerge/automerge";
import { type AutomergeUrl, type DocHandle, Repo } from "@automerge/automerge-repo";
import {
  bucketOf,
  Council,
  type CouncilDoc,
  createIdentity,
  type FederaDoc,
  type LedgerDoc,
  PlainDocument,
  type RecordId,
  storageKeyOf,
  storedValue,
} from "@federa/core";
import { generateKeyPairFromSeed } from "@libp2p/crypto/keys";
import { afterEach, describe, expect, it } from "vitest";
import { Libp2pNetworkAdapter } from "../src/index.js";
import { DurableFsStorageAdapter } from "../src/node/index.js";
import { authorizeOnCopy } from "./support/authorize.js";
import { startFederaNode, stopFederaNodes } from "./support/federa-nodes.js";
import { createNode, stopAll } from "./support/nodes.js";
import { waitFor } from "./support/wait.js";

const repos: Repo[] = [];
const dirs: string[] = [];

afterEach(async () => {
  await Promise.allSettled(repos.splice(0).map((r) => r.shutdown()));
  await stopFederaNodes();
  await stopAll();
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

function bytesIn(handle: DocHandle<FederaDoc>, id: RecordId): Uint8Array | undefined {
  const value = storedValue(handle.doc(), id);
  return value instanceof Uint8Array ? value : undefined;
}

/** Ana's council on disk with two donations (the first, and the chain's tip), its state and URLs; the node stopped. */
async function printShopOnDisk() {
  const ana = await createIdentity();
  const dir = await mkdtemp(join(tmpdir(), "federa-restore-"));
  dirs.push(dir);
  const first = await startFederaNode(ana, { storage: new DurableFsStorageAdapter(dir) });
  const held = await first.foundCouncil({ name: "Print shop" });
  await held.council.ledger.createFund("paper", "cash");
  const donation = await held.council.ledger.donate("paper", 400, "raffle");
  const tip = await held.council.ledger.donate("paper", 30);
  const honest = await held.council.state();
  const urls = { council: held.councilHandle.url, ledger: held.ledgerHandle.url };
  await first.stop();
  return { ana, dir, held, donation, tip, honest, urls };
}

/** A plain Repo on the directory deletes `record` from the ledger and flushes, as a member's synced change would. */
async function deleteOnDisk(dir: string, ledgerUrl: AutomergeUrl, record: RecordId): Promise<void> {
  const repo = new Repo({ storage: new DurableFsStorageAdapter(dir), network: [] });
  const ledger = await repo.find<FederaDoc>(ledgerUrl);
  ledger.change((d) => {
    delete d.records[bucketOf(record)]![storageKeyOf(record)];
  });
  await repo.flush();
  await repo.shutdown();
}

describe("records a member's device deletes or alters", { timeout: 60_000 }, () => {
  it("are written back by the node that held them and reach the device's replica again", async () => {
    const [ana, ben] = await Promise.all([createIdentity(), createIdentity()]);
    const node = await startFederaNode(ana);
    const held = await node.foundCouncil({ name: "Print shop", founders: [ben.member] });
    await authorizeOnCopy(held, ben);
    await held.council.ledger.createFund("paper", "cash");
    const donation = await held.council.ledger.donate("paper", 400, "raffle");
    const spend = await held.council.ledger.spend("paper", 50, "ink", "petty");
    const honest = await held.council.state();

    // Ben's device: his key, a plain Repo that writes whatever it likes into the documents it receives.
    const libp2p = await createNode("tcp", { privateKey: await generateKeyPairFromSeed("Ed25519", ben.device.seed) });
    const adapter = new Libp2pNetworkAdapter({ libp2p });
    await adapter.whenReady();
    const repo = new Repo({ network: [adapter], peerId: adapter.peerId });
    repos.push(repo);
    await libp2p.dial(node.libp2p.getMultiaddrs()[0]!);
    await waitFor(() => repo.peers.includes(node.adapter.peerId), "Ben's device to sync with Ana's node");
    const ledger = await repo.find<FederaDoc>(held.ledgerHandle.url as AutomergeUrl);
    await waitFor(() => bytesIn(ledger, spend) !== undefined, "the ledger on Ben's device");
    const genuine = { donation: bytesIn(ledger, donation)!, spend: bytesIn(ledger, spend)! };

    ledger.change((d) => {
      delete d.records[bucketOf(donation)]![storageKeyOf(donation)];
      d.records[bucketOf(spend)]![storageKeyOf(spend)] = new Uint8Array([1, 2, 3]);
    });
    await waitFor(
      () => bytesIn(ledger, donation) !== undefined && bytesIn(ledger, spend)?.length === genuine.spend.length,
      "both records back on Ben's device",
    );
    expect(bytesIn(ledger, donation)).toEqual(genuine.donation);
    expect(bytesIn(ledger, spend)).toEqual(genuine.spend);
    expect(held.council.restored).toBe(2);
    expect(await held.council.state()).toEqual(honest);

    // A device loading Ben's replica afresh derives what Ana's node holds.
    const council = await repo.find<CouncilDoc>(held.councilHandle.url as AutomergeUrl);
    const fresh = await Council.open({
      council: new PlainDocument(A.clone(council.doc())),
      ledger: new PlainDocument(A.clone(ledger.doc() as A.Doc<LedgerDoc>)),
    });
    expect(await fresh.state()).toEqual(honest);
  });

  it("are recovered from the history by a node that loads a harmed replica from disk", async () => {
    const { ana, dir, held, donation, honest, urls } = await printShopOnDisk();
    await deleteOnDisk(dir, urls.ledger, donation); // as a member's device could have synced it here

    const again = await startFederaNode(ana, { storage: new DurableFsStorageAdapter(dir) });
    const reopened = await again.openCouncil(urls.council, { council: held.council.id });
    await waitFor(() => reopened.council.restored === 1, "the donation recovered from the ledger's history");
    expect(await reopened.council.state()).toEqual(honest);
    expect(bytesIn(reopened.ledgerHandle as DocHandle<FederaDoc>, donation)).toBeDefined();
  });

  it("are found again after a stop cut the history search short: the node writes nothing once stopping", async () => {
    const { ana, dir, held, tip, honest, urls } = await printShopOnDisk();
    // The chain's tip deleted: that shows no harm, so only a search asked for (as on a lower high-water mark) finds it.
    await deleteOnDisk(dir, urls.ledger, tip);

    const again = await startFederaNode(ana, { storage: new DurableFsStorageAdapter(dir) });
    const reopened = await again.openCouncil(urls.council, { council: held.council.id });
    expect(reopened.council.showsHarm()).toBe(false);
    const searching = reopened.council.recover();
    await again.stop();
    expect(await searching).toBe(0);

    const last = await startFederaNode(ana, { storage: new DurableFsStorageAdapter(dir) });
    const loaded = await last.openCouncil(urls.council, { council: held.council.id });
    expect(bytesIn(loaded.ledgerHandle as DocHandle<FederaDoc>, tip)).toBeUndefined();
    expect(await loaded.council.recover()).toBe(1);
    expect(bytesIn(loaded.ledgerHandle as DocHandle<FederaDoc>, tip)).toBeDefined();
    expect(await loaded.council.state()).toEqual(honest);
  });
});

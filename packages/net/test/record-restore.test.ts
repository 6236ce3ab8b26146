/**
 * A member's device that deletes or alters records in a council's documents, with a plain automerge-repo Repo over
 * libp2p: the node that held them writes them back, and the device's own replica gets them again by sync.
 */
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
import { authorizeOnCopy } from "./support/authorize.js";
import { startFederaNode, stopFederaNodes } from "./support/federa-nodes.js";
import { createNode, stopAll } from "./support/nodes.js";
import { waitFor } from "./support/wait.js";

const repos: Repo[] = [];

afterEach(async () => {
  await Promise.allSettled(repos.splice(0).map((r) => r.shutdown()));
  await stopFederaNodes();
  await stopAll();
});

function bytesIn(handle: DocHandle<FederaDoc>, id: RecordId): Uint8Array | undefined {
  const value = storedValue(handle.doc(), id);
  return value instanceof Uint8Array ? value : undefined;
}

describe("records a member's device deletes or alters", () => {
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
});

/**
 * A device's own records are on its disk before they reach a peer. A device killed after a peer has its records but
 * before its own storage does would restart without them and sign new records with their sequence numbers: two
 * records at one `seq` from one signer, which every peer excludes with everything after them.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as A from "@automerge/automerge";
import type { DocumentId } from "@automerge/automerge-repo";
import { createIdentity } from "@federa/core";
import { afterEach, describe, expect, it } from "vitest";
import { DurableFsStorageAdapter } from "../src/node/index.js";
import { authorizeOnCopy } from "./support/authorize.js";
import { dialNode, startFederaNode, stopFederaNodes } from "./support/federa-nodes.js";
import { waitFor } from "./support/wait.js";

const dirs: string[] = [];
afterEach(async () => {
  await stopFederaNodes();
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** `document` as its chunks on disk in `dir` hold it now (read beside the running node). */
async function docOnDisk(dir: string, document: DocumentId): Promise<A.Doc<unknown>> {
  const chunks = await new DurableFsStorageAdapter(dir).loadRange([document]);
  let doc = A.init<unknown>();
  for (const c of chunks) if (c.data !== undefined && c.key[1] !== "sync-state") doc = A.loadIncremental(doc, c.data);
  return doc;
}

describe("a device's own records", () => {
  it("are on its disk by the time a peer holds them", async () => {
    const [ana, ben] = await Promise.all([createIdentity(), createIdentity()]);
    const dir = await mkdtemp(join(tmpdir(), "federa-durable-"));
    dirs.push(dir);
    const a = await startFederaNode(ana, { storage: new DurableFsStorageAdapter(dir) });
    const held = await a.foundCouncil({ name: "Print shop", founders: [ben.member] });
    await held.council.ledger.createFund("paper", "cash");
    await authorizeOnCopy(held, ben);
    const b = await startFederaNode(ben);
    b.trust(ana.device.id);
    await dialNode(b, a);
    const copy = await b.openCouncil(held.councilHandle.url as never);
    const ledger = held.ledgerHandle.documentId;
    for (let round = 0; round < 5; round++) {
      // Sparse writes, each alone in a sync round: the round may go out before the throttled save.
      await new Promise((resolve) => setTimeout(resolve, 150));
      await held.council.ledger.donate("paper", 10 + round);
      const heads = A.getHeads(held.ledgerHandle.doc());
      await waitFor(() => holds(copy.ledgerHandle.doc(), heads), "Ben's node to hold the donation", 15_000);
      expect(holds(await docOnDisk(dir, ledger), heads)).toBe(true);
    }
  });
});

/** True when `doc` holds every change of `heads`. */
function holds(doc: A.Doc<unknown>, heads: string[]): boolean {
  return A.getMissingDeps(doc, heads).length === 0;
}

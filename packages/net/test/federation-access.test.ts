import type { AutomergeUrl } from "@automerge/automerge-repo";
import { createIdentity, type FederationId } from "@federa/core";
import { afterEach, describe, expect, it } from "vitest";
import type { FederaNode } from "../src/index.js";
import { dialNode, startFederaNode, stopFederaNodes } from "./support/federa-nodes.js";
import { waitFor } from "./support/wait.js";

async function refused(node: FederaNode, url: string): Promise<boolean> {
  try {
    await node.openCouncil(url as AutomergeUrl, { timeoutMs: 2_000 });
    return false;
  } catch {
    return true;
  }
}

afterEach(stopFederaNodes);

describe("federation access", () => {
  it("member councils read each other's documents and the federation's; an outside council reads none", async () => {
    const [ana, ben, zoe] = await Promise.all([createIdentity(), createIdentity(), createIdentity()]);
    const [a, b, z] = await Promise.all([startFederaNode(ana), startFederaNode(ben), startFederaNode(zoe)]);
    const x = await a.foundCouncil({ name: "Bakers" });
    const y = await b.foundCouncil({ name: "Drivers" });
    const zc = await z.foundCouncil({ name: "Outsiders" });
    await x.council.ledger.createFund("strike", "cash");
    await x.council.ledger.donate("strike", 700);

    const f = await a.foundFederation({
      name: "City federation",
      councils: [x.council.id, y.council.id],
      urls: { [y.council.id]: y.councilHandle.url },
    });
    const fid = f.federation.id as FederationId;
    // The two delegates exchanged federation invites: each vouches for the other's device until their councils sync.
    a.trustFor(fid, ben.device.id);
    b.trustFor(fid, ana.device.id);
    await dialNode(b, a);
    await dialNode(z, a);
    await dialNode(z, b);

    const fb = await b.openFederation(f.handle.url as AutomergeUrl);
    await a.openCouncil(y.councilHandle.url as AutomergeUrl);
    // Ben's node now holds the Bakers' council (a fellow member council) and sees its open ledger.
    await waitFor(() => b.council(x.council.id) !== undefined, "the Bakers' council on Ben's node");
    await waitFor(
      async () => (await b.council(x.council.id)!.council.state()).funds[0]?.balance === 700,
      "the Bakers' ledger",
    );
    await waitFor(async () => (await fb.federation.state()).councils.length === 2, "both member councils");
    expect((await fb.federation.state()).councils.map((c) => c.name).sort()).toEqual(["Bakers", "Drivers"]);

    // The outside council's node is connected to both, and gets nothing: not the federation, not either council.
    expect(await refused(z, x.councilHandle.url)).toBe(true);
    expect(await refused(z, y.councilHandle.url)).toBe(true);
    await expect(z.openFederation(f.handle.url as AutomergeUrl, { timeoutMs: 2_000 })).rejects.toThrow();
    // And the federation's members get nothing of the outside council.
    expect(await refused(a, zc.councilHandle.url)).toBe(true);
  });
});

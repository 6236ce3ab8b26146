import type { AutomergeUrl } from "@automerge/automerge-repo";
import { createIdentity } from "@federa/core";
import { afterEach, describe, expect, it } from "vitest";
import { authorizeOnCopy } from "./support/authorize.js";
import { dialNode, startFederaNode, stopFederaNodes } from "./support/federa-nodes.js";
import { waitFor } from "./support/wait.js";

afterEach(stopFederaNodes);

describe("FederaNode: councils shared only with members' devices", () => {
  it("a member's device receives the council and stays in sync; a stranger gets nothing", async () => {
    const ana = await createIdentity();
    const ben = await createIdentity();
    const eve = await createIdentity();
    const a = await startFederaNode(ana);
    const held = await a.foundCouncil({ name: "Dock workers", founders: [ben.member] });
    await held.council.ledger.createFund("strike", "cash");
    await held.council.ledger.donate("strike", 900);

    // Ben's device must be authorised before Ana's node lets it in. Ben signs that record with his member key on a
    // copy handed over out of band, and Ana merges it (the way `federa join` delivers an application).
    const b = await startFederaNode(ben);
    await authorizeOnCopy(held, ben);

    const e = await startFederaNode(eve);
    await dialNode(b, a);
    await dialNode(e, a);
    const url = held.councilHandle.url as AutomergeUrl;
    b.trust(a.libp2p.peerId.toString()); // as `federa join` does with the inviter named in the token
    const benHeld = await b.openCouncil(url);
    await waitFor(async () => (await benHeld.council.state()).funds[0]?.balance === 900, "ben's replica to sync");

    // A new act on Ana's side reaches Ben.
    await held.council.ledger.donate("strike", 100);
    await waitFor(async () => (await benHeld.council.state()).funds[0]?.balance === 1_000, "the new donation");

    // Eve is connected but is nobody's device: her request is refused and she learns no document.
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 3_000);
    await expect(e.openCouncil(url, { signal: controller.signal })).rejects.toThrow();
    expect(e.repo.handles[held.councilHandle.documentId]?.isReady() ?? false).toBe(false);
    expect(Object.keys(e.repo.handles).filter((id) => e.repo.handles[id as never]?.isReady())).toEqual([]);

    // Ben is removed by decision: from then on his device gets no further updates.
    const removal = await held.council.propose({
      title: "Remove Ben",
      closesAt: Date.now() + 300,
      effect: { type: "remove", member: ben.member },
    });
    await held.council.vote(removal, { method: "majority", choice: "yes" });
    await new Promise((resolve) => setTimeout(resolve, 400));
    await held.council.tick();
    await waitFor(async () => !(await held.council.state()).members.some((m) => m.id === ben.member), "the removal");
    await waitFor(() => !a.access.allows(ben.device.id, held.councilHandle.documentId), "access to be withdrawn");
    await held.council.ledger.donate("strike", 5);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect((await held.council.state()).funds[0]?.balance).toBe(1_005);
    expect((await benHeld.council.state()).funds[0]?.balance).toBe(1_000);
  });

  it("holds a council once when it is opened twice at the same time", async () => {
    const ana = await createIdentity();
    const ben = await createIdentity();
    const a = await startFederaNode(ana);
    const held = await a.foundCouncil({ name: "Dock workers", founders: [ben.member] });
    const b = await startFederaNode(ben);
    await authorizeOnCopy(held, ben);
    await dialNode(b, a);
    b.trust(a.libp2p.peerId.toString());
    const url = held.councilHandle.url as AutomergeUrl;
    const [first, second] = await Promise.all([b.openCouncil(url), b.openCouncil(url)]);
    expect(second).toBe(first);
    expect(b.councils()).toEqual([first]);
  });
});

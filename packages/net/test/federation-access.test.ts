import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AutomergeUrl } from "@automerge/automerge-repo";
import {
  addDevice,
  bucketOf,
  type CouncilId,
  createIdentity,
  type DeviceId,
  type FederationId,
  linkCouncil,
  type MandateId,
  type MemberId,
  type ProposalId,
  storageKeyOf,
} from "@federa/core";
import { afterEach, describe, expect, it } from "vitest";
import { type FederaNode, FederationLeftError, type HeldCouncil } from "../src/index.js";
import { DurableFsStorageAdapter } from "../src/node/index.js";
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

const MINUTE = 60_000;

/** One clock for every node, which a test moves past a vote's close. */
function testClock() {
  let t = Date.now();
  return { now: () => t, skip: (ms: number) => (t += ms) };
}

/** The council's only member proposes a mandate for `body` to themself, votes for it, and the vote closes. */
async function mandate(
  held: HeldCouncil,
  delegate: MemberId,
  clock: ReturnType<typeof testClock>,
  body: string,
): Promise<ProposalId> {
  const council = held.council;
  const closesAt = clock.now() + MINUTE;
  const proposal = await council.proposeMandate({
    delegate,
    body,
    instructions: "Speak for us",
    positions: { "*": ["yes", "no"] },
    startsAt: closesAt,
    expiresAt: closesAt + 30 * 24 * 60 * MINUTE,
    recall: { ratio: { num: 1, den: 2 }, of: "eligible", cmp: ">" },
    closesAt,
  });
  await council.vote(proposal, { method: "majority", choice: "yes" });
  clock.skip(2 * MINUTE);
  await council.tick();
  return proposal;
}

describe("federation access", () => {
  it("member councils read each other's documents and the federation's; an outside council reads none", async () => {
    const [ana, ben, zoe] = await Promise.all([createIdentity(), createIdentity(), createIdentity()]);
    const clock = testClock();
    const start = (who: typeof ana) => startFederaNode(who, { now: clock.now });
    const [a, b, z] = await Promise.all([start(ana), start(ben), start(zoe)]);
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
    // Each council decides to send its delegate: by the federation's name, and by its id.
    await mandate(x, ana.member, clock, "City federation");
    await mandate(y, ben.member, clock, fid);
    // The two delegates exchanged federation invites: each vouches for the other's device until their councils sync.
    a.trustFor(fid, ben.device.id);
    b.trustFor(fid, ana.device.id);
    await dialNode(b, a);
    await dialNode(z, a);
    await dialNode(z, b);

    const fb = await b.openFederation(f.handle.url as AutomergeUrl);
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

describe("a council's consent", () => {
  it("a council a stranger's federation names shares nothing with it until the council mandates a delegate there", async () => {
    const [ana, eve] = await Promise.all([createIdentity(), createIdentity()]);
    const clock = testClock();
    const [a, e] = (await Promise.all([ana, eve].map((who) => startFederaNode(who, { now: clock.now })))) as [
      FederaNode,
      FederaNode,
    ];
    const x = await a.foundCouncil({ name: "Bakers" });
    const ev = await e.foundCouncil({ name: "Eve's council" });
    await mandate(ev, eve.member, clock, "Harvest federation");
    // Eve founds a federation naming the Bakers, and Ana follows its token: her node holds it and trusts Eve.
    const f = await e.foundFederation({
      name: "Harvest federation",
      councils: [ev.council.id, x.council.id],
      urls: { [x.council.id]: x.councilHandle.url },
    });
    const fid = f.federation.id as FederationId;
    e.trustFor(fid, ana.device.id);
    a.trustFor(fid, eve.device.id);
    await dialNode(e, a);
    const fa = await a.openFederation(f.handle.url as AutomergeUrl);
    await a.openCouncil(ev.councilHandle.url as AutomergeUrl);
    await waitFor(async () => (await fa.federation.state()).councils.length === 2, "both councils on Ana's node");
    const bakers = (await fa.federation.state()).councils.find((c) => c.id === x.council.id);
    expect(bakers?.consents).toBe(false);

    // The Bakers never decided to join: Eve's node gets nothing of theirs.
    expect(await refused(e, x.councilHandle.url)).toBe(true);

    // The Bakers mandate a delegate for this federation (by its id): now it is shared.
    await mandate(x, ana.member, clock, fid);
    await waitFor(async () => !(await refused(e, x.councilHandle.url)), "the Bakers' council on Eve's node");
    expect((await fa.federation.state()).councils.find((c) => c.id === x.council.id)?.consents).toBe(true);
  });

  it("a council that recalls its last delegate there announces it, and the others stop sharing with it", async () => {
    const [ana, ben] = await Promise.all([createIdentity(), createIdentity()]);
    const clock = testClock();
    const [a, b] = (await Promise.all([ana, ben].map((who) => startFederaNode(who, { now: clock.now })))) as [
      FederaNode,
      FederaNode,
    ];
    const x = await a.foundCouncil({ name: "Bakers" });
    const y = await b.foundCouncil({ name: "Drivers" });
    await x.council.ledger.createFund("strike", "cash");
    await x.council.ledger.donate("strike", 700);
    const f = await a.foundFederation({
      name: "City federation",
      councils: [x.council.id, y.council.id],
      urls: { [y.council.id]: y.councilHandle.url },
    });
    const fid = f.federation.id as FederationId;
    await mandate(x, ana.member, clock, fid);
    const drivers = await mandate(y, ben.member, clock, fid);
    a.trustFor(fid, ben.device.id, y.council.id);
    b.trustFor(fid, ana.device.id, x.council.id);
    await dialNode(b, a);
    const fb = await b.openFederation(f.handle.url as AutomergeUrl);
    // Each node holds both councils while both consent, as a federation's nodes do.
    await a.openCouncil(y.councilHandle.url as AutomergeUrl, { council: y.council.id });
    await waitFor(async () => (await fb.federation.state()).councils.every((c) => c.consents), "both consenting");
    expect(a.access.allows(ben.device.id, x.ledgerHandle.documentId)).toBe(true);

    // The Drivers recall Ben. Their node announces the withdrawal in the federation's document on its own.
    const closesAt = clock.now() + MINUTE;
    const recall = await y.council.proposeRecall(drivers as string as MandateId, undefined, closesAt);
    await y.council.vote(recall, { method: "majority", choice: "yes" });
    clock.skip(2 * MINUTE);
    await y.council.tick();
    const fa = a.federations()[0]!.federation;
    await waitFor(
      async () => (await fa.state()).councils.find((c) => c.id === y.council.id)?.withdrawn === true,
      "the withdrawal on the Bakers' node",
    );
    const seen = (await fa.state()).councils.find((c) => c.id === y.council.id);
    expect(seen).toMatchObject({ consents: false, withdrawn: true });
    const withdrawals = (await fa.state()).records;
    // The Bakers' node no longer shares the Bakers' documents with the Drivers' device; the federation's it still does.
    expect(a.access.allows(ben.device.id, x.ledgerHandle.documentId)).toBe(false);
    expect(a.access.allows(ben.device.id, x.councilHandle.documentId)).toBe(false);
    expect(a.access.allows(ben.device.id, f.handle.documentId)).toBe(true);
    // One announcement, however many refreshes followed.
    await y.council.tick();
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await fa.state()).records).toBe(withdrawals);

    // The Drivers' node leaves the federation: its document is no longer held or shared there, nor vouches kept.
    expect(b.leaveFederation(fid)).toBe(true);
    expect(b.federations()).toEqual([]);
    expect(b.access.allows(ana.device.id, f.handle.documentId)).toBe(false);
    expect(b.leaveFederation(fid)).toBe(false);
    // An open under way when the node leaves does not hold it again; one started afterwards does (a re-join).
    const opening = b.openFederation(f.handle.url as AutomergeUrl, { timeoutMs: 5_000 });
    b.leaveFederation(fid);
    await expect(opening).rejects.toBeInstanceOf(FederationLeftError);
    expect(b.federations()).toEqual([]);
    await b.openFederation(f.handle.url as AutomergeUrl, { timeoutMs: 5_000 });
    expect(b.federations().map((held) => held.federation.id)).toEqual([fid]);
  });

  it("never takes the federation document's links for members, even when its genesis record was deleted", async () => {
    const [ana, cal] = await Promise.all([createIdentity(), createIdentity()]);
    const clock = testClock();
    const dir = await mkdtemp(join(tmpdir(), "federa-links-"));
    const storage = () => new DurableFsStorageAdapter(dir);
    const a = await startFederaNode(ana, { now: clock.now, storage: storage() });
    const x = await a.foundCouncil({ name: "Bakers" });
    const f = await a.foundFederation({ name: "City federation", councils: [x.council.id] });
    const fid = f.federation.id as FederationId;
    await mandate(x, ana.member, clock, fid);
    // A candidate's link and vouch, as `federation propose --admit` writes them; it is not a member.
    const CAL = "d4".repeat(32) as CouncilId;
    f.handle.change((d) => linkCouncil(d, CAL, x.councilHandle.url));
    a.trustFor(fid, cal.device.id, CAL);
    expect(a.access.allows(cal.device.id, x.councilHandle.documentId)).toBe(false);
    // Anyone the federation document reaches can edit it: the genesis record goes.
    f.handle.change((d) => {
      delete d.records[bucketOf(fid)]![storageKeyOf(fid)];
    });
    await a.stop();

    // Restarted, the node derives no member councils any more; the links still do not make the candidate one.
    const again = await startFederaNode(ana, { now: clock.now, storage: storage() });
    await again.openCouncil(x.councilHandle.url as AutomergeUrl, { timeoutMs: 5_000 });
    const held = await again.openFederation(f.handle.url as AutomergeUrl, { timeoutMs: 5_000, federation: fid });
    again.trustFor(fid, cal.device.id, CAL);
    expect(held.federation.current().councils).toEqual([]);
    expect(again.memberCouncils(held)).toEqual([]);
    expect(again.access.allows(cal.device.id, x.councilHandle.documentId)).toBe(false);
    // And a document claiming to be another federation is refused when opened as this one.
    const other = "e5".repeat(32) as FederationId;
    await expect(again.openFederation(f.handle.url as AutomergeUrl, { federation: other })).rejects.toThrow(
      /is not federation/,
    );
  });

  it("holds a council only under its own id: a federation link to another council's document fetches nothing", async () => {
    const ana = await createIdentity();
    const clock = testClock();
    const a = await startFederaNode(ana, { now: clock.now });
    const [x, y, z] = [
      await a.foundCouncil({ name: "Bakers" }),
      await a.foundCouncil({ name: "Carpenters" }),
      await a.foundCouncil({ name: "Tenants" }),
    ];
    const f = await a.foundFederation({ name: "City federation", councils: [x.council.id, y.council.id] });
    for (const held of [x, y]) await mandate(held, ana.member, clock, "City federation");
    // Anyone holding the federation document can point a member's link at a council that is not a member.
    f.handle.change((d) => linkCouncil(d, y.council.id, z.councilHandle.url));
    const phone = await addDevice(ana);
    for (const held of [x, y, z]) await held.council.authorizeDevice(phone.device.id as DeviceId, "phone");
    a.trustFor(f.federation.id as FederationId, phone.device.id);

    // Ana's phone fetches the federation: it holds the Bakers, and not the Tenants under the Carpenters' name.
    const b = await startFederaNode(phone, { now: clock.now });
    b.trust(ana.device.id);
    await dialNode(b, a);
    const held = await b.openFederation(f.handle.url as AutomergeUrl, { timeoutMs: 10_000 });
    expect(b.memberCouncils(held).sort()).toEqual([x.council.id, y.council.id].sort());
    expect(b.council(x.council.id)).toBeDefined();
    expect(b.council(z.council.id)).toBeUndefined();
    expect(b.council(y.council.id)).toBeUndefined();
    await expect(
      b.openCouncil(z.councilHandle.url as AutomergeUrl, { council: y.council.id, timeoutMs: 5_000 }),
    ).rejects.toThrow(/is not council/);
    expect(b.council(z.council.id)).toBeUndefined();
    // Opened for what it is, the same document is held.
    expect((await b.openCouncil(z.councilHandle.url as AutomergeUrl, { council: z.council.id })).council.id).toBe(
      z.council.id,
    );
  });
});

/**
 * A council's withdrawal announced in the federation's document: the other councils, whose copy of its state still
 * holds the recalled mandate (the recall stays in documents it no longer shares), stop counting its delegates and
 * stop taking it to consent, until it mandates a delegate again.
 */
import { describe, expect, it } from "vitest";
import type { FederationDoc, MandateId } from "../src/index.js";
import { Council, Federation, foundFederation, PlainDocument } from "../src/index.js";
import { assembly, Clock, HOUR, MINUTE, mandate } from "./support/federation-world.js";

describe("a council withdrawing from a federation", () => {
  it("is seen out by councils holding its state from before the recall, and back once it mandates again", async () => {
    const clock = new Clock();
    const bakery = await assembly(clock, "Bakery co-op");
    const tenants = await assembly(clock, "Tenants' union");
    const [ana] = bakery.people as [Council];
    const [tia, tom] = tenants.people as [Council, Council];
    const am = await mandate(clock, bakery, ana, { "*": ["yes", "no"] });
    const tm = await mandate(clock, tenants, tia, { "*": ["yes", "no"] });
    const founded = await foundFederation(ana.identity!, {
      name: "Northern Solidarity Federation",
      councils: [bakery.id, tenants.id],
      now: clock.now,
    });
    const doc = new PlainDocument<FederationDoc>(founded.federation);

    // What the bakery's devices hold of the tenants' council: a copy from before the recall, which never reaches them.
    const seen = { council: tenants.docs.council.fork(), ledger: tenants.docs.ledger.fork() };
    const tenantsSeen = await Council.open(seen);
    const atBakery = await Federation.open(doc, {
      identity: ana.identity!,
      councils: [bakery.reader, tenantsSeen],
      now: clock.now,
    });
    const atTenants = await Federation.open(doc, {
      identity: tia.identity!,
      councils: [bakery.reader, tenants.reader],
      now: clock.now,
    });
    const consent = async (f: Federation) => (await f.state()).councils.find((c) => c.id === tenants.id)!;
    expect(await consent(atBakery)).toMatchObject({ consents: true, withdrawn: false, withdrawnAt: null });

    // A question opened while both councils are in: both are its electorate.
    const question = await atBakery.propose({ title: "Joint rent strike", closesAt: clock.t + 2 * HOUR });

    // The tenants recall Tia, and announce it in the federation's document.
    const closesAt = clock.t + MINUTE;
    const recall = await tia.proposeRecall(tm, undefined, closesAt);
    for (const p of tenants.people) await p.vote(recall, { method: "majority", choice: "yes" });
    clock.jumpPast(closesAt);
    await tom.tick();
    expect((await tenants.reader.state()).mandates.find((m) => m.id === tm)?.recalledAt).not.toBeNull();
    const recalledAt = (await tenants.reader.state()).mandates.find((m) => m.id === tm)!.recalledAt!;
    const withdrawal = await atTenants.withdraw({ since: recalledAt.ms });
    expect(await consent(atBakery)).toMatchObject({ consents: false, withdrawn: true });
    expect((await consent(atBakery)).withdrawnAt).not.toBeNull();

    // A vote Tia casts afterwards (her own council sees it recalled) is not counted at the bakery either.
    const late = await atTenants.vote(question, { council: tenants.id, mandate: tm, position: "yes" });
    const atBakeryNow = await atBakery.state();
    expect(atBakeryNow.conflicts).toContainEqual(
      expect.objectContaining({ record: late, type: "out-of-mandate", reason: "council-withdrawn" }),
    );
    expect(atBakeryNow.proposals.find((p) => p.id === question)?.votes[tenants.id]).toBeUndefined();
    expect(withdrawal).not.toBe(late);
    // A question opened while they stand withdrawn leaves them out of its electorate, so their silence weighs on no
    // quorum; it stays so when they come back, as an electorate is frozen when a proposal opens.
    const meanwhile = await atBakery.propose({ title: "Shared van", closesAt: clock.t + 2 * HOUR });
    expect((await atBakery.state()).proposals.find((p) => p.id === meanwhile)?.electorate).toEqual([bakery.id]);

    // The tenants mandate Tom; once their documents are shared again, the bakery sees them back.
    const back = await mandate(clock, tenants, tom, { "*": ["yes", "no"] });
    seen.council.merge(tenants.docs.council);
    seen.ledger.merge(tenants.docs.ledger);
    expect(await consent(atBakery)).toMatchObject({ consents: true, withdrawn: false });
    // A member's device that missed the new mandate announces the old recall again, late: it does not push them out.
    await atTenants.withdraw({ since: recalledAt.ms });
    expect(await consent(atBakery)).toMatchObject({ consents: true, withdrawn: false });
    const atTenantsTom = await Federation.open(doc, {
      identity: tom.identity!,
      councils: [bakery.reader, tenants.reader],
      now: clock.now,
    });
    await atTenantsTom.vote(question, { council: tenants.id, mandate: back as MandateId, position: "yes" });
    await atBakery.vote(question, { council: bakery.id, mandate: am, position: "yes" });
    const votes = (await atBakery.state()).proposals.find((p) => p.id === question)!.votes;
    expect(Object.keys(votes).sort()).toEqual([bakery.id, tenants.id].sort());
    const outside = await atTenantsTom.vote(meanwhile, {
      council: tenants.id,
      mandate: back as MandateId,
      position: "no",
    });
    const after = await atBakery.state();
    expect(after.proposals.find((p) => p.id === meanwhile)?.votes[tenants.id]).toBeUndefined();
    expect(after.excluded).toContainEqual(
      expect.objectContaining({ id: outside, reason: "invalid-act", detail: expect.stringContaining("electorate") }),
    );
  });

  it("judges an act at the very clock of an announcement by the announcement before it, in either fold order", async () => {
    const clock = new Clock();
    const bakery = await assembly(clock, "Bakery co-op");
    const tenants = await assembly(clock, "Tenants' union");
    const [ana, ben] = bakery.people as [Council, Council];
    const [tia] = tenants.people as [Council];
    await mandate(clock, bakery, ana, { "*": ["yes", "no"] });
    await mandate(clock, tenants, tia, { "*": ["yes", "no"] });
    const founded = await foundFederation(ana.identity!, {
      name: "Northern Solidarity Federation",
      councils: [bakery.id, tenants.id],
      now: clock.now,
    });
    // Devices whose clocks read the same millisecond, each writing to its own replica.
    let t = clock.t + HOUR;
    const now = () => t;
    const open = (doc: PlainDocument<FederationDoc>, who: Council) =>
      Federation.open(doc, { identity: who.identity!, councils: [bakery.reader, tenants.reader], now });
    const atBakery = new PlainDocument<FederationDoc>(founded.federation);
    const bakeryFed = await open(atBakery, ana);
    const electorateOf = async (id: string) => (await bakeryFed.state()).proposals.find((p) => p.id === id)!.electorate;
    // A proposal by `who` at the shared clock whose id folds before (or after) `pivot`'s: records at one clock fold
    // in id order, so both orders are tried. Titles are tried until one gives an id on the wanted side.
    const proposeAround = async (who: Council, from: PlainDocument<FederationDoc>, pivot: string, below: boolean) => {
      for (let i = 0; i < 200; i++) {
        const fork = from.fork();
        const id = await (await open(fork, who)).propose({ title: `Question ${i}`, closesAt: t + HOUR });
        if (id < pivot === below) return { id, fork };
      }
      throw new Error("no title gave an id on that side");
    };

    // An announcement by Tia at the shared clock whose id is away from both ends of the id space, so that proposals
    // can fold on either side of it within the titles tried (an id near an end left one side out of reach).
    const withdrawMid = async (from: PlainDocument<FederationDoc>, since: number) => {
      for (let i = 0; i < 100; i++) {
        const fork = from.fork();
        const id = await (await open(fork, tia)).withdraw({ since: since - i });
        if (id >= "2" && id < "e") return { id, fork };
      }
      throw new Error("no announcement id away from the ends");
    };

    // Alone at its clock, an announcement is concurrent with a proposal at that clock: the tenants stay in its
    // electorate, whichever of the two ids folds first.
    const { id: withdrawal, fork: atTenants } = await withdrawMid(atBakery, t - MINUTE);
    const first = [
      await proposeAround(ana, atBakery, withdrawal, true),
      await proposeAround(ben, atBakery, withdrawal, false),
    ];
    for (const { fork } of first) atBakery.merge(fork);
    atBakery.merge(atTenants);
    for (const { id } of first) expect(await electorateOf(id)).toEqual([bakery.id, tenants.id].sort());

    // A second announcement, at a later clock, does not hide the first from a proposal at that later clock: the
    // first still stands (no mandate since), so the tenants are out of its electorate whichever id folds first.
    t += MINUTE;
    const { id: second, fork: again } = await withdrawMid(atBakery, t - MINUTE);
    const later = [await proposeAround(ana, atBakery, second, true), await proposeAround(ben, atBakery, second, false)];
    for (const { fork } of later) atBakery.merge(fork);
    atBakery.merge(again);
    for (const { id } of later) expect(await electorateOf(id)).toEqual([bakery.id]);
  });
});

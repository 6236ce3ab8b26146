/** `checkActs` on a federation: an act its derivation would exclude or not count is refused before anything is written. */
import * as A from "@automerge/automerge";
import { describe, expect, it } from "vitest";
import type { FederationDoc, FederationState, ProposalId, RecordId } from "../src/index.js";
import { type Council, Federation, foundFederation, PlainDocument, RejectedActError } from "../src/index.js";
import { assembly, Clock, DAY, FEDERATION, HOUR, MINUTE, mandate } from "./support/federation-world.js";

/**
 * Councils A (Ana, Ben) and B (Tia, Tom) found the federation; C (Cat) exists outside it. Ana, Tia and Cat are their
 * councils' delegates; everyone opens the federation with `checkActs` as given.
 */
async function world(checkActs: boolean) {
  const clock = new Clock();
  const a = await assembly(clock, "Bakery co-op");
  const b = await assembly(clock, "Tenants' union");
  const c = await assembly(clock, "Couriers' cell");
  const [ana, ben] = a.people as [Council, Council];
  const [tia, tom] = b.people as [Council, Council];
  const [cat] = c.people as [Council];
  const am = await mandate(clock, a, ana, { "*": ["yes", "no"], winter: ["rent-strike", "soup-kitchen"] });
  const tm = await mandate(clock, b, tia, { "*": ["yes"], winter: ["soup-kitchen"] });
  const cm = await mandate(clock, c, cat, { "*": ["yes", "no"] });
  const founded = await foundFederation(ana.identity!, { name: FEDERATION, councils: [a.id, b.id], now: clock.now });
  const doc = new PlainDocument<FederationDoc>(founded.federation);
  const open = (person: Council) =>
    Federation.open(doc, {
      identity: person.identity!,
      councils: [a.reader, b.reader, c.reader],
      now: clock.now,
      checkActs,
    });
  const [fa, fb, ft, fm, fc] = await Promise.all([ana, ben, tia, tom, cat].map(open));
  const w = { clock, a, b, c, doc, am, tm, cm, fa: fa!, fb: fb!, ft: ft!, fm: fm!, fc: fc! };
  /** A proposal both founding delegates vote yes on, closed by a tick past its deadline. */
  const decide = async (input: Parameters<Federation["propose"]>[0]): Promise<ProposalId> => {
    const closesAt = clock.t + HOUR;
    const id = await w.fa.propose({ closesAt, ...input });
    await w.fa.vote(id, { council: a.id, mandate: am, position: "yes" });
    await w.ft.vote(id, { council: b.id, mandate: tm, position: "yes" });
    clock.jumpPast(closesAt);
    await w.fa.tick();
    return id;
  };
  /** A convergence called on the topic "winter", its window opening an hour after the call closes. */
  const converge = async () => {
    const closesAt = clock.t + HOUR;
    const startsAt = closesAt + HOUR;
    const call = await w.fa.propose({
      title: "Winter convergence",
      closesAt,
      effect: { type: "convergence", title: "Winter action", startsAt, topic: "winter", actions: ["rent-strike"] },
    });
    await w.fa.vote(call, { council: a.id, mandate: am, position: "yes" });
    await w.ft.vote(call, { council: b.id, mandate: tm, position: "yes" });
    return { call, startsAt, endsAt: startsAt + 3 * DAY };
  };
  return { ...w, decide, converge };
}

type World = Awaited<ReturnType<typeof world>>;

interface Case {
  readonly name: string;
  /** Builds what the act needs and returns the act. */
  readonly setup: (w: World) => Promise<() => Promise<RecordId>>;
  /** The reason `RejectedActError` gives with `checkActs` on. */
  readonly reason: string;
  readonly detail: RegExp;
  /** With `checkActs` off: how the written record is excluded, and the conflicts it is listed with. */
  readonly excluded: readonly string[];
  readonly conflicts: readonly (readonly [string, string | null])[];
}

const cases: readonly Case[] = [
  {
    name: "a proposal closing before it opens",
    setup: async (w) => () => w.fa.propose({ title: "Too late already", closesAt: w.clock.t - MINUTE }),
    reason: "invalid-act",
    detail: /closes before it opens/,
    excluded: ["invalid-act"],
    conflicts: [],
  },
  {
    name: "a vote after the proposal closed",
    setup: async (w) => {
      const closesAt = w.clock.t + HOUR;
      const p = await w.fa.propose({ title: "Adopt the statute", closesAt });
      w.clock.jumpPast(closesAt);
      return () => w.ft.vote(p, { council: w.b.id, mandate: w.tm, position: "yes" });
    },
    reason: "late-vote",
    detail: /after "Adopt the statute" closed/,
    excluded: ["invalid-act"],
    conflicts: [["late-vote", null]],
  },
  {
    name: "a vote whose position the mandate does not allow",
    setup: async (w) => {
      const p = await w.fa.propose({ title: "Rent strike", closesAt: w.clock.t + HOUR });
      return () => w.ft.vote(p, { council: w.b.id, mandate: w.tm, position: "no" });
    },
    reason: "out-of-mandate",
    detail: /position-not-allowed/,
    excluded: [],
    conflicts: [["out-of-mandate", "position-not-allowed"]],
  },
  {
    name: "a vote under another delegate's mandate",
    setup: async (w) => {
      const p = await w.fa.propose({ title: "Rent strike", closesAt: w.clock.t + HOUR });
      return () => w.fm.vote(p, { council: w.b.id, mandate: w.tm, position: "yes" });
    },
    reason: "out-of-mandate",
    detail: /not-the-delegate/,
    excluded: [],
    conflicts: [["out-of-mandate", "not-the-delegate"]],
  },
  {
    name: "a position that is not one of the proposal's method",
    setup: async (w) => {
      const p = await w.fa.propose({ title: "Rent strike", closesAt: w.clock.t + HOUR });
      return () => w.fa.vote(p, { council: w.a.id, mandate: w.am, position: "block" });
    },
    reason: "invalid-act",
    detail: /"block" is not a position of a majority vote/,
    excluded: ["invalid-act"],
    conflicts: [],
  },
  {
    name: "a vote by a council admitted after the proposal opened",
    setup: async (w) => {
      const earlier = await w.fa.propose({ title: "Earlier question", closesAt: w.clock.t + DAY });
      await w.decide({ title: "Admit the couriers", effect: { type: "admit-council", council: w.c.id } });
      return () => w.fc.vote(earlier, { council: w.c.id, mandate: w.cm, position: "yes" });
    },
    reason: "invalid-act",
    detail: /not in the proposal's electorate/,
    excluded: ["invalid-act"],
    conflicts: [],
  },
  {
    name: "an alert by a member of a council outside the federation",
    setup: async (w) => () => w.fc.raiseAlert({ council: w.c.id, what: "Vans seized", needs: "Vans" }),
    reason: "not-a-member",
    detail: /no member of a member council/,
    excluded: ["not-a-member"],
    conflicts: [],
  },
  {
    name: "a response to one's own council's alert",
    setup: async (w) => {
      const alert = await w.fa.raiseAlert({ what: "Bakery raided", needs: "Flour" });
      return () => w.fb.respondToAlert(alert, { offer: "We help ourselves" });
    },
    reason: "invalid-act",
    detail: /does not answer its own alert/,
    excluded: ["invalid-act"],
    conflicts: [],
  },
  {
    name: "a ratification before the convergence opens",
    setup: async (w) => {
      const { call } = await w.converge();
      return () => w.fa.ratify(call, { council: w.a.id, mandate: w.am, action: "rent-strike" });
    },
    reason: "outside-window",
    detail: /before the convergence opens/,
    excluded: [],
    conflicts: [["outside-window", null]],
  },
  {
    name: "a ratification after the convergence was dissolved",
    setup: async (w) => {
      const { call, endsAt } = await w.converge();
      w.clock.jumpPast(endsAt);
      return () => w.fa.ratify(call, { council: w.a.id, mandate: w.am, action: "rent-strike" });
    },
    reason: "outside-window",
    detail: /after the convergence was dissolved/,
    excluded: [],
    conflicts: [["outside-window", null]],
  },
  {
    name: "a ratification of an action the mandate does not allow",
    setup: async (w) => {
      const { call, startsAt } = await w.converge();
      w.clock.jumpPast(startsAt);
      return () => w.ft.ratify(call, { council: w.b.id, mandate: w.tm, action: "rent-strike" });
    },
    reason: "out-of-mandate",
    detail: /position-not-allowed/,
    excluded: [],
    conflicts: [["out-of-mandate", "position-not-allowed"]],
  },
];

const heads = (doc: PlainDocument<FederationDoc>) => A.getHeads(doc.doc()!).join();

function conflictsOf(state: FederationState, record: RecordId) {
  return state.conflicts.filter((c) => c.record === record).map((c) => [c.type, c.reason]);
}

function excludedOf(state: FederationState, record: RecordId) {
  return state.excluded.filter((e) => e.id === record).map((e) => e.reason);
}

describe("federation checkActs", () => {
  for (const c of cases) {
    it(`refuses ${c.name}, writing nothing`, async () => {
      const w = await world(true);
      const act = await c.setup(w);
      const before = await w.fa.state();
      const at = heads(w.doc);
      const records = w.fa.records.length;
      const error = await act().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(RejectedActError);
      expect(error).toMatchObject({ code: "REJECTED_ACT", reason: c.reason, detail: expect.stringMatching(c.detail) });
      expect(heads(w.doc)).toBe(at);
      expect(w.fa.records).toHaveLength(records);
      expect(await w.fa.state()).toEqual(before);
      // Nothing was taken from the chain: the refused writer's next record is valid.
      const tick = await w.fa.tick();
      expect(excludedOf(await w.fa.state(), tick)).toEqual([]);
    });

    it(`writes ${c.name} when checkActs is off, and the derivation does not count it`, async () => {
      const w = await world(false);
      const act = await c.setup(w);
      const id = await act();
      const state = await w.fa.state();
      expect(w.fa.records.map((r) => r.id)).toContain(id);
      expect(excludedOf(state, id)).toEqual(c.excluded);
      expect(conflictsOf(state, id)).toEqual(c.conflicts);
    });
  }

  it("refuses a whole batch for one act in it", async () => {
    const w = await world(true);
    const closesAt = w.clock.t + HOUR;
    const p = await w.fa.propose({ title: "Adopt the statute", closesAt });
    w.clock.jumpPast(closesAt);
    const at = heads(w.doc);
    const batch = w.ft.write([
      { kind: "tick", body: {} },
      { kind: "federation.vote", body: { proposal: p, council: w.b.id, mandate: w.tm, position: "yes" } },
    ]);
    await expect(batch).rejects.toMatchObject({ name: "RejectedActError", reason: "late-vote" });
    expect(heads(w.doc)).toBe(at);
    expect((await w.ft.state()).proposals.find((x) => x.id === p)?.status).toBe("open");
  });

  it("lets every valid act through", async () => {
    const w = await world(true);
    // Admission: a proposal, two counted votes and a tick, and the admitted council's vote on a later proposal.
    const admission = await w.decide({
      title: "Admit the couriers",
      effect: { type: "admit-council", council: w.c.id },
    });
    const later = await w.fa.propose({ title: "Later question", closesAt: w.clock.t + DAY });
    const catVote = await w.fc.vote(later, { council: w.c.id, mandate: w.cm, position: "no" });
    // The pledge: an alert and another council's response.
    const alert = await w.fa.raiseAlert({ what: "Bakery raided", needs: "Flour" });
    const response = await w.ft.respondToAlert(alert, { offer: "One van" });
    // A convergence, ratified in its window under the mandate.
    const { call, startsAt } = await w.converge();
    w.clock.jumpPast(startsAt);
    const ratified = await w.fa.ratify(call, { council: w.a.id, mandate: w.am, action: "rent-strike" });
    const state = await w.fa.state();
    expect(state.excluded).toEqual([]);
    expect(state.conflicts).toEqual([]);
    expect(state.proposals.find((p) => p.id === admission)?.effectOutcome?.applied).toBe(true);
    expect(state.proposals.find((p) => p.id === later)?.votes[w.c.id]?.record).toBe(catVote);
    expect(state.alerts.find((a) => a.id === alert)?.responses.map((r) => r.record)).toEqual([response]);
    const convergence = state.convergences.find((c) => c.id === call)!;
    expect(convergence.actions.map((a) => [a.action, a.ratifiedBy.map((r) => r.record)])).toEqual([
      ["rent-strike", [ratified]],
    ]);
  });
});

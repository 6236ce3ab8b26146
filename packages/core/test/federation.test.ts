/** Worked examples of the federation: mandated votes, admission, the solidarity pledge, convergences, reports. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { bucketOf, storageKeyOf } from "../src/documents/layout.js";
import type {
  CouncilDoc,
  CouncilId,
  DeviceId,
  FederationDoc,
  FederationState,
  LedgerDoc,
  MandateId,
  Positions,
  ProposalId,
  RecordId,
  Threshold,
} from "../src/index.js";
import {
  AUTONOMY_COLUMNS,
  addDevice,
  autonomyLedger,
  Council,
  canonicalJson,
  consentsTo,
  createIdentity,
  exportAutonomyCsv,
  exportAutonomyJson,
  Federation,
  foundCouncil,
  foundFederation,
  InvalidInputError,
  NotAMemberError,
  PlainDocument,
} from "../src/index.js";
import { Clock } from "./support/clock.js";

const MINUTE = 60 * 1000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const FEDERATION = "Northern Solidarity Federation";

interface Replica {
  readonly council: PlainDocument<CouncilDoc>;
  readonly ledger: PlainDocument<LedgerDoc>;
}

/** A council: its replica, a read-only view of it for the federation, and one open council per member. */
interface Assembly {
  readonly id: CouncilId;
  readonly docs: Replica;
  readonly reader: Council;
  readonly people: Council[];
}

interface World {
  readonly clock: Clock;
  readonly a: Assembly;
  readonly b: Assembly;
  readonly c: Assembly;
  readonly doc: PlainDocument<FederationDoc>;
  readonly id: string;
  /** The federation as one member (a council of theirs) sees and writes it. */
  fed(person: Council): Promise<Federation>;
}

async function assembly(clock: Clock, name: string, size = 2, charter = {}): Promise<Assembly> {
  const people = await Promise.all(Array.from({ length: size }, () => createIdentity()));
  const founded = await foundCouncil(people[0]!, {
    name,
    founders: people.slice(1).map((p) => p.member),
    charter,
    now: clock.now,
  });
  const docs: Replica = { council: new PlainDocument(founded.council), ledger: new PlainDocument(founded.ledger) };
  const councils = await Promise.all(people.map((identity) => Council.open(docs, { identity, now: clock.now })));
  return { id: founded.id, docs, reader: await Council.open(docs), people: councils };
}

/** Councils A and B found the federation; C exists but is not (yet) a member. */
async function world(charters: { a?: object } = {}): Promise<World> {
  const clock = new Clock();
  const a = await assembly(clock, "Bakery co-op", 2, charters.a ?? {});
  const b = await assembly(clock, "Tenants' union");
  const c = await assembly(clock, "Couriers' cell");
  const founded = await foundFederation(a.people[0]!.identity!, {
    name: FEDERATION,
    councils: [a.id, b.id],
    now: clock.now,
  });
  const doc = new PlainDocument(founded.federation);
  const open = new Map<Council, Federation>();
  const fed = async (person: Council) => {
    let f = open.get(person);
    if (f === undefined) {
      f = await Federation.open(doc, {
        identity: person.identity!,
        councils: [a.reader, b.reader, c.reader],
        now: clock.now,
      });
      open.set(person, f);
    }
    return f;
  };
  return { clock, a, b, c, doc, id: founded.id, fed };
}

/** Council `at` issues a mandate to `delegate` by a decision every member votes for; returns the mandate id. */
async function mandate(
  w: World,
  at: Assembly,
  delegate: Council,
  positions: Positions,
  options: { term?: number; body?: string; recall?: Threshold } = {},
): Promise<MandateId> {
  const closesAt = w.clock.t + MINUTE;
  const id = await at.people[0]!.proposeMandate({
    delegate: delegate.identity!.member,
    body: options.body ?? FEDERATION,
    instructions: "Carry the assembly's line",
    positions,
    startsAt: closesAt,
    expiresAt: closesAt + (options.term ?? 30 * DAY),
    recall: options.recall ?? { ratio: { num: 1, den: 2 }, of: "eligible", cmp: ">" },
    closesAt,
  });
  for (const p of at.people) await p.vote(id, { method: "majority", choice: "yes" });
  w.clock.jumpPast(closesAt);
  await at.people[0]!.tick();
  const state = await at.reader.state();
  expect(state.mandates.map((m) => m.id)).toContain(id);
  return id as string as MandateId;
}

/** Every member of the council votes to recall the mandate; it ends at the vote that reaches the threshold. */
async function recall(at: Assembly, id: MandateId): Promise<void> {
  const proposal = await at.people[0]!.proposeRecall(id);
  for (const p of at.people) await p.vote(proposal, { method: "majority", choice: "yes" });
  const state = await at.reader.state();
  expect(state.mandates.find((m) => m.id === id)?.recalledAt).not.toBeNull();
}

function proposalOf(state: FederationState, id: ProposalId) {
  const found = state.proposals.find((p) => p.id === id);
  if (found === undefined) throw new Error(`no federation proposal ${id}`);
  return found;
}

function conflictsOf(state: FederationState, record: RecordId) {
  return state.conflicts.filter((c) => c.record === record).map((c) => [c.type, c.reason]);
}

function excludedOf(state: FederationState, record: RecordId) {
  return state.excluded.filter((e) => e.id === record).map((e) => e.reason);
}

/** Opens a proposal, lets the delegates vote, then closes it by moving time past its deadline. */
async function decide(
  w: World,
  votes: readonly { person: Council; council: CouncilId; mandate: MandateId; position: string }[],
  input: Parameters<Federation["propose"]>[0],
): Promise<ProposalId> {
  const proposer = await w.fed(w.a.people[0]!);
  const closesAt = w.clock.t + HOUR;
  const id = await proposer.propose({ closesAt, ...input });
  for (const v of votes) await (await w.fed(v.person)).vote(id, v);
  w.clock.jumpPast(closesAt);
  await proposer.tick();
  return id;
}

describe("federation votes through mandates", () => {
  it("counts one vote per member council, its delegate's latest within the mandate", async () => {
    const w = await world();
    const [ana, ben] = w.a.people as [Council, Council];
    const [tia] = w.b.people as [Council];
    const anaMandate = await mandate(w, w.a, ana, { "*": ["yes", "no", "abstain"] });
    const benMandate = await mandate(w, w.a, ben, { "*": ["yes", "no"] });
    const tiaMandate = await mandate(w, w.b, tia, { "*": ["yes"] });
    const proposal = await (await w.fed(ana)).propose({ title: "Joint rent strike fund", closesAt: w.clock.t + HOUR });
    await (await w.fed(ana)).vote(proposal, { council: w.a.id, mandate: anaMandate, position: "yes" });
    await (await w.fed(tia)).vote(proposal, { council: w.b.id, mandate: tiaMandate, position: "yes" });
    // A second delegate of the same council votes later: the council still has one vote, the latest.
    const benVote = await (await w.fed(ben)).vote(proposal, { council: w.a.id, mandate: benMandate, position: "no" });
    const state = await (await w.fed(tia)).state();
    const p = proposalOf(state, proposal);
    expect(Object.keys(p.votes).sort()).toEqual([w.a.id, w.b.id].sort());
    expect(p.votes[w.a.id]).toMatchObject({ position: "no", delegate: ben.identity!.member, record: benVote });
    expect(p.votes[w.b.id]).toMatchObject({ position: "yes", delegate: tia.identity!.member });
    expect(p.result?.counts).toEqual({ abstain: 0, no: 1, yes: 1 });
    expect(p.result?.passed).toBe(false);
    expect(state.conflicts).toEqual([]);
  });

  it("does not count a position the mandate does not allow, and says why", async () => {
    const w = await world();
    const [ana] = w.a.people as [Council];
    const m = await mandate(w, w.a, ana, { "*": ["yes", "abstain"] });
    const f = await w.fed(ana);
    const proposal = await f.propose({ title: "Boycott the landlord", closesAt: w.clock.t + HOUR });
    const yes = await f.vote(proposal, { council: w.a.id, mandate: m, position: "yes" });
    const no = await f.vote(proposal, { council: w.a.id, mandate: m, position: "no" });
    const state = await f.state();
    expect(conflictsOf(state, no)).toEqual([["out-of-mandate", "position-not-allowed"]]);
    // The out-of-mandate vote does not replace the earlier one cast within the mandate.
    expect(proposalOf(state, proposal).votes[w.a.id]?.record).toBe(yes);
    expect(excludedOf(state, no)).toEqual([]);
  });

  it("does not count a vote after the mandate's recall; the vote before it still counts", async () => {
    const w = await world();
    const [ana] = w.a.people as [Council];
    const m = await mandate(w, w.a, ana, { "*": ["yes", "no"] });
    const f = await w.fed(ana);
    const proposal = await f.propose({ title: "Shared legal fund", closesAt: w.clock.t + DAY });
    const before = await f.vote(proposal, { council: w.a.id, mandate: m, position: "yes" });
    await recall(w.a, m);
    const after = await f.vote(proposal, { council: w.a.id, mandate: m, position: "no" });
    const state = await f.state();
    expect(conflictsOf(state, after)).toEqual([["out-of-mandate", "recalled"]]);
    expect(proposalOf(state, proposal).votes[w.a.id]?.record).toBe(before);
  });

  it("does not count a vote after the mandate expired", async () => {
    const w = await world();
    const [ana] = w.a.people as [Council];
    const m = await mandate(w, w.a, ana, { "*": ["yes"] }, { term: HOUR });
    const f = await w.fed(ana);
    const proposal = await f.propose({ title: "Winter coordination", closesAt: w.clock.t + DAY });
    w.clock.jumpPast(w.clock.t + 2 * HOUR);
    const late = await f.vote(proposal, { council: w.a.id, mandate: m, position: "yes" });
    const state = await f.state();
    expect(conflictsOf(state, late)).toEqual([["out-of-mandate", "expired"]]);
    expect(proposalOf(state, proposal).votes).toEqual({});
  });

  it("does not let a member who is not the delegate, or a mandate for another body, vote for the council", async () => {
    const w = await world();
    const [ana, ben] = w.a.people as [Council, Council];
    const anaMandate = await mandate(w, w.a, ana, { "*": ["yes"] });
    const elsewhere = await mandate(w, w.a, ben, { "*": ["yes"] }, { body: "city-assembly" });
    const byId = await mandate(w, w.a, ben, { "*": ["no"] }, { body: w.id });
    const proposal = await (await w.fed(ana)).propose({ title: "Open a food bank", closesAt: w.clock.t + HOUR });
    const f = await w.fed(ben);
    const borrowed = await f.vote(proposal, { council: w.a.id, mandate: anaMandate, position: "yes" });
    const wrongBody = await f.vote(proposal, { council: w.a.id, mandate: elsewhere, position: "yes" });
    const unknown = await f.vote(proposal, {
      council: w.a.id,
      mandate: proposal as string as MandateId,
      position: "yes",
    });
    const state = await f.state();
    expect(conflictsOf(state, borrowed)).toEqual([["out-of-mandate", "not-the-delegate"]]);
    expect(conflictsOf(state, wrongBody)).toEqual([["out-of-mandate", "wrong-body"]]);
    expect(conflictsOf(state, unknown)).toEqual([["out-of-mandate", "unknown-mandate"]]);
    expect(proposalOf(state, proposal).votes).toEqual({});
    // A mandate may name the federation by its id as well as by its name.
    const counted = await f.vote(proposal, { council: w.a.id, mandate: byId, position: "no" });
    expect(proposalOf(await f.state(), proposal).votes[w.a.id]?.record).toBe(counted);
  });

  it("excludes records of members of councils that are not member councils", async () => {
    const w = await world();
    const [cat] = w.c.people as [Council];
    const f = await w.fed(cat);
    const alert = await f.raiseAlert({ council: w.c.id, what: "Evicted", needs: "A place to meet" });
    const tick = await f.tick();
    const state = await f.state();
    expect(excludedOf(state, alert)).toEqual(["not-a-member"]);
    expect(excludedOf(state, tick)).toEqual(["not-a-member"]);
    expect(state.alerts).toEqual([]);
    // Naming a member council one does not belong to is refused too.
    const [ana] = w.a.people as [Council];
    const wrong = await (await w.fed(ana)).raiseAlert({ council: w.b.id, what: "Flood", needs: "Pumps" });
    expect(excludedOf(await f.state(), wrong)).toEqual(["not-a-member"]);
  });

  it("closes at its deadline by record clocks, keeps the outcome history, and refuses late votes", async () => {
    const w = await world();
    const [ana] = w.a.people as [Council];
    const [tia] = w.b.people as [Council];
    const am = await mandate(w, w.a, ana, { "*": ["yes", "no"] });
    const tm = await mandate(w, w.b, tia, { "*": ["yes", "no"] });
    const f = await w.fed(ana);
    const closesAt = w.clock.t + HOUR;
    const proposal = await f.propose({ title: "Adopt the solidarity statute", closesAt });
    await f.vote(proposal, { council: w.a.id, mandate: am, position: "yes" });
    expect(proposalOf(await f.state(), proposal).status).toBe("open");
    w.clock.jumpPast(closesAt);
    // Without a later record the federation's time has not reached the deadline.
    expect(proposalOf(await f.state(), proposal).status).toBe("open");
    const late = await (await w.fed(tia)).vote(proposal, { council: w.b.id, mandate: tm, position: "no" });
    const state = await f.state();
    const p = proposalOf(state, proposal);
    expect(p.status).toBe("passed");
    expect(p.history.map((h) => [h.event, h.passed])).toEqual([
      ["vote", true],
      ["close", true],
    ]);
    expect(p.effectOutcome).toEqual({ applied: true, detail: "resolution adopted" });
    expect(conflictsOf(state, late)).toEqual([["late-vote", null]]);
    expect(excludedOf(state, late)).toEqual(["invalid-act"]);
  });
});

describe("member councils", () => {
  it("admits a council by a passed proposal; it votes on proposals opened after, not before", async () => {
    const w = await world();
    const [ana] = w.a.people as [Council];
    const [tia] = w.b.people as [Council];
    const [cat] = w.c.people as [Council];
    const am = await mandate(w, w.a, ana, { "*": ["yes"] });
    const tm = await mandate(w, w.b, tia, { "*": ["yes"] });
    const cm = await mandate(w, w.c, cat, { "*": ["yes", "no"] });
    const earlier = await (await w.fed(ana)).propose({ title: "Earlier question", closesAt: w.clock.t + DAY });
    const admission = await decide(
      w,
      [
        { person: ana, council: w.a.id, mandate: am, position: "yes" },
        { person: tia, council: w.b.id, mandate: tm, position: "yes" },
      ],
      { title: "Admit the couriers", effect: { type: "admit-council", council: w.c.id } },
    );
    const later = await (await w.fed(ana)).propose({ title: "Later question", closesAt: w.clock.t + DAY });
    const fc = await w.fed(cat);
    const onEarlier = await fc.vote(earlier, { council: w.c.id, mandate: cm, position: "yes" });
    const onLater = await fc.vote(later, { council: w.c.id, mandate: cm, position: "no" });
    const state = await fc.state();
    expect(state.councils.map((c) => [c.id, c.name, c.admittedBy])).toEqual(
      [
        [w.a.id, "Bakery co-op", "genesis"],
        [w.b.id, "Tenants' union", "genesis"],
        [w.c.id, "Couriers' cell", admission],
      ].sort((x, y) => (x[0]! < y[0]! ? -1 : 1)),
    );
    expect(proposalOf(state, later).electorate).toContain(w.c.id);
    expect(excludedOf(state, onEarlier)).toEqual(["invalid-act"]);
    expect(proposalOf(state, later).votes[w.c.id]?.record).toBe(onLater);
    // Admitting a member council again fails as an effect, shown as a conflict.
    const again = await decide(
      w,
      [
        { person: ana, council: w.a.id, mandate: am, position: "yes" },
        { person: tia, council: w.b.id, mandate: tm, position: "yes" },
      ],
      { title: "Admit the couriers again", effect: { type: "admit-council", council: w.c.id } },
    );
    const after = await fc.state();
    expect(proposalOf(after, again).effectOutcome?.applied).toBe(false);
    expect(after.conflicts.filter((c) => c.type === "effect-failed").map((c) => c.record)).toEqual([again]);
  });
});

describe("a council's consent", () => {
  it("holds while the council has a delegate mandated for the federation, by its name or its id", async () => {
    const w = await world();
    const [ana] = w.a.people as [Council];
    const [tia] = w.b.people as [Council];
    const consents = async () =>
      Object.fromEntries((await (await w.fed(ana)).state()).councils.map((c) => [c.id, c.consents]));
    // Named at the genesis, neither council has decided anything yet.
    expect(await consents()).toEqual({ [w.a.id]: false, [w.b.id]: false });
    // A mandate for another body is not consent to this one.
    await mandate(w, w.a, ana, { "*": ["yes"] }, { body: "Regional assembly" });
    expect((await consents())[w.a.id]).toBe(false);
    const byName = await mandate(w, w.a, ana, { "*": ["yes"] });
    await mandate(w, w.b, tia, { "*": ["yes"] }, { body: w.id, term: HOUR });
    expect(await consents()).toEqual({ [w.a.id]: true, [w.b.id]: true });
    // Recalling the only mandate for it withdraws; one that expired does not (the council stays between delegates).
    await recall(w.a, byName);
    w.clock.jumpPast(w.clock.t + 2 * HOUR);
    await tia.tick();
    expect((await w.b.reader.state()).mandates.every((m) => m.expiresAt < w.clock.t)).toBe(true);
    expect(await consents()).toEqual({ [w.a.id]: false, [w.b.id]: true });
  });

  it("never takes a federation's name for another's id: a mandate by id stays bound to that federation", () => {
    const f1 = "f1".repeat(32);
    const f2 = "f2".repeat(32);
    // A stranger names their federation after the id of the one a council mandated a delegate for.
    expect(consentsTo(new Set([f1]), { id: f2, name: f1 })).toBe(false);
    expect(consentsTo(new Set([f1]), { id: f1, name: "North" })).toBe(true);
    expect(consentsTo(new Set(["North"]), { id: f2, name: "North" })).toBe(true);
    expect(consentsTo(new Set([""]), { id: f2, name: "" })).toBe(false);
  });
});

describe("solidarity pledge", () => {
  it("gives the time to first response and which councils met the 48-hour window, by record clocks", async () => {
    const w = await world();
    const [ana] = w.a.people as [Council];
    const [tia] = w.b.people as [Council];
    const [cat] = w.c.people as [Council];
    const am = await mandate(w, w.a, ana, { "*": ["yes"] });
    const tm = await mandate(w, w.b, tia, { "*": ["yes"] });
    await decide(
      w,
      [
        { person: ana, council: w.a.id, mandate: am, position: "yes" },
        { person: tia, council: w.b.id, mandate: tm, position: "yes" },
      ],
      { title: "Admit the couriers", effect: { type: "admit-council", council: w.c.id } },
    );
    const fa = await w.fed(ana);
    const alert = await fa.raiseAlert({ what: "Bakery raided, stock seized", needs: "Flour, 2 vans, legal help" });
    const raisedAt = fa.records.find((r) => r.id === alert)!.at.ms;
    const own = await fa.respondToAlert(alert, { council: w.a.id, offer: "We help ourselves" });
    w.clock.jumpPast(raisedAt + 2 * HOUR);
    const tiaResponse = await (await w.fed(tia)).respondToAlert(alert, { offer: "One van, Saturday" });
    let state = await fa.state();
    let a = state.alerts.find((x) => x.id === alert)!;
    const tiaClock = (await w.fed(tia)).records.find((r) => r.id === tiaResponse)!.at.ms;
    expect(a.firstResponseMs).toBe(tiaClock - raisedAt);
    expect(a.pledges.map((p) => [p.council, p.status])).toEqual(
      [
        [w.b.id, "met"],
        [w.c.id, "pending"],
      ].sort((x, y) => (x[0]! < y[0]! ? -1 : 1)),
    );
    expect(excludedOf(state, own)).toEqual(["invalid-act"]);
    // Past the window, with a record to move the federation's time, the couriers have missed it...
    w.clock.jumpPast(raisedAt + 48 * HOUR);
    await fa.tick();
    state = await fa.state();
    a = state.alerts.find((x) => x.id === alert)!;
    expect(a.pledges.find((p) => p.council === w.c.id)?.status).toBe("missed");
    // ...and a response after it is late, with its delay.
    const catResponse = await (await w.fed(cat)).respondToAlert(alert, { offer: "Deliveries for a week" });
    state = await fa.state();
    a = state.alerts.find((x) => x.id === alert)!;
    const catClock = fa.records.find((r) => r.id === catResponse)!.at.ms;
    expect(a.pledges.find((p) => p.council === w.c.id)).toMatchObject({
      status: "late",
      responseMs: catClock - raisedAt,
    });
    expect(a.firstResponseMs).toBe(tiaClock - raisedAt);
    expect(a.responses.map((r) => r.council)).toEqual([w.b.id, w.c.id]);
  });
});

describe("convergences", () => {
  it("counts ratifications inside the window only, through mandates, and dissolves after the end", async () => {
    const w = await world();
    const [ana] = w.a.people as [Council];
    const [tia, tom] = w.b.people as [Council, Council];
    const am = await mandate(w, w.a, ana, { "*": ["yes"], "winter-actions": ["rent-strike", "soup-kitchen"] });
    const tm = await mandate(w, w.b, tia, { "*": ["yes"], "winter-actions": ["soup-kitchen"] });
    const closesAt = w.clock.t + HOUR;
    const startsAt = closesAt + HOUR;
    const fa = await w.fed(ana);
    const ft = await w.fed(tia);
    const call = await fa.propose({
      title: "Winter convergence",
      closesAt,
      effect: {
        type: "convergence",
        title: "Three days of winter action",
        startsAt,
        topic: "winter-actions",
        actions: ["rent-strike", "soup-kitchen"],
      },
    });
    await fa.vote(call, { council: w.a.id, mandate: am, position: "yes" });
    await ft.vote(call, { council: w.b.id, mandate: tm, position: "yes" });
    const early = await fa.ratify(call, { council: w.a.id, mandate: am, action: "rent-strike" });
    w.clock.jumpPast(startsAt);
    const strike = await fa.ratify(call, { council: w.a.id, mandate: am, action: "rent-strike" });
    const kitchen = await ft.ratify(call, { council: w.b.id, mandate: tm, action: "soup-kitchen" });
    const beyond = await ft.ratify(call, { council: w.b.id, mandate: tm, action: "rent-strike" });
    const notDelegate = await (await w.fed(tom)).ratify(call, { council: w.b.id, mandate: tm, action: "rent-strike" });
    let state = await fa.state();
    let convergence = state.convergences.find((c) => c.id === call)!;
    expect(convergence).toMatchObject({
      startsAt,
      endsAt: startsAt + 3 * DAY,
      status: "open",
      topic: "winter-actions",
    });
    expect(convergence.actions.map((a) => [a.action, a.ratifiedBy.map((r) => r.record)])).toEqual([
      ["rent-strike", [strike]],
      ["soup-kitchen", [kitchen]],
    ]);
    expect(conflictsOf(state, early)).toEqual([["outside-window", null]]);
    expect(conflictsOf(state, beyond)).toEqual([["out-of-mandate", "position-not-allowed"]]);
    expect(conflictsOf(state, notDelegate)).toEqual([["out-of-mandate", "not-the-delegate"]]);
    w.clock.jumpPast(startsAt + 3 * DAY);
    const after = await fa.ratify(call, { council: w.a.id, mandate: am, action: "soup-kitchen" });
    state = await fa.state();
    convergence = state.convergences.find((c) => c.id === call)!;
    expect(convergence.status).toBe("dissolved");
    expect(conflictsOf(state, after)).toEqual([["outside-window", null]]);
    expect(convergence.actions.find((a) => a.action === "soup-kitchen")!.ratifiedBy.map((r) => r.council)).toEqual([
      w.b.id,
    ]);
  });
});

describe("records a peer's change deletes", () => {
  it("are written back by the federation that held them, so a fresh load derives the same state", async () => {
    const w = await world();
    const f = await w.fed(w.a.people[0]!);
    const proposal = await f.propose({ title: "Shared van", closesAt: w.clock.t + DAY });
    const before = await f.state();
    const peer = w.doc.fork();
    peer.change((d) => {
      delete d.records[bucketOf(proposal)]![storageKeyOf(proposal)];
    });
    w.doc.merge(peer);
    expect(canonicalJson(await f.state())).toBe(canonicalJson(before));
    expect(f.restored).toBe(1);
    const fresh = await Federation.open(PlainDocument.load<FederationDoc>(w.doc.save()), {
      councils: [w.a.reader, w.b.reader, w.c.reader],
    });
    expect(canonicalJson(await fresh.state())).toBe(canonicalJson(before));
  });

  it("are recovered from the history by a replica that loaded the document without them", async () => {
    const w = await world();
    const f = await w.fed(w.a.people[0]!);
    const first = await f.propose({ title: "Shared van", closesAt: w.clock.t + DAY });
    await f.propose({ title: "Bulk flour", closesAt: w.clock.t + DAY });
    const before = await f.state();
    const peer = w.doc.fork();
    peer.change((d) => {
      delete d.records[bucketOf(first)]![storageKeyOf(first)];
    });
    const newcomer = await Federation.open(peer, { councils: [w.a.reader, w.b.reader, w.c.reader] });
    expect((await newcomer.state()).proposals).toHaveLength(0); // the second waits for the first as broken-chain
    expect(newcomer.showsHarm()).toBe(true);
    expect(await newcomer.recover()).toBe(1);
    expect(canonicalJson(await newcomer.state())).toBe(canonicalJson(before));
  });
});

describe("derivation from member councils' states", () => {
  it("re-derives when a recall arrives from a council's partition: a counted vote becomes out of mandate", async () => {
    const w = await world();
    const [ana, ben] = w.a.people as [Council, Council];
    // A majority of the votes cast recalls this mandate, so Ben alone can.
    const m = await mandate(
      w,
      w.a,
      ana,
      { "*": ["yes", "no"] },
      { recall: { ratio: { num: 1, den: 2 }, of: "cast", cmp: ">" } },
    );
    const f = await w.fed(ana);
    const proposal = await f.propose({ title: "Coordinated boycott", closesAt: w.clock.t + DAY });
    // Ben recalls the mandate on his own replica of council A while Ana, away from him, votes.
    const away: Replica = { council: w.a.docs.council.fork(), ledger: w.a.docs.ledger.fork() };
    const benAway = await Council.open(away, { identity: ben.identity!, now: w.clock.now });
    const recallVote = await benAway.proposeRecall(m);
    await benAway.vote(recallVote, { method: "majority", choice: "yes" });
    expect((await benAway.state()).mandates.find((x) => x.id === m)?.recalledAt).not.toBeNull();
    const vote = await f.vote(proposal, { council: w.a.id, mandate: m, position: "no" });
    const before = await f.state();
    expect(proposalOf(before, proposal).votes[w.a.id]?.record).toBe(vote);
    const refolds = f.refolds;
    // Money moving in a member council changes nothing the federation reads: no new fold.
    await ana.ledger.createFund("common", "cash");
    await ana.ledger.donate("common", 500);
    await f.state();
    expect(f.refolds).toBe(refolds);
    w.a.docs.council.merge(away.council);
    w.a.docs.ledger.merge(away.ledger);
    const after = await f.state();
    expect(f.refolds).toBe(refolds + 1);
    expect(conflictsOf(after, vote)).toEqual([["out-of-mandate", "recalled"]]);
    expect(proposalOf(after, proposal).votes).toEqual({});
    const fresh = await Federation.open(w.doc, { councils: [w.a.reader, w.b.reader, w.c.reader] });
    expect(canonicalJson(await fresh.state())).toBe(canonicalJson(after));
  });

  it("accepts a device its member authorised in a member council, as long as the council lists it", async () => {
    const w = await world();
    const [ana] = w.a.people as [Council];
    const phone = await addDevice(ana.identity!);
    await ana.authorizeDevice(phone.device.id as DeviceId, "phone");
    const onPhone = await Federation.open(w.doc, {
      identity: phone,
      councils: [w.a.reader, w.b.reader, w.c.reader],
      now: w.clock.now,
    });
    const alert = await onPhone.raiseAlert({ what: "Power cut", needs: "Generators" });
    let state = await onPhone.state();
    expect(onPhone.records.find((r) => r.id === alert)?.signer).toBe(phone.device.id);
    expect(state.alerts.map((a) => a.id)).toEqual([alert]);
    // Council states list current devices only: once revoked, the device vouches for nothing, earlier records included.
    await ana.revokeDevice(phone.device.id);
    state = await onPhone.state();
    expect(excludedOf(state, alert)).toEqual(["device-not-authorised"]);
    await expect(onPhone.tick()).rejects.toBeInstanceOf(NotAMemberError);
  });

  it("refuses federation records in a council's documents and council records in the federation's", async () => {
    const w = await world();
    const [ana] = w.a.people as [Council];
    const [inCouncil] = await ana.write([
      { kind: "federation.alert", body: { council: w.a.id, what: "Fire", needs: "Help" } },
    ]);
    expect((await ana.state()).excluded.filter((e) => e.id === inCouncil).map((e) => e.reason)).toEqual([
      "invalid-act",
    ]);
    const f = await w.fed(ana);
    const [inFederation] = await f.write([{ kind: "member.leave", body: {} }]);
    expect(excludedOf(await f.state(), inFederation!)).toEqual(["invalid-act"]);
    expect((await ana.state()).members.map((m) => m.id)).toContain(ana.identity!.member);
  });

  it("asks which council an act is for when the member belongs to several, or to none", async () => {
    const w = await world();
    const [cat] = w.c.people as [Council];
    await expect((await w.fed(cat)).raiseAlert({ what: "Strike", needs: "Cover" })).rejects.toBeInstanceOf(
      InvalidInputError,
    );
  });
});

describe("autonomy ledger", () => {
  it("sums decisions, rotations, mutual aid, swaps, mandates and pledge response times per assembly", async () => {
    const w = await world({ a: { pettyCashLimit: 5_000 } });
    const [ana, ben] = w.a.people as [Council, Council];
    const [tia] = w.b.people as [Council];
    // Council A: money and time.
    await ana.ledger.createFund("aid", "cash");
    await ana.ledger.createFund("hours", "time");
    await ana.ledger.donate("aid", 5_000);
    await ana.ledger.spend("aid", 1_200, "Rent help, K.", "petty");
    await ana.ledger.spend("aid", 4_500, "Too much", "petty"); // held: it would overdraw
    await ana.ledger.swap("hours", ben.identity!.member, 90, "Fixed the oven");
    await ben.ledger.swap("hours", ana.identity!.member, 45, "Bookkeeping");
    // Roles: ana, ben, ana (two handovers in three assignments).
    await ana.assignRole("m1", "facilitator", ana.identity!.member);
    await ana.assignRole("m2", "facilitator", ben.identity!.member);
    await ana.assignRole("m3", "facilitator", ana.identity!.member);
    const am = await mandate(w, w.a, ana, { "*": ["yes"] });
    const tm = await mandate(w, w.b, tia, { "*": ["yes"] });
    await recall(w.b, tm);
    const tm2 = await mandate(w, w.b, tia, { "*": ["yes"] }, { body: w.id });
    // The federation: one decision passed, one alert answered in two hours.
    await decide(
      w,
      [
        { person: ana, council: w.a.id, mandate: am, position: "yes" },
        { person: tia, council: w.b.id, mandate: tm2, position: "yes" },
      ],
      { title: "Joint hardship fund" },
    );
    const fa = await w.fed(ana);
    const alert = await (await w.fed(tia)).raiseAlert({ what: "Eviction, block 4", needs: "People at 7am, lawyer" });
    const raisedAt = (await w.fed(tia)).records.find((r) => r.id === alert)!.at.ms;
    w.clock.jumpPast(raisedAt + 2 * HOUR - 1);
    const response = await fa.respondToAlert(alert, { offer: 'Ten people, "legal" observer' });
    const responseMs = fa.records.find((r) => r.id === response)!.at.ms - raisedAt;

    const state = await fa.state();
    const ledger = fa.autonomyLedger();
    expect(ledger).toEqual(autonomyLedger(state, fa.councilStates));
    const row = (id: string) => ledger.tables.assemblies.find((r) => r.assembly === id)!;
    expect(row(w.id)).toMatchObject({
      kind: "federation",
      name: FEDERATION,
      decisionsPassed: 1,
      decisionsFailed: 0,
      decisionsOpen: 0,
      mutualAid: null,
      alertsRaised: 1,
      responsesGiven: 1,
      pledgesMet: 1,
      medianResponseMs: responseMs,
    });
    expect(row(w.a.id)).toMatchObject({
      kind: "council",
      name: "Bakery co-op",
      available: true,
      decisionsPassed: 1, // the mandate
      decisionsFailed: 0,
      roleAssignments: 3,
      roleHandovers: 2,
      expensesPaid: 1_200,
      jarPayouts: 0,
      mutualAid: 1_200,
      minutesSwapped: 135,
      hoursSwapped: 2.25,
      mandatesIssued: 1,
      mandatesRecalled: 0,
      mandatesForFederation: 1,
      alertsRaised: 0,
      responsesGiven: 1,
      pledgesMet: 1,
      pledgesMissed: 0,
      medianResponseMs: responseMs,
    });
    expect(row(w.b.id)).toMatchObject({
      name: "Tenants' union",
      decisionsPassed: 3, // two mandates and the recall
      roleAssignments: 0,
      mutualAid: 0,
      minutesSwapped: 0,
      mandatesIssued: 2,
      mandatesRecalled: 1,
      mandatesForFederation: 2,
      alertsRaised: 1,
      responsesGiven: 0,
      pledgesMet: 0,
      medianResponseMs: null,
    });
    expect(ledger.tables.pledges).toEqual([
      { alert, raisedBy: w.b.id, raised: new Date(raisedAt).toISOString(), council: w.a.id, status: "met", responseMs },
    ]);
    expect(ledger.tables.federationDecisions.map((d) => [d.title, d.status, d.votesCounted])).toEqual([
      ["Joint hardship fund", "passed", 2],
    ]);
  });

  it("exports as canonical JSON, identical on every replica, and as CSV tables", async () => {
    const w = await world();
    const [ana] = w.a.people as [Council];
    const fa = await w.fed(ana);
    const alert = await fa.raiseAlert({ what: "Storm, roof gone", needs: "Tarps, 3 roofers" });
    await (await w.fed(w.b.people[0]!)).respondToAlert(alert, { offer: "Tarps" });
    await fa.state();
    const json = exportAutonomyJson(fa.autonomyLedger());
    expect(JSON.parse(json)).toEqual(JSON.parse(JSON.stringify(fa.autonomyLedger())));
    // Another peer holding the same records derives byte-identical text.
    const peer = await Federation.open(w.doc.fork(), { councils: [w.a.reader, w.b.reader] });
    await peer.state();
    expect(exportAutonomyJson(peer.autonomyLedger())).toBe(json);

    const csv = exportAutonomyCsv(fa.autonomyLedger(), "alerts");
    const lines = csv.split("\r\n");
    expect(lines[0]).toBe(AUTONOMY_COLUMNS.alerts.join(","));
    expect(lines).toHaveLength(3); // header, one alert, and the empty string after the last CRLF
    expect(lines[1]).toContain('"Storm, roof gone"');
    const assemblies = exportAutonomyCsv(fa.autonomyLedger(), "assemblies").split("\r\n");
    expect(assemblies).toHaveLength(1 + 3 + 1);
    expect(() => exportAutonomyCsv(fa.autonomyLedger(), "nope" as never)).toThrow(InvalidInputError);
  });
});

// docs:federation:start
export async function federationExample() {
  let clock = Date.parse("2026-03-01T09:00:00Z");
  const now = () => (clock += 60_000);
  const ana = await createIdentity();
  const tia = await createIdentity();

  // Two councils, each able to mandate a delegate to the federation by its name.
  const bakery = await Council.openPlain(await foundCouncil(ana, { name: "Bakery", now }), { identity: ana, now });
  const union = await Council.openPlain(await foundCouncil(tia, { name: "Tenants", now }), { identity: tia, now });
  const mandates = new Map<Council, MandateId>();
  for (const council of [bakery, union]) {
    const closesAt = clock + 60 * 60_000;
    const proposal = await council.proposeMandate({
      delegate: council.identity!.member,
      body: "Northern Federation",
      instructions: "Back joint action on rents",
      positions: { "*": ["yes", "abstain"] },
      startsAt: closesAt,
      expiresAt: closesAt + 30 * 24 * 60 * 60_000,
      recall: { ratio: { num: 1, den: 2 }, of: "cast", cmp: ">" },
      closesAt,
    });
    await council.vote(proposal, { method: "majority", choice: "yes" });
    clock = closesAt;
    await council.tick(); // the council's time passes the deadline: the mandate is issued
    mandates.set(council, proposal as string as MandateId);
  }

  // The federation is one document; each member reads it with the member councils' derived states.
  const founded = await foundFederation(ana, { name: "Northern Federation", councils: [bakery.id, union.id], now });
  const doc = new PlainDocument(founded.federation);
  const councils = [bakery, union];
  const anaFed = await Federation.open(doc, { identity: ana, councils, now });
  const tiaFed = await Federation.open(doc, { identity: tia, councils, now });

  // One vote per council, counted only through a live mandate that allows the position.
  const rentStrike = await anaFed.propose({ title: "Coordinate a rent strike", closesAt: clock + 60 * 60_000 });
  await anaFed.vote(rentStrike, { council: bakery.id, mandate: mandates.get(bakery)!, position: "yes" });
  await tiaFed.vote(rentStrike, { council: union.id, mandate: mandates.get(union)!, position: "no" }); // not allowed

  // The solidarity pledge: an alert, a response, the time it took by record clocks.
  const alert = await tiaFed.raiseAlert({ what: "Eviction on Elm St", needs: "People at 7am" });
  await anaFed.respondToAlert(alert, { offer: "Six bakers" });

  const state = await anaFed.state();
  const strike = state.proposals.find((p) => p.id === rentStrike)!;
  console.log("counted votes:", Object.keys(strike.votes).length); // 1
  const refused = state.conflicts.map((c) => c.reason);
  console.log("refused:", refused); // ["position-not-allowed"]
  console.log("first response after (ms):", state.alerts[0]?.firstResponseMs); // 60000
  console.log(exportAutonomyCsv(anaFed.autonomyLedger(), "pledges"));
  return { counted: Object.keys(strike.votes).length, conflicts: state.conflicts, alert: state.alerts[0] };
}
// docs:federation:end

describe("docs/federation.md", () => {
  it("shows the example this file runs, verbatim", () => {
    const doc = readFileSync(new URL("../../../docs/federation.md", import.meta.url), "utf8");
    const source = readFileSync(new URL(import.meta.url), "utf8");
    const example = source.split("// docs:federation:start\n")[1]!.split("// docs:federation:end")[0]!;
    const blocks = [...doc.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(blocks.some((b) => b.endsWith(example) && b.includes('from "@federa/core"'))).toBe(true);
  });

  it("runs: one vote counted, one refused with its reason, and the pledge met within a minute", async () => {
    const result = await federationExample();
    expect(result.counted).toBe(1);
    expect(result.conflicts.map((c) => [c.type, c.reason])).toEqual([["out-of-mandate", "position-not-allowed"]]);
    expect(result.alert?.firstResponseMs).toBe(60_000);
    expect(result.alert?.pledges.map((p) => p.status)).toEqual(["met"]);
  });
});

/** Worked examples of the domain rules: holds, budgets, mandates, membership, rotation, swaps, jars, splits, votes. */
import { describe, expect, it } from "vitest";
import type {
  CouncilDoc,
  CouncilState,
  DeviceId,
  Identity,
  LedgerDoc,
  MandateId,
  MemberId,
  ProposalId,
  RecordId,
  Threshold,
} from "../src/index.js";
import {
  addDevice,
  Council,
  compareStates,
  createIdentity,
  type defaultCharter,
  foundCouncil,
  NotAMemberError,
  PlainDocument,
} from "../src/index.js";
import { Clock, START } from "./support/clock.js";

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;
const MORE_THAN_HALF_OF_ELIGIBLE: Threshold = { ratio: { num: 1, den: 2 }, of: "eligible", cmp: ">" };

interface Replica {
  readonly council: PlainDocument<CouncilDoc>;
  readonly ledger: PlainDocument<LedgerDoc>;
}

interface World {
  readonly clock: Clock;
  readonly people: Identity[];
  readonly docs: Replica;
  /** One council per founder, all on the same replica. */
  readonly councils: Council[];
}

/** Founds a council of `n` members (the first on her device, the others on their member keys) on one replica. */
async function world(n: number, charter: Parameters<typeof defaultCharter>[0] = {}): Promise<World> {
  const clock = new Clock();
  const people = await Promise.all(Array.from({ length: n }, () => createIdentity()));
  const founded = await foundCouncil(people[0]!, {
    name: "Bakery co-op",
    founders: people.slice(1).map((p) => p.member),
    charter,
    now: clock.now,
  });
  const docs: Replica = { council: new PlainDocument(founded.council), ledger: new PlainDocument(founded.ledger) };
  const councils = await Promise.all(people.map((identity) => Council.open(docs, { identity, now: clock.now })));
  return { clock, people, docs, councils };
}

function fork(docs: Replica): Replica {
  return { council: docs.council.fork(), ledger: docs.ledger.fork() };
}

function merge(into: Replica, from: Replica): void {
  into.council.merge(from.council);
  into.ledger.merge(from.ledger);
}

/** Every council votes yes, then time passes the deadline and a tick lets the fold close the proposal. */
async function pass(w: World, proposal: ProposalId, closesAt: number, voters = w.councils): Promise<void> {
  for (const c of voters) await c.vote(proposal, { method: "majority", choice: "yes" });
  w.clock.jumpPast(closesAt);
  await w.councils[0]!.tick();
}

function fund(state: CouncilState, id: string) {
  const found = state.funds.find((f) => f.id === id);
  if (found === undefined) throw new Error(`no fund ${id}`);
  return found;
}

function proposal(state: CouncilState, id: ProposalId) {
  const found = state.proposals.find((p) => p.id === id);
  if (found === undefined) throw new Error(`no proposal ${id}`);
  return found;
}

function entryOf(state: CouncilState, record: RecordId) {
  return state.ledger.filter((e) => e.record === record);
}

function conflictsOf(state: CouncilState, record: RecordId) {
  return state.conflicts.filter((c) => c.record === record).map((c) => c.type);
}

function clockOf(council: Council, record: RecordId) {
  const found = council.records.find((r) => r.id === record);
  if (found === undefined) throw new Error("record not folded");
  return found.at;
}

describe("cash funds", () => {
  it("keeps an expense held for overdraft held when a later donation would cover it", async () => {
    const w = await world(2, { pettyCashLimit: 10_000 });
    const [a] = w.councils as [Council];
    await a.ledger.createFund("common", "cash");
    await a.ledger.donate("common", 500);
    const spend = await a.ledger.spend("common", 800, "oven repair", "petty");
    const held = await a.state();
    expect(fund(held, "common").balance).toBe(500);
    expect(entryOf(held, spend)).toMatchObject([{ status: "held", amount: 800 }]);
    expect(conflictsOf(held, spend)).toEqual(["overdraft-held"]);

    await a.ledger.donate("common", 1_000);
    const later = await a.state();
    // Judged in (at, id) order at its own position: money that arrives later does not release it.
    expect(fund(later, "common").balance).toBe(1_500);
    expect(entryOf(later, spend)).toMatchObject([{ status: "held", reason: "would overdraw common (balance 500)" }]);
    expect(conflictsOf(later, spend)).toEqual(["overdraft-held"]);
  });

  it("draws a budget down spend by spend and holds the spend that goes over it", async () => {
    const w = await world(2);
    const [a, b] = w.councils as [Council, Council];
    await a.ledger.createFund("common", "cash");
    await a.ledger.donate("common", 2_000);
    const closesAt = w.clock.t + HOUR;
    const budget = await a.propose({
      title: "Flour budget",
      closesAt,
      effect: { type: "budget", fund: "common", amount: 300 },
    });
    await pass(w, budget, closesAt);
    expect((await a.state()).budgets).toEqual([{ proposal: budget, fund: "common", remaining: 300 }]);

    const first = await b.ledger.spend("common", 100, "mill", { budget });
    const second = await a.ledger.spend("common", 150, "mill", { budget });
    const over = await b.ledger.spend("common", 100, "mill", { budget });
    const state = await a.state();
    expect(entryOf(state, first)[0]?.status).toBe("applied");
    expect(entryOf(state, second)[0]?.status).toBe("applied");
    expect(entryOf(state, over)).toMatchObject([{ status: "held", reason: "over budget (50 left)" }]);
    expect(conflictsOf(state, over)).toEqual(["unapproved-held"]);
    expect(state.budgets).toEqual([{ proposal: budget, fund: "common", remaining: 50 }]);
    expect(fund(state, "common").balance).toBe(1_750);
  });
});

describe("mandates", () => {
  async function mandated(w: World, expiresAt: number) {
    const [a] = w.councils as [Council];
    const bob = w.people[1]!;
    await a.ledger.createFund("common", "cash");
    await a.ledger.donate("common", 5_000);
    const closesAt = w.clock.t + HOUR;
    const mandate = (await a.proposeMandate({
      delegate: bob.member,
      body: "federation",
      instructions: "Vote for the shared bakery.",
      positions: { "shared-bakery": ["yes"] },
      allowance: { fund: "common", amount: 1_000 },
      startsAt: w.clock.t,
      expiresAt,
      recall: MORE_THAN_HALF_OF_ELIGIBLE,
      closesAt,
    })) as string as MandateId;
    await pass(w, mandate as string as ProposalId, closesAt);
    const state = await a.state();
    expect(state.mandates.map((m) => m.id)).toEqual([mandate]);
    return mandate;
  }

  it("holds a delegate's spend after the mandate expires, as out of mandate", async () => {
    const w = await world(3);
    const b = w.councils[1]!;
    const expiresAt = START + 10 * DAY;
    const mandate = await mandated(w, expiresAt);
    const within = await b.ledger.spend("common", 100, "train tickets", { mandate });
    w.clock.jumpPast(expiresAt);
    const after = await b.ledger.spend("common", 100, "train tickets", { mandate });
    const state = await b.state();
    expect(entryOf(state, within)[0]?.status).toBe("applied");
    expect(entryOf(state, after)).toMatchObject([{ status: "held", reason: "out of mandate: expired" }]);
    expect(conflictsOf(state, after)).toEqual(["out-of-mandate", "unapproved-held"]);
    expect(state.mandates[0]?.spent).toBe(100);
    expect(fund(state, "common").balance).toBe(4_900);
  });

  it("ends a mandate at the vote that reaches the recall threshold, before the recall's deadline", async () => {
    const w = await world(3);
    const [a, b, c] = w.councils as [Council, Council, Council];
    const mandate = await mandated(w, START + 30 * DAY);
    const deadline = w.clock.t + DAY;
    const recall = await a.proposeRecall(mandate, "Recall bob", deadline);
    await a.vote(recall, { method: "majority", choice: "yes" }); // 1 of 3 eligible: not yet
    const before = await b.ledger.spend("common", 100, "hotel", { mandate });
    const decisive = await c.vote(recall, { method: "majority", choice: "yes" }); // 2 of 3: recalled here
    const between = await b.ledger.spend("common", 100, "hotel", { mandate });
    expect(w.clock.t).toBeLessThan(deadline);

    const state = await a.state();
    expect(entryOf(state, before)[0]?.status).toBe("applied");
    expect(entryOf(state, between)).toMatchObject([{ status: "held", reason: "out of mandate: recalled" }]);
    expect(conflictsOf(state, between)).toEqual(["out-of-mandate", "unapproved-held"]);
    expect(state.mandates[0]?.recalledAt).toEqual(clockOf(a, decisive));
    expect(proposal(state, recall)).toMatchObject({ status: "passed", effectOutcome: { applied: true } });

    // The deadline passing later changes nothing: the mandate was already recalled.
    w.clock.jumpPast(deadline);
    await a.tick();
    const closed = await a.state();
    expect(closed.mandates[0]?.recalledAt).toEqual(clockOf(a, decisive));
    expect(proposal(closed, recall).status).toBe("passed");
    expect(closed.conflicts.filter((x) => x.type === "effect-failed")).toEqual([]);
  });
});

describe("membership", () => {
  it("admits an applicant by vote, who may then act; a removed member's later records are not-a-member", async () => {
    const w = await world(3);
    const [a, b, c] = w.councils as [Council, Council, Council];
    const dave = await createIdentity();
    const daves = fork(w.docs);
    const applicant = await Council.open(daves, { identity: dave, now: w.clock.now });
    const application = await applicant.apply("I bake on weekends");
    merge(w.docs, daves);
    const opened = proposal(await a.state(), application);
    expect(opened).toMatchObject({ status: "open", effect: { type: "admit", member: dave.member } });
    await pass(w, application, opened.closesAt, [a, b]);

    const admitted = await a.state();
    expect(admitted.members.find((m) => m.id === dave.member)).toMatchObject({
      admittedBy: application,
      devices: [dave.device.id],
    });
    const daveHere = await Council.open(w.docs, { identity: dave, now: w.clock.now });
    await a.ledger.createFund("common", "cash");
    const gift = await daveHere.ledger.donate("common", 40);
    const withDave = await a.state();
    expect(entryOf(withDave, gift)).toMatchObject([{ status: "applied", by: dave.member }]);
    expect(withDave.excluded).toEqual([]);

    const carol = w.people[2]!.member;
    const closesAt = w.clock.t + HOUR;
    const removal = await a.propose({ title: "Remove carol", closesAt, effect: { type: "remove", member: carol } });
    // Carol's offline replica never sees the votes, so there she is still a member and may write.
    const carols = fork(w.docs);
    const offline = await Council.open(carols, { identity: w.people[2]!, now: w.clock.now });
    await pass(w, removal, closesAt, [a, b, daveHere]);
    await expect(c.ledger.donate("common", 10)).rejects.toBeInstanceOf(NotAMemberError);
    const late = await offline.ledger.donate("common", 10);
    merge(w.docs, carols);
    const state = await a.state();
    expect(state.members.map((m) => m.id)).not.toContain(carol);
    expect(state.formerMembers).toMatchObject([{ id: carol, how: removal }]);
    expect(state.excluded).toMatchObject([{ id: late, reason: "not-a-member" }]);
    expect(fund(state, "common").balance).toBe(40);
  });

  it("accepts a device's records once authorised, and rejects those it signs after its revocation", async () => {
    const w = await world(2);
    const [a] = w.councils as [Council];
    const alice = w.people[0]!;
    await a.ledger.createFund("common", "cash");
    const phone = await addDevice(alice);
    await a.authorizeDevice(phone.device.id as DeviceId, "phone");
    const phones = fork(w.docs);
    const onPhone = await Council.open(phones, { identity: phone, now: w.clock.now });
    const first = await onPhone.ledger.donate("common", 50);
    merge(w.docs, phones);
    const authorised = await a.state();
    expect(entryOf(authorised, first)).toMatchObject([{ status: "applied", by: alice.member }]);
    expect(authorised.members.find((m) => m.id === alice.member)?.devices).toContain(phone.device.id);

    // Revoked on the laptop; the phone, offline, signs once more afterwards.
    await a.revokeDevice(phone.device.id as DeviceId);
    const second = await onPhone.ledger.donate("common", 70);
    merge(w.docs, phones);
    const state = await a.state();
    expect(state.excluded).toMatchObject([{ id: second, reason: "device-not-authorised", signer: phone.device.id }]);
    expect(fund(state, "common").balance).toBe(50);
    expect(state.members.find((m) => m.id === alice.member)?.devices).not.toContain(phone.device.id);
  });
});

describe("rotation", () => {
  async function assign(w: World, holders: readonly number[], role = "facilitator") {
    const a = w.councils[0]!;
    const ids: RecordId[] = [];
    for (const [i, h] of holders.entries()) ids.push(await a.assignRole(`meeting-${i + 1}`, role, w.people[h]!.member));
    const state = await a.state();
    return { ids, state, role: state.roles.find((r) => r.role === role)! };
  }

  it("flags a member holding a role again before everyone has held it", async () => {
    const w = await world(3);
    const { ids, state, role } = await assign(w, [0, 1, 0]);
    expect(role.holders.map((h) => h.violation)).toEqual([false, false, true]);
    expect(state.conflicts.map((c) => [c.type, c.record])).toEqual([["rotation-violation", ids[2]]]);
  });

  it("starts a new cycle once every member has held the role", async () => {
    const w = await world(3);
    const { state, role } = await assign(w, [0, 1, 2, 0]);
    expect(role.holders.map((h) => h.violation)).toEqual([false, false, false, false]);
    expect(state.conflicts).toEqual([]);
    const others = [w.people[1]!.member, w.people[2]!.member].sort();
    expect(role.nextEligible).toEqual(others);
  });

  it("keeps the first of two concurrent assignments for one meeting, in (at, id) order", async () => {
    const w = await world(3);
    const sameMs = () => START + DAY;
    const left = fork(w.docs);
    const right = fork(w.docs);
    const alice = await Council.open(left, { identity: w.people[0]!, now: sameMs });
    const bob = await Council.open(right, { identity: w.people[1]!, now: sameMs });
    const x = await alice.assignRole("assembly", "facilitator", w.people[0]!.member);
    const y = await bob.assignRole("assembly", "facilitator", w.people[1]!.member);
    expect(clockOf(alice, x)).toEqual(clockOf(bob, y)); // a tie on the clock: the id decides
    const [first, second] = x < y ? [x, y] : [y, x];
    const firstHolder = first === x ? w.people[0]!.member : w.people[1]!.member;
    merge(left, right);
    merge(right, left);
    const one = await alice.state();
    const other = await bob.state();
    expect(one).toEqual(other);
    const role = one.roles.find((r) => r.role === "facilitator")!;
    expect(role.holders).toMatchObject([{ meeting: "assembly", holder: firstHolder }]);
    expect(one.conflicts.map((c) => [c.type, c.record])).toEqual([["rotation-conflict", second]]);
  });

  it("raises a stall alert when one member holds a role rotationStallAfter meetings in a row", async () => {
    const w = await world(3, { rotationStallAfter: 3 });
    const twice = await assign(w, [0, 0]);
    expect(twice.state.alerts).toEqual([]);
    expect(twice.role.stalled).toBe(false);
    const a = w.councils[0]!;
    await a.assignRole("meeting-3", "facilitator", w.people[0]!.member);
    const state = await a.state();
    expect(state.alerts).toMatchObject([
      { type: "rotation-stalled", detail: expect.stringMatching(/3 meetings in a row/) },
    ]);
    expect(state.roles.find((r) => r.role === "facilitator")?.stalled).toBe(true);
    await a.assignRole("meeting-4", "facilitator", w.people[1]!.member);
    expect((await a.state()).roles.find((r) => r.role === "facilitator")?.stalled).toBe(false);
  });
});

describe("time swaps", () => {
  it("holds a swap that would take the receiver past the debt limit, and keeps the sum at zero", async () => {
    const w = await world(2, { timeDebtLimitMinutes: 60 });
    const [a] = w.councils as [Council];
    const bob = w.people[1]!.member;
    const alice = w.people[0]!.member;
    await a.ledger.createFund("hours", "time");
    await a.ledger.swap("hours", bob, 45);
    const over = await a.ledger.swap("hours", bob, 30);
    const exact = await a.ledger.swap("hours", bob, 15); // down to exactly -60: allowed
    const state = await a.state();
    expect(entryOf(state, over)).toMatchObject([{ status: "held" }]);
    expect(conflictsOf(state, over)).toEqual(["debt-limit-held"]);
    expect(entryOf(state, exact)[0]?.status).toBe("applied");
    expect(fund(state, "hours").accounts).toEqual({ [alice]: -60, [bob]: 60 });
  });
});

describe("commons jar", () => {
  it("funds requests in dot order, the last partially or with a remainder, ending each round at 0", async () => {
    const w = await world(3);
    const [a, b, c] = w.councils as [Council, Council, Council];
    await a.ledger.createFund("common", "cash");
    await a.ledger.createFund("jar", "jar");
    await a.ledger.contribute("jar", 600);
    await b.ledger.contribute("jar", 400);

    async function round(title: string) {
      const closesAt = w.clock.t + HOUR;
      const roundClosesAt = closesAt + DAY;
      const p = await a.propose({
        title,
        closesAt,
        effect: { type: "jar-round", jar: "jar", closesAt: roundClosesAt, remainderTo: "common" },
      });
      for (const v of [a, b, c]) await v.vote(p, { method: "majority", choice: "yes" });
      w.clock.jumpPast(closesAt);
      return { p, roundClosesAt };
    }
    async function close(roundClosesAt: number) {
      w.clock.jumpPast(roundClosesAt);
      await a.tick();
      return a.state();
    }

    const first = await round("Spring jar");
    const roof = await a.ledger.request("jar", 600, "roof");
    const oven = await b.ledger.request("jar", 300, "oven");
    const flour = await c.ledger.request("jar", 500, "flour");
    await a.ledger.dots("jar", { [roof]: 5, [flour]: 1 });
    await b.ledger.dots("jar", { [oven]: 4, [roof]: 1 });
    await c.ledger.dots("jar", { [flour]: 2, [oven]: 1 });
    const spring = await close(first.roundClosesAt); // dots: roof 6, oven 5, flour 3
    const payouts = spring.ledger.filter((e) => e.type === "jar-payout");
    expect(payouts.map((e) => [e.record, e.amount])).toEqual([
      [roof, 600],
      [oven, 300],
      [flour, 100],
    ]);
    expect(spring.ledger.filter((e) => e.type === "jar-remainder")).toEqual([]);
    expect(fund(spring, "jar")).toMatchObject({ balance: 0, round: null, roundsClosed: 1 });
    expect(fund(spring, "common").balance).toBe(0);

    await c.ledger.contribute("jar", 500);
    const second = await round("Summer jar");
    const bench = await b.ledger.request("jar", 200, "bench");
    await c.ledger.request("jar", 900, "van"); // no dots: not funded
    await a.ledger.dots("jar", { [bench]: 3 });
    const summer = await close(second.roundClosesAt);
    const paid = summer.ledger.filter((e) => e.type === "jar-payout" && e.at.ms === second.roundClosesAt);
    expect(paid.map((e) => [e.record, e.amount])).toEqual([[bench, 200]]);
    expect(summer.ledger.filter((e) => e.type === "jar-remainder")).toMatchObject([
      { amount: 300, counterparty: "common", record: second.p },
    ]);
    expect(fund(summer, "jar")).toMatchObject({ balance: 0, roundsClosed: 2 });
    expect(fund(summer, "common").balance).toBe(300);
  });
});

describe("daughter funds", () => {
  it("fails a split of a fund not above the threshold, and moves balances with paired entries above it", async () => {
    const w = await world(3, { splitThreshold: 1_000 });
    const [a] = w.councils as [Council];
    const [alice, bob, carol] = w.people.map((p) => p.member) as [MemberId, MemberId, MemberId];
    await a.ledger.createFund("big", "cash");
    await a.ledger.donate("big", 800);
    const split = (title: string, closesAt: number, daughters: { fund: string; amount: number; circle: string[] }[]) =>
      a.propose({ title, closesAt, effect: { type: "split", fund: "big", daughters } });

    let closesAt = w.clock.t + HOUR;
    const small = await split("Split early", closesAt, [{ fund: "north", amount: 300, circle: [alice] }]);
    await pass(w, small, closesAt);
    const failed = await a.state();
    expect(proposal(failed, small)).toMatchObject({ status: "passed", effectOutcome: { applied: false } });
    expect(failed.conflicts).toMatchObject([{ type: "effect-failed", record: small }]);
    expect(failed.funds.map((f) => f.id)).toEqual(["big"]);
    expect(fund(failed, "big").balance).toBe(800);

    await a.ledger.donate("big", 4_200);
    closesAt = w.clock.t + HOUR;
    const real = await split("Split for the circles", closesAt, [
      { fund: "north", amount: 2_000, circle: [bob, alice] },
      { fund: "south", amount: 1_000, circle: [carol] },
    ]);
    await pass(w, real, closesAt);
    const state = await a.state();
    expect(fund(state, "big").balance).toBe(2_000);
    expect(fund(state, "north")).toMatchObject({ balance: 2_000, parent: "big", circle: [alice, bob].sort() });
    expect(fund(state, "south")).toMatchObject({ balance: 1_000, parent: "big", circle: [carol] });
    const moves = state.ledger.filter((e) => e.record === real);
    expect(moves.map((e) => [e.type, e.fund, e.counterparty, e.amount])).toEqual([
      ["split-out", "big", "north", 2_000],
      ["split-in", "north", "big", 2_000],
      ["split-out", "big", "south", 1_000],
      ["split-in", "south", "big", 1_000],
    ]);
  });
});

describe("decisions", () => {
  it("closes a ranked-choice proposal with the instant-runoff winner", async () => {
    const w = await world(5);
    const closesAt = w.clock.t + HOUR;
    const a = w.councils[0]!;
    const p = await a.propose({
      title: "Which grain?",
      method: "ranked",
      options: ["rye", "spelt", "wheat"],
      closesAt,
    });
    const rankings = [
      ["rye", "wheat", "spelt"],
      ["rye", "wheat", "spelt"],
      ["spelt", "wheat", "rye"],
      ["spelt", "wheat", "rye"],
      ["wheat", "spelt", "rye"],
    ];
    for (const [i, ranking] of rankings.entries()) await w.councils[i]!.vote(p, { method: "ranked", ranking });
    w.clock.jumpPast(closesAt);
    await a.tick();
    const result = proposal(await a.state(), p);
    // First preferences tie rye and spelt 2-2; wheat goes out and its ballot moves to spelt: 3 of 5.
    expect(result.status).toBe("passed");
    expect(result.result).toMatchObject({ passed: true, winner: "spelt", counts: { rye: 2, spelt: 3 } });
    expect(result.result?.rounds?.map((r) => r.eliminated)).toEqual([["wheat"], []]);
  });

  it("re-derives an outcome when a partition's votes cast before the deadline are merged, and says so", async () => {
    const w = await world(3);
    const [a, b] = w.councils as [Council, Council];
    const closesAt = w.clock.t + HOUR;
    const p = await a.propose({ title: "Open on Sundays", closesAt });
    await a.vote(p, { method: "majority", choice: "yes" });
    await b.vote(p, { method: "majority", choice: "yes" });

    const left = fork(w.docs);
    const right = fork(w.docs);
    const alice = await Council.open(left, { identity: w.people[0]!, now: w.clock.now });
    const bob = await Council.open(right, { identity: w.people[1]!, now: w.clock.now });
    const carol = await Council.open(right, { identity: w.people[2]!, now: w.clock.now });
    // The right side changes its mind before the deadline; the left side never hears of it and closes the vote.
    await bob.vote(p, { method: "majority", choice: "no" });
    await carol.vote(p, { method: "majority", choice: "no" });
    w.clock.jumpPast(closesAt);
    await alice.tick();
    const before = await alice.state();
    expect(proposal(before, p)).toMatchObject({ status: "passed", effectOutcome: { applied: true } });

    merge(left, right);
    merge(right, left);
    const after = await alice.state();
    expect(await bob.state()).toEqual(after);
    const flipped = proposal(after, p);
    expect(flipped.status).toBe("failed");
    expect(flipped.result?.counts).toMatchObject({ yes: 1, no: 2 });
    expect(flipped.history.map((h) => [h.event, h.passed])).toEqual([
      ["vote", false],
      ["vote", true],
      ["vote", false],
      ["close", false],
    ]);
    expect(compareStates(before, after)).toContainEqual(expect.objectContaining({ type: "outcome-changed", ref: p }));
  });
});

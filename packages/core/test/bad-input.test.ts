/** Bad input from peers: forged, altered, replayed or malformed records are excluded with a reason, never thrown. */
import * as A from "@automerge/automerge";
import { describe, expect, it } from "vitest";
import { allEntries, bucketOf, storageKeyOf } from "../src/documents/layout.js";
import type {
  CouncilDoc,
  CouncilId,
  CouncilState,
  DeviceId,
  ExclusionReason,
  FederaRecord,
  Hlc,
  Identity,
  LedgerDoc,
  ProposalId,
  RecordId,
  SignerId,
} from "../src/index.js";
import {
  Council,
  createIdentity,
  foundCouncil,
  generateKeypair,
  InvalidInputError,
  PlainDocument,
} from "../src/index.js";
import {
  type Forged,
  float64,
  forge,
  forgePatched,
  frame,
  putForged,
  putRaw,
  rekey,
  replaceBytes,
  signRaw,
  storedBytes,
  type Writable,
} from "./support/forge.js";

const START = 1_700_000_000_000;
const DAY = 24 * 60 * 60 * 1000;

/** A deterministic wall clock shared by every member of a test: each reading is one second later. */
class Clock {
  t = START;
  readonly now = (): number => {
    this.t += 1000;
    return this.t;
  };
  at(): Hlc {
    return { ms: this.now(), c: 0 };
  }
}

interface Replica {
  readonly council: PlainDocument<CouncilDoc>;
  readonly ledger: PlainDocument<LedgerDoc>;
}

interface Fixture {
  readonly clock: Clock;
  readonly alice: Identity;
  readonly bob: Identity;
  readonly carol: Identity;
  readonly id: CouncilId;
  readonly docs: Replica;
  /** Councils of each member on the same replica. */
  readonly a: Council;
  readonly b: Council;
  readonly c: Council;
  readonly donation: RecordId;
  readonly proposal: ProposalId;
  /** The state derived from the honest activity alone. */
  readonly honest: CouncilState;
}

/** Three founders (alice on her device, bob on an authorised device, carol on her member key) and some activity. */
async function setup(): Promise<Fixture> {
  const clock = new Clock();
  const [alice, bob, carol] = await Promise.all([createIdentity(), createIdentity(), createIdentity()]);
  const founded = await foundCouncil(alice, {
    name: "Bakery co-op",
    founders: [bob.member, carol.member],
    charter: { pettyCashLimit: 500 },
    now: clock.now,
  });
  const docs: Replica = { council: new PlainDocument(founded.council), ledger: new PlainDocument(founded.ledger) };
  const a = await Council.open(docs, { identity: alice, now: clock.now });
  const b = await Council.open(docs, { identity: bob, now: clock.now });
  const c = await Council.open(docs, { identity: carol, now: clock.now });
  await b.authorizeDevice(bob.device.id as DeviceId, "phone");
  await a.ledger.createFund("common", "cash");
  const donation = await a.ledger.donate("common", 5_000, "bake sale");
  await b.ledger.donate("common", 300);
  await a.ledger.spend("common", 200, "printer", "petty");
  const proposal = await a.propose({
    title: "Buy flour",
    closesAt: clock.t + DAY,
    effect: { type: "expense", fund: "common", amount: 1_000, payee: "mill" },
  });
  await b.vote(proposal, { method: "majority", choice: "yes" });
  const honest = await a.state();
  expect(honest.excluded).toEqual([]);
  expect(honest.funds.find((f) => f.id === "common")?.balance).toBe(5_100);
  return { clock, alice, bob, carol, id: founded.id, docs, a, b, c, donation, proposal, honest };
}

/** Writes on a peer's fork of one document and merges the fork into the fixture's replica, as sync would. */
function fromPeer(fx: Fixture, which: "council" | "ledger", write: (doc: Writable) => void): void {
  if (which === "council") {
    const peer = fx.docs.council.fork();
    write(peer);
    fx.docs.council.merge(peer);
  } else {
    const peer = fx.docs.ledger.fork();
    write(peer);
    fx.docs.ledger.merge(peer);
  }
}

function inject(fx: Fixture, which: "council" | "ledger", records: readonly Forged[]): void {
  fromPeer(fx, which, (doc) => putForged(doc, records));
}

/** Derives the replica both incrementally (the open council) and from scratch (a fresh load): both must agree. */
async function observe(fx: Fixture): Promise<CouncilState> {
  const live = await fx.a.state();
  const fresh = await Council.open({
    council: PlainDocument.load<CouncilDoc>(fx.docs.council.save()),
    ledger: PlainDocument.load<LedgerDoc>(fx.docs.ledger.save()),
  });
  expect(await fresh.state()).toEqual(live);
  return live;
}

/** The state without the integrity report: what an excluded record must leave exactly as it was. */
function rest(state: CouncilState) {
  const { excluded: _, ...others } = state;
  return others;
}

/**
 * The state without the report, the folded-record count and the horizon. A record the fold rejects (its author or
 * device may not act) was folded in (`at`, `id`) order: it counts in `records` and, like a tick, is the latest clock
 * the fold reached (deadlines due before it fire, so it moves `horizon`), but it changes nothing else.
 */
function restOfFold(state: CouncilState) {
  const { excluded: _, records: __, horizon: ___, ...others } = state;
  return others;
}

function expectExcluded(
  state: CouncilState,
  expected: readonly { id: string; reason: ExclusionReason; detail: RegExp }[],
): void {
  expect(state.excluded.map((e) => e.id).sort()).toEqual(expected.map((e) => e.id).sort());
  for (const { id, reason, detail } of expected) {
    const found = state.excluded.find((e) => e.id === id);
    expect(found, `exclusion of ${id.slice(0, 8)}`).toMatchObject({ reason });
    expect(found!.detail).toMatch(detail);
  }
}

/** The highest-seq valid record of a signer. */
function tipOf(council: Council, signer: SignerId): FederaRecord {
  const mine = council.records.filter((r) => r.signer === signer);
  const tip = mine.reduce<FederaRecord | undefined>(
    (best, r) => (best === undefined || r.seq > best.seq ? r : best),
    undefined,
  );
  if (tip === undefined) throw new Error("the signer has no record");
  return tip;
}

function balance(state: CouncilState, fund = "common"): number | undefined {
  return state.funds.find((f) => f.id === fund)?.balance;
}

function donate(amount: unknown) {
  return { kind: "ledger.donate", body: { fund: "common", amount } };
}

/** The next link of a member's device chain, as that device itself would write it. */
function nextOf(fx: Fixture, who: Identity, at: Hlc = fx.clock.at()) {
  const tip = tipOf(fx.a, who.device.id);
  return { council: fx.id, author: who.member, seq: tip.seq + 1, prev: tip.id, at };
}

/** Successive chain seats of one signer: `next()` the seat for a new record, `took(f)` after forging it there. */
function chained(fx: Fixture, who: Identity) {
  let seat = nextOf(fx, who);
  return {
    next: () => seat,
    took: (forged: Forged) => {
      seat = { ...seat, seq: seat.seq + 1, prev: forged.id as typeof seat.prev, at: fx.clock.at() };
      return forged;
    },
  };
}

/** A clock a century after the honest activity. */
const FAR_FUTURE: Hlc = { ms: START + 100 * 365 * DAY, c: 0 };

describe("forged and altered records", () => {
  it("excludes a record signed by another key, without hijacking the signer's chain or clock", async () => {
    const fx = await setup();
    const mallory = await generateKeypair();
    const forged = await forge(
      fx.alice.device,
      { ...donate(1_000_000), ...nextOf(fx, fx.alice, FAR_FUTURE) },
      { by: mallory },
    );
    inject(fx, "ledger", [forged]);
    const after = await observe(fx);
    expectExcluded(after, [{ id: forged.id, reason: "bad-signature", detail: /signature does not verify/ }]);
    expect(rest(after)).toEqual(rest(fx.honest));

    // Alice's chain goes on past the forgery, and her next clocks ignore its far-future stamp.
    const own = await fx.a.ledger.donate("common", 100);
    await fx.c.vote(fx.proposal, { method: "majority", choice: "yes" });
    const later = await observe(fx);
    expectExcluded(later, [{ id: forged.id, reason: "bad-signature", detail: /signature/ }]);
    expect(balance(later)).toBe(5_200);
    expect(later.ledger.some((e) => e.record === own && e.status === "applied")).toBe(true);
    expect(later.horizon.ms).toBeLessThan(FAR_FUTURE.ms);
    const flour = later.proposals.find((p) => p.id === fx.proposal)!;
    expect(flour.status).toBe("open");
    expect(Object.keys(flour.votes).sort()).toEqual([fx.bob.member, fx.carol.member].sort());
    expect(later.conflicts).toEqual([]);
  });

  it("excludes a body altered after signing, re-keyed under its new hash, as bad-signature", async () => {
    const fx = await setup();
    const original = storedBytes(fx.docs.ledger.doc(), fx.donation);
    // 5000 is CBOR 19 13 88; 50000 is 19 c3 50: same length, so only the amount changes.
    const altered = replaceBytes(original, Uint8Array.of(0x19, 0x13, 0x88), Uint8Array.of(0x19, 0xc3, 0x50));
    const rekeyed = rekey(altered); // the original signature, under the altered payload's hash
    fromPeer(fx, "ledger", (doc) => putForged(doc, [rekeyed]));
    const after = await observe(fx);
    expectExcluded(after, [{ id: rekeyed.id, reason: "bad-signature", detail: /signature does not verify/ }]);
    // Same signer and seq as the genuine donation, but not authentic: neither equivocation nor a broken chain.
    expect(rest(after)).toEqual(rest(fx.honest));
    expect(balance(after)).toBe(5_100);
  });

  it("excludes an altered body under the original id as bad-id; the genuine copy still counts", async () => {
    const fx = await setup();
    // Bob donates on his own replica; a relay alters the record before the fixture's replica sees the genuine one.
    const bobs: Replica = { council: fx.docs.council.fork(), ledger: fx.docs.ledger.fork() };
    const bobOwn = await Council.open(bobs, { identity: fx.bob, now: fx.clock.now });
    const genuine = await bobOwn.ledger.donate("common", 5_000);
    const bytes = storedBytes(bobs.ledger.doc(), genuine);
    const altered = replaceBytes(bytes, Uint8Array.of(0x19, 0x13, 0x88), Uint8Array.of(0x19, 0xc3, 0x50));
    fromPeer(fx, "council", (doc) => putRaw(doc, storageKeyOf(genuine), altered));
    const after = await observe(fx);
    expectExcluded(after, [{ id: storageKeyOf(genuine), reason: "bad-id", detail: /not the hash of its content/ }]);
    expect(rest(after)).toEqual(rest(fx.honest));

    // The altered copy must not shadow the genuine record once sync brings it.
    fx.docs.ledger.merge(bobs.ledger);
    const healed = await observe(fx);
    expect(healed.excluded).toEqual([]);
    expect(balance(healed)).toBe(10_100);
  });
});

describe("replayed and duplicated records", () => {
  it("counts a record once however often its bytes are written, in either document and any bucket", async () => {
    const fx = await setup();
    const bytes = storedBytes(fx.docs.ledger.doc(), fx.donation);
    fromPeer(fx, "council", (doc) => putRaw(doc, fx.donation, bytes));
    const otherBucket = bucketOf(fx.donation) === "ff" ? "00" : "ff";
    fromPeer(fx, "ledger", (doc) => putRaw(doc, fx.donation, bytes, otherBucket));
    fromPeer(fx, "ledger", (doc) => putRaw(doc, fx.donation, bytes, "replayed"));
    fromPeer(fx, "ledger", (doc) => putRaw(doc, fx.donation, bytes)); // the same slot again, by another actor
    const after = await observe(fx);
    expect(after).toEqual(fx.honest);
    expect(after.ledger.filter((e) => e.record === fx.donation)).toHaveLength(1);
  });

  it("excludes the same bytes under another key as bad-id", async () => {
    const fx = await setup();
    const bytes = storedBytes(fx.docs.ledger.doc(), fx.donation);
    const key = `${"0".repeat(63)}1`;
    fromPeer(fx, "ledger", (doc) => putRaw(doc, key, bytes));
    const after = await observe(fx);
    expectExcluded(after, [{ id: key, reason: "bad-id", detail: /not the hash/ }]);
    expect(rest(after)).toEqual(rest(fx.honest));
  });

  it("excludes a record replayed into another council as wrong-council", async () => {
    const fx = await setup();
    const bytes = storedBytes(fx.docs.ledger.doc(), fx.donation);
    const other = await foundCouncil(fx.alice, { name: "Other", now: fx.clock.now });
    const docs: Replica = { council: new PlainDocument(other.council), ledger: new PlainDocument(other.ledger) };
    const council = await Council.open(docs, { identity: fx.alice, now: fx.clock.now });
    await council.ledger.createFund("common", "cash");
    const before = await council.state();
    putRaw(docs.ledger, fx.donation, bytes);
    const after = await council.state();
    expectExcluded(after, [{ id: fx.donation, reason: "wrong-council", detail: /another council/ }]);
    expect(rest(after)).toEqual(rest(before));
  });
});

describe("who may write", () => {
  it("rejects a properly signed record by an outsider as not-a-member", async () => {
    const fx = await setup();
    const mallory = await createIdentity();
    const own = { council: fx.id, seq: 0, prev: null };
    const gift = await forge(mallory.memberKey!, { ...donate(999), ...own, at: fx.clock.at() });
    const motion = await forge(mallory.memberKey!, {
      kind: "proposal.open",
      body: { title: "Dissolve the co-op" },
      council: fx.id,
      seq: 1,
      prev: gift.id,
      at: fx.clock.at(),
    });
    inject(fx, "ledger", [gift]);
    inject(fx, "council", [motion]);
    const after = await observe(fx);
    expectExcluded(after, [
      { id: gift.id, reason: "not-a-member", detail: /not a member/ },
      { id: motion.id, reason: "not-a-member", detail: /not a member/ },
    ]);
    expect(after.excluded.find((e) => e.id === gift.id)).toMatchObject({ signer: mallory.member, seq: 0 });
    // The fold saw both records but they changed nothing beyond the clock it reached.
    expect(after.records).toBe(fx.honest.records + 2);
    // Outsiders do not move the council's time: no deadline fires for them.
    expect(after.horizon).toEqual(fx.honest.horizon);
    expect(restOfFold(after)).toEqual(restOfFold(fx.honest));
  });

  it("does not let an outsider's far-future application close open proposals", async () => {
    const fx = await setup();
    const mallory = await createIdentity();
    const apply = await forge(mallory.memberKey!, {
      kind: "member.apply",
      body: { note: "let me in", devices: [] },
      council: fx.id,
      seq: 0,
      prev: null,
      at: FAR_FUTURE,
    });
    inject(fx, "council", [apply]);
    const after = await observe(fx);
    expect(after.proposals.find((p) => p.id === fx.proposal)?.status).toBe("open");
    expect(after.horizon).toEqual(fx.honest.horizon);
    // The application itself stands: it opened an admission proposal the members can vote on.
    expect(after.proposals.some((p) => p.effect.type === "admit" && p.effect.member === mallory.member)).toBe(true);
  });

  it("rejects a record signed by a device nobody authorised as device-not-authorised", async () => {
    const fx = await setup();
    const stranger = await generateKeypair();
    const at = fx.clock.at();
    const forged = await forge(stranger, {
      ...donate(50),
      council: fx.id,
      author: fx.alice.member,
      seq: 0,
      prev: null,
      at,
    });
    inject(fx, "ledger", [forged]);
    const after = await observe(fx);
    expectExcluded(after, [{ id: forged.id, reason: "device-not-authorised", detail: /not authorised/ }]);
    expect(after.records).toBe(fx.honest.records + 1);
    expect(after.horizon).toEqual(at);
    expect(restOfFold(after)).toEqual(restOfFold(fx.honest));
  });

  it("rejects a device of one member signing as another member as device-not-authorised", async () => {
    const fx = await setup();
    const forged = await forge(fx.bob.device, {
      ...donate(50),
      ...nextOf(fx, fx.bob),
      author: fx.alice.member,
    });
    inject(fx, "ledger", [forged]);
    const after = await observe(fx);
    expectExcluded(after, [{ id: forged.id, reason: "device-not-authorised", detail: /not authorised by the author/ }]);
    expect(restOfFold(after)).toEqual(restOfFold(fx.honest));
    // The record is authentic for bob's device chain, so bob's next act still counts.
    await fx.b.ledger.donate("common", 10);
    expect(balance(await observe(fx))).toBe(5_110);
  });
});

describe("hash chains", () => {
  it("excludes two records with the same signer and seq, and the signer's later records, as equivocation", async () => {
    const fx = await setup();
    const base = nextOf(fx, fx.bob);
    const first = await forge(fx.bob.device, { ...donate(10), ...base });
    const successor = await forge(fx.bob.device, {
      ...donate(30),
      council: fx.id,
      author: fx.bob.member,
      seq: base.seq + 1,
      prev: first.id,
      at: fx.clock.at(),
    });
    inject(fx, "ledger", [first, successor]);
    expect(balance(await observe(fx))).toBe(5_140);

    // A second, different record for the same seq turns up later: the whole chain from there is withdrawn.
    const second = await forge(fx.bob.device, { ...donate(20), ...base, at: fx.clock.at() });
    inject(fx, "ledger", [second]);
    const after = await observe(fx);
    expectExcluded(after, [
      { id: first.id, reason: "equivocation", detail: new RegExp(`2 different records with seq ${base.seq}`) },
      { id: second.id, reason: "equivocation", detail: /different records/ },
      { id: successor.id, reason: "equivocation", detail: /different records/ },
    ]);
    expect(rest(after)).toEqual(rest(fx.honest));
  });

  it("excludes a record whose prev is not its predecessor's hash, and what follows it, as broken-chain", async () => {
    const fx = await setup();
    const base = nextOf(fx, fx.bob);
    const wrong = await forge(fx.bob.device, { ...donate(10), ...base, prev: "ab".repeat(32) });
    const after1 = await forge(fx.bob.device, {
      ...donate(20),
      council: fx.id,
      author: fx.bob.member,
      seq: base.seq + 1,
      prev: wrong.id,
      at: fx.clock.at(),
    });
    inject(fx, "ledger", [wrong, after1]);
    const after = await observe(fx);
    expectExcluded(after, [
      { id: wrong.id, reason: "broken-chain", detail: new RegExp(`prev of record ${base.seq} is not the hash`) },
      { id: after1.id, reason: "broken-chain", detail: /not the hash/ },
    ]);
    expect(rest(after)).toEqual(rest(fx.honest));
  });

  it("excludes records after a gap in seq as broken-chain until the missing record arrives", async () => {
    const fx = await setup();
    const base = nextOf(fx, fx.bob);
    const missing = await forge(fx.bob.device, { ...donate(1), ...base });
    const next = { council: fx.id, author: fx.bob.member, seq: base.seq + 1, prev: missing.id, at: fx.clock.at() };
    const second = await forge(fx.bob.device, { ...donate(2), ...next });
    const third = await forge(fx.bob.device, {
      ...donate(4),
      council: fx.id,
      author: fx.bob.member,
      seq: base.seq + 2,
      prev: second.id,
      at: fx.clock.at(),
    });
    inject(fx, "ledger", [second, third]);
    const gap = await observe(fx);
    expectExcluded(gap, [
      {
        id: second.id,
        reason: "broken-chain",
        detail: new RegExp(`record ${base.seq} of this signer's chain is missing`),
      },
      { id: third.id, reason: "broken-chain", detail: /missing/ },
    ]);
    expect(rest(gap)).toEqual(rest(fx.honest));

    inject(fx, "ledger", [missing]);
    const filled = await observe(fx);
    expect(filled.excluded).toEqual([]);
    expect(balance(filled)).toBe(5_107);
    expect(filled.records).toBe(fx.honest.records + 3);
  });

  it("excludes a clock going backwards as clock-backwards, and its successors as broken-chain", async () => {
    const fx = await setup();
    const tip = tipOf(fx.a, fx.bob.device.id);
    const back = await forge(fx.bob.device, {
      ...donate(10),
      council: fx.id,
      author: fx.bob.member,
      seq: tip.seq + 1,
      prev: tip.id,
      at: { ms: tip.at.ms - 5_000, c: 0 },
    });
    const successor = await forge(fx.bob.device, {
      ...donate(20),
      council: fx.id,
      author: fx.bob.member,
      seq: tip.seq + 2,
      prev: back.id,
      at: fx.clock.at(),
    });
    inject(fx, "ledger", [back, successor]);
    const after = await observe(fx);
    expectExcluded(after, [
      { id: back.id, reason: "clock-backwards", detail: new RegExp(`clock of record ${tip.seq + 1} is not after`) },
      { id: successor.id, reason: "broken-chain", detail: /clock goes backwards/ },
    ]);
    expect(rest(after)).toEqual(rest(fx.honest));
  });

  it("treats an equal clock along a chain as going backwards", async () => {
    const fx = await setup();
    const tip = tipOf(fx.a, fx.bob.device.id);
    const same = await forge(fx.bob.device, {
      ...donate(10),
      council: fx.id,
      author: fx.bob.member,
      seq: tip.seq + 1,
      prev: tip.id,
      at: tip.at,
    });
    inject(fx, "ledger", [same]);
    expectExcluded(await observe(fx), [{ id: same.id, reason: "clock-backwards", detail: /not after/ }]);
  });

  it("excludes an unsigned tail as unsigned, and the signer's next record does not adopt it", async () => {
    const fx = await setup();
    const base = nextOf(fx, fx.alice);
    const first = await forge(fx.alice.device, { ...donate(1_000), ...base }, "unsigned");
    const second = await forge(
      fx.alice.device,
      {
        kind: "ledger.spend",
        body: { fund: "common", amount: 400, payee: "mallory", approval: { kind: "petty" } },
        council: fx.id,
        author: fx.alice.member,
        seq: base.seq + 1,
        prev: first.id,
        at: fx.clock.at(),
      },
      "unsigned",
    );
    inject(fx, "ledger", [first, second]);
    const after = await observe(fx);
    expectExcluded(after, [
      { id: first.id, reason: "unsigned", detail: /no signed record/ },
      { id: second.id, reason: "unsigned", detail: /no signed record/ },
    ]);
    expect(rest(after)).toEqual(rest(fx.honest));

    // Alice's own next record must not sign for records she never wrote.
    const own = await fx.a.ledger.donate("common", 5);
    const later = await observe(fx);
    expect(later.ledger.map((e) => e.counterparty)).not.toContain("mallory");
    expect(later.ledger.filter((e) => e.record === first.id || e.record === second.id)).toEqual([]);
    expect(later.ledger.some((e) => e.record === own)).toBe(true);
    expect(balance(later)).toBe(5_105);
    expect(later.excluded.map((e) => e.reason)).toEqual(["unsigned", "unsigned"]);
  });
});

describe("malformed records", () => {
  it("excludes an unknown kind as unknown-kind", async () => {
    const fx = await setup();
    const forged = await forge(fx.alice.device, {
      kind: "council.coup",
      body: { leader: "mallory" },
      ...nextOf(fx, fx.alice),
    });
    inject(fx, "council", [forged]);
    const after = await observe(fx);
    expectExcluded(after, [{ id: forged.id, reason: "unknown-kind", detail: /council\.coup/ }]);
    expect(rest(after)).toEqual(rest(fx.honest));
  });

  it("keeps a newer version's record in its signer's chain: the records after it still count", async () => {
    const fx = await setup();
    const seat = chained(fx, fx.alice);
    const future = seat.took(
      await forge(fx.alice.device, { kind: "council.poll", body: { question: "Lunch?" }, ...seat.next() }, "unsigned"),
    );
    const gift = seat.took(await forge(fx.alice.device, { ...donate(70), ...seat.next() }));
    inject(fx, "council", [future]);
    inject(fx, "ledger", [gift]);
    const after = await observe(fx);
    expectExcluded(after, [{ id: future.id, reason: "unknown-kind", detail: /council\.poll/ }]);
    expect(after.excluded.some((e) => e.id === gift.id)).toBe(false);
    expect(after.ledger.at(-1)).toMatchObject({ record: gift.id, amount: 70, status: "applied" });
  });

  it("excludes records of another council as wrong-council", async () => {
    const fx = await setup();
    const elsewhere = await foundCouncil(fx.alice, { name: "Elsewhere", now: fx.clock.now });
    const forged = await forge(fx.alice.device, {
      ...donate(10),
      ...nextOf(fx, fx.alice),
      council: elsewhere.id,
    });
    const genesis = [...allEntries(elsewhere.council)].find(([key]) => key === storageKeyOf(elsewhere.id))!;
    inject(fx, "ledger", [forged]);
    fromPeer(fx, "council", (doc) => putRaw(doc, genesis[0], genesis[1]));
    const after = await observe(fx);
    expectExcluded(after, [
      { id: forged.id, reason: "wrong-council", detail: /a record of another council/ },
      { id: elsewhere.id, reason: "wrong-council", detail: /a genesis record of another council/ },
    ]);
    expect(rest(after)).toEqual(rest(fx.honest));
  });

  it("excludes a 1 MB title and 100k-element arrays as bad-shape", async () => {
    const fx = await setup();
    // Well-framed records with bad bodies keep their place in the chain, so each follows the previous one.
    const seat = chained(fx, fx.alice);
    const title = seat.took(
      await forge(fx.alice.device, { kind: "proposal.open", body: { title: "x".repeat(1 << 20) }, ...seat.next() }),
    );
    const options = seat.took(
      await forge(fx.alice.device, {
        kind: "proposal.open",
        body: { title: "Pick one", method: "ranked", options: Array.from({ length: 100_000 }, (_, i) => `o${i}`) },
        ...seat.next(),
      }),
    );
    const dots = seat.took(
      await forge(fx.alice.device, {
        kind: "jar.dots",
        body: {
          jar: "common",
          dots: Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [i.toString(16).padStart(64, "0"), 1])),
        },
        ...seat.next(),
      }),
    );
    inject(fx, "council", [title, options]);
    inject(fx, "ledger", [dots]);
    const after = await observe(fx);
    expectExcluded(after, [
      { id: title.id, reason: "bad-shape", detail: /proposal\.open: title/ },
      { id: options.id, reason: "bad-shape", detail: /proposal\.open: options/ },
      { id: dots.id, reason: "bad-shape", detail: /jar\.dots/ },
    ]);
    for (const e of after.excluded) expect(e.detail.length).toBeLessThanOrEqual(500);
    expect(rest(after)).toEqual(rest(fx.honest));
  });

  it("excludes deeply nested CBOR as bad-shape", async () => {
    const fx = await setup();
    const depth = 100_000;
    const nested = new Uint8Array(depth + 1).fill(0x81); // a one-element array inside another, 100k deep
    nested[depth] = 0x00;
    const forged = await signRaw(fx.alice.device, nested);
    inject(fx, "council", [forged]);
    const after = await observe(fx);
    expectExcluded(after, [{ id: forged.id, reason: "bad-shape", detail: /./ }]);
    expect(rest(after)).toEqual(rest(fx.honest));
  });

  it("excludes NaN, infinite, negative, zero, fractional and oversized amounts and minutes as bad-shape", async () => {
    const fx = await setup();
    // Bad bodies in sound envelopes hold chain places; undecodable payloads never enter the chain.
    const chain = chained(fx, fx.alice);
    const seat = () => chain.next();
    const plain = [-5, 0, 1.5, 2 ** 53, -0.25, 2n ** 64n - 1n];
    const cases: { forged: Forged; detail: RegExp }[] = [];
    for (const amount of plain) {
      cases.push({
        forged: chain.took(await forge(fx.alice.device, { ...donate(amount), ...seat() })),
        detail: /amount/,
      });
      const swap = { fund: "time", provider: fx.bob.member, minutes: amount };
      cases.push({
        forged: chain.took(await forge(fx.alice.device, { kind: "swap.record", body: swap, ...seat() })),
        detail: /minutes/,
      });
    }
    // Canonical CBOR refuses to encode these, so the bytes are patched after encoding 1.5.
    for (const value of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const patch = (payload: Uint8Array) => replaceBytes(payload, float64(1.5), float64(value));
      cases.push({ forged: await forgePatched(fx.alice.device, { ...donate(1.5), ...seat() }, patch), detail: /CBOR/ });
      const swap = { kind: "swap.record", body: { fund: "time", provider: fx.bob.member, minutes: 1.5 } };
      cases.push({ forged: await forgePatched(fx.alice.device, { ...swap, ...seat() }, patch), detail: /CBOR/ });
    }
    // A clock that is not a pair of natural numbers.
    const badClock = await forge(fx.alice.device, { ...donate(10), ...seat(), at: { ms: 1.5, c: 0 } });
    cases.push({ forged: badClock, detail: /clock/ });
    inject(
      fx,
      "ledger",
      cases.map((c) => c.forged),
    );
    const after = await observe(fx);
    expectExcluded(
      after,
      cases.map((c) => ({ id: c.forged.id, reason: "bad-shape" as const, detail: c.detail })),
    );
    expect(rest(after)).toEqual(rest(fx.honest));
  });
});

describe("garbage in the documents", () => {
  it("excludes or ignores garbage values and bucket structures without throwing, and writing goes on", async () => {
    const fx = await setup();
    const random = crypto.getRandomValues(new Uint8Array(200));
    random[0] = 7; // not a known framing flag
    const framedGarbage = frame(crypto.getRandomValues(new Uint8Array(50)), null);
    const garbageUnderItsHash = await signRaw(fx.alice.device, Uint8Array.of(0xff, 0x00, 0x13));
    const key = (n: number) => n.toString(16).padStart(64, "0");
    const values: [string, unknown][] = [
      [key(1), random],
      [key(2), new Uint8Array(0)],
      [key(3), "a string instead of bytes"],
      [key(4), { nested: { object: [1, 2, 3] } }],
      [key(5), 42],
      [key(6), null],
      [key(7), framedGarbage],
      [key(8), [1, 2, 3]],
      [garbageUnderItsHash.id, garbageUnderItsHash.bytes],
    ];
    fromPeer(fx, "council", (doc) => {
      for (const [k, v] of values) putRaw(doc, k, v);
    });
    // Buckets that are not maps: new names, and most of the layout's empty buckets.
    const used = new Set(
      [...allEntries(fx.docs.council.doc()), ...allEntries(fx.docs.ledger.doc())].map(([k]) => bucketOf(k)),
    );
    const spoiled = new Set<string>();
    for (const which of ["council", "ledger"] as const) {
      fromPeer(fx, which, (doc) =>
        doc.change((d) => {
          const records = d.records as Record<string, unknown>;
          records.zz = "a bucket that is a string";
          records.yy = 42;
          records.xx = [1, 2, 3];
          for (const b of Object.keys(records)) {
            if (b.length !== 2 || used.has(b) || b === "zz" || b === "yy" || b === "xx") continue;
            records[b] = Number.parseInt(b, 16) % 2 === 0 ? `garbage ${b}` : Number.parseInt(b, 16);
            spoiled.add(b);
          }
        }),
      );
    }
    const after = await observe(fx);
    expectExcluded(
      after,
      values.map(([k]) =>
        k === key(7)
          ? { id: k, reason: "bad-id" as const, detail: /not the hash/ }
          : { id: k, reason: "bad-shape" as const, detail: /not a framed record|CBOR/ },
      ),
    );
    expect(rest(after)).toEqual(rest(fx.honest));

    // Honest writers keep writing, even into buckets a peer replaced with garbage.
    const ids: RecordId[] = [];
    for (let i = 0; i < 30; i++) ids.push(await fx.a.ledger.donate("common", 1));
    expect(ids.some((id) => spoiled.has(bucketOf(id)))).toBe(true);
    const later = await observe(fx);
    expect(balance(later)).toBe(5_130);
    expect(later.excluded).toHaveLength(values.length);
  });

  it("writes back a records map replaced by a number, so a fresh load derives what the open council holds", async () => {
    const fx = await setup();
    fromPeer(fx, "ledger", (doc) =>
      doc.change((d) => {
        (d as { records: unknown }).records = 42;
      }),
    );
    const live = await fx.a.state();
    expect(live).toEqual(fx.honest);
    const fresh = await Council.open({
      council: PlainDocument.load<CouncilDoc>(fx.docs.council.save()),
      ledger: PlainDocument.load<LedgerDoc>(fx.docs.ledger.save()),
    });
    expect(await fresh.state()).toEqual(fx.honest);
    expect(fx.a.restored).toBeGreaterThan(0);
  });
});

describe("clocks and the API's own checks", () => {
  it("derives a far-future record like any other, and only reports it as a local warning", async () => {
    const fx = await setup();
    const forged = await forge(fx.alice.device, {
      ...donate(7),
      ...nextOf(fx, fx.alice, FAR_FUTURE),
    });
    inject(fx, "ledger", [forged]);
    const after = await observe(fx);
    expect(after.excluded).toEqual([]);
    expect(balance(after)).toBe(5_107);
    expect(after.horizon).toEqual(FAR_FUTURE);
    // Deadlines compare record clocks: the proposal closed at the far-future record, as it would at any later record.
    expect(after.proposals.find((p) => p.id === fx.proposal)?.status).toBe("failed");
    expect(fx.a.futureRecords(fx.clock.t).map((r) => r.id)).toEqual([forged.id]);
    expect(fx.a.futureRecords(FAR_FUTURE.ms)).toEqual([]);
    // The local wall clock plays no part in what is derived.
    const docs = () => ({
      council: PlainDocument.load<CouncilDoc>(fx.docs.council.save()),
      ledger: PlainDocument.load<LedgerDoc>(fx.docs.ledger.save()),
    });
    const early = await Council.open(docs(), { now: () => 0 });
    const late = await Council.open(docs(), { now: () => FAR_FUTURE.ms * 2 });
    expect(await early.state()).toEqual(after);
    expect(await late.state()).toEqual(after);
  });

  it("rejects invalid amounts at the API with InvalidInputError and writes nothing", async () => {
    const fx = await setup();
    const heads = () => [A.getHeads(fx.docs.council.doc()), A.getHeads(fx.docs.ledger.doc())];
    const before = heads();
    for (const amount of [-5, 1.5, Number.NaN, 0, Number.POSITIVE_INFINITY]) {
      await expect(fx.a.ledger.donate("common", amount)).rejects.toBeInstanceOf(InvalidInputError);
    }
    await expect(fx.a.ledger.swap("time", fx.bob.member, -30)).rejects.toBeInstanceOf(InvalidInputError);
    expect(heads()).toEqual(before);
    expect(await fx.a.state()).toEqual(fx.honest);
    // The council still works after refusing.
    await fx.a.ledger.donate("common", 5);
    expect(balance(await fx.a.state())).toBe(5_105);
  });
});

/** Bad input from a developer: refused with a typed rejection (never a synchronous throw), writing nothing. */
import * as A from "@automerge/automerge";
import { describe, expect, it } from "vitest";
import type { Act, CouncilDoc, DeviceId, LedgerDoc, MandateId, ProposalId, RecordId } from "../src/index.js";
import {
  Council,
  createIdentity,
  FederaError,
  foundCouncil,
  InvalidInputError,
  NotAMemberError,
  NotFoundError,
  PlainDocument,
  sealApplication,
} from "../src/index.js";

const HOUR = 60 * 60 * 1000;
const UNKNOWN = "ab".repeat(32);

type Sources = { council: PlainDocument<CouncilDoc>; ledger: PlainDocument<LedgerDoc> };

async function bakery() {
  let t = 1_700_000_000_000;
  const now = () => (t += 1000);
  const [alice, bob, eve] = await Promise.all([createIdentity(), createIdentity(), createIdentity()]);
  const founded = await foundCouncil(alice, { name: "Bakery", founders: [bob.member], now });
  const sources: Sources = { council: new PlainDocument(founded.council), ledger: new PlainDocument(founded.ledger) };
  const council = await Council.open(sources, { identity: alice, now });
  await council.ledger.createFund("strike", "cash");
  await council.ledger.createFund("hours", "time");
  await council.ledger.donate("strike", 500);
  return { alice, bob, eve, founded, sources, council, now, skip: (ms: number) => (t += ms), time: () => t };
}

const heads = (s: Sources) => [A.getHeads(s.council.doc()).join(), A.getHeads(s.ledger.doc()).join()];

/** Calls `act`, which must return a promise rather than throw, and returns its rejection; nothing may be written. */
async function refusal(sources: Sources, act: () => Promise<unknown>): Promise<FederaError> {
  const before = heads(sources);
  let pending: Promise<unknown> | undefined;
  expect(() => {
    pending = act();
  }).not.toThrow();
  const error = await pending!.then(
    () => expect.unreachable("the act was accepted"),
    (e: unknown) => e,
  );
  expect(heads(sources)).toEqual(before);
  expect(error).toBeInstanceOf(FederaError);
  return error as FederaError;
}

describe("acting without membership", () => {
  it("refuses a non-member's acts with NotAMemberError, opened on sources or plain documents", async () => {
    const { eve, sources, now } = await bakery();
    const outsider = await Council.open(sources, { identity: eve, now });
    expect(await refusal(sources, () => outsider.ledger.donate("strike", 10))).toBeInstanceOf(NotAMemberError);
    expect(await refusal(sources, () => outsider.propose({ title: "Let me in" }))).toBeInstanceOf(NotAMemberError);

    const plain = await Council.openPlain(
      { council: sources.council.doc(), ledger: sources.ledger.doc() },
      { identity: eve, now },
    );
    const own = plain.sources as Sources;
    expect(await refusal(own, () => plain.ledger.donate("strike", 10))).toBeInstanceOf(NotAMemberError);
    expect((await plain.state()).excluded).toEqual([]);
  });

  it("still lets a non-member apply, a founder without a device authorise one, and applications be sealed", async () => {
    const { bob, eve, founded, sources, council, now } = await bakery();
    const applicant = await Council.open(sources, { identity: eve, now });
    const application = await applicant.apply("I bake on weekends");
    const asBob = await Council.open(sources, { identity: bob, now });
    await asBob.authorizeDevice(bob.device.id as DeviceId);
    const state = await council.state();
    expect(state.proposals.find((p) => p.id === application)?.effect).toMatchObject({ member: eve.member });
    expect(state.members.find((m) => m.id === bob.member)?.devices).toContain(bob.device.id);
    expect(state.excluded).toEqual([]);

    await expect(sealApplication(eve, founded.id, "hello")).resolves.toMatchObject({ record: expect.any(String) });
    await expect(sealApplication(bob, founded.id, "", { alreadyMember: true })).resolves.toBeDefined();
  });

  it("lets an applicant whose admission is passing and due write: that record closes the admission first", async () => {
    const { alice, bob, eve, sources, now, skip, time } = await bakery();
    const applicant = await Council.open(sources, { identity: eve, now });
    const application = await applicant.apply("I bake on weekends");
    for (const identity of [alice, bob]) {
      const member = await Council.open(sources, { identity, now });
      await member.vote(application, { method: "majority", choice: "yes" });
    }
    const closesAt = (await applicant.state()).proposals.find((p) => p.id === application)!.closesAt;
    skip(closesAt - time() + HOUR);
    const gift = await applicant.ledger.donate("strike", 40);
    const state = await applicant.state();
    expect(state.ledger.find((e) => e.record === gift)).toMatchObject({ status: "applied", by: eve.member });
    expect(state.excluded).toEqual([]);
  });

  it("refuses apply() on a council opened without an identity as a rejection", async () => {
    const { sources } = await bakery();
    const readOnly = await Council.open(sources);
    expect(await refusal(sources, () => readOnly.apply("hello"))).toBeInstanceOf(NotAMemberError);
  });
});

describe("spend approvals", () => {
  it("rejects an unknown approval with InvalidInputError naming the allowed ones", async () => {
    const { sources, council } = await bakery();
    await council.ledger.createFund("reserve", "cash");
    const bad = ["pety", undefined, null, {}] as unknown as "petty"[];
    for (const approval of bad) {
      for (const act of [
        () => council.ledger.spend("strike", 10, "flour", approval),
        () => council.ledger.transfer("strike", "reserve", 10, approval),
      ]) {
        const error = await refusal(sources, act);
        expect(error).toBeInstanceOf(InvalidInputError);
        expect(error.message).toMatch(/"petty".*budget.*mandate/);
      }
    }
  });
});

describe("minutes", () => {
  it("refuses edits without an identity, to unknown minutes, or out of range, writing nothing", async () => {
    const { sources, council } = await bakery();
    const minutes = await council.openMinutes("2026-03-01", "General meeting");
    await council.editMinutes(minutes, 0, 0, "hello");
    const readOnly = await Council.open(sources);
    expect(await refusal(sources, () => readOnly.editMinutes(minutes, 0, 0, "x"))).toBeInstanceOf(NotAMemberError);
    for (const id of [UNKNOWN, "nope"] as RecordId[]) {
      expect(await refusal(sources, () => council.editMinutes(id, 0, 0, "x"))).toBeInstanceOf(NotFoundError);
    }
    for (const [index, deleteCount] of [
      [1e9, 0],
      [-1, 0],
      [1.5, 0],
      [6, 0],
      [0, -1],
      [0, 0.5],
      [2, 4],
    ] as const) {
      const error = await refusal(sources, () => council.editMinutes(minutes, index, deleteCount, "x"));
      expect(error).toBeInstanceOf(InvalidInputError);
    }
    await council.editMinutes(minutes, 5, 0, "!");
    await council.editMinutes(minutes, 0, 1, "H");
    expect(council.minutesText(minutes)).toBe("Hello!");

    // Minutes opened by a `minutes.open` act through `write` have their text too.
    const [written] = await council.write([
      { kind: "minutes.open", body: { meeting: "2026-04-01", title: "Spring meeting", decisions: [] } },
    ]);
    await council.editMinutes(written!, 0, 0, "Agenda");
    expect(council.minutesText(written!)).toBe("Agenda");
  });
});

describe("names that do not exist", () => {
  it("refuses acts naming an unknown fund, proposal or mandate with NotFoundError, writing nothing", async () => {
    const { bob, sources, council } = await bakery();
    const acts: (() => Promise<unknown>)[] = [
      () => council.ledger.donate("typo", 10),
      () => council.ledger.spend("typo", 10, "flour", "petty"),
      () => council.ledger.swap("typo", bob.member, 30),
      () => council.ledger.transfer("typo", "strike", 10, "petty"),
      () => council.ledger.transfer("strike", "typo", 10, "petty"),
      () => council.ledger.contribute("typo", 10),
      () => council.vote(UNKNOWN as ProposalId, { method: "majority", choice: "yes" }),
      () => council.proposeRecall(UNKNOWN as MandateId),
      () =>
        council.write([
          { kind: "ledger.donate", body: { fund: "strike", amount: 1 } },
          { kind: "ledger.donate", body: { fund: "typo", amount: 1 } },
        ]),
    ];
    for (const act of acts) expect(await refusal(sources, act)).toBeInstanceOf(NotFoundError);
    expect((await council.state()).excluded).toEqual([]);
  });

  it("lets through an act naming what a deadline not yet reached here will make (a mandate issued at its close)", async () => {
    const { alice, council, skip, time } = await bakery();
    const closesAt = time() + HOUR;
    const mandate = (await council.proposeMandate({
      delegate: alice.member,
      body: "City federation",
      instructions: "Speak for us",
      positions: { "*": ["yes", "no"] },
      startsAt: closesAt,
      expiresAt: closesAt + 30 * 24 * HOUR,
      recall: { ratio: { num: 1, den: 2 }, of: "eligible", cmp: ">" },
      closesAt,
    })) as string as MandateId;
    await council.vote(mandate as string as ProposalId, { method: "majority", choice: "yes" });
    skip(2 * HOUR);
    // Nothing was written since the close: the mandate is issued by the fold only when the recall's record arrives.
    expect((await council.state()).mandates).toEqual([]);
    const recall = await council.proposeRecall(mandate);
    const state = await council.state();
    expect(state.mandates.map((m) => m.id)).toEqual([mandate]);
    expect(state.proposals.find((p) => p.id === recall)?.status).toBe("open");
    expect(state.excluded).toEqual([]);
  });

  it("accepts a fund created earlier in the same write", async () => {
    const { council } = await bakery();
    await council.write([
      { kind: "fund.create", body: { fund: "bread", type: "cash" } },
      { kind: "ledger.donate", body: { fund: "bread", amount: 25 } },
    ]);
    const state = await council.state();
    expect(state.funds.find((f) => f.id === "bread")?.balance).toBe(25);
    expect(state.excluded).toEqual([]);
  });
});

describe("write", () => {
  it("rejects an unknown kind or a value that is not a list of acts with InvalidInputError", async () => {
    const { sources, council } = await bakery();
    const bogus = await refusal(sources, () => council.write([{ kind: "bogus", body: {} } as unknown as Act]));
    expect(bogus).toBeInstanceOf(InvalidInputError);
    expect(bogus.message).toMatch(/unknown record kind "bogus"/);
    for (const acts of [null, "x", [null], [42]]) {
      const error = await refusal(sources, () => council.write(acts as unknown as Act[]));
      expect(error).toBeInstanceOf(InvalidInputError);
    }
  });
});

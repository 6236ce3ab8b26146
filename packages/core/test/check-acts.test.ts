/** `checkActs`: an act the council's derivation would exclude is refused before anything is written. */
import * as A from "@automerge/automerge";
import { describe, expect, it } from "vitest";
import { Council, createIdentity, foundCouncil, NotFoundError, PlainDocument, RejectedActError } from "../src/index.js";

async function bakery(checkActs: boolean) {
  let t = 1_700_000_000_000;
  const now = () => (t += 1000);
  const alice = await createIdentity();
  const docs = await foundCouncil(alice, { name: "Bakery", now });
  const sources = { council: new PlainDocument(docs.council), ledger: new PlainDocument(docs.ledger) };
  const council = await Council.open(sources, { identity: alice, now, checkActs });
  await council.ledger.createFund("strike", "cash");
  return { council, sources, skip: (ms: number) => (t += ms), now: () => t };
}

const heads = (s: { council: PlainDocument<unknown>; ledger: PlainDocument<unknown> }) =>
  [s.council, s.ledger].map((d) => A.getHeads(d.doc() as A.Doc<unknown>).join());

describe("checkActs", () => {
  it("refuses, writing nothing, what the derivation would exclude, and writes the rest", async () => {
    const { council, sources, skip, now } = await bakery(true);
    const before = heads(sources);
    const refused = [
      () => council.ledger.contribute("strike", 10),
      () => council.ledger.swap("strike", council.identity!.member, 30),
      () => council.propose({ title: "Ranked with one option", method: "ranked", options: ["a"] }),
      () => council.propose({ title: "Already closed", closesAt: now() - 1 }),
    ];
    for (const act of refused) {
      const error = await act().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(RejectedActError);
      expect((error as RejectedActError).reason).toBe("invalid-act");
    }
    // A missing fund is refused by the check every write makes, with its own error.
    await expect(council.ledger.donate("no-such-fund", 10)).rejects.toBeInstanceOf(NotFoundError);
    expect(heads(sources)).toEqual(before);
    expect((await council.state()).excluded).toEqual([]);

    // A vote after its proposal closed is refused too, and the device keeps writing afterwards.
    const p = await council.propose({ title: "Buy flour", closesAt: now() + 5_000 });
    skip(10_000);
    await expect(council.vote(p, { method: "majority", choice: "yes" })).rejects.toThrow(/after the closing time/);
    await council.ledger.donate("strike", 25);
    // An overdrawing or unapproved expense is a valid record, held rather than excluded: it is written.
    const held = await council.ledger.spend("strike", 1_000, "rent", "petty");
    const state = await council.state();
    expect(state.funds.find((f) => f.id === "strike")?.balance).toBe(25);
    expect(state.ledger.find((e) => e.record === held)?.status).toBe("held");
    expect(state.excluded).toEqual([]);
  });

  it("is off by default: the same act is written and then excluded with its reason", async () => {
    const { council } = await bakery(false);
    const id = await council.ledger.contribute("strike", 10);
    expect((await council.state()).excluded).toEqual([
      expect.objectContaining({ id, reason: "invalid-act", detail: "fund strike is a cash fund" }),
    ]);
  });

  it("excludes a credit that would take a balance past exact whole numbers, keeping the balance exact", async () => {
    const { council } = await bakery(false);
    await council.ledger.donate("strike", Number.MAX_SAFE_INTEGER - 10);
    const over = await council.ledger.donate("strike", 11);
    await council.ledger.donate("strike", 10);
    const state = await council.state();
    expect(state.funds.find((f) => f.id === "strike")?.balance).toBe(Number.MAX_SAFE_INTEGER);
    expect(state.excluded).toEqual([expect.objectContaining({ id: over, reason: "invalid-act" })]);
  });
});

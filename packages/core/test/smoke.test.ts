import { describe, expect, it } from "vitest";
import { Council, createIdentity, foundCouncil, PlainDocument } from "../src/index.js";

describe("smoke", () => {
  it("founds, donates, spends, votes", async () => {
    let t = 1_700_000_000_000;
    const now = () => (t += 1000);
    const alice = await createIdentity();
    const bob = await createIdentity();
    const docs = await foundCouncil(alice, {
      name: "Bakery",
      founders: [bob.member],
      charter: { pettyCashLimit: 100 },
      now,
    });
    const a = await Council.openPlain(docs, { identity: alice, now });
    await a.ledger.createFund("strike", "cash");
    await a.ledger.donate("strike", 500);
    await a.ledger.spend("strike", 80, "printer", "petty");
    await a.ledger.spend("strike", 800, "printer", "petty");
    const p = await a.propose({
      title: "Buy flour",
      closesAt: t + 10_000,
      effect: { type: "expense", fund: "strike", amount: 300, payee: "mill" },
    });
    await a.vote(p, { method: "majority", choice: "yes" });
    t += 20_000;
    await a.tick();
    const s = await a.state();
    console.log(
      JSON.stringify(
        {
          funds: s.funds,
          ledger: s.ledger.length,
          conflicts: s.conflicts,
          excluded: s.excluded,
          prop: s.proposals[0]?.status,
        },
        null,
        1,
      ),
    );
    expect(s.funds[0]!.balance).toBe(120);
    const b2 = new PlainDocument(a.sources.council.doc()!);
    expect(b2).toBeDefined();
  });
});

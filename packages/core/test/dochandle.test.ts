import * as A from "@automerge/automerge";
import { type DocHandle, Repo } from "@automerge/automerge-repo";
import { MessageChannelNetworkAdapter } from "@automerge/automerge-repo-network-messagechannel";
import { afterEach, describe, expect, it } from "vitest";
import type { CouncilDoc, LedgerDoc } from "../src/index.js";
import { Council, createIdentity, foundCouncil } from "../src/index.js";

/** Waits until `check` holds, re-testing after each change of the handles. */
async function until(check: () => Promise<boolean>, handles: DocHandle<unknown>[], ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out waiting for sync");
    await Promise.race([
      ...handles.map((h) => new Promise((resolve) => h.once("change", resolve))),
      new Promise((resolve) => setTimeout(resolve, 50)),
    ]);
  }
}

describe("councils on automerge-repo DocHandles", () => {
  const repos: Repo[] = [];
  afterEach(async () => {
    await Promise.all(repos.map((r) => r.shutdown()));
    repos.length = 0;
  });

  it("two repos syncing over a MessageChannel derive the same state", async () => {
    const { port1, port2 } = new MessageChannel();
    const repoA = new Repo({ network: [new MessageChannelNetworkAdapter(port1)] });
    const repoB = new Repo({ network: [new MessageChannelNetworkAdapter(port2)] });
    repos.push(repoA, repoB);

    const alice = await createIdentity();
    const bob = await createIdentity();
    const founded = await foundCouncil(alice, { name: "Mutual aid", founders: [bob.member] });
    const councilA = repoA.import<CouncilDoc>(A.save(founded.council));
    const ledgerA = repoA.import<LedgerDoc>(A.save(founded.ledger));
    councilA.change((d) => {
      d.federa.ledger = ledgerA.url;
    });

    const a = await Council.open({ council: councilA, ledger: ledgerA }, { identity: alice });
    await a.ledger.createFund("food", "cash");
    await a.ledger.donate("food", 2_500, "bake sale");

    const councilB = await repoB.find<CouncilDoc>(councilA.url);
    const ledgerB = await repoB.find<LedgerDoc>(councilB.doc().federa.ledger as never);
    const b = await Council.open({ council: councilB, ledger: ledgerB }, { identity: bob });
    await until(async () => (await b.state()).funds[0]?.balance === 2_500, [councilB, ledgerB]);

    // Bob's device is not yet authorised: his first act is signed with his member key, then he authorises it.
    await b.authorizeDevice(bob.device.id as never);
    await b.ledger.spend("food", 500, "grocer", "petty");
    await until(async () => (await a.state()).ledger.length === 2, [councilA, ledgerA]);

    const sa = await a.state();
    const sb = await b.state();
    expect(JSON.stringify(sa)).toBe(JSON.stringify(sb));
    // Petty cash limit defaults to 0: the spend is held, on both peers alike.
    expect(sa.ledger.map((e) => e.status)).toEqual(["applied", "held"]);
    expect(sa.members.find((m) => m.id === bob.member)?.devices).toEqual([bob.device.id]);
  });
});

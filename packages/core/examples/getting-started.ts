// A council, two members, one offline partition each, and a merge.
import { Council, compareStates, createIdentity, foundCouncil, PlainDocument } from "@federa/core";

export async function gettingStarted() {
  let clock = Date.parse("2026-03-01T09:00:00Z");
  const now = () => (clock += 60_000);

  // Every member is an Ed25519 key; each device gets its own key that signs for its member.
  const ana = await createIdentity();
  const ben = await createIdentity();

  // Found the council: a genesis record signed by Ana, with Ben as a co-founder and a petty-cash limit.
  const founded = await foundCouncil(ana, {
    name: "Night Shift Assembly",
    founders: [ben.member],
    charter: { pettyCashLimit: 2_000 },
    now,
  });

  // Ana's replica. Ben gets his own replicas (forks) of the same two documents.
  const anaDocs = { council: new PlainDocument(founded.council), ledger: new PlainDocument(founded.ledger) };
  const anaCouncil = await Council.open(anaDocs, { identity: ana, now });
  await anaCouncil.ledger.createFund("hardship", "cash");
  await anaCouncil.ledger.donate("hardship", 3_000, "payday collection");

  const benDocs = { council: anaDocs.council.fork(), ledger: anaDocs.ledger.fork() };
  const benCouncil = await Council.open(benDocs, { identity: ben, now });
  await benCouncil.authorizeDevice(ben.device.id); // signed with Ben's member key

  // Offline, each spends petty cash from the same fund: 1,800 + 1,500 > 3,000.
  await anaCouncil.ledger.spend("hardship", 1_800, "rent help for K.", "petty");
  await benCouncil.ledger.spend("hardship", 1_500, "bus passes", "petty");
  const before = await anaCouncil.state();

  // Back online: merge Ben's replica into Ana's (automerge-repo does this over the network).
  anaDocs.council.merge(benDocs.council);
  anaDocs.ledger.merge(benDocs.ledger);
  const after = await anaCouncil.state();

  const hardship = after.funds.find((f) => f.id === "hardship");
  console.log("balance after merge:", hardship?.balance); // never below zero
  for (const change of compareStates(before, after)) console.log(change.type, "-", change.detail);
  return { balance: hardship?.balance, held: after.ledger.filter((e) => e.status === "held").length };
}

if (import.meta.url === `file://${process.argv[1]}`) await gettingStarted();

import { createIdentity, sealApplication } from "@federa/core";
import { applyRequest, createNode, sendApplication } from "@federa/net";
import { nodeOptions } from "@federa/net/node";

/** Two members' nodes in one program: a council founded on one, joined from the other, an act synced back. */
export async function embedding(dirs: { ana: string; ben: string }): Promise<number | undefined> {
  const ana = await createIdentity();
  const ben = await createIdentity();
  const here = { listen: ["/ip4/127.0.0.1/tcp/0"], mdns: false };

  // Ana's node: founds the council (Ben named as a founder) and takes applications to join it.
  const anaNode = await createNode({ identity: ana, ...nodeOptions({ ...here, storageDir: dirs.ana }) });
  const held = await anaNode.foundCouncil({ name: "Tool library", founders: [ben.member] });
  await held.council.ledger.createFund("repairs", "cash");
  await anaNode.acceptApplications();

  // Ben's node: a founder's device joins with an authorisation signed by his member key (no vote needed;
  // anyone else sends `sealApplication(identity, council, note)` and the members vote on the admission).
  const benNode = await createNode({
    identity: ben,
    ...nodeOptions({ ...here, storageDir: dirs.ben, bootstrap: anaNode.addresses() }),
  });
  const authorization = await sealApplication(ben, held.council.id, "", { alreadyMember: true });
  const inviter = { peer: ana.device.id, addresses: anaNode.addresses() };
  const answer = await sendApplication(benNode.libp2p, inviter, applyRequest(held.council.id, authorization));
  if (!answer.ok) throw new Error(`not admitted: ${answer.error}`);
  benNode.trust(ana.device.id); // until the council's documents arrive, Ben's node knows no member but its inviter
  // Keep the URL: after a restart, a node holds a council again only once it is opened.
  const url = held.councilHandle.url;
  const mine = await benNode.openCouncil(url, { council: held.council.id });

  await mine.council.ledger.donate("repairs", 25);
  await benNode.flush(); // on disk now, not only in memory

  // Ana's node derives the donation once it has synced (a few hundred milliseconds on one machine).
  const balance = async () => (await held.council.state()).funds[0]?.balance;
  for (let i = 0; i < 100 && (await balance()) !== 25; i++) await new Promise((r) => setTimeout(r, 50));
  const synced = await balance();
  await Promise.all([anaNode.stop(), benNode.stop()]);
  return synced;
}

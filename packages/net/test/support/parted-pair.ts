/** Two members' nodes on loopback that have synced a council and its ledger, and can be parted and met again. */
import type { AutomergeUrl } from "@automerge/automerge-repo";
import { createIdentity } from "@federa/core";
import type { FederaNode, FederaNodeInit, HeldCouncil } from "../../src/index.js";
import { authorizeOnCopy } from "./authorize.js";
import { dialNode, startFederaNode } from "./federa-nodes.js";
import { waitFor } from "./wait.js";

export interface PartedPair {
  /** Ana's node, which founded the council, and her replica. */
  readonly a: FederaNode;
  readonly held: HeldCouncil;
  /** Ben's node, and his replica of the same council. */
  readonly b: FederaNode;
  readonly benHeld: HeldCouncil;
  /** The balance of the council's one fund on Ben's replica. */
  balance(): Promise<number | undefined>;
  /** As on a network split: connections close, dials fail and inbound connections are refused. */
  part(): Promise<void>;
  /** Ends the split and has Ben's node dial Ana's again. */
  meet(): Promise<void>;
}

/** Ana records `donations` of 1 to the fund "paper", and Ben's node syncs them; `anaInit` configures Ana's node. */
export async function partedPair(donations: number, anaInit: Partial<FederaNodeInit> = {}): Promise<PartedPair> {
  const ana = await createIdentity();
  const ben = await createIdentity();
  let parted = false;
  const connectionGater = { denyDialPeer: async () => parted, denyInboundConnection: async () => parted };
  const a = await startFederaNode(ana, { ...anaInit, libp2p: { connectionGater } });
  const held = await a.foundCouncil({ name: "Print shop", founders: [ben.member] });
  await held.council.ledger.createFund("paper", "cash");
  const b = await startFederaNode(ben, { libp2p: { connectionGater } });
  await authorizeOnCopy(held, ben);
  for (let i = 0; i < donations; i++) await held.council.ledger.donate("paper", 1);
  await dialNode(b, a);
  b.trust(a.libp2p.peerId.toString());
  const benHeld = await b.openCouncil(held.councilHandle.url as AutomergeUrl);
  const balance = async () => (await benHeld.council.state()).funds[0]?.balance;
  await waitFor(async () => (await balance()) === donations, "ben's replica to sync");
  return {
    a,
    held,
    b,
    benHeld,
    balance,
    async part() {
      parted = true;
      await Promise.all(a.libp2p.getConnections().map((c) => c.close()));
    },
    async meet() {
      parted = false;
      await dialNode(b, a);
    },
  };
}

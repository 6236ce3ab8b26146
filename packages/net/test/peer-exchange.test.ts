/**
 * Members' nodes telling each other where their fellow devices are, over real libp2p (TCP on loopback): nodes that
 * know only the founder's address learn of each other from it and link up as their sync tree asks; a stranger is
 * neither asked nor answered, a bad answer is dropped, and the node keeps serving.
 */
import type { AutomergeUrl } from "@automerge/automerge-repo";
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { createIdentity } from "@federa/core";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { identify } from "@libp2p/identify";
import type { Libp2p } from "@libp2p/interface";
import { tcp } from "@libp2p/tcp";
import { createLibp2p } from "libp2p";
import { afterEach, describe, expect, it } from "vitest";
import { readApplyMessage, writeApplyMessage } from "../src/apply-protocol.js";
import { PEERS_PROTOCOL } from "../src/index.js";
import { authorizeOnCopy } from "./support/authorize.js";
import { startFederaNode, stopFederaNodes } from "./support/federa-nodes.js";
import { linked } from "./support/linked.js";
import { waitFor } from "./support/wait.js";

const raw: Libp2p[] = [];
afterEach(async () => {
  await Promise.allSettled(raw.splice(0).map((n) => n.stop()));
  await stopFederaNodes();
});

/** A council founded on Ana's node, with four more founders' nodes that know only her address. */
async function council() {
  const [ana, ...others] = await Promise.all([1, 2, 3, 4, 5].map(() => createIdentity()));
  const a = await startFederaNode(ana!);
  const held = await a.foundCouncil({ name: "Dock workers", founders: others.map((o) => o.member) });
  for (const o of others) await authorizeOnCopy(held, o);
  const url = held.councilHandle.url as AutomergeUrl;
  const nodes = await Promise.all(
    others.map(async (identity) => {
      const node = await startFederaNode(identity, { bootstrap: a.addresses() });
      node.trust(ana!.device.id); // as after an invitation
      await node.openCouncil(url);
      return node;
    }),
  );
  return { a, nodes: [a, ...nodes] };
}

/** A plain libp2p node on loopback: a peer that speaks the protocol by hand. */
async function rawNode(): Promise<Libp2p> {
  const node = await createLibp2p({
    privateKey: await generateKeyPair("Ed25519"),
    addresses: { listen: ["/ip4/127.0.0.1/tcp/0"] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() },
  });
  raw.push(node as Libp2p);
  return node as Libp2p;
}

describe("peer exchange", { timeout: 60_000 }, () => {
  it("lets members' nodes that know only the founder's address learn of each other and link up", async () => {
    const { nodes } = await council();
    await waitFor(() => linked(nodes), "each node to know the four others and hold its sync tree's links");
    // Five devices: a tree of four links at least, not only the founder's star.
    const pairs = new Set(
      nodes.flatMap((n) =>
        n.libp2p.getConnections().map((c) => [n.identity.device.id, c.remotePeer.toString()].sort().join(" ")),
      ),
    );
    expect(pairs.size).toBeGreaterThanOrEqual(4);
  });

  it("answers a member asking again within the second once the second is up, rather than refusing it", async () => {
    const { a, nodes } = await council();
    await waitFor(() => linked(nodes), "the council linked");
    const ask = async () => {
      const stream = await nodes[1]!.libp2p.dialProtocol(a.libp2p.getMultiaddrs()[0]!, PEERS_PROTOCOL);
      const reading = readApplyMessage(stream, AbortSignal.timeout(5_000));
      await writeApplyMessage(stream, { v: 1 });
      return (await reading) as { v: number; peers: { id: string }[] };
    };
    const first = await ask();
    const asked = Date.now();
    const second = await ask();
    expect(Date.now() - asked).toBeGreaterThanOrEqual(900);
    for (const answer of [first, second]) {
      expect(answer.v).toBe(1);
      expect(answer.peers.map((p) => p.id)).toContain(nodes[2]!.identity.device.id);
    }
  });

  it("answers no stranger, drops a bad answer and devices it does not want, and keeps serving", async () => {
    const { a, nodes } = await council();
    await waitFor(() => linked(nodes), "the council linked");
    const before = [...a.dials.discoveredPeers()].sort();
    // A peer that answers by hand: first garbage, then a device no one in the council has and an entry with no id.
    const unknown = (await rawNode()).peerId.toString();
    const answers = [
      "{not json",
      JSON.stringify({ v: 1, peers: [{ id: unknown, addrs: ["/ip4/127.0.0.1/tcp/9"] }, {}] }),
    ];
    const asked: string[] = [];
    const other = await rawNode();
    await other.handle(PEERS_PROTOCOL, async (stream) => {
      asked.push(JSON.stringify(await readApplyMessage(stream, AbortSignal.timeout(5_000))));
      if (!stream.send(new TextEncoder().encode(answers.shift() ?? "{}"))) await stream.onDrain();
      await stream.close();
    });
    await other.dial(a.libp2p.getMultiaddrs()[0]!);
    // A stranger's request is not answered.
    const refused = await other.dialProtocol(a.libp2p.getMultiaddrs()[0]!, PEERS_PROTOCOL);
    const reading = readApplyMessage(refused, AbortSignal.timeout(5_000));
    await writeApplyMessage(refused, { v: 1 }).catch(() => {});
    await expect(reading).rejects.toThrow();
    expect(asked).toEqual([]); // nor is a stranger asked
    // Trusted (an inviter, say), it is asked; what it answers changes nothing.
    a.trust(other.peerId.toString());
    a.peerExchange.reconsider();
    await waitFor(() => asked.length === 1, "Ana's node to ask");
    a.peerExchange.reconsider();
    await waitFor(() => asked.length === 2, "Ana's node to ask again");
    expect(asked).toEqual(['{"v":1}', '{"v":1}']);
    await new Promise((resolve) => setTimeout(resolve, 300));
    // The peer itself is known now (it connected); the device it named is not.
    const after = a.dials.discoveredPeers().filter((p) => p !== other.peerId.toString());
    expect(after.sort()).toEqual(before);
    expect(a.dials.discoveredPeers()).not.toContain(unknown);
    // Still serving: an act on one member's node reaches the founder's.
    await nodes[2]!.councils()[0]!.council.ledger.createFund("strike", "cash");
    await waitFor(async () => (await a.councils()[0]!.council.state()).funds.length === 1, "the fund on Ana's node");
  });
});

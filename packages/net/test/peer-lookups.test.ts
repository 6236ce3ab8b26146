/**
 * Discovery beyond the LAN: members' nodes that know only a rendezvous node (a stranger's) find each other through a
 * kad-dht over real TCP on loopback and sync, while the rendezvous gets nothing; and the rules of the lookups (whom,
 * how often, how many at once) on a fake peer router.
 */
import type { AutomergeUrl } from "@automerge/automerge-repo";
import { createIdentity, type Identity } from "@federa/core";
import { generateKeyPair } from "@libp2p/crypto/keys";
import type { Libp2p, PeerId, PeerInfo } from "@libp2p/interface";
import { peerIdFromPrivateKey, peerIdFromString } from "@libp2p/peer-id";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { LOOKUP_RETRY_MS, PeerLookups } from "../src/index.js";
import { nodeOptions } from "../src/node/index.js";
import { authorizeOnCopy } from "./support/authorize.js";
import { startFederaNode, stopFederaNodes } from "./support/federa-nodes.js";
import { waitFor } from "./support/wait.js";

afterEach(stopFederaNodes);

/** A node on loopback in a DHT that keeps loopback addresses (Federa's defaults otherwise), knowing only `bootstrap`. */
function inDht(identity: Identity, bootstrap: readonly string[] = []) {
  const options = nodeOptions({
    listen: ["/ip4/127.0.0.1/tcp/0"],
    mdns: false,
    bootstrap,
    dht: { privateAddresses: true },
  });
  return startFederaNode(identity, options);
}

/** Founds a council on Ana's node (Ben and Cai founders) and opens it on theirs, which know only `meet`. */
async function council() {
  const [sam, ana, ben, cai] = await Promise.all([1, 2, 3, 4].map(() => createIdentity()));
  const rendezvous = await inDht(sam!);
  const meet = rendezvous.addresses();
  const a = await inDht(ana!, meet);
  const held = await a.foundCouncil({ name: "Tenants' union", founders: [ben!.member, cai!.member] });
  await held.council.ledger.createFund("repairs", "cash");
  await authorizeOnCopy(held, ben!);
  await authorizeOnCopy(held, cai!);
  const url = held.councilHandle.url as AutomergeUrl;
  // Ben's and Cai's nodes hold no address of Ana's, only her device id (an invitation names it).
  const joined = await Promise.all(
    [ben!, cai!].map(async (identity) => {
      const node = await inDht(identity, meet);
      node.trust(ana!.device.id);
      return { node, held: await node.openCouncil(url) };
    }),
  );
  await joined[1]!.held.council.ledger.donate("repairs", 40);
  const all = [held, ...joined.map((j) => j.held)];
  const balances = () => Promise.all(all.map(async (h) => (await h.council.state()).funds[0]?.balance));
  await waitFor(async () => (await balances()).every((b) => b === 40), "Cai's donation on every node");
  return { rendezvous, nodes: [a, ...joined.map((j) => j.node)], devices: [ana!, ben!, cai!].map((i) => i.device.id) };
}

describe("members' nodes in a DHT", { timeout: 60_000 }, () => {
  it("find each other through a stranger's rendezvous node they alone know, and sync; it gets no document", async () => {
    const { rendezvous, nodes, devices } = await council();
    for (const node of nodes) {
      const self = node.identity.device.id;
      expect(node.dials.discoveredPeers()).toEqual(expect.arrayContaining(devices.filter((d) => d !== self)));
      const connected = node.libp2p.getConnections().map((c) => c.remotePeer.toString());
      for (const link of node.dials.wanted()) expect(connected).toContain(link); // the sync tree's links are open
    }
    // The rendezvous routed them to each other and holds nothing of theirs.
    expect(Object.keys(rendezvous.repo.handles)).toEqual([]);
    expect(rendezvous.lookups.started).toBe(0); // it knows no one to look for
  });
});

/** A libp2p with a peer router answering as the test says, and connections as it says. */
function fakeLibp2p(findPeer: (peer: PeerId) => Promise<PeerInfo>, self = peerIdFromString(selfId)) {
  const connected = new Set<string>();
  const listeners = new Map<string, () => void>();
  const libp2p = {
    peerId: self,
    status: "started",
    getConnections: (peer?: PeerId) =>
      peer === undefined ? [...connected].map((p) => ({ remotePeer: p })) : connected.has(peer.toString()) ? [{}] : [],
    addEventListener: (name: string, fn: () => void) => listeners.set(name, fn),
    removeEventListener: (name: string) => listeners.delete(name),
    peerRouting: { findPeer: vi.fn(findPeer) },
  };
  return { libp2p, connected, fire: (name: string) => listeners.get(name)?.() };
}

/** Real peer ids, made afresh. */
async function peerIds(n: number): Promise<string[]> {
  const keys = await Promise.all(Array.from({ length: n }, () => generateKeyPair("Ed25519")));
  return keys.map((k) => peerIdFromPrivateKey(k).toString());
}

let ids: string[] = [];
/** A connected peer that is no target (a DHT peer). */
let dhtPeer = "";
/** The node's own id. */
let selfId = "";
beforeAll(async () => {
  const made = await peerIds(8);
  selfId = made[0]!;
  dhtPeer = made[1]!;
  ids = made.slice(2);
});

describe("PeerLookups", () => {
  afterEach(() => vi.useRealTimers());

  it("looks up only the targets neither connected nor reachable, four at a time, and reports what it finds", async () => {
    const answers: ((info: PeerInfo) => void)[] = [];
    const { libp2p, connected } = fakeLibp2p(
      (peer) =>
        new Promise((resolve) => answers.push(resolve)).then(() => ({ id: peer, multiaddrs: [] })) as Promise<PeerInfo>,
    );
    connected.add(ids[0]!);
    connected.add(dhtPeer); // a DHT peer, not a target
    const found: string[] = [];
    const lookups = new PeerLookups(libp2p as unknown as Libp2p, {
      targets: () => [...ids, "not a peer id"],
      reachable: (peer) => peer === ids[1],
      found: (peer) => found.push(peer.toString()),
    });
    // ids[0] connected, ids[1] reachable by discovery: the four others are looked up, no more than four at a time.
    expect(libp2p.peerRouting.findPeer.mock.calls.map(([p]) => p.toString())).toEqual(ids.slice(2));
    expect(lookups.started).toBe(4);
    lookups.stop();
  });

  it("hands on a device found with addresses, and looks up a missing one again later and later until it connects", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "setInterval", "Date"] });
    const target = peerIdFromString(ids[2]!);
    let answer: "found" | "missing" = "missing";
    const { libp2p, connected, fire } = fakeLibp2p(async (peer) => {
      if (answer === "missing") throw Object.assign(new Error("not found"), { name: "NotFoundError" });
      return { id: peer, multiaddrs: [{ toString: () => "/ip4/10.0.0.2/tcp/4001" }] } as unknown as PeerInfo;
    });
    connected.add(ids[5]!);
    const found: string[] = [];
    const lookups = new PeerLookups(libp2p as unknown as Libp2p, {
      targets: () => [target.toString()],
      reachable: () => false,
      found: (peer) => found.push(peer.toString()),
    });
    const calls = () => libp2p.peerRouting.findPeer.mock.calls.length;
    await vi.advanceTimersByTimeAsync(0);
    expect(calls()).toBe(1);
    // Missing: tried again after the retry wait, then twice it, then four times (sweeps in between do nothing).
    await vi.advanceTimersByTimeAsync(LOOKUP_RETRY_MS + 10);
    expect(calls()).toBe(2);
    await vi.advanceTimersByTimeAsync(LOOKUP_RETRY_MS + 10);
    expect(calls()).toBe(2);
    await vi.advanceTimersByTimeAsync(LOOKUP_RETRY_MS);
    expect(calls()).toBe(3);
    answer = "found";
    await vi.advanceTimersByTimeAsync(4 * LOOKUP_RETRY_MS);
    expect(calls()).toBe(4);
    expect(found).toEqual([target.toString()]);
    // Found but never connected: the waits keep growing (eight times the first next), so a device at addresses that do not answer is
    // not looked up every few seconds.
    await vi.advanceTimersByTimeAsync(7 * LOOKUP_RETRY_MS);
    expect(calls()).toBe(4);
    // Once connected, then lost, it starts again from the shortest wait.
    connected.add(target.toString());
    fire("connection:close");
    connected.delete(target.toString());
    fire("connection:close");
    await vi.advanceTimersByTimeAsync(0);
    expect(calls()).toBe(5);
    lookups.stop();
    await vi.advanceTimersByTimeAsync(10 * LOOKUP_RETRY_MS);
    expect(calls()).toBe(5);
  });

  it("looks up nothing while the node has no connection, and stops for good without a peer router", async () => {
    const { libp2p, connected, fire } = fakeLibp2p(async () => {
      throw Object.assign(new Error("No peer routers available"), { name: "NoPeerRoutersError" });
    });
    const lookups = new PeerLookups(libp2p as unknown as Libp2p, {
      targets: () => ids,
      reachable: () => false,
      found: () => {},
    });
    expect(lookups.started).toBe(0); // no connection: no DHT peer to ask
    connected.add(dhtPeer);
    fire("peer:identify");
    await new Promise((resolve) => setTimeout(resolve, 10));
    const asked = lookups.started;
    expect(asked).toBeGreaterThan(0);
    fire("peer:identify");
    lookups.reconsider();
    expect(lookups.started).toBe(asked);
    lookups.stop();
  });
});

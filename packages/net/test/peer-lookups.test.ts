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
import { strangers } from "../bench/dht-bench.js";
import { type FederaNode, LOOKUP_RETRY_MS, MAX_LOOKUP_RETRY_MS, PeerLookups } from "../src/index.js";
import { nodeOptions } from "../src/node/index.js";
import { authorizeOnCopy } from "./support/authorize.js";
import { startFederaNode, stopFederaNodes } from "./support/federa-nodes.js";
import { linked } from "./support/linked.js";
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

/**
 * Founds a council on Ana's node (Ben and Cai founders) and opens it on theirs, each node knowing only the DHT address
 * `entry()` gives it; resolves once a donation made on Cai's has reached all three.
 */
async function council(entry: () => readonly string[]) {
  const [ana, ben, cai] = await Promise.all([1, 2, 3].map(() => createIdentity()));
  const a = await inDht(ana!, entry());
  const held = await a.foundCouncil({ name: "Tenants' union", founders: [ben!.member, cai!.member] });
  await held.council.ledger.createFund("repairs", "cash");
  await authorizeOnCopy(held, ben!);
  await authorizeOnCopy(held, cai!);
  const url = held.councilHandle.url as AutomergeUrl;
  // Ben's and Cai's nodes hold no address of Ana's, only her device id (an invitation names it).
  const joined = await Promise.all(
    [ben!, cai!].map(async (identity) => {
      const node = await inDht(identity, entry());
      node.trust(ana!.device.id);
      return { node, held: await node.openCouncil(url) };
    }),
  );
  await joined[1]!.held.council.ledger.donate("repairs", 40);
  const all = [held, ...joined.map((j) => j.held)];
  const balances = () => Promise.all(all.map(async (h) => (await h.council.state()).funds[0]?.balance));
  await waitFor(async () => (await balances()).every((b) => b === 40), "Cai's donation on every node");
  return { nodes: [a, ...joined.map((j) => j.node)] };
}

describe("members' nodes in a DHT", { timeout: 60_000 }, () => {
  it("find each other through a stranger's rendezvous node they alone know, and sync; it gets no document", async () => {
    const rendezvous = await inDht(await createIdentity());
    const { nodes } = await council(() => rendezvous.addresses());
    await waitFor(() => linked(nodes), "each node to know the others and hold its links");
    // The rendezvous routed them to each other and holds nothing of theirs.
    expect(Object.keys(rendezvous.repo.handles)).toEqual([]);
    expect(rendezvous.lookups.started).toBe(0); // it knows no one to look for
  });

  it("serve the DHT only with a public address, unless kept to private addresses", async () => {
    const here = { listen: ["/ip4/127.0.0.1/tcp/0"], mdns: false };
    const mode = (node: FederaNode) => (node.libp2p.services as { dht: { getMode(): string } }).dht.getMode();
    // Only a loopback address: across the internet no one could dial it, so it asks and serves no one.
    const alone = await startFederaNode(await createIdentity(), nodeOptions({ ...here, dht: true }));
    expect(mode(alone)).toBe("client");
    const kept = await startFederaNode(
      await createIdentity(),
      nodeOptions({ ...here, dht: { privateAddresses: true } }),
    );
    expect(mode(kept)).toBe("server");
  });

  it("look each other up where the DHT's own walks meet only strangers", async () => {
    // Twenty strangers: a node's first walks stop at the twenty peers they meet first, strangers here.
    const dht = await strangers(20);
    try {
      const entries = dht.map((n) => n.getMultiaddrs().map(String)).sort(() => Math.random() - 0.5);
      let next = 0;
      const { nodes } = await council(() => entries[next++]!);
      await waitFor(() => linked(nodes), "each node to know the others and hold its links");
      for (const node of nodes) expect(node.lookups.started).toBeGreaterThan(0);
    } finally {
      await Promise.all(dht.map((n) => n.stop()));
    }
  });
});

/** A libp2p with a peer router answering as the test says, and connections and events as the test says. */
function fakeLibp2p(findPeer: (peer: PeerId) => Promise<PeerInfo>, self = peerIdFromString(selfId)) {
  const connected = new Set<string>();
  const listeners = new Map<string, (event: unknown) => void>();
  const noop = Object.assign(() => {}, { error: () => {}, trace: () => {}, enabled: false });
  const libp2p = {
    peerId: self,
    status: "started",
    logger: { forComponent: () => noop },
    getConnections: (peer?: PeerId) =>
      peer === undefined ? [...connected].map((p) => ({ remotePeer: p })) : connected.has(peer.toString()) ? [{}] : [],
    addEventListener: (name: string, fn: (event: unknown) => void) => listeners.set(name, fn),
    removeEventListener: (name: string) => listeners.delete(name),
    peerRouting: { findPeer: vi.fn(findPeer) },
  };
  const fire = (name: string, detail: unknown) => listeners.get(name)?.({ detail });
  return {
    libp2p,
    connected,
    /** `peer` connects, and identify says it speaks `protocols`. */
    connect: (peer: string, protocols = [DHT]) => {
      connected.add(peer);
      fire("peer:identify", { peerId: peerIdFromString(peer), protocols });
    },
    disconnect: (peer: string) => {
      connected.delete(peer);
      fire("connection:close", { remotePeer: peerIdFromString(peer) });
    },
  };
}

const DHT = "/federa/kad/1.0.0";
const addresses = [{ toString: () => "/ip4/10.0.0.2/tcp/4001" }];

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
  const made = await peerIds(10);
  selfId = made[0]!;
  dhtPeer = made[1]!;
  ids = made.slice(2);
});

const calls = (libp2p: ReturnType<typeof fakeLibp2p>["libp2p"]) =>
  libp2p.peerRouting.findPeer.mock.calls.map(([p]) => p.toString());

describe("PeerLookups", () => {
  afterEach(() => vi.useRealTimers());

  it("looks up the targets neither connected nor reachable, four at a time, and hands on what it finds", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "setInterval", "Date"] });
    const answers = new Map<string, () => void>();
    const { libp2p, connected, connect } = fakeLibp2p(
      (peer) =>
        new Promise<PeerInfo>((resolve) =>
          answers.set(peer.toString(), () => resolve({ id: peer, multiaddrs: addresses } as unknown as PeerInfo)),
        ),
    );
    connected.add(ids[0]!);
    const found: string[] = [];
    const lookups = new PeerLookups(libp2p as unknown as Libp2p, {
      targets: () => [...ids, "not a peer id", selfId],
      reachable: (peer) => peer === ids[1],
      found: (peer) => found.push(peer.toString()),
    });
    connect(dhtPeer);
    await vi.advanceTimersByTimeAsync(0);
    // ids[0] connected, ids[1] reachable by discovery: of the six others, four are looked up at once.
    expect(calls(libp2p)).toEqual(ids.slice(2, 6));
    answers.get(ids[2]!)!();
    await vi.advanceTimersByTimeAsync(0);
    expect(found).toEqual([ids[2]]);
    expect(calls(libp2p)).toEqual(ids.slice(2, 7)); // one ended: the fifth starts
    expect(lookups.started).toBe(5);
    lookups.stop();
  });

  it("looks up a missing device again later and later until it connects, then from the shortest wait", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "setInterval", "Date"] });
    const target = ids[2]!;
    let answer: "found" | "missing" = "missing";
    const { libp2p, connect, disconnect } = fakeLibp2p(async (peer) => {
      if (answer === "missing") throw Object.assign(new Error("not found"), { name: "NotFoundError" });
      return { id: peer, multiaddrs: addresses } as unknown as PeerInfo;
    });
    const found: string[] = [];
    const lookups = new PeerLookups(libp2p as unknown as Libp2p, {
      targets: () => [target],
      reachable: () => false,
      found: (peer) => found.push(peer.toString()),
    });
    const count = () => calls(libp2p).length;
    connect(dhtPeer);
    await vi.advanceTimersByTimeAsync(0);
    expect(count()).toBe(1);
    // Missing: tried again after the retry wait, then after twice it, then four times (sweeps in between do nothing).
    await vi.advanceTimersByTimeAsync(LOOKUP_RETRY_MS + 10);
    expect(count()).toBe(2);
    await vi.advanceTimersByTimeAsync(LOOKUP_RETRY_MS + 10);
    expect(count()).toBe(2);
    await vi.advanceTimersByTimeAsync(LOOKUP_RETRY_MS);
    expect(count()).toBe(3);
    answer = "found";
    await vi.advanceTimersByTimeAsync(4 * LOOKUP_RETRY_MS);
    expect(count()).toBe(4);
    expect(found).toEqual([target]);
    // Found but never connected: the waits keep growing (8 retry waits now), so a device at addresses that do not
    // answer is not looked up every few seconds.
    await vi.advanceTimersByTimeAsync(7 * LOOKUP_RETRY_MS);
    expect(count()).toBe(4);
    // Once connected, then lost, it is looked up at once.
    connect(target, []);
    await vi.advanceTimersByTimeAsync(0);
    disconnect(target);
    await vi.advanceTimersByTimeAsync(0);
    expect(count()).toBe(5);
    lookups.stop();
    await vi.advanceTimersByTimeAsync(10 * LOOKUP_RETRY_MS);
    expect(count()).toBe(5);
  });

  it("looks up at once when a DHT peer comes back after the node lost them all, whatever the waits earned", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "setInterval", "Date"] });
    const { libp2p, connect, disconnect } = fakeLibp2p(async () => {
      throw Object.assign(new Error("not found"), { name: "NotFoundError" });
    });
    const lookups = new PeerLookups(libp2p as unknown as Libp2p, {
      targets: () => [ids[0]!],
      reachable: () => false,
      found: () => {},
    });
    connect(dhtPeer);
    await vi.advanceTimersByTimeAsync(6 * LOOKUP_RETRY_MS + 10); // at 0, 1 and 3 retry waits: the next due at 7
    expect(lookups.started).toBe(3);
    disconnect(dhtPeer);
    await vi.advanceTimersByTimeAsync(LOOKUP_RETRY_MS / 4);
    connect(ids[1]!); // another DHT peer: the lookups that had no one to ask go now
    await vi.advanceTimersByTimeAsync(0);
    expect(lookups.started).toBe(4);
    lookups.stop();
  });

  it("waits for a peer that speaks a DHT protocol, and stops for good without a peer router", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "setInterval", "Date"] });
    const { libp2p, connect } = fakeLibp2p(async () => {
      throw Object.assign(new Error("No peer routers available"), { name: "NoPeerRoutersError" });
    });
    const lookups = new PeerLookups(libp2p as unknown as Libp2p, {
      targets: () => ids,
      reachable: () => false,
      found: () => {},
    });
    connect(ids[7]!, ["/federa/sync/1.0.0"]); // a member's node without a DHT: no one to ask
    await vi.advanceTimersByTimeAsync(30_000);
    expect(lookups.started).toBe(0);
    connect(dhtPeer);
    await vi.advanceTimersByTimeAsync(0);
    expect(lookups.started).toBe(4);
    // No peer router in this libp2p: no lookup ever again, however long and whoever connects.
    connect(ids[6]!);
    await vi.advanceTimersByTimeAsync(2 * MAX_LOOKUP_RETRY_MS);
    lookups.reconsider();
    expect(lookups.started).toBe(4);
  });
});

import type { AutomergeUrl } from "@automerge/automerge-repo";
import { createIdentity } from "@federa/core";
import type { Libp2p, PeerId } from "@libp2p/interface";
import { multiaddr } from "@multiformats/multiaddr";
import { afterEach, describe, expect, it } from "vitest";
import {
  DEFAULT_BAN_MS,
  type FederaNode,
  type FederaNodeInit,
  IncompatibleVersionError,
  InvalidFrameError,
  type PeerBannedPayload,
  PeerRefusedError,
  type PeerRejectedPayload,
} from "../src/index.js";
import { authorizeOnCopy } from "./support/authorize.js";
import { dialNode, startFederaNode, stopFederaNodes } from "./support/federa-nodes.js";
import { createNode as createPlainNode, stopAll } from "./support/nodes.js";
import { RawSyncPeer } from "./support/raw-peer.js";
import { nextEvent, waitFor } from "./support/wait.js";

afterEach(async () => {
  await stopFederaNodes();
  await stopAll();
});

/** A clock the test moves by hand. */
function fakeClock(): { t: number; now: () => number } {
  const clock = { t: Date.now(), now: () => clock.t };
  return clock;
}

/** Ana's node with a council whose second member, Ben, has his device authorised, and Ben's node syncing it. */
async function councilOfTwo(init: Partial<FederaNodeInit> = {}) {
  const ana = await createIdentity();
  const ben = await createIdentity();
  const a = await startFederaNode(ana, init);
  const held = await a.foundCouncil({ name: "Bakery", founders: [ben.member] });
  await held.council.ledger.createFund("flour", "cash");
  // Ben signs his device's authorisation with his member key on a copy, and Ana merges it.
  await authorizeOnCopy(held, ben);
  const b = await startFederaNode(ben);
  b.trust(a.libp2p.peerId.toString());
  await dialNode(b, a);
  const benHeld = await b.openCouncil(held.councilHandle.url as AutomergeUrl);
  let donated = 0;
  /** Ana donates; resolves once Ben's replica shows it. */
  const stillSyncs = async () => {
    donated += 10;
    await held.council.ledger.donate("flour", 10);
    await waitFor(async () => (await benHeld.council.state()).funds[0]?.balance === donated, "ben to see the donation");
  };
  await stillSyncs();
  return { a, b, stillSyncs };
}

/** Opens a sync stream from `attacker` to `victim`, completes an honest handshake, then sends a frame of garbage. */
async function garbageAfterHandshake(attacker: Libp2p, victim: FederaNode): Promise<PeerBannedPayload> {
  const banned = nextEvent(victim.events, "peer:banned");
  const raw = await RawSyncPeer.open(attacker, victim.libp2p);
  await raw.handshake();
  raw.writeFrame(Uint8Array.of(0xff, 0xfe, 0xfd));
  return banned;
}

function connected(from: Libp2p, to: PeerId): boolean {
  return from.getConnections(to).some((c) => c.status === "open");
}

describe("FederaNode bans peers that break the sync protocol", () => {
  it("hangs up on a peer sending garbage, refuses it both ways until the ban ends, and doubles a repeat", async () => {
    const clock = fakeClock();
    const { a, b, stillSyncs } = await councilOfTwo({ now: clock.now });
    const attacker = await createPlainNode();
    const id = attacker.peerId.toString();
    a.trust(id); // a peer a node lets sync, such as an inviter: it gets a hello, so its frames are read

    const first = await garbageAfterHandshake(attacker, a);
    const opened: string[] = [];
    a.libp2p.addEventListener("connection:open", (e) => {
      if (e.detail.remotePeer.equals(attacker.peerId) && clock.t < first.until) opened.push(e.detail.id);
    });
    expect(first).toMatchObject({ peerId: id, until: clock.t + DEFAULT_BAN_MS });
    expect(first.error).toBeInstanceOf(InvalidFrameError);
    expect(a.banned()).toEqual(new Map([[id, clock.t + DEFAULT_BAN_MS]]));
    // Not only its sync stream: every connection to it is gone.
    expect(connected(a.libp2p, attacker.peerId)).toBe(false);
    await waitFor(() => !connected(attacker, a.libp2p.peerId), "the attacker to see the hang-up");

    // While banned, its dials are refused once Noise names it, and the node does not dial it either.
    // (The attacker's own side may count its connection open until the node's refusal after Noise reaches it.)
    await expect(RawSyncPeer.open(attacker, a.libp2p)).rejects.toThrow();
    await expect(a.libp2p.dial(attacker.getMultiaddrs()[0]!, { signal: AbortSignal.timeout(5_000) })).rejects.toThrow(
      /gater/,
    );
    // An address without a peer id reveals whom it reaches only once Noise is through: refused there.
    const bare = multiaddr(
      attacker
        .getMultiaddrs()[0]!
        .toString()
        .replace(/\/p2p\/[^/]+$/, ""),
    );
    await expect(a.libp2p.dial(bare, { signal: AbortSignal.timeout(5_000) })).rejects.toThrow();
    expect(opened).toEqual([]);
    expect(connected(a.libp2p, attacker.peerId)).toBe(false);

    // The member's device was never touched and keeps syncing.
    expect(connected(a.libp2p, b.libp2p.peerId)).toBe(true);
    await stillSyncs();

    // Once the ban is over the peer may connect again; a second offence earns twice the ban.
    clock.t += DEFAULT_BAN_MS + 1;
    expect(a.banned().size).toBe(0);
    await attacker.dial(a.libp2p.getMultiaddrs()[0]!);
    const second = await garbageAfterHandshake(attacker, a);
    expect(second.until).toBe(clock.t + 2 * DEFAULT_BAN_MS);
    expect(a.banned().get(id)).toBe(clock.t + 2 * DEFAULT_BAN_MS);
    expect(connected(a.libp2p, attacker.peerId)).toBe(false);
    await stillSyncs();

    // Lifting the ban by hand lets it back in.
    a.unban(id);
    await attacker.dial(a.libp2p.getMultiaddrs()[0]!);
    expect(connected(attacker, a.libp2p.peerId)).toBe(true);
  });

  it.each([
    // A stranger is refused as soon as it opens the stream, before it can say anything.
    ["a stranger refused a sync stream", (_raw: RawSyncPeer) => {}, PeerRefusedError, false],
    [
      "a peer speaking another major version",
      (raw: RawSyncPeer) => raw.writeHello({ version: { major: 2, minor: 0 } }),
      IncompatibleVersionError,
      true,
    ],
  ])("%s is rejected but not banned: its connection stays", async (_, hello, reason, trusted) => {
    const a = await startFederaNode(await createIdentity());
    const peer = await createPlainNode();
    if (trusted) a.trust(peer.peerId.toString());
    const bans: PeerBannedPayload[] = [];
    a.events.on("peer:banned", (payload) => bans.push(payload));
    const rejected = nextEvent(a.adapter.events, "peer:rejected");
    const raw = await RawSyncPeer.open(peer, a.libp2p);
    hello(raw);
    const { peerId, error }: PeerRejectedPayload = await rejected;
    expect(peerId).toBe(peer.peerId.toString());
    expect(error).toBeInstanceOf(reason);
    // The refusal may come before the stream's close listener exists: look at its status instead.
    await waitFor(() => raw.stream.status !== "open", "the sync stream to close");
    expect(bans).toEqual([]);
    expect(a.banned().size).toBe(0);
    expect(connected(a.libp2p, peer.peerId)).toBe(true);
    // It may hang up and come back.
    await peer.hangUp(a.libp2p.peerId);
    await peer.dial(a.libp2p.getMultiaddrs()[0]!);
    expect(connected(peer, a.libp2p.peerId)).toBe(true);
  });

  it("keeps the connection gater the caller passes, adding the ban to it", async () => {
    const other = await createPlainNode();
    const asked: string[] = [];
    const a = await startFederaNode(await createIdentity(), {
      libp2p: {
        connectionGater: {
          denyDialPeer: (peer: PeerId) => {
            asked.push(peer.toString());
            return peer.equals(other.peerId);
          },
        },
      },
    });
    await expect(a.libp2p.dial(other.getMultiaddrs()[0]!, { signal: AbortSignal.timeout(5_000) })).rejects.toThrow(
      /gater/,
    );
    expect(asked).toEqual([other.peerId.toString()]);

    const attacker = await createPlainNode();
    a.trust(attacker.peerId.toString());
    await garbageAfterHandshake(attacker, a);
    await expect(a.libp2p.dial(attacker.getMultiaddrs()[0]!, { signal: AbortSignal.timeout(5_000) })).rejects.toThrow(
      /gater/,
    );
  });

  it("bans nobody when banMs is 0", async () => {
    const a = await startFederaNode(await createIdentity(), { banMs: 0 });
    const attacker = await createPlainNode();
    a.trust(attacker.peerId.toString());
    const rejected = nextEvent(a.adapter.events, "peer:rejected");
    const raw = await RawSyncPeer.open(attacker, a.libp2p);
    await raw.handshake();
    raw.writeFrame(Uint8Array.of(0xff));
    expect((await rejected).error).toBeInstanceOf(InvalidFrameError);
    expect(a.banned().size).toBe(0);
    expect(connected(a.libp2p, attacker.peerId)).toBe(true);
  });

  it("keeps its bans across a restart: the records it gives back refuse the peer again, a repeat still doubles", async () => {
    const clock = fakeClock();
    const ana = await createIdentity();
    const before = await startFederaNode(ana, { now: clock.now });
    const attacker = await createPlainNode();
    const id = attacker.peerId.toString();
    before.trust(id);
    const first = await garbageAfterHandshake(attacker, before);
    const records = before.banRecords();
    expect(records).toEqual([{ peer: id, until: first.until, strikes: 1, ms: DEFAULT_BAN_MS }]);
    await before.stop();

    // Restarted with what it kept (and junk a damaged file could hold, skipped), the node still refuses the peer.
    const junk = [
      { peer: "", until: 1, strikes: 1, ms: 1 },
      { peer: "x", until: -1, strikes: 0, ms: 0 },
    ];
    const after = await startFederaNode(ana, { now: clock.now, bans: [...records, ...(junk as typeof records)] });
    expect(after.banned()).toEqual(new Map([[id, first.until]]));
    await expect(
      after.libp2p.dial(attacker.getMultiaddrs()[0]!, { signal: AbortSignal.timeout(5_000) }),
    ).rejects.toThrow(/gater/);
    // Once the ban is over the peer may come back; offending again within the memory of the first doubles the ban.
    clock.t = first.until + 1;
    after.trust(id);
    await attacker.hangUp(after.libp2p.peerId); // its stale connection to the node before the restart
    const second = await garbageAfterHandshake(attacker, after);
    expect(second.until).toBe(clock.t + 2 * DEFAULT_BAN_MS);
    // Records past their memory (twice the ban) are not taken back.
    clock.t = second.until + 2 * DEFAULT_BAN_MS + 1;
    const later = await startFederaNode(await createIdentity(), { now: clock.now, bans: after.banRecords() });
    expect(later.banRecords()).toEqual([]);
  });
});

/**
 * The sync protocol per document and peer, run as automerge-repo's DocSynchronizer runs it: Automerge's
 * `generateSyncMessage`/`receiveSyncMessage` with one sync state per peer, an immediate answer to the sender of each
 * message, a throttled send to every peer after a change, and a fresh round when a peer connects.
 */
import * as A from "@automerge/automerge";
import { cbor } from "@automerge/automerge-repo";
import type { DocKey, Link, Network, Replica } from "./network.js";

/** A sync message on its way. */
export interface InFlight {
  readonly link: Link;
  readonly epoch: number;
  readonly from: number;
  readonly to: number;
  readonly key: DocKey;
  readonly data: Uint8Array;
  readonly bytes: number;
  /** 1 for a message sent on a change or a connection, one more than its cause for a reaction. */
  readonly round: number;
}

/** What the synchronizer reports to whoever measures. */
export interface SyncObserver {
  sent(message: InFlight, attempts: number, at: number): void;
  delivered(message: InFlight, at: number): void;
  dropped(message: InFlight, at: number): void;
  /** A replica's heads changed by a message (round ≥ 1) or a local change (round 0). */
  changed(replica: Replica, round: number, at: number): void;
}

export interface SyncInit {
  readonly network: Network;
  readonly syncDelay: number;
  readonly observer: SyncObserver;
  /** Puts an event on the agenda. */
  readonly schedule: (
    at: number,
    event: { type: "flush"; replica: Replica } | { type: "deliver"; message: InFlight },
  ) => void;
}

const headsKey = (doc: A.Doc<unknown>) => A.getHeads(doc).join(",");

/** Runs the sync protocol over the simulated network. */
export class Synchronizer {
  readonly #init: SyncInit;
  /** Per replica, its links to nodes holding the same document (a relay has hundreds of links, few per document). */
  readonly #peers = new Map<Replica, { link: Link; peer: number }[]>();

  constructor(init: SyncInit) {
    this.#init = init;
  }

  /** A local change: the replica's peers hear of it after the throttle. */
  localChange(replica: Replica, now: number): void {
    this.#init.observer.changed(replica, 0, now);
    this.#scheduleFlush(replica, 1, now);
  }

  #scheduleFlush(replica: Replica, round: number, now: number): void {
    replica.flushRound = Math.max(replica.flushRound, round);
    if (replica.flushAt !== null) return;
    replica.flushAt = Math.max(now, replica.lastFlush + this.#init.syncDelay);
    this.#init.schedule(replica.flushAt, { type: "flush", replica });
  }

  /** The throttled send: one message to each connected peer that holds the document, if it has anything to say. */
  flush(replica: Replica, now: number): void {
    const round = replica.flushRound;
    replica.flushAt = null;
    replica.flushRound = 0;
    replica.lastFlush = now;
    for (const { link, peer } of this.#peersOf(replica)) if (link.up) this.#send(replica, link, peer, round, now);
  }

  #peersOf(replica: Replica): { link: Link; peer: number }[] {
    let peers = this.#peers.get(replica);
    if (peers === undefined) {
      const { network } = this.#init;
      peers = [];
      for (const link of network.linksOf(replica.node.index)) {
        const peer = link.a === replica.node.index ? link.b : link.a;
        if (network.nodes[peer]!.replicas.has(replica.key)) peers.push({ link, peer });
      }
      this.#peers.set(replica, peers);
    }
    return peers;
  }

  #send(replica: Replica, link: Link, peer: number, round: number, now: number): void {
    const state = replica.syncStates.get(peer) ?? A.initSyncState();
    const [next, data] = A.generateSyncMessage(replica.source.doc(), state);
    replica.syncStates.set(peer, next);
    if (data === null) return;
    const network = this.#init.network;
    // What automerge-repo puts on the wire: its CBOR envelope around the Automerge sync message.
    const bytes = cbor.encode({
      type: "sync",
      senderId: replica.node.peerId,
      targetId: network.nodes[peer]!.peerId,
      documentId: replica.documentId,
      data,
    }).byteLength;
    const from = replica.node.index;
    const message: InFlight = { link, epoch: link.epoch, from, to: peer, key: replica.key, data, bytes, round };
    const sent = network.transmit(link, from, bytes, now);
    if (sent === null) return;
    this.#init.observer.sent(message, sent.attempts, now);
    this.#init.schedule(sent.at, { type: "deliver", message });
  }

  /** A message arrives: applied, answered at once to its sender, and passed on to other peers after the throttle. */
  deliver(message: InFlight, now: number): void {
    const { link } = message;
    if (!link.up || link.epoch !== message.epoch) {
      this.#init.observer.dropped(message, now);
      return;
    }
    this.#init.observer.delivered(message, now);
    const node = this.#init.network.nodes[message.to]!;
    const replica = node.replicas.get(message.key)!;
    const before = headsKey(replica.source.doc());
    const state = replica.syncStates.get(message.from) ?? A.initSyncState();
    const [doc, next] = A.receiveSyncMessage(replica.source.doc(), state, message.data);
    replica.source.set(doc);
    replica.syncStates.set(message.from, next);
    this.#send(replica, link, message.from, message.round + 1, now);
    if (headsKey(doc) !== before) {
      this.#init.observer.changed(replica, message.round, now);
      this.#scheduleFlush(replica, message.round + 1, now);
    }
  }

  /** A link came up: both ends start a sync round for every document they share, from their last known state. */
  connected(link: Link, now: number): void {
    const nodes = this.#init.network.nodes;
    for (const [self, peer] of [
      [link.a, link.b],
      [link.b, link.a],
    ] as const) {
      for (const replica of nodes[self]!.replicas.values()) {
        if (!nodes[peer]!.replicas.has(replica.key)) continue;
        const state = replica.syncStates.get(peer);
        // As automerge-repo does on reconnection: keep what both sides had in common, forget what was in flight.
        if (state !== undefined) replica.syncStates.set(peer, A.decodeSyncState(A.encodeSyncState(state)));
        this.#send(replica, link, peer, 1, now);
      }
    }
  }
}

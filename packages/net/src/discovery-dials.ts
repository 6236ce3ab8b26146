/**
 * Which discovered peers a node dials. On a LAN, mDNS tells every node of every other; dialling them all made a full
 * mesh, whose n(n − 1) / 2 connections (a Noise handshake, identify and Yamux each) held 16 nodes on 2 cores for
 * seconds before any document synced. The peers a node shares documents with fall in groups (the devices a council's
 * documents go to, say); over each group's peers it has discovered, the node lays the sync tree and dials its
 * neighbours in it, however few. Every member of a group that knows the same peers lays the same tree, so a LAN gets
 * one connection per tree edge (a star of four, not six links), and the adapter then syncs over all of them at once.
 * Strangers are not dialled; connections other nodes open are kept whatever the tree says; a peer that cannot be
 * dialled is left out of the trees until it is announced again.
 */
import type { IdentifyResult, Libp2p, PeerId, PeerInfo } from "@libp2p/interface";
import { SYNC_PROTOCOL } from "./constants.js";
import { type DiscoveredTree, heapNeighbours } from "./sync-tree.js";

/** A peer whose dial failed stays out of the tree this long (doubling with each failure), unless announced again. */
export const UNREACHABLE_MS = 30_000;
/** After this many failed dials in a row with no announcement between, a peer not connected is forgotten. */
const FORGET_AFTER_FAILURES = 3;
/** Announced peers remembered at most (DHT walks announce many strangers): past it, the longest unannounced is forgotten. */
export const MAX_KNOWN = 1_024;
/** A peer is dialled again no sooner than this after its last dial (one that accepts and hangs up is not hammered). */
const MIN_REDIAL_MS = 1_000;
/**
 * Dials wait until no peer was announced for this long (mDNS answers to one query arrive within a few hundred ms):
 * a tree laid over each partial view would dial edges the full view does not need.
 */
export const SETTLE_MS = 300;
/** ...but no longer than this after the first announcement waiting. */
const MAX_SETTLE_MS = 2_000;
/**
 * Of two neighbours, the one with the smaller peer id dials; the other dials only if no connection came this long after
 * it wanted one (the other may lay a different tree). Both dialling at once opened two connections per link.
 */
export const DIAL_BACK_MS = 2_000;
/**
 * While the node is busy syncing, a neighbour in a group it already has a connection into waits to be dialled, at
 * most this long after it was first wanted: the peers the node is connected to relay the group's changes meanwhile, and
 * a tree link dialled in the middle of a merge carries the merge a second time.
 */
export const BUSY_DEFER_MS = 30_000;
/** While neighbours wait for the node to be quiet, the dials are looked at again this often. */
const BUSY_RECHECK_MS = 250;

/** Limits of the dialling. */
export interface DiscoveryDialsInit {
  /**
   * No dial is started while this many outbound connections to `counted` peers are open (inbound ones do not count, nor
   * those a DHT opens to strangers as it walks).
   */
  readonly maxConnections: number;
  /** The peers whose outbound connections the limit counts (default: all). */
  readonly counted?: (peer: string) => boolean;
  /** The sync tree's fan-out: a node dials its parent and up to this many children. */
  readonly fanout: number;
  /** Milliseconds a peer that could not be dialled is left out (`UNREACHABLE_MS`). */
  readonly unreachableMs?: number;
  /** Milliseconds without an announcement before dialling (`SETTLE_MS`). */
  readonly settleMs?: number;
  /** Announced peers remembered at most (`MAX_KNOWN`). */
  readonly maxKnown?: number;
  /**
   * The groups of `peers` that must stay connected among themselves (`AccessPolicy.sharing`); peers in none are not
   * dialled. By default, all of them form one group.
   */
  readonly groups?: (peers: ReadonlySet<string>) => Iterable<ReadonlySet<string>>;
  /**
   * True while the node is busy syncing: a neighbour in a group the node is connected into waits to be dialled
   * (`BUSY_DEFER_MS`). Default: never.
   */
  readonly busy?: () => boolean;
  /** Whether the node syncs with a connected `peer` now (a held stream carries nothing). Default: connected is enough. */
  readonly linked?: (peer: string) => boolean;
}

/** What a node holds of one announced peer. */
interface Known {
  readonly peer: PeerId;
  /** Identify says it does not speak the sync protocol: no use dialling it for syncing. */
  notSync: boolean;
  /** Its last dial failed: left out of the tree until then (ms since the epoch). */
  unreachableUntil: number | undefined;
  /** Failed dials in a row since it was last announced. */
  failures: number;
  dialling: boolean;
  /** When it was last dialled. */
  dialledAt: number;
  /** Since when it has been wanted without a connection, when its id is the smaller and it should dial this node. */
  waitingSince: number | undefined;
  /** Since when it has been wanted without a connection while the node was busy and connected into its groups. */
  deferredSince: number | undefined;
}

/** Dials the discovered peers a node's sync tree asks for, and again whenever a connection closes. */
export class DiscoveryDials {
  readonly #libp2p: Libp2p;
  readonly #self: string;
  readonly #init: Required<DiscoveryDialsInit>;
  /** Peers announced by discovery, by id, in the order of their last announcement. */
  readonly #known = new Map<string, Known>();
  #stopped = false;
  #settle: ReturnType<typeof setTimeout> | undefined;
  /** Evaluates again once a peer skipped for having been dialled just now may be dialled. */
  #retry: ReturnType<typeof setTimeout> | undefined;
  #retryAt = 0;
  /** When the first announcement still waiting for the tree arrived. */
  #settlingSince: number | undefined;

  constructor(libp2p: Libp2p, init: DiscoveryDialsInit) {
    this.#libp2p = libp2p;
    this.#self = libp2p.peerId.toString();
    this.#init = {
      unreachableMs: UNREACHABLE_MS,
      settleMs: SETTLE_MS,
      maxKnown: MAX_KNOWN,
      groups: (peers) => [peers],
      counted: () => true,
      busy: () => false,
      linked: () => true,
      ...init,
    };
    libp2p.addEventListener("peer:discovery", this.#onDiscovery);
    libp2p.addEventListener("connection:close", this.#onClose);
    libp2p.addEventListener("peer:identify", this.#onIdentify);
  }

  readonly #onDiscovery = (event: CustomEvent<PeerInfo>): void => this.discovered(event.detail.id);
  readonly #onClose = (): void => this.#evaluate();
  readonly #onIdentify = (event: CustomEvent<IdentifyResult>): void => {
    const known = this.#known.get(event.detail.peerId.toString());
    if (known === undefined) return;
    const notSync = !event.detail.protocols.includes(SYNC_PROTOCOL);
    if (notSync === known.notSync) return;
    known.notSync = notSync;
    if (notSync) this.#evaluate(); // the tree is laid again without it
  };

  /** A peer was announced (discovery does this for you): it joins the tree, as reachable, and the tree is dialled. */
  discovered(peer: PeerId): void {
    const id = peer.toString();
    if (id === this.#self || this.#stopped) return;
    const before = this.#known.get(id);
    const news = before === undefined || before.unreachableUntil !== undefined;
    this.#known.delete(id); // re-inserted last: the map stays in order of last announcement
    this.#known.set(id, {
      peer,
      // Identify saw no sync protocol (a node stopping, say): an announcement while apart earns it another try.
      notSync: (before?.notSync ?? false) && this.#libp2p.getConnections(peer).length > 0,
      unreachableUntil: undefined,
      failures: 0,
      dialling: before?.dialling ?? false,
      // Back after failing, or new: dialled now, however recent the last try.
      dialledAt: news ? Number.NEGATIVE_INFINITY : before.dialledAt,
      waitingSince: before?.waitingSince,
      deferredSince: before?.deferredSince,
    });
    this.#forgetOldest();
    if (news) this.#settleThenEvaluate();
    else this.#evaluate(); // a repeated announcement: a dropped link to it is dialled again
  }

  /** Peers announced and remembered, by id. */
  discoveredPeers(): string[] {
    return [...this.#known.keys()];
  }

  /** True while `peer` is announced and its last dial did not fail: discovery has an address to try. */
  reachable(peer: string): boolean {
    const known = this.#known.get(peer);
    return known !== undefined && known.unreachableUntil === undefined;
  }

  /** The peers the node means to be connected to now: its neighbours in each group's tree over the peers it knows. */
  wanted(): ReadonlySet<string> {
    return this.tree().neighbours;
  }

  /**
   * The trees over the peers the node knows (announced and not out, or connected): its neighbours in them, which it
   * dials, every peer of its groups, in a tree or not, and the neighbours all of whose groups it is connected into.
   */
  tree(): DiscoveredTree & { readonly reached: ReadonlySet<string> } {
    const now = Date.now();
    const view = new Set<string>();
    for (const [id, known] of this.#known) {
      if (!known.notSync && (known.unreachableUntil ?? 0) <= now) view.add(id);
    }
    const connected = new Set<string>();
    for (const connection of this.#libp2p.getConnections()) {
      const id = connection.remotePeer.toString();
      if (connection.status !== "open") continue;
      connected.add(id);
      if (this.#known.get(id)?.notSync !== true) view.add(id);
    }
    const neighbours = new Set<string>();
    const members = new Set<string>();
    const reached = new Set<string>();
    const unreached = new Set<string>();
    for (const group of this.#init.groups(view)) {
      for (const peer of group) if (peer !== this.#self) members.add(peer);
      const into = [...group].some((peer) => connected.has(peer) && this.#init.linked(peer));
      for (const peer of heapNeighbours(this.#self, group, this.#init.fanout)) {
        if (!view.has(peer)) continue;
        neighbours.add(peer);
        (into ? reached : unreached).add(peer);
      }
    }
    for (const peer of unreached) reached.delete(peer);
    return { neighbours, members, reached };
  }

  /** Lays the trees again and dials what they ask for: call it when the groups change (membership, devices). */
  reconsider(): void {
    this.#evaluate();
  }

  /** Forgets the peers announced longest ago, past `maxKnown`: they are dialled again once announced again. */
  #forgetOldest(): void {
    for (const id of this.#known.keys()) {
      if (this.#known.size <= this.#init.maxKnown) return;
      this.#known.delete(id);
    }
  }

  /** Dials nothing more. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#settle);
    clearTimeout(this.#retry);
    this.#libp2p.removeEventListener("peer:discovery", this.#onDiscovery);
    this.#libp2p.removeEventListener("connection:close", this.#onClose);
    this.#libp2p.removeEventListener("peer:identify", this.#onIdentify);
  }

  /** Outbound connections open to counted peers: the ones the limit counts. */
  #outbound(): number {
    return this.#libp2p
      .getConnections()
      .filter((c) => c.direction === "outbound" && this.#init.counted(c.remotePeer.toString())).length;
  }

  /** Evaluates again in `ms`, unless a retry is armed for sooner. */
  #retryIn(ms: number): void {
    const at = Date.now() + ms;
    if (this.#retry !== undefined && this.#retryAt <= at) return;
    clearTimeout(this.#retry);
    this.#retryAt = at;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      this.#evaluate();
    }, ms);
    (this.#retry as { unref?: () => void }).unref?.();
  }

  /** Evaluates once announcements stop arriving for `settleMs`, or `MAX_SETTLE_MS` after the first of them. */
  #settleThenEvaluate(): void {
    const now = Date.now();
    this.#settlingSince ??= now;
    clearTimeout(this.#settle);
    const wait = Math.max(0, Math.min(this.#init.settleMs, this.#settlingSince + MAX_SETTLE_MS - now));
    this.#settle = setTimeout(() => {
      this.#settle = undefined;
      this.#settlingSince = undefined;
      this.#evaluate();
    }, wait);
    (this.#settle as { unref?: () => void }).unref?.();
  }

  /** Dials the wanted peers not connected or being dialled, while connections are under the limit. */
  #evaluate(): void {
    if (this.#stopped || this.#settle !== undefined || this.#libp2p.status !== "started") return;
    const now = Date.now();
    // A peer left out until a time still ahead is looked at again then: the timer set for it may fire a millisecond
    // early by this clock, and finding it still left out would arm nothing, leaving it undialled for good.
    for (const known of this.#known.values())
      if (known.unreachableUntil !== undefined && known.unreachableUntil > now)
        this.#retryIn(known.unreachableUntil - now);
    const tree = this.tree();
    const wanted = tree.neighbours;
    for (const [id, known] of this.#known) {
      if (!wanted.has(id)) known.waitingSince = undefined;
      if (!wanted.has(id) || this.#libp2p.getConnections(known.peer).length > 0) known.deferredSince = undefined;
    }
    for (const id of wanted) {
      if (this.#outbound() >= this.#init.maxConnections) return;
      const known = this.#known.get(id);
      if (known === undefined || known.dialling) continue;
      if (this.#libp2p.getConnections(known.peer).length > 0) {
        known.waitingSince = undefined;
        continue;
      }
      if (id < this.#self) {
        known.waitingSince ??= now;
        if (now - known.waitingSince < DIAL_BACK_MS) {
          this.#retryIn(known.waitingSince + DIAL_BACK_MS - now);
          continue;
        }
      }
      if (tree.reached.has(id) && this.#init.busy()) {
        known.deferredSince ??= now;
        if (now - known.deferredSince < BUSY_DEFER_MS) {
          this.#retryIn(BUSY_RECHECK_MS);
          continue;
        }
      }
      if (now - known.dialledAt < MIN_REDIAL_MS) {
        this.#retryIn(known.dialledAt + MIN_REDIAL_MS - now);
        continue;
      }
      this.#dial(id, known);
    }
  }

  #dial(id: string, known: Known): void {
    known.dialledAt = Date.now();
    known.dialling = true;
    this.#libp2p
      .dial(known.peer)
      .catch(() => {
        // Discovery is best effort: the tree is laid around the peer until it is announced again or its time is up.
        if (this.#known.get(id) !== known) return; // announced again meanwhile
        known.failures++;
        if (known.failures >= FORGET_AFTER_FAILURES && this.#libp2p.getConnections(known.peer).length === 0) {
          this.#known.delete(id); // gone for good, it seems: an announcement brings it back
          return;
        }
        const out = this.#init.unreachableMs * 2 ** (known.failures - 1);
        known.unreachableUntil = Date.now() + out;
        this.#retryIn(out);
      })
      .finally(() => {
        known.dialling = false;
        const current = this.#known.get(id);
        if (current !== undefined && current !== known) current.dialling = false;
        this.#evaluate();
      });
  }
}

/**
 * Finding the devices a node shares documents with beyond the LAN. mDNS reaches one link; a DHT's own walks (kad-dht
 * looks up the node's own id) meet the peers nearest that id, seldom a fellow member. So a node whose libp2p has a
 * peer router (kad-dht) asks it, by peer id, for each device it should know and has no working address of: a member's
 * device, an inviter. What it finds goes to the discovery dials, which dial it if the sync tree asks for it.
 */
import type { Connection, IdentifyResult, Libp2p, PeerId } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";

/**
 * A device looked up and still not connected is looked up again after this long, doubling each time (a device that
 * joins the DHT as this node looks it up is findable once its own first walk is done, a second or two on).
 */
export const LOOKUP_RETRY_MS = 2_000;
/** ...up to this long between lookups of a device that stays away. */
export const MAX_LOOKUP_RETRY_MS = 300_000;
/** One lookup gives up after this long (a DHT walk of a large network takes seconds). */
export const LOOKUP_TIMEOUT_MS = 30_000;
/** Lookups running at once: each walks the DHT with several queries in flight. */
export const LOOKUP_CONCURRENCY = 4;
/** Devices missing are checked this often, besides when a connection closes or the council changes. */
const SWEEP_MS = 5_000;
/** A peer speaking one of these can answer lookups: a Kademlia DHT's protocols (`/ipfs/kad/1.0.0`, `/federa/kad/1.0.0`). */
const KAD_PROTOCOL = /\/kad\/\d/;

/** What the lookups need of the node. */
export interface PeerLookupsInit {
  /** The devices this node should be able to reach (its councils' members' devices, its inviters). */
  readonly targets: () => Iterable<string>;
  /** True while discovery holds an address of `peer` not known to fail: no lookup needed. */
  readonly reachable: (peer: string) => boolean;
  /** Told of each device found, with its addresses now in the peer store. */
  readonly found: (peer: PeerId) => void;
}

/** Per device: when it may be looked up again, lookups since it was last connected, and whether one is under way. */
interface Lookup {
  readonly peer: PeerId;
  nextAt: number;
  tries: number;
  running: boolean;
}

/** Looks up, through libp2p's peer routing, the devices a node should reach and cannot. */
export class PeerLookups {
  readonly #libp2p: Libp2p;
  readonly #init: PeerLookupsInit;
  readonly #self: string;
  readonly #log: ReturnType<Libp2p["logger"]["forComponent"]>;
  readonly #lookups = new Map<string, Lookup>();
  readonly #abort = new AbortController();
  /** Connected peers that speak a DHT protocol: until there is one, a lookup has no one to ask. */
  readonly #routers = new Set<string>();
  #running = 0;
  #lookedUp = 0;
  #sweeping: ReturnType<typeof setInterval> | undefined;
  /** Wakes the lookups when the next device waiting may be looked up again. */
  #wake: ReturnType<typeof setTimeout> | undefined;
  #wakeAt = Number.POSITIVE_INFINITY;
  /** A reconsideration is due on the next turn (events come in bursts as a DHT walks). */
  #due: ReturnType<typeof setTimeout> | undefined;

  constructor(libp2p: Libp2p, init: PeerLookupsInit) {
    this.#libp2p = libp2p;
    this.#init = init;
    this.#self = libp2p.peerId.toString();
    this.#log = libp2p.logger.forComponent("federa:lookups");
    this.#sweeping = setInterval(() => this.reconsider(), SWEEP_MS);
    (this.#sweeping as { unref?: () => void }).unref?.();
    libp2p.addEventListener("peer:identify", this.#onIdentify);
    libp2p.addEventListener("connection:close", this.#onClose);
  }

  readonly #onIdentify = (event: CustomEvent<IdentifyResult>): void => {
    const peer = event.detail.peerId.toString();
    if (event.detail.protocols.some((p) => KAD_PROTOCOL.test(p)) && !this.#routers.has(peer)) {
      // The first DHT peer: lookups that had no one to ask are not held back by the waits they earned meanwhile.
      if (this.#routers.size === 0) for (const lookup of this.#lookups.values()) if (!lookup.running) lookup.nextAt = 0;
      this.#routers.add(peer);
    }
    this.#soon(); // a device looked for may have connected
  };

  readonly #onClose = (event: CustomEvent<Connection>): void => {
    const peer = event.detail.remotePeer;
    if (this.#libp2p.getConnections(peer).length === 0) this.#routers.delete(peer.toString());
    this.#soon(); // a closed link may leave a device unreachable
  };

  /** Lookups started since the node started (to see what the DHT costs). */
  get started(): number {
    return this.#lookedUp;
  }

  /** Looks up the devices missing now, as many at once as allowed: call it when the targets change. */
  reconsider(): void {
    if (this.#abort.signal.aborted || this.#routers.size === 0 || this.#libp2p.status !== "started") return;
    const now = Date.now();
    const targets = new Set(this.#init.targets());
    for (const [id, lookup] of this.#lookups) if (!targets.has(id) && !lookup.running) this.#lookups.delete(id);
    for (const id of targets) {
      if (this.#running >= LOOKUP_CONCURRENCY) return;
      if (id === this.#self) continue;
      let lookup = this.#lookups.get(id);
      if (lookup === undefined) {
        const peer = asPeerId(id);
        if (peer === undefined) continue;
        lookup = { peer, nextAt: 0, tries: 0, running: false };
        this.#lookups.set(id, lookup);
      }
      if (this.#libp2p.getConnections(lookup.peer).length > 0) {
        lookup.tries = 0; // reached: a later loss starts again from the shortest wait
        lookup.nextAt = 0;
        continue;
      }
      if (lookup.running || this.#init.reachable(id)) continue; // discovery has an address to try first
      if (lookup.nextAt > now) this.#wakeBy(lookup.nextAt);
      else void this.#lookUp(lookup);
    }
  }

  /** True while some target is neither connected nor known to discovery at an address that has not failed. */
  missing(): boolean {
    for (const id of this.#init.targets()) {
      if (id === this.#self || this.#init.reachable(id)) continue;
      const peer = this.#lookups.get(id)?.peer ?? asPeerId(id);
      if (peer !== undefined && this.#libp2p.getConnections(peer).length === 0) return true;
    }
    return false;
  }

  /** Looks up nothing more. */
  stop(): void {
    this.#abort.abort();
    clearInterval(this.#sweeping);
    clearTimeout(this.#wake);
    clearTimeout(this.#due);
    this.#libp2p.removeEventListener("peer:identify", this.#onIdentify);
    this.#libp2p.removeEventListener("connection:close", this.#onClose);
  }

  /** Reconsiders on the next turn, once however many events arrive in this one. */
  #soon(): void {
    if (this.#due !== undefined || this.#abort.signal.aborted) return;
    this.#due = setTimeout(() => {
      this.#due = undefined;
      this.#reconsiderSafely();
    }, 0);
  }

  #reconsiderSafely(): void {
    try {
      this.reconsider();
    } catch (e) {
      this.#log.error("could not look up the devices missing - %e", e);
    }
  }

  /** Arms the wake-up timer for `at`, unless it is armed for sooner. */
  #wakeBy(at: number): void {
    if (this.#wake !== undefined && this.#wakeAt <= at) return;
    clearTimeout(this.#wake);
    this.#wakeAt = at;
    this.#wake = setTimeout(
      () => {
        this.#wake = undefined;
        this.#wakeAt = Number.POSITIVE_INFINITY;
        this.#reconsiderSafely();
      },
      Math.max(0, at - Date.now()),
    );
    (this.#wake as { unref?: () => void }).unref?.();
  }

  async #lookUp(lookup: Lookup): Promise<void> {
    lookup.running = true;
    this.#running++;
    this.#lookedUp++;
    try {
      const signal = AbortSignal.any([this.#abort.signal, AbortSignal.timeout(LOOKUP_TIMEOUT_MS)]);
      // Not from this node's own peer store: the addresses it holds are the ones that stopped working.
      const found = await this.#libp2p.peerRouting.findPeer(lookup.peer, { signal, useCache: false });
      if (!this.#abort.signal.aborted && found.multiaddrs.length > 0) this.#init.found(found.id);
    } catch (e) {
      const name = (e as Error).name;
      if (name === "NoPeerRoutersError") {
        this.#log("no peer router: devices are not looked up");
        this.stop();
      } else if (name !== "NotFoundError" && name !== "AbortError" && name !== "TimeoutError") {
        this.#log.error("looking up %p failed - %e", lookup.peer, e);
      }
    } finally {
      // Found or not, the next lookup waits longer until the device is connected: one found at addresses that do not
      // answer (behind a NAT, say) is not looked up every few seconds.
      lookup.tries++;
      lookup.nextAt = Date.now() + Math.min(MAX_LOOKUP_RETRY_MS, LOOKUP_RETRY_MS * 2 ** (lookup.tries - 1));
      lookup.running = false;
      this.#running--;
    }
    this.#reconsiderSafely();
  }
}

/** A peer id parsed, or undefined for a string that is not one. */
function asPeerId(id: string): PeerId | undefined {
  try {
    return peerIdFromString(id);
  } catch {
    return undefined;
  }
}

/**
 * Finding the devices a node shares documents with beyond the LAN. mDNS reaches one link; a DHT's own walks (kad-dht
 * looks up the node's own id) meet the peers nearest that id, seldom a fellow member. So a node whose libp2p has a
 * peer router (kad-dht) asks it, by peer id, for each device it should know and has no working address of: a member's
 * device, an inviter. What it finds goes to the discovery dials, which dial it if the sync tree asks for it.
 */
import type { Libp2p, PeerId } from "@libp2p/interface";
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
const CONCURRENCY = 4;
/** Devices missing are checked this often, besides when a connection closes or the council changes. */
const SWEEP_MS = 5_000;

/** What the lookups need of the node. */
export interface PeerLookupsInit {
  /** The devices this node should be able to reach (its councils' members' devices, its inviters). */
  readonly targets: () => Iterable<string>;
  /** True while discovery holds an address of `peer` not known to fail: no lookup needed. */
  readonly reachable: (peer: string) => boolean;
  /** Told of each device found, with its addresses now in the peer store. */
  readonly found: (peer: PeerId) => void;
}

/** Per device looked up: when it may be looked up again, and lookups since it was last connected. */
interface Lookup {
  nextAt: number;
  tries: number;
  running: boolean;
}

/** Looks up, through libp2p's peer routing, the devices a node should reach and cannot. */
export class PeerLookups {
  readonly #libp2p: Libp2p;
  readonly #init: PeerLookupsInit;
  readonly #self: string;
  readonly #lookups = new Map<string, Lookup>();
  readonly #abort = new AbortController();
  #running = 0;
  #lookedUp = 0;
  #sweeping: ReturnType<typeof setInterval> | undefined;
  /** Wakes the lookups when the next device waiting may be looked up again. */
  #wake: ReturnType<typeof setTimeout> | undefined;
  #wakeAt = Number.POSITIVE_INFINITY;
  /** libp2p has no peer router: nothing to ask, ever. */
  #noRouter = false;

  constructor(libp2p: Libp2p, init: PeerLookupsInit) {
    this.#libp2p = libp2p;
    this.#init = init;
    this.#self = libp2p.peerId.toString();
    this.#sweeping = setInterval(() => this.reconsider(), SWEEP_MS);
    (this.#sweeping as { unref?: () => void }).unref?.();
    // A new connection may be the DHT's first peer; a closed one may leave a device unreachable.
    libp2p.addEventListener("peer:identify", this.#onChange);
    libp2p.addEventListener("connection:close", this.#onChange);
    this.reconsider();
  }

  readonly #onChange = (): void => this.reconsider();

  /** Lookups started since the node started (to see what the DHT costs). */
  get started(): number {
    return this.#lookedUp;
  }

  /** Looks up the devices missing now, as many at once as allowed: call it when the targets change. */
  reconsider(): void {
    if (this.#noRouter || this.#abort.signal.aborted || this.#libp2p.status !== "started") return;
    if (this.#libp2p.getConnections().length === 0) return; // no one to ask yet: the first identified peer calls again
    const now = Date.now();
    const targets = new Set(this.#init.targets());
    for (const id of this.#lookups.keys()) if (!targets.has(id)) this.#lookups.delete(id);
    for (const id of targets) {
      if (this.#running >= CONCURRENCY) return;
      const peer = asPeerId(id);
      if (peer === undefined || id === this.#self) continue;
      if (this.#libp2p.getConnections(peer).length > 0) {
        this.#lookups.delete(id); // reached: a later loss starts again from the shortest wait
        continue;
      }
      if (this.#init.reachable(id)) continue; // discovery has an address to try first
      const lookup = this.#lookups.get(id) ?? { nextAt: 0, tries: 0, running: false };
      this.#lookups.set(id, lookup);
      if (lookup.running) continue;
      if (lookup.nextAt > now) this.#wakeBy(lookup.nextAt);
      else void this.#lookUp(peer, lookup);
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
        this.reconsider();
      },
      Math.max(0, at - Date.now()),
    );
    (this.#wake as { unref?: () => void }).unref?.();
  }

  /** Looks up nothing more. */
  stop(): void {
    this.#abort.abort();
    clearInterval(this.#sweeping);
    clearTimeout(this.#wake);
    this.#libp2p.removeEventListener("peer:identify", this.#onChange);
    this.#libp2p.removeEventListener("connection:close", this.#onChange);
  }

  async #lookUp(peer: PeerId, lookup: Lookup): Promise<void> {
    lookup.running = true;
    this.#running++;
    this.#lookedUp++;
    try {
      const signal = AbortSignal.any([this.#abort.signal, AbortSignal.timeout(LOOKUP_TIMEOUT_MS)]);
      // Not from the cache: the addresses held are the ones that stopped working.
      const found = await this.#libp2p.peerRouting.findPeer(peer, { signal, useCache: false });
      if (!this.#abort.signal.aborted && found.multiaddrs.length > 0) this.#init.found(found.id);
    } catch (e) {
      if ((e as Error).name === "NoPeerRoutersError") this.#noRouter = true;
    } finally {
      // Found or not, the next lookup waits longer until the device is connected: one found at addresses that do not
      // answer (behind a NAT, say) is not looked up every few seconds.
      lookup.tries++;
      lookup.nextAt = Date.now() + Math.min(MAX_LOOKUP_RETRY_MS, LOOKUP_RETRY_MS * 2 ** (lookup.tries - 1));
      lookup.running = false;
      this.#running--;
    }
    this.reconsider();
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

/**
 * Bans on peers that break the sync protocol: which rejections count as violations, the list of banned peers with
 * doubling bans, and the connection gater that refuses them.
 */
import type { ConnectionGater, PeerId } from "@libp2p/interface";
import { MAX_BAN_MS } from "./constants.js";
import {
  FrameTooLargeError,
  InvalidFrameError,
  PeerIdMismatchError,
  PeerMismatchError,
  StreamChurnError,
  TruncatedFrameError,
} from "./errors.js";

/**
 * Whether a sync rejection is the peer's own doing: a stranger refused, another major version or a slow handshake is
 * not, so those are never banned.
 */
export function isViolation(error: Error): boolean {
  return (
    error instanceof InvalidFrameError ||
    error instanceof FrameTooLargeError ||
    error instanceof TruncatedFrameError ||
    error instanceof PeerMismatchError ||
    error instanceof PeerIdMismatchError ||
    error instanceof StreamChurnError
  );
}

/** One peer's ban as a node keeps it across restarts: when it ends, the violations so far, the last ban's length. */
export interface BanRecord {
  readonly peer: string;
  readonly until: number;
  readonly strikes: number;
  readonly ms: number;
}

/** Banned peers by id; an entry outlives its ban by the ban's length, so a repeat offence within that time doubles it. */
export class BanList {
  readonly #bans = new Map<string, { until: number; strikes: number; ms: number }>();
  readonly #banMs: number;
  readonly #now: () => number;

  constructor(banMs: number, now: () => number) {
    this.#banMs = banMs;
    this.#now = now;
  }

  /** Records a violation and returns when the peer's ban ends (undefined when bans are off). */
  strike(peer: string): number | undefined {
    if (!(this.#banMs > 0)) return undefined;
    const now = this.#now();
    this.#forget(now);
    const previous = this.#bans.get(peer);
    const strikes = (previous?.strikes ?? 0) + 1;
    const ms = Math.min(this.#banMs * 2 ** (strikes - 1), Math.max(MAX_BAN_MS, this.#banMs));
    const until = Math.max(now + ms, previous?.until ?? 0);
    this.#bans.set(peer, { until, strikes, ms });
    return until;
  }

  has(peer: string): boolean {
    const ban = this.#bans.get(peer);
    return ban !== undefined && ban.until > this.#now();
  }

  /** Peers banned now, and until when. */
  active(): Map<string, number> {
    const now = this.#now();
    this.#forget(now);
    return new Map([...this.#bans].filter(([, b]) => b.until > now).map(([peer, b]) => [peer, b.until]));
  }

  lift(peer: string): void {
    this.#bans.delete(peer);
  }

  /** Every ban still remembered (active, or recent enough that a repeat would double it), to keep across a restart. */
  records(): BanRecord[] {
    this.#forget(this.#now());
    return [...this.#bans].map(([peer, ban]) => ({ peer, ...ban }));
  }

  /** Takes back bans from `records()`; malformed entries are skipped, and a ban already known keeps its later end. */
  restore(records: readonly BanRecord[]): void {
    for (const r of records) {
      const valid = [r.until, r.strikes, r.ms].every((n) => Number.isSafeInteger(n) && n >= 0);
      if (typeof r.peer !== "string" || r.peer.length === 0 || !valid) continue;
      const known = this.#bans.get(r.peer);
      if (known === undefined || known.until < r.until) {
        this.#bans.set(r.peer, { until: r.until, strikes: r.strikes, ms: r.ms });
      }
    }
    this.#forget(this.#now());
  }

  #forget(now: number): void {
    for (const [peer, ban] of this.#bans) if (now >= ban.until + ban.ms) this.#bans.delete(peer);
  }
}

/** The caller's connection gater with banned peers refused on top: not dialled, their connections denied. */
export function withBans(gater: ConnectionGater | undefined, banned: (peer: PeerId) => boolean): ConnectionGater {
  const base: ConnectionGater = gater ?? {};
  // Inheriting keeps every other method of the caller's gater, class methods included, and libp2p's browser default.
  const merged = Object.create(base) as ConnectionGater;
  merged.denyDialPeer = (peer) => banned(peer) || (base.denyDialPeer?.(peer) ?? false);
  merged.denyInboundEncryptedConnection = (peer, conn) =>
    banned(peer) || (base.denyInboundEncryptedConnection?.(peer, conn) ?? false);
  // An address dialled without a peer id reveals the peer only once encrypted.
  merged.denyOutboundEncryptedConnection = (peer, conn) =>
    banned(peer) || (base.denyOutboundEncryptedConnection?.(peer, conn) ?? false);
  return merged;
}

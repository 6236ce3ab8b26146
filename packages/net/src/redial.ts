/**
 * Keeping peers dialled: a bootstrap peer (or an inviter) that restarts, or a link that drops, is dialled again every
 * few seconds while it is not connected, so two nodes that found each other once do not stay apart for good.
 */
import type { Libp2p } from "@libp2p/interface";
import { multiaddr } from "@multiformats/multiaddr";
import { REDIAL_INTERVAL_MS } from "./constants.js";

/**
 * Dials `addresses` whose peer is not connected, at once and then every `intervalMs`; returns a function that stops.
 * A failed dial is reported to `onError` and tried again on the next round.
 */
export function keepDialling(
  libp2p: Libp2p,
  addresses: readonly string[],
  onError: (address: string, e: Error) => void = () => {},
  intervalMs = REDIAL_INTERVAL_MS,
): () => void {
  const targets = addresses.map((a) => ({ address: a, ma: multiaddr(a), peer: /\/p2p\/([^/]+)/.exec(a)?.[1] }));
  const dialling = new Set<string>();
  const tick = () => {
    if (libp2p.status !== "started") return;
    for (const t of targets) {
      if (dialling.has(t.address)) continue;
      const connected = libp2p
        .getConnections()
        .some((c) => (t.peer ? c.remotePeer.toString() === t.peer : c.remoteAddr.equals(t.ma)));
      if (connected) continue;
      dialling.add(t.address);
      libp2p
        .dial(t.ma, { signal: AbortSignal.timeout(intervalMs * 2) })
        .catch((e: Error) => onError(t.address, e))
        .finally(() => dialling.delete(t.address));
    }
  };
  tick();
  const timer = setInterval(tick, intervalMs);
  (timer as { unref?: () => void }).unref?.();
  return () => clearInterval(timer);
}

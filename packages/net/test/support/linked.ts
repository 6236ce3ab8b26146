/** Test helper: whether Federa nodes have found each other and hold the links their sync trees ask for. */
import type { FederaNode } from "../../src/index.js";

/** True once each node knows of every one of `nodes` and is connected to every link its sync tree asks for. */
export function linked(nodes: readonly FederaNode[]): boolean {
  const devices = nodes.map((n) => n.identity.device.id);
  return nodes.every((node) => {
    const self = node.identity.device.id;
    const connected = new Set(node.libp2p.getConnections().map((c) => c.remotePeer.toString()));
    const known = new Set(node.dials.discoveredPeers());
    return (
      devices.every((d) => d === self || known.has(d) || connected.has(d)) &&
      [...node.dials.wanted()].every((link) => connected.has(link))
    );
  });
}

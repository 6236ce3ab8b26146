/** FederaNodes listening on loopback TCP for tests, all stopped together after each test. */
import type { Identity } from "@federa/core";
import { tcp } from "@libp2p/tcp";
import { createNode, type FederaNode, type FederaNodeInit } from "../../src/index.js";

const started: FederaNode[] = [];

/** Starts a node for `identity` on an ephemeral loopback port; `init` overrides the rest, libp2p options merged. */
export async function startFederaNode(identity: Identity, init: Partial<FederaNodeInit> = {}): Promise<FederaNode> {
  const node = await createNode({
    identity,
    ...init,
    libp2p: { addresses: { listen: ["/ip4/127.0.0.1/tcp/0"] }, transports: [tcp()], ...init.libp2p },
  });
  started.push(node);
  return node;
}

/** Stops every node started since the last call (for `afterEach`). */
export async function stopFederaNodes(): Promise<void> {
  await Promise.allSettled(started.splice(0).map((node) => node.stop()));
}

/** Dials `to` from `from` on its first listen address. */
export async function dialNode(from: FederaNode, to: FederaNode): Promise<void> {
  const address = to.libp2p.getMultiaddrs()[0];
  if (address === undefined) throw new Error("the node listens nowhere");
  await from.libp2p.dial(address);
}

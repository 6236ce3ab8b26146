/** automerge-repo's shared network adapter suite, run over real libp2p nodes on loopback TCP and in memory. */
import { runNetworkAdapterTests } from "@automerge/automerge-repo/helpers/tests/network-adapter-tests.js";
import { afterAll } from "vitest";
import { Libp2pNetworkAdapter } from "../src/index.js";
import { NamedAdapter, PeerNames } from "./support/named-adapter.js";
import { createNode, link, stopAll, stopNodes, type TransportKind } from "./support/nodes.js";

/** Three nodes, every pair connected and identified, each with a ready adapter (the suite creates the Repos). */
async function mesh(transport: TransportKind) {
  const nodes = await Promise.all([createNode(transport), createNode(transport), createNode(transport)]);
  const adapters = nodes.map((libp2p) => new Libp2pNetworkAdapter({ libp2p }));
  await Promise.all(adapters.map((adapter) => adapter.whenReady()));
  const [a, b, c] = nodes as [(typeof nodes)[0], (typeof nodes)[0], (typeof nodes)[0]];
  await Promise.all([link(a, b), link(a, c), link(b, c)]);
  const names = new PeerNames();
  const [x, y, z] = adapters.map((adapter) => new NamedAdapter(adapter, names)) as [
    NamedAdapter,
    NamedAdapter,
    NamedAdapter,
  ];
  return {
    adapters: [x, y, z] as [NamedAdapter, NamedAdapter, NamedAdapter],
    // The suite does not await its teardown; the nodes finish stopping in the background (or in afterAll).
    teardown: () => {
      stopNodes(nodes).catch(() => {});
    },
  };
}

for (const transport of ["tcp", "memory"] as const) {
  runNetworkAdapterTests(() => mesh(transport), `libp2p over ${transport}`);
}

afterAll(stopAll);

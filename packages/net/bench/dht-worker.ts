/**
 * One council member's device of `./dev bench dht`, in its own process: its libp2p node in the DHT with Federa's
 * discovery dials (and lookups and peer exchange, in that mode), driven by the benchmark over the IPC channel.
 */
import { privateKeyFromProtobuf } from "@libp2p/crypto/keys";
import type { Libp2p } from "@libp2p/interface";
import { multiaddr } from "@multiformats/multiaddr";
import { DEFAULT_SYNC_TREE, SYNC_PROTOCOL } from "../src/constants.js";
import { DiscoveryDials } from "../src/discovery-dials.js";
import { PeerExchange } from "../src/peer-exchange.js";
import { PeerLookups } from "../src/peer-lookups.js";
import { dhtNode } from "./dht-node.js";
import type { DhtCommand, DhtEvent, Join, MemberStatus } from "./dht-protocol.js";
import { fromBase64, processCpuMs } from "./protocol.js";

interface Member {
  readonly node: Libp2p;
  readonly ids: ReadonlySet<string>;
  readonly dials: DiscoveryDials;
  readonly lookups: PeerLookups | undefined;
  readonly exchange: PeerExchange | undefined;
  /** Process CPU (ms) when the join command came. */
  readonly cpuAtJoin: number;
}

function send(event: DhtEvent): void {
  process.send?.(event);
}

/** Starts the device's node with its discovery over the council's `members`, and sets it dialling its entry node. */
async function join(command: Join): Promise<Member> {
  const cpuAtJoin = processCpuMs();
  const ids = new Set(command.members);
  const node = await dhtNode(privateKeyFromProtobuf(fromBase64(command.key)));
  // Members speak the sync protocol: discovery leaves out peers whose identify says they do not.
  await node.handle(SYNC_PROTOCOL, (stream) => void stream.close());
  const dials = new DiscoveryDials(node, {
    maxConnections: 32,
    fanout: DEFAULT_SYNC_TREE.fanout,
    groups: (peers) => [new Set([...peers].filter((p) => ids.has(p)))],
    counted: (peer) => ids.has(peer),
  });
  const lookups =
    command.mode === "lookups"
      ? new PeerLookups(node, {
          targets: () => ids,
          reachable: (peer) => dials.reachable(peer),
          found: (peer) => dials.discovered(peer),
        })
      : undefined;
  // What a Federa node does besides: members that meet tell each other where the others are.
  const exchange =
    command.mode === "lookups"
      ? await PeerExchange.start(node, {
          knows: (peer) => ids.has(peer),
          tell: () => ids,
          wants: (peer) => ids.has(peer),
          missing: () => lookups?.missing() ?? false,
          heard: (peer) => dials.discovered(peer),
        })
      : undefined;
  void enter(node, command.entry);
  return { node, ids, dials, lookups, exchange, cpuAtJoin };
}

/**
 * Dials the entry node until it answers, as a device tries its bootstrap list again: the strangers share one event
 * loop, which can be busy enough for a handshake to time out while many devices walk the DHT.
 */
async function enter(node: Libp2p, entry: string): Promise<void> {
  const address = multiaddr(entry);
  while (node.status === "started") {
    try {
      await node.dial(address);
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  }
}

function status(m: Member): MemberStatus {
  const self = m.node.peerId.toString();
  const peers = m.node.getConnections().map((c) => c.remotePeer.toString());
  const connected = new Set(peers.filter((p) => m.ids.has(p)));
  const known = new Set([...m.dials.discoveredPeers(), ...connected]);
  return {
    id: self,
    known: [...known].filter((p) => p !== self && m.ids.has(p)),
    wanted: [...m.dials.wanted()].filter((p) => m.ids.has(p)),
    connected: [...connected],
    strangerConnections: peers.filter((p) => !m.ids.has(p)).length,
    lookups: m.lookups?.started ?? 0,
    cpuMs: Math.round(processCpuMs() - m.cpuAtJoin),
  };
}

async function stop(m: Member | undefined): Promise<never> {
  m?.lookups?.stop();
  m?.exchange?.stop();
  m?.dials.stop();
  await m?.node.stop();
  process.exit(0);
}

let member: Member | undefined;

async function handle(command: DhtCommand): Promise<void> {
  switch (command.cmd) {
    case "join":
      member = await join(command);
      send({ ev: "joined", id: member.node.peerId.toString() });
      return;
    case "status":
      if (member === undefined) throw new Error("status asked before join");
      send({ ev: "status", ...status(member) });
      return;
    case "stop":
      await stop(member);
  }
}

process.on("message", (command: DhtCommand) => {
  handle(command).catch((err: unknown) =>
    send({ ev: "error", message: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
  );
});
// The benchmark went away (it ended or was killed): nothing is left to answer.
process.on("disconnect", () => void stop(member));
send({ ev: "loaded" });

/**
 * Node.js defaults for a Federa node: TCP and WebSocket listeners, mDNS on the LAN, a bootstrap list, kad-dht on
 * request, and storage on disk. Browser builds never import this module (it pulls in Node-only transports).
 */
import { bootstrap } from "@libp2p/bootstrap";
import { kadDHT, passthroughMapper, removePrivateAddressesMapper } from "@libp2p/kad-dht";
import { mdns } from "@libp2p/mdns";
import { ping } from "@libp2p/ping";
import { tcp } from "@libp2p/tcp";
import { webSockets } from "@libp2p/websockets";
import { FEDERA_DHT_PROTOCOL } from "../constants.js";
import type { FederaNodeInit } from "../federa-node.js";
import { DurableFsStorageAdapter, type StorageFileFailure } from "./durable-fs-storage.js";

/** Listen addresses when none are given: every interface, a free port, over TCP and WebSockets. */
export const DEFAULT_LISTEN: readonly string[] = ["/ip4/0.0.0.0/tcp/0", "/ip4/0.0.0.0/tcp/0/ws"];
/** How often mDNS announces the node on the local network. */
export const MDNS_INTERVAL_MS = 5_000;

/** How a Node.js node listens and finds peers. */
export interface NodeOptionsInit {
  readonly listen?: readonly string[];
  /** Multiaddrs (with /p2p/ peer ids) dialled at start, and again every 5 s while not connected. */
  readonly bootstrap?: readonly string[];
  /** mDNS discovery on the LAN (default on). */
  readonly mdns?: boolean;
  /**
   * kad-dht for discovery beyond the LAN (default off): the node looks up its councils' devices by peer id there.
   * `{ privateAddresses: true }` keeps private and loopback addresses in what it publishes and accepts, for a DHT
   * inside one organisation's network or on one machine; by default only public addresses are.
   */
  readonly dht?: boolean | DhtOptions;
  /** Directory of the automerge-repo storage (crash-safe, `DurableFsStorageAdapter`); omitted: memory only. */
  readonly storageDir?: string;
  /** Told of each stored file that cannot be read and is skipped; default: a process warning. */
  readonly onStorageError?: (failure: StorageFileFailure) => void;
}

/** How a node takes part in the DHT. */
export interface DhtOptions {
  /** Publish and accept private (LAN) and loopback addresses too (default false: public ones only). */
  readonly privateAddresses?: boolean;
}

/** The parts of `FederaNodeInit` a Node.js node takes from its defaults. */
export function nodeOptions(init: NodeOptionsInit = {}): Pick<FederaNodeInit, "libp2p" | "storage" | "bootstrap"> {
  const peerDiscovery = [];
  if (init.mdns ?? true) peerDiscovery.push(mdns({ interval: MDNS_INTERVAL_MS }));
  if (init.bootstrap !== undefined && init.bootstrap.length > 0)
    peerDiscovery.push(bootstrap({ list: [...init.bootstrap] }));
  return {
    libp2p: {
      addresses: { listen: [...(init.listen ?? DEFAULT_LISTEN)] },
      transports: [tcp(), webSockets()],
      peerDiscovery,
      ...(init.dht !== undefined && init.dht !== false
        ? { services: dhtServices(init.dht === true ? {} : init.dht) }
        : {}),
    },
    ...(init.bootstrap !== undefined && init.bootstrap.length > 0 ? { bootstrap: [...init.bootstrap] } : {}),
    ...(init.storageDir !== undefined
      ? { storage: new DurableFsStorageAdapter(init.storageDir, { onError: init.onStorageError }) }
      : {}),
  };
}

/**
 * The DHT and the ping it needs. Across the internet a node serves the DHT only while it has a public address (kad-dht
 * decides as its addresses change): one behind a NAT could not be dialled by those its routing entry would send to it,
 * so it only asks. Kept to private addresses, every node serves, or no one would.
 */
function dhtServices(options: DhtOptions) {
  const privateAddresses = options.privateAddresses === true;
  return {
    ping: ping(),
    // The DHT's components include ping, registered above; the generic service map cannot express that.
    dht: kadDHT({
      protocol: FEDERA_DHT_PROTOCOL,
      ...(privateAddresses ? { clientMode: false } : {}),
      peerInfoMapper: privateAddresses ? passthroughMapper : removePrivateAddressesMapper,
    }) as never,
  };
}

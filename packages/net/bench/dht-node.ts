/** The libp2p node every peer of `./dev bench dht` runs, the strangers' and the council members' alike. */
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { identify } from "@libp2p/identify";
import type { Libp2p, PrivateKey } from "@libp2p/interface";
import { kadDHT, passthroughMapper } from "@libp2p/kad-dht";
import { ping } from "@libp2p/ping";
import { tcp } from "@libp2p/tcp";
import { createLibp2p } from "libp2p";
import { FEDERA_DHT_PROTOCOL } from "../src/node/index.js";

/** A libp2p node on loopback TCP in Federa's DHT, keeping loopback addresses; with `privateKey`, that device's. */
export function dhtNode(privateKey?: PrivateKey): Promise<Libp2p> {
  return createLibp2p({
    ...(privateKey ? { privateKey } : {}),
    addresses: { listen: ["/ip4/127.0.0.1/tcp/0"] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: {
      identify: identify(),
      ping: ping(),
      dht: kadDHT({ protocol: FEDERA_DHT_PROTOCOL, clientMode: false, peerInfoMapper: passthroughMapper }) as never,
    },
  }) as Promise<Libp2p>;
}

/**
 * How the command assembles a Federa node for a node directory: TCP and WebSocket transports, mDNS and a DHT when
 * asked, the directory's storage and verified-signature cache.
 */
import type { MemoryVerifiedCache } from "@federa/core";
import { type BanRecord, createNode, type FederaNode } from "@federa/net";
import { type DhtOptions, DEFAULT_LISTEN as NODE_DEFAULT_LISTEN, nodeOptions } from "@federa/net/node";
import { multiaddr } from "@multiformats/multiaddr";
import { now } from "./clock.js";
import { UsageError } from "./errors.js";
import type { NodeDir } from "./node-dir.js";

/** Listen addresses when none are given: any interface, a free port, over TCP and WebSockets. */
export const DEFAULT_LISTEN = NODE_DEFAULT_LISTEN;

/** What the node listens on and how it finds peers. */
export interface NetworkOptions {
  readonly listen: readonly string[];
  readonly bootstrap: readonly string[];
  readonly mdns: boolean;
  /** Join a DHT to look up the councils' devices (`nodeOptions`' `dht`); off when omitted. */
  readonly dht?: boolean | DhtOptions;
  /** Use the directory's storage and verified cache (a short-lived delivery node uses neither). */
  readonly storage: boolean;
  readonly verified?: MemoryVerifiedCache;
  /** Milliseconds a peer breaking the sync protocol is refused (0: never). */
  readonly banMs?: number;
  /** Bans kept from the node's last run. */
  readonly bans?: readonly BanRecord[];
  /** Large rounds of changes as bundles (`FederaNodeInit.bundleChanges`); the node's default when omitted. */
  readonly bundleChanges?: boolean;
  /** Whole documents as the changes peers lack (`FederaNodeInit.trimDocuments`). */
  readonly trimDocuments?: boolean;
}

/** Checks every address parses as a multiaddr, so a typo is a usage error rather than a failure at dial time. */
export function checkAddresses(addresses: readonly string[], what: string): void {
  for (const a of addresses) {
    try {
      multiaddr(a);
    } catch {
      throw new UsageError(`${what} ${a} is not a multiaddr (like /ip4/127.0.0.1/tcp/4001/p2p/12D3KooW...)`);
    }
  }
}

/** A device's peer id: Federa's keys are Ed25519. */
const PEER_ID = /^12D3KooW[1-9A-HJ-NP-Za-km-z]{44}$/;

/**
 * Checks bootstrap addresses name the node they reach (`/p2p/PEER_ID`, which Noise then checks) and that it is
 * another node than this one: either mistake would otherwise be redialled every few seconds for good.
 */
export function checkBootstrap(addresses: readonly string[], self: string): void {
  checkAddresses(addresses, "--bootstrap");
  for (const a of addresses) {
    const peer = /\/p2p\/([^/]+)$/.exec(a)?.[1];
    if (peer === undefined || !PEER_ID.test(peer))
      throw new UsageError(`--bootstrap ${a} must end in /p2p/PEER_ID, the id the node it reaches prints`);
    if (peer === self) throw new UsageError(`--bootstrap ${a} is this node itself`);
  }
}

/** Starts a node with this directory's identity. */
export async function startNode(dir: NodeDir, options: NetworkOptions): Promise<FederaNode> {
  checkAddresses(options.listen, "--listen");
  const identity = await dir.identity();
  checkBootstrap(options.bootstrap, identity.device.id);
  return createNode({
    identity,
    now,
    // A command acting through the node refuses an act the council would exclude, as it does offline.
    checkActs: true,
    ...nodeOptions({
      listen: options.listen,
      mdns: options.mdns,
      dht: options.dht ?? false,
      ...(options.storage ? { storageDir: dir.repoPath } : {}),
    }),
    ...(options.verified ? { verified: options.verified } : {}),
    ...(options.banMs !== undefined ? { banMs: options.banMs } : {}),
    ...(options.bans !== undefined ? { bans: options.bans } : {}),
    ...(options.bundleChanges !== undefined ? { bundleChanges: options.bundleChanges } : {}),
    ...(options.trimDocuments === true ? { trimDocuments: true } : {}),
  });
}

/**
 * The simulated network: nodes and the documents they hold, links by topology (mesh, hub, relays), who can reach
 * whom under scheduled partitions and outages, and a transport with latency, loss with retransmission, upload
 * bandwidth and in-order delivery per link.
 */
import type * as A from "@automerge/automerge";
import type { SimDocument } from "./document.js";
import type { Random } from "./random.js";
import type { Topology } from "./scenario.js";

/** A document's key in a run: `c:N` (council N), `l:N` (its ledger), `f` (the federation). */
export type DocKey = string;

/** A device on the network: one member's, one council's shared device, or a relay (the hub is relay 0). */
export interface SimNode {
  readonly index: number;
  /** A readable label: `c3.m1`, `c3`, `hub`, `relay1`. */
  readonly label: string;
  readonly kind: "member" | "council" | "relay";
  /** The libp2p peer id it would have (its device key's id). */
  readonly peerId: string;
  readonly council: number | null;
  /** Members of `council` acting on this device. */
  readonly members: readonly number[];
  /** The relay this node is attached to (relays: themselves), or null in a mesh. */
  readonly region: number | null;
  readonly replicas: Map<DocKey, Replica>;
  online: boolean;
  /** When its upload link is free again (bandwidth). */
  uplinkFreeAt: number;
}

/** One node's copy of one document, with a sync state per peer as automerge-repo's DocSynchronizer keeps. */
export interface Replica {
  readonly node: SimNode;
  readonly key: DocKey;
  /** The automerge-repo document id every replica of the document shares. */
  readonly documentId: string;
  readonly source: SimDocument<unknown>;
  readonly syncStates: Map<number, A.SyncState>;
  /** A throttled send to all peers is due at this time (null: none pending). */
  flushAt: number | null;
  /** The round its pending send belongs to: one more than the message that caused it. */
  flushRound: number;
  lastFlush: number;
}

/** A link between two nodes; `epoch` changes whenever it goes down, which drops what was in flight. */
export interface Link {
  readonly a: number;
  readonly b: number;
  up: boolean;
  epoch: number;
  /** Last delivery time per direction (a→b, b→a): a link delivers in order. */
  readonly lastDelivery: [number, number];
}

/** An active partition: each node's group (-1 for nodes no group names). */
export interface ActivePartition {
  readonly label: string;
  readonly groupOf: Int32Array;
}

export interface TransportInit {
  readonly latency: { readonly min: number; readonly max: number };
  readonly loss: number;
  readonly retransmit: number;
  readonly bandwidth: number | undefined;
}

/** The network of one run. */
export class Network {
  readonly nodes: readonly SimNode[];
  readonly links: readonly Link[];
  readonly #byNode: Map<number, Link[]> = new Map();
  readonly #transport: TransportInit;
  readonly #random: Random;
  #partitions: ActivePartition[] = [];

  constructor(nodes: readonly SimNode[], topology: Topology, transport: TransportInit, random: Random) {
    this.nodes = nodes;
    this.#transport = transport;
    this.#random = random;
    const pairs = linkPairs(nodes, topology, random);
    this.links = pairs.map(([a, b]) => ({ a, b, up: true, epoch: 0, lastDelivery: [0, 0] }));
    for (const link of this.links) {
      for (const n of [link.a, link.b]) {
        const list = this.#byNode.get(n) ?? [];
        list.push(link);
        this.#byNode.set(n, list);
      }
    }
  }

  /** Links of a node, in a fixed order. */
  linksOf(node: number): readonly Link[] {
    return this.#byNode.get(node) ?? [];
  }

  get partitions(): readonly ActivePartition[] {
    return this.#partitions;
  }

  /** Sets the partitions and outages in force; returns the links that went down and came up. */
  update(partitions: readonly ActivePartition[]): { down: Link[]; up: Link[] } {
    this.#partitions = [...partitions];
    const down: Link[] = [];
    const up: Link[] = [];
    for (const link of this.links) {
      const now = this.#reachable(link.a, link.b);
      if (now === link.up) continue;
      link.up = now;
      if (now) up.push(link);
      else {
        link.epoch++;
        down.push(link);
      }
    }
    return { down, up };
  }

  #reachable(a: number, b: number): boolean {
    if (!this.nodes[a]!.online || !this.nodes[b]!.online) return false;
    return this.#partitions.every((p) => p.groupOf[a] === p.groupOf[b]);
  }

  /**
   * Schedules one message on a link: returns when it arrives and how many transmissions it took, or null when the
   * link is down. Lost transmissions are sent again after `retransmit`; later messages wait behind them (in order).
   */
  transmit(link: Link, from: number, bytes: number, now: number): { at: number; attempts: number } | null {
    if (!link.up) return null;
    const t = this.#transport;
    let attempts = 1;
    while (attempts < 20 && this.#random.chance(t.loss)) attempts++;
    const node = this.nodes[from]!;
    let start = now;
    if (t.bandwidth !== undefined) {
      start = Math.max(now, node.uplinkFreeAt);
      node.uplinkFreeAt = start + Math.ceil((bytes * attempts * 1000) / t.bandwidth);
    }
    const sent = t.bandwidth === undefined ? start : node.uplinkFreeAt;
    const latency = this.#random.int(t.latency.min, t.latency.max);
    const dir = link.a === from ? 0 : 1;
    const at = Math.max(sent + latency + (attempts - 1) * t.retransmit, link.lastDelivery[dir]);
    link.lastDelivery[dir] = at;
    return { at, attempts };
  }

  /** Nodes a node can reach right now through live links, for one document: its connected component of holders. */
  component(start: number, key: DocKey): number[] {
    const seen = new Set([start]);
    const stack = [start];
    while (stack.length > 0) {
      const n = stack.pop()!;
      for (const link of this.linksOf(n)) {
        if (!link.up) continue;
        const other = link.a === n ? link.b : link.a;
        if (seen.has(other) || !this.nodes[other]!.replicas.has(key)) continue;
        seen.add(other);
        stack.push(other);
      }
    }
    return [...seen].sort((x, y) => x - y);
  }
}

/** The node pairs a topology links. */
function linkPairs(nodes: readonly SimNode[], topology: Topology, random: Random): [number, number][] {
  const pairs = new Set<string>();
  const add = (a: number, b: number) => {
    if (a !== b) pairs.add(a < b ? `${a}-${b}` : `${b}-${a}`);
  };
  const relays = nodes.filter((n) => n.kind === "relay");
  if (topology.type === "mesh") {
    // Peers connect to peers that share a document with them: per document, every pair or a random regular-ish graph.
    const holders = new Map<DocKey, number[]>();
    for (const node of nodes)
      for (const key of node.replicas.keys()) {
        const list = holders.get(key) ?? [];
        list.push(node.index);
        holders.set(key, list);
      }
    // Documents held by the same nodes share one graph: a federation where everyone holds everything is one mesh.
    const groups = new Map<string, number[]>();
    for (const group of holders.values()) groups.set(group.join(","), group);
    for (const group of groups.values()) {
      if (topology.degree === undefined || group.length <= topology.degree + 1) {
        for (let i = 0; i < group.length; i++) for (let j = i + 1; j < group.length; j++) add(group[i]!, group[j]!);
        continue;
      }
      const order = random.shuffle(group);
      for (let i = 0; i < order.length; i++) add(order[i]!, order[(i + 1) % order.length]!);
      const extra = Math.max(0, Math.ceil(((topology.degree - 2) * order.length) / 2));
      for (let k = 0; k < extra; k++) add(random.pick(order), random.pick(order));
    }
  } else {
    for (let i = 0; i < relays.length; i++)
      for (let j = i + 1; j < relays.length; j++) add(relays[i]!.index, relays[j]!.index);
    for (const node of nodes)
      if (node.kind !== "relay" && node.region !== null) add(node.index, relays[node.region]!.index);
  }
  return [...pairs].map((p) => p.split("-").map(Number) as [number, number]).sort((x, y) => x[0] - y[0] || x[1] - y[1]);
}

/**
 * Which connected peers a node syncs with first: a tree over every peer it holds a sync stream with, laid out as a
 * heap of the sorted peer ids, so that nodes seeing the same peers (a LAN mesh) pick the same tree.
 */

/** How the adapter bounds the sync fan-out of a mesh; see docs/networking.md. */
export interface SyncTreeOptions {
  /** Children of each node in the tree: a node syncs at once with its parent and up to this many children. */
  readonly fanout: number;
  /** Milliseconds without a stream arriving or leaving before the tree is chosen (a node's first stream syncs at once). */
  readonly settleMs: number;
  /** Other streams start syncing once no sync message has crossed any stream for this long. */
  readonly quietMs: number;
  /** ...or once held this long, whatever the traffic. */
  readonly maxDeferMs: number;
}

/**
 * The peers `self` is joined to in the tree of `peers` (which may include `self`): its parent and children in the
 * heap of the sorted ids, or every peer when there are no more than a tree node's `fanout + 1` neighbours. Every node
 * computing this over the same set gets the same tree, connected and acyclic when there are more.
 */
export function syncTreeNeighbours(self: string, peers: Iterable<string>, fanout: number): Set<string> {
  checkFanout(fanout);
  const all = new Set([self, ...peers]);
  // A node with no more peers than a tree node has neighbours keeps them all: its fan-out is bounded already, and a
  // sparse mesh (a bootstrap tree, two LANs joined by one link) then keeps every link it has.
  if (all.size <= fanout + 2) return new Set([...all].filter((peer) => peer !== self));
  return heapNeighbours(self, all, fanout);
}

/**
 * The trees a node's discovery lays over the groups of peers it shares documents with (`DiscoveryDials.tree`): once
 * it has a stream to each of its neighbours in them, its streams to other members of the groups are spare.
 */
export interface DiscoveredTree {
  /** Its neighbours in the tree of each group: the peers it dials. */
  readonly neighbours: ReadonlySet<string>;
  /** Every peer of its groups but itself. */
  readonly members: ReadonlySet<string>;
}

/**
 * `self`'s parent and children in the heap of the sorted ids of `peers` and `self`, whatever their number: the tree
 * itself, connected and acyclic, which is how discovered peers are dialled (a LAN of four is a star, not six links).
 */
export function heapNeighbours(self: string, peers: Iterable<string>, fanout: number): Set<string> {
  checkFanout(fanout);
  const sorted = [...new Set([self, ...peers])].sort();
  const at = sorted.indexOf(self);
  const neighbours = new Set<string>();
  if (at > 0) neighbours.add(sorted[Math.floor((at - 1) / fanout)] as string);
  for (let child = at * fanout + 1; child <= at * fanout + fanout && child < sorted.length; child++) {
    neighbours.add(sorted[child] as string);
  }
  return neighbours;
}

function checkFanout(fanout: number): void {
  if (!Number.isSafeInteger(fanout) || fanout < 1) throw new RangeError(`fanout must be a positive integer: ${fanout}`);
}

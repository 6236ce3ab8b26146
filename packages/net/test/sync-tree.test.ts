/**
 * Property tests of the sync tree: every node of a mesh, computing its neighbours over the same peer ids, lands on one
 * symmetric, connected graph: a tree of bounded degree once the mesh outgrows a tree node's fan-out, every link below.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { heapNeighbours, syncTreeNeighbours } from "../src/sync-tree.js";

// The function is pure and cheap: search wide by default; raise FEDERA_PROPERTY_RUNS to search wider still.
const RUNS = Math.max(300, Number(process.env.FEDERA_PROPERTY_RUNS ?? 300));

/** Ids that sort in awkward ways: libp2p-like prefixes, prefixes of one another, hex, any UTF-16 (surrogates too). */
const idArb: fc.Arbitrary<string> = fc.oneof(
  fc
    .tuple(fc.constantFrom("12D3KooW", "12D3KooWA", "12D3Koo", "Qm", "a", "aa"), fc.string({ maxLength: 6 }))
    .map(([prefix, rest]) => prefix + rest),
  fc.string({ unit: "binary", minLength: 1, maxLength: 12 }),
  fc.stringMatching(/^[0-9a-f]{1,8}$/),
);

const meshArb = fc.record({
  ids: fc.uniqueArray(idArb, { minLength: 1, maxLength: 40 }),
  fanout: fc.integer({ min: 1, max: 6 }),
});

/** Each node's neighbours, every node computing over the whole set (itself included, as the adapter passes it). */
function neighbourhoods(ids: readonly string[], fanout: number): Map<string, Set<string>> {
  return new Map(ids.map((id) => [id, syncTreeNeighbours(id, ids, fanout)]));
}

/** The undirected edges of the neighbourhoods, each as one "a\u0000b" key with a < b. */
function edges(hoods: Map<string, Set<string>>): Set<string> {
  const all = new Set<string>();
  for (const [self, neighbours] of hoods) {
    for (const other of neighbours) all.add(self < other ? `${self}\u0000${other}` : `${other}\u0000${self}`);
  }
  return all;
}

/** The ids reachable from the first one over the neighbourhoods. */
function reachable(ids: readonly string[], hoods: Map<string, Set<string>>): Set<string> {
  const seen = new Set<string>(ids.slice(0, 1));
  const queue = [...seen];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    for (const other of hoods.get(next) ?? []) {
      if (seen.has(other)) continue;
      seen.add(other);
      queue.push(other);
    }
  }
  return seen;
}

describe("syncTreeNeighbours", () => {
  it("never names self, and names only peers it was given", () => {
    fc.assert(
      fc.property(meshArb, ({ ids, fanout }) => {
        const given = new Set(ids);
        for (const [self, neighbours] of neighbourhoods(ids, fanout)) {
          expect(neighbours.has(self)).toBe(false);
          for (const other of neighbours) expect(given.has(other)).toBe(true);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("is symmetric: a names b exactly when b names a", () => {
    fc.assert(
      fc.property(meshArb, ({ ids, fanout }) => {
        const hoods = neighbourhoods(ids, fanout);
        for (const [self, neighbours] of hoods) {
          for (const other of ids) {
            if (other === self) continue;
            expect(hoods.get(other)?.has(self), `${JSON.stringify(other)} names ${JSON.stringify(self)}`).toBe(
              neighbours.has(other),
            );
          }
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("connects every node: a merge made anywhere reaches everyone over the chosen edges", () => {
    fc.assert(
      fc.property(meshArb, ({ ids, fanout }) => {
        expect(reachable(ids, neighbourhoods(ids, fanout)).size).toBe(ids.length);
      }),
      { numRuns: RUNS },
    );
  });

  it("above fanout + 2 ids, forms a tree (n - 1 edges) in which no node has more than fanout + 1 neighbours", () => {
    const bigMeshArb = fc.integer({ min: 1, max: 6 }).chain((fanout) =>
      fc.record({
        fanout: fc.constant(fanout),
        ids: fc.uniqueArray(idArb, { minLength: fanout + 3, maxLength: 40 }),
      }),
    );
    fc.assert(
      fc.property(bigMeshArb, ({ ids, fanout }) => {
        const hoods = neighbourhoods(ids, fanout);
        // Connected (checked above and again here) with n - 1 edges is exactly a spanning tree.
        expect(reachable(ids, hoods).size).toBe(ids.length);
        expect(edges(hoods).size).toBe(ids.length - 1);
        for (const neighbours of hoods.values()) expect(neighbours.size).toBeLessThanOrEqual(fanout + 1);
      }),
      { numRuns: RUNS },
    );
  });

  it("with at most fanout + 2 ids, keeps every link of the mesh", () => {
    const smallMeshArb = fc
      .integer({ min: 1, max: 6 })
      .chain((fanout) =>
        fc.record({ fanout: fc.constant(fanout), ids: fc.uniqueArray(idArb, { minLength: 1, maxLength: fanout + 2 }) }),
      );
    fc.assert(
      fc.property(smallMeshArb, ({ ids, fanout }) => {
        const hoods = neighbourhoods(ids, fanout);
        const n = ids.length;
        expect(edges(hoods).size).toBe((n * (n - 1)) / 2);
        for (const [self, neighbours] of hoods)
          expect([...neighbours].sort()).toEqual(ids.filter((id) => id !== self).sort());
      }),
      { numRuns: RUNS },
    );
  });

  it("does not depend on the order of the peers, on duplicates, or on whether self is among them", () => {
    const orderArb = meshArb.chain(({ ids, fanout }) =>
      fc.record({
        ids: fc.constant(ids),
        fanout: fc.constant(fanout),
        shuffled: fc.shuffledSubarray(ids, { minLength: ids.length, maxLength: ids.length }),
        repeated: fc.array(fc.constantFrom(...ids), { maxLength: 10 }),
      }),
    );
    fc.assert(
      fc.property(orderArb, ({ ids, fanout, shuffled, repeated }) => {
        for (const self of ids) {
          const expected = [...syncTreeNeighbours(self, ids, fanout)].sort();
          const others = shuffled.filter((id) => id !== self);
          expect([...syncTreeNeighbours(self, others, fanout)].sort()).toEqual(expected);
          expect([...syncTreeNeighbours(self, [...repeated, ...shuffled, ...repeated], fanout)].sort()).toEqual(
            expected,
          );
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("throws a RangeError for a fanout that is not a positive safe integer", () => {
    const badFanoutArb = fc.oneof(
      fc.integer({ max: 0 }),
      fc.double({ noInteger: true }),
      fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 2 ** 53, 1.5, -0.5),
    );
    fc.assert(
      fc.property(badFanoutArb, fc.uniqueArray(idArb, { minLength: 1, maxLength: 10 }), (fanout, ids) => {
        expect(() => syncTreeNeighbours(ids[0] as string, ids, fanout)).toThrow(RangeError);
      }),
      { numRuns: RUNS },
    );
  });

  it("dialled over differing views, connects the nodes still here once each drops the gone peers it failed to reach", () => {
    // How DiscoveryDials lays it: a node counts peers that left until a dial to one it needs fails, may not know of
    // some peers still here, and links to every neighbour in its own view (the other end dials, or it dials back).
    // What the nodes must share is the smallest id present: each node's parent has a smaller id, so links lead there.
    const staleArb = fc.integer({ min: 1, max: 5 }).chain((fanout) =>
      fc.uniqueArray(idArb, { minLength: 2, maxLength: 40 }).chain((ids) =>
        fc.record({
          fanout: fc.constant(fanout),
          ids: fc.constant(ids),
          gone: fc.subarray(ids, { maxLength: ids.length - 1 }),
          counts: fc.func(fc.boolean()),
          misses: fc.func(fc.boolean()),
        }),
      ),
    );
    fc.assert(
      fc.property(staleArb, ({ ids, fanout, gone, counts, misses }) => {
        const left = new Set(gone);
        const here = ids.filter((id) => !left.has(id));
        const undirected = new Map(here.map((id) => [id, new Set<string>()]));
        for (const self of here) {
          // Each node still counts some of the gone peers, its own pick.
          const smallest = [...here].sort()[0];
          const seen = here.filter((peer) => peer === self || peer === smallest || !misses(self, peer));
          const view = new Set([...seen, ...gone.filter((peer) => counts(self, peer))]);
          let neighbours = heapNeighbours(self, view, fanout);
          for (let dead = [...neighbours].find((p) => left.has(p)); dead !== undefined; ) {
            view.delete(dead);
            neighbours = heapNeighbours(self, view, fanout);
            dead = [...neighbours].find((p) => left.has(p));
          }
          for (const other of neighbours) {
            undirected.get(self)?.add(other);
            undirected.get(other)?.add(self);
          }
        }
        expect(reachable(here, undirected).size).toBe(here.length);
      }),
      { numRuns: RUNS },
    );
  });

  it("heapNeighbours, as discovered peers are dialled: at any size, one spanning tree of symmetric links", () => {
    fc.assert(
      fc.property(meshArb, ({ ids, fanout }) => {
        const hoods = new Map(ids.map((id) => [id, heapNeighbours(id, ids, fanout)]));
        for (const [self, neighbours] of hoods) {
          for (const other of neighbours) expect(hoods.get(other)?.has(self)).toBe(true);
        }
        expect(reachable(ids, hoods).size).toBe(ids.length);
        expect(edges(hoods).size).toBe(ids.length - 1);
      }),
      { numRuns: RUNS },
    );
  });
});

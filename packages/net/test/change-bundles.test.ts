/** Large rounds of changes repacked as Automerge bundles: the receiver ends with the same document, in fewer bytes. */
import * as A from "@automerge/automerge";
import { Repo } from "@automerge/automerge-repo";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { BUNDLE_CHUNK, chunkType, concat, splitChunks } from "../src/automerge-chunks.js";
import { bundleSyncMessage, changeHash, MAX_BUNDLE_CHANGES, MIN_BUNDLED_CHANGES } from "../src/change-bundles.js";
import type { Libp2pNetworkAdapter } from "../src/index.js";
import { SlicedChanges, splitChanges } from "../src/sliced-changes.js";
import { stopFederaNodes } from "./support/federa-nodes.js";
import { partedPair } from "./support/parted-pair.js";
import { mergedHistories, type Records } from "./support/record-histories.js";
import { waitFor } from "./support/wait.js";

/** The first sync message `full` sends a replica holding only `held` of its changes, after the replica's opening. */
function syncTo(full: A.Doc<Records>, held: A.Doc<Records>): Uint8Array {
  const [, opening] = A.generateSyncMessage(held, A.initSyncState());
  const [doc, state] = A.receiveSyncMessage(A.clone(full), A.initSyncState(), opening as Uint8Array);
  const [, message] = A.generateSyncMessage(doc, state);
  return message as Uint8Array;
}

/** Applies a sync message to a copy of `doc` as the Repo does; returns the copy's heads. */
function received(doc: A.Doc<Records>, message: Uint8Array): A.Heads {
  const [after] = A.receiveSyncMessage(A.clone(doc), A.initSyncState(), message);
  return A.getHeads(after).sort();
}

describe("change bundles", () => {
  const full = mergedHistories(4, 150);
  const all = A.getAllChanges(full);

  it("name each change by the hash Automerge gives it", () => {
    for (const change of all.slice(0, 20)) expect(changeHash(change)).toBe(A.decodeChange(change).hash);
  });

  it("carry any large round of missing changes in fewer bytes, to the same document", () => {
    fc.assert(
      // Short of a third of the document: more, and Automerge sends the whole document, packed already.
      fc.property(fc.integer({ min: MIN_BUNDLED_CHANGES, max: Math.floor(all.length / 3) - 10 }), (missing) => {
        const held = A.applyChanges(A.init<Records>(), all.slice(0, all.length - missing))[0];
        const plain = syncTo(full, held);
        const bundled = bundleSyncMessage(full, plain);
        if (bundled === undefined) throw new Error(`a round of ${missing} changes was not bundled`);
        const chunks = A.decodeSyncMessage(bundled).changes.flatMap((c) => splitChunks(c) ?? []);
        expect(chunks.every((c) => chunkType(c) === BUNDLE_CHUNK)).toBe(true);
        expect(chunks.length).toBe(Math.ceil(missing / MAX_BUNDLE_CHANGES));
        expect(bundled.byteLength).toBeLessThan(plain.byteLength * 0.6);
        // The same document as the changes make (all of them, but for a rare one a Bloom filter's false positive
        // leaves to the next round).
        expect(received(held, bundled)).toEqual(received(held, plain));
      }),
      { numRuns: 12 },
    );
  });

  it("leave small rounds, whole documents and messages from another replica as they are", () => {
    const held = A.applyChanges(A.init<Records>(), all.slice(0, all.length - 10))[0];
    expect(bundleSyncMessage(full, syncTo(full, held))).toBeUndefined();
    // Lacking most of it, the replica is sent the whole document, which is packed already.
    const whole = syncTo(full, A.init<Records>());
    expect(chunkType(A.decodeSyncMessage(whole).changes[0] as Uint8Array)).toBe(0);
    expect(bundleSyncMessage(full, whole)).toBeUndefined();
    // A document that lacks the changes cannot pack them.
    const other = mergedHistories(1, 100);
    const half = A.applyChanges(A.init<Records>(), A.getAllChanges(other).slice(0, 30))[0];
    expect(bundleSyncMessage(full, syncTo(other, half))).toBeUndefined();
  });

  it("are applied by SlicedChanges a bundle at a time, slices or not, to the same document", async () => {
    const held = A.applyChanges(A.init<Records>(), all.slice(0, all.length - 180))[0];
    const plain = syncTo(full, held);
    const bundled = bundleSyncMessage(full, plain) as Uint8Array;
    const parts = A.decodeSyncMessage(bundled).changes;
    expect(splitChanges(parts)).toHaveLength(2);
    const expected = A.getHeads(A.loadIncremental(A.clone(held), concat(A.decodeSyncMessage(plain).changes))).sort();
    for (const wholeMs of [0, 10_000]) {
      const handle = new Repo().import<Records>(A.save(held));
      const slices = new SlicedChanges({ wholeMs, sliceMs: 1 });
      slices.take(handle, parts);
      await slices.idle();
      expect(A.getHeads(handle.doc()).sort()).toEqual(expected);
    }
    // Laid end to end, as the Repo hands loadIncremental a message's changes, they load too.
    expect(A.getHeads(A.loadIncremental(A.clone(held), concat(parts))).sort()).toEqual(expected);
  });
});

describe("a node's bundleChanges", () => {
  afterEach(stopFederaNodes);

  it.each([
    ["on by default", {}, true],
    ["turned off", { bundleChanges: false }, false],
  ])(
    "%s: a member's device that was away gets the records it missed, and both hold the same state",
    async (_how, init, bundled) => {
      const { a, held, benHeld, balance, part, meet } = await partedPair(400, init);
      // Ben goes away; Ana records a hundred more, a fifth of the ledger, so they go as changes (a third would go as the whole).
      await part();
      for (let i = 0; i < 100; i++) await held.council.ledger.donate("paper", 2);
      const adapter = a.repo.networkSubsystem.adapters[0] as Libp2pNetworkAdapter;
      const before = adapter.traffic.messagesPacked;
      await meet();
      await waitFor(async () => (await balance()) === 600, "the records ben missed");
      expect(adapter.traffic.messagesPacked > before).toBe(bundled);
      expect(A.getHeads(benHeld.ledgerHandle.doc()).sort()).toEqual(A.getHeads(held.ledgerHandle.doc()).sort());
      expect(await benHeld.council.state()).toEqual(await held.council.state());
    },
  );
});

/** Whole documents trimmed to what the peer lacks: the peer ends with the same document, in fewer bytes. */

import { deflateRawSync } from "node:zlib";
import * as A from "@automerge/automerge";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { BUNDLE_CHUNK, CHANGE_CHUNK, chunkType, splitChunks } from "../src/automerge-chunks.js";
import type { Libp2pNetworkAdapter } from "../src/index.js";
import { syncMessageDocumentBytes, syncMessageHeads } from "../src/sync-message-shape.js";
import { trimWholeDocument } from "../src/whole-documents.js";
import { stopFederaNodes } from "./support/federa-nodes.js";
import { partedPair } from "./support/parted-pair.js";
import { type Records, recordHistories } from "./support/record-histories.js";
import { waitFor } from "./support/wait.js";

/** A replica holding the first `counts[w]` changes of each writer's history (and the shared base). */
function holding(writers: A.Doc<Records>[], counts: readonly number[]): A.Doc<Records> {
  let doc = A.init<Records>();
  writers.forEach((history, w) => {
    const changes = A.getAllChanges(history);
    [doc] = A.applyChanges(doc, changes.slice(0, 1 + (counts[w] ?? 0))); // the base change, then its records
  });
  return doc;
}

/** The sync message `full` answers `held`'s opening with, and the heads that opening said `held` holds. */
function answer(full: A.Doc<Records>, held: A.Doc<Records>): { message: Uint8Array; heads: string[] } {
  const [, opening] = A.generateSyncMessage(held, A.initSyncState());
  const [doc, state] = A.receiveSyncMessage(A.clone(full), A.initSyncState(), opening as Uint8Array);
  const [, message] = A.generateSyncMessage(doc, state);
  return { message: message as Uint8Array, heads: syncMessageHeads(opening as Uint8Array) };
}

function headsAfter(doc: A.Doc<Records>, message: Uint8Array): A.Heads {
  const [after] = A.receiveSyncMessage(A.clone(doc), A.initSyncState(), message);
  return A.getHeads(after).sort();
}

function kinds(message: Uint8Array): Set<number | undefined> {
  return new Set(A.decodeSyncMessage(message).changes.flatMap((c) => (splitChunks(c) ?? [c]).map(chunkType)));
}

describe("trimWholeDocument", () => {
  const writers = recordHistories(3, 60);
  const full = writers.reduce((merged, doc) => A.merge(merged, doc), A.clone(writers[0] as A.Doc<Records>));

  it("reads the heads a sync message names, and whether it carries a whole document", () => {
    const held = holding(writers, [60, 10, 0]);
    const { message, heads } = answer(full, held);
    expect(heads.sort()).toEqual(A.getHeads(held).sort());
    expect(syncMessageDocumentBytes(message)).toBe(A.decodeSyncMessage(message).changes[0]?.byteLength);
    const few = answer(full, holding(writers, [60, 60, 50]));
    expect(syncMessageDocumentBytes(few.message)).toBeUndefined(); // ten changes go as changes
  });

  it("gives a peer holding any part of the document the same document as the whole would, and is smaller", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 60 }), { minLength: 3, maxLength: 3 }), (counts) => {
        const held = holding(writers, counts);
        const { message, heads } = answer(full, held);
        for (const bundles of [false, true]) {
          const trimmed = trimWholeDocument(full, message, heads, bundles);
          if (trimmed === undefined) continue; // changes already, or the whole is smaller
          expect(syncMessageDocumentBytes(message)).toBeDefined();
          expect(headsAfter(held, trimmed)).toEqual(A.getHeads(full).sort());
          // Deflated, as its frame goes (the whole document is compressed already).
          expect(deflateRawSync(trimmed, { level: 1 }).byteLength).toBeLessThan(message.byteLength * 0.9);
          expect([...kinds(trimmed)].every((k) => k === CHANGE_CHUNK || (bundles && k === BUNDLE_CHUNK))).toBe(true);
        }
      }),
      { numRuns: 25 },
    );
  });

  it("trims a whole document for a peer holding half of it", () => {
    const held = holding(writers, [60, 30, 0]);
    const { message, heads } = answer(full, held);
    expect(syncMessageDocumentBytes(message)).toBeDefined();
    const trimmed = trimWholeDocument(full, message, heads, false);
    if (trimmed === undefined) throw new Error("a whole document was sent to a peer holding half of it");
    expect(kinds(trimmed)).toEqual(new Set([CHANGE_CHUNK]));
    expect(A.decodeSyncMessage(trimmed).changes.flatMap((c) => splitChunks(c) ?? [])).toHaveLength(90);
  });

  it("leaves alone changes, a peer holding nothing, heads not known, and heads of a replica this one never saw", () => {
    const held = holding(writers, [60, 30, 0]);
    const { message, heads } = answer(full, held);
    expect(trimWholeDocument(full, answer(full, holding(writers, [60, 60, 50])).message, heads, false)).toBeUndefined();
    const empty = answer(full, A.init<Records>());
    expect(trimWholeDocument(full, empty.message, empty.heads, false)).toBeUndefined();
    expect(trimWholeDocument(full, message, undefined, false)).toBeUndefined();
    const stranger = A.getHeads(A.from({ other: 1 }));
    expect(trimWholeDocument(full, message, stranger, false)).toBeUndefined();
    // Some heads unknown here: the known ones bound what the peer lacks, so it is still trimmed and still complete.
    const trimmed = trimWholeDocument(full, message, [...heads, ...stranger], false) as Uint8Array;
    expect(headsAfter(held, trimmed)).toEqual(A.getHeads(full).sort());
  });
});

describe("a node meeting a peer that holds part of a document", () => {
  afterEach(stopFederaNodes);

  it("sends the records the peer lacks, not the whole ledger, and both hold the same state", async () => {
    const { a, held, benHeld, balance, part, meet } = await partedPair(150);
    // Ben goes away; Ana records as many again, half the ledger, which Automerge would send as the whole ledger.
    await part();
    for (let i = 0; i < 150; i++) await held.council.ledger.donate("paper", 2);
    const adapter = a.repo.networkSubsystem.adapters[0] as Libp2pNetworkAdapter;
    const before = { ...adapter.traffic };
    await meet();
    await waitFor(async () => (await balance()) === 450, "the records ben missed");
    expect(adapter.traffic.messagesPacked).toBeGreaterThan(before.messagesPacked);
    // Everything Ana sent on meeting again (both documents' rounds) is less than the ledger alone, saved whole.
    expect(adapter.traffic.bytesSent - before.bytesSent).toBeLessThan(A.save(held.ledgerHandle.doc()).byteLength);
    expect(A.getHeads(benHeld.ledgerHandle.doc()).sort()).toEqual(A.getHeads(held.ledgerHandle.doc()).sort());
    expect(await benHeld.council.state()).toEqual(await held.council.state());
  });
});

/** Whole documents trimmed to what the peer lacks: the peer ends with the same document, in fewer bytes. */

import { deflateRawSync } from "node:zlib";
import * as A from "@automerge/automerge";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { BUNDLE_CHUNK, CHANGE_CHUNK, chunkType, splitChunks } from "../src/automerge-chunks.js";
import { changeHash } from "../src/change-bundles.js";
import { InvalidFrameError } from "../src/errors.js";
import type { Libp2pNetworkAdapter } from "../src/index.js";
import { SyncBloom } from "../src/sync-bloom.js";
import { readSyncHeader, type SyncHeader, syncMessageDocumentBytes } from "../src/sync-message-shape.js";
import { changesPeerLacks, trimWholeDocument, withNeededChanges } from "../src/whole-documents.js";
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

interface Answer {
  readonly message: Uint8Array;
  /** What `held`'s opening said it holds. */
  readonly said: SyncHeader;
  /** The sync states of both ends once `message` is made, to go on syncing from. */
  readonly states: { readonly held: A.SyncState; readonly full: A.SyncState };
}

/** The sync message `full` answers `held`'s opening with. */
function answer(full: A.Doc<Records>, held: A.Doc<Records>): Answer {
  const [heldState, opening] = A.generateSyncMessage(held, A.initSyncState());
  const [doc, received] = A.receiveSyncMessage(A.clone(full), A.initSyncState(), opening as Uint8Array);
  const [fullState, message] = A.generateSyncMessage(doc, received);
  return {
    message: message as Uint8Array,
    said: readSyncHeader(opening as Uint8Array),
    states: { held: heldState, full: fullState },
  };
}

/**
 * Syncs `held` and `full` on from `full`'s first answer, sent as `first` in its place; returns `held`'s heads at the
 * end and the rounds it took (a filter's false positive costs one: the peer asks for what it was not sent).
 */
function syncOn(held: A.Doc<Records>, full: A.Doc<Records>, { states }: Answer, first: Uint8Array) {
  let [h, hs, f, fs] = [A.clone(held), states.held, A.clone(full), states.full];
  let message: Uint8Array | null = first;
  let rounds = 0;
  for (; message !== null && rounds < 10; rounds++) {
    [h, hs] = A.receiveSyncMessage(h, hs, message);
    let reply: Uint8Array | null;
    [hs, reply] = A.generateSyncMessage(h, hs);
    if (reply === null) break;
    [f, fs] = A.receiveSyncMessage(f, fs, reply);
    [fs, message] = A.generateSyncMessage(f, fs);
    // As a node's packChanges does: what the peer asked for and the message lacks is added.
    if (message !== null) message = withNeededChanges(f, message, readSyncHeader(reply)) ?? message;
  }
  return { heads: A.getHeads(h).sort(), rounds };
}

/** The hashes of the change chunks `message` carries. */
function sentHashes(message: Uint8Array): string[] {
  return A.decodeSyncMessage(message).changes.flatMap((c) => (splitChunks(c) ?? []).map(changeHash));
}

/**
 * Expects `message` to carry every change of `full` that `held` lacks but those its filter claims (a false positive,
 * which the peer asks for next), and at least half of them.
 */
function expectLackingSent(full: A.Doc<Records>, held: A.Doc<Records>, said: SyncHeader, message: Uint8Array): void {
  const sent = new Set(sentHashes(message));
  const filter = new SyncBloom(said.have[0]?.bloom ?? new Uint8Array());
  const lacking = hashes(full).filter((hash) => !hashes(held).includes(hash));
  expect(lacking.filter((hash) => !sent.has(hash)).every((hash) => filter.contains(hash))).toBe(true);
  expect(sent.size).toBeGreaterThan(lacking.length / 2);
}

function kinds(message: Uint8Array): Set<number | undefined> {
  return new Set(A.decodeSyncMessage(message).changes.flatMap((c) => (splitChunks(c) ?? [c]).map(chunkType)));
}

function hashes(doc: A.Doc<Records>): string[] {
  return A.getAllChanges(doc).map(changeHash);
}

/** A filter every hash is in, as Automerge would write one with all its bits set. */
const FULL_FILTER = Uint8Array.of(0xac, 0x02, 10, 7, ...new Array(16).fill(0xff)); // 300 entries

describe("SyncBloom", () => {
  it("holds every change its sender holds, and few others", () => {
    const [mine, other] = recordHistories(2, 200) as [A.Doc<Records>, A.Doc<Records>];
    const filter = new SyncBloom(answer(other, mine).said.have[0]?.bloom ?? new Uint8Array());
    expect(hashes(mine).every((hash) => filter.contains(hash))).toBe(true);
    const others = hashes(other).slice(1); // past the shared base
    expect(others.filter((hash) => filter.contains(hash)).length).toBeLessThan(others.length * 0.05);
  });

  it("holds nothing when empty, and refuses a filter naming absurdly many probes", () => {
    const [doc] = recordHistories(1, 3) as [A.Doc<Records>];
    expect(hashes(doc).some((hash) => new SyncBloom(new Uint8Array()).contains(hash))).toBe(false);
    expect(() => new SyncBloom(Uint8Array.of(1, 10, 200, 1, 0xff))).toThrow(InvalidFrameError);
  });
});

describe("trimWholeDocument", () => {
  // Three writers' records are here; the peer may also hold a fourth's, never seen here.
  const writers = recordHistories(4, 60);
  const full = writers.slice(1, 3).reduce((merged, doc) => A.merge(merged, doc), A.clone(writers[0] as A.Doc<Records>));

  it("reads what a sync message says its sender holds, and whether it carries a whole document", () => {
    const held = holding(writers, [60, 10, 0]);
    const { message, said } = answer(full, held);
    expect([...said.heads].sort()).toEqual(A.getHeads(held).sort());
    expect(said.have).toHaveLength(1);
    expect(syncMessageDocumentBytes(message)).toBe(A.decodeSyncMessage(message).changes[0]?.byteLength);
    const few = answer(full, holding(writers, [60, 60, 50]));
    expect(syncMessageDocumentBytes(few.message)).toBeUndefined(); // ten changes go as changes
  });

  it("gives a peer holding any part of the document, and records of its own, all it lacks, in fewer bytes", () => {
    fc.assert(
      fc.property(
        fc.tuple(...[60, 60, 60, 20].map((max) => fc.integer({ min: 0, max }))),
        fc.boolean(),
        (counts, bundles) => {
          const held = holding(writers, counts);
          const answered = answer(full, held);
          const { message, said } = answered;
          const trimmed = trimWholeDocument(full, message, said, bundles);
          if (trimmed === undefined) return; // changes already, or the whole is smaller
          expect(syncMessageDocumentBytes(message)).toBeDefined();
          const everything = A.merge(A.clone(held), full);
          const synced = syncOn(held, full, answered, trimmed);
          expect(synced.heads).toEqual(A.getHeads(everything).sort());
          expect(synced.rounds).toBeLessThanOrEqual(syncOn(held, full, answered, message).rounds + 1);
          // Deflated, as its frame goes (the whole document is compressed already).
          expect(deflateRawSync(trimmed, { level: 1 }).byteLength).toBeLessThan(message.byteLength * 0.9);
          expect([...kinds(trimmed)].every((k) => k === CHANGE_CHUNK || (bundles && k === BUNDLE_CHUNK))).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("sends a peer holding half of the document and records of its own the changes it lacks, and only those", () => {
    const held = holding(writers, [60, 30, 0, 20]);
    const { message, said } = answer(full, held);
    expect(syncMessageDocumentBytes(message)).toBeDefined();
    const trimmed = trimWholeDocument(full, message, said, false);
    if (trimmed === undefined) throw new Error("a whole document was sent to a peer holding half of it");
    expect(kinds(trimmed)).toEqual(new Set([CHANGE_CHUNK]));
    const lacking = hashes(full).filter((hash) => !hashes(held).includes(hash)); // 30 of one writer's, 60 of another's
    expect(lacking).toHaveLength(90);
    expect(sentHashes(trimmed).every((hash) => lacking.includes(hash))).toBe(true);
    expectLackingSent(full, held, said, trimmed);
  });

  it("sends what the peer asks for and every change after it, even where its filter claims to hold them", () => {
    const held = holding(writers, [60, 30, 0]);
    const { message, said } = answer(full, held);
    const lacking = A.getChangesSince(full, A.getHeads(held)).map(changeHash);
    const asked = lacking.find((hash) => !hashes(held).includes(hash)) as string;
    const claimsAll = { ...said, need: [asked], have: [{ lastSync: [], bloom: FULL_FILTER }] };
    expect(changesPeerLacks(full, { ...said, have: [{ lastSync: [], bloom: FULL_FILTER }] })).toEqual([]);
    const trimmed = trimWholeDocument(full, message, claimsAll, false) as Uint8Array;
    // The asked change's writer's later records depend on it: they go too, and the peer ends with the whole chain.
    const [after] = A.receiveSyncMessage(A.clone(held), A.initSyncState(), trimmed);
    expect(A.getChangesSince(full, A.getHeads(after)).length).toBeLessThan(lacking.length);
    expect(A.getAllChanges(after).map(changeHash)).toContain(asked);
  });

  it("sends nothing past the message's heads when the document moved on after the message was made", () => {
    const held = holding(writers, [60, 30, 0, 10]);
    const { message, said } = answer(full, held);
    // Packed later, the document holds the fourth writer's records meanwhile; they go in the next message, not this one.
    const moved = A.merge(A.clone(full), writers[3] as A.Doc<Records>);
    const trimmed = trimWholeDocument(moved, message, said, false) as Uint8Array;
    expect(sentHashes(trimmed).every((hash) => hashes(full).includes(hash))).toBe(true);
    expectLackingSent(full, held, said, trimmed);
  });

  it("leaves alone changes, a peer holding nothing, a peer that said nothing, and one with no filter", () => {
    const held = holding(writers, [60, 30, 0]);
    const { message, said } = answer(full, held);
    expect(trimWholeDocument(full, answer(full, holding(writers, [60, 60, 50])).message, said, false)).toBeUndefined();
    const empty = answer(full, A.init<Records>());
    expect(trimWholeDocument(full, empty.message, empty.said, false)).toBeUndefined();
    expect(trimWholeDocument(full, message, undefined, false)).toBeUndefined();
    expect(trimWholeDocument(full, message, { ...said, have: [] }, false)).toBeUndefined();
    // Heads it last synced at that are unknown here: the rest bound what it lacks, so it is still trimmed and whole.
    const stranger = A.getHeads(A.from({ other: 1 }));
    const unknownSync = { ...said, have: said.have.map((have) => ({ ...have, lastSync: stranger })) };
    const trimmed = trimWholeDocument(full, message, unknownSync, false) as Uint8Array;
    expectLackingSent(full, held, said, trimmed);
  });
});

describe("withNeededChanges", () => {
  const [history] = recordHistories(1, 40) as [A.Doc<Records>];
  const all = A.getAllChanges(history);

  it("adds the changes the peer asked for that the message lacks, and leaves a message carrying them alone", () => {
    const held = A.applyChanges(A.init<Records>(), all.slice(0, 35))[0];
    const { message } = answer(history, held); // the last six (a base and 40 records), as changes
    const asked = changeHash(all[10] as Uint8Array);
    const said = { heads: [], need: [asked], have: [] };
    const added = withNeededChanges(history, message, said) as Uint8Array;
    const carried = A.decodeSyncMessage(added)
      .changes.flatMap((c) => splitChunks(c) ?? [])
      .map(changeHash);
    expect(carried).toContain(asked);
    expect(carried).toHaveLength(7);
    expect(withNeededChanges(history, added, said)).toBeUndefined();
    expect(withNeededChanges(history, message, { ...said, need: A.getHeads(A.from({ other: 1 })) })).toBeUndefined();
    expect(withNeededChanges(history, message, undefined)).toBeUndefined();
    const whole = answer(history, A.applyChanges(A.init<Records>(), all.slice(0, 5))[0]).message;
    expect(withNeededChanges(history, whole, said)).toBeUndefined(); // a whole document carries everything
  });
});

describe("a node with trimDocuments meeting a peer that holds part of a document", () => {
  afterEach(stopFederaNodes);

  it("sends the records the peer lacks, not the whole ledger, and both hold the same state", async () => {
    const { a, held, benHeld, balance, part, meet } = await partedPair(150, { trimDocuments: true });
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

/** Where records sit in a document: under the first 128 bits of their id, and still read under their whole id. */
import * as A from "@automerge/automerge";
import { describe, expect, it } from "vitest";
import { allEntries, bucketOf, putRecords, storageKeyOf } from "../src/documents/layout.js";
import type { CouncilDoc, CouncilState, FederaDoc, LedgerDoc, RecordId } from "../src/index.js";
import { Council, createIdentity, foundCouncil, PlainDocument } from "../src/index.js";
import { decodeRecord } from "../src/records/record.js";
import { putRaw } from "./support/forge.js";

let t = 1_700_000_000_000;
const now = () => (t += 1000);

/** A council of two with a fund and some donations, on one replica. */
async function council(donations: number) {
  const [alice, bob] = await Promise.all([createIdentity(), createIdentity()]);
  const founded = await foundCouncil(alice, { name: "Print shop", founders: [bob.member], now });
  const docs = { council: new PlainDocument(founded.council), ledger: new PlainDocument(founded.ledger) };
  const a = await Council.open(docs, { identity: alice, now });
  await a.ledger.createFund("common", "cash");
  for (let i = 1; i <= donations; i++) await a.ledger.donate("common", 100 * i);
  return { alice, docs, a, state: await a.state() };
}

/** Every stored entry of a document with the whole id of the record under it. */
function entriesWithIds(doc: A.Doc<unknown>): { key: string; id: RecordId; bytes: Uint8Array }[] {
  return [...allEntries(doc)].map(([key, bytes]) => {
    const decoded = decodeRecord(key, bytes);
    if (!("record" in decoded)) throw new Error(`entry ${key} does not decode`);
    return { key, id: decoded.record.id, bytes: bytes as Uint8Array };
  });
}

/** The same document with every record moved under its whole id, as documents were written before. */
function underWholeIds<T extends FederaDoc>(doc: A.Doc<T>): PlainDocument<T> {
  const entries = entriesWithIds(doc);
  return new PlainDocument(
    A.change(A.clone(doc), (d) => {
      const records = (d as FederaDoc).records;
      for (const { key, id, bytes } of entries) {
        delete records[bucketOf(id)]![key];
        records[bucketOf(id)]![id] = bytes;
      }
    }),
  );
}

async function derive(council: PlainDocument<CouncilDoc>, ledger: PlainDocument<LedgerDoc>): Promise<CouncilState> {
  return (await Council.open({ council, ledger })).state();
}

describe("storage keys", () => {
  it("stores each record under the first 128 bits of its id, in the bucket of its id", async () => {
    const { docs, state } = await council(5);
    const entries = [...entriesWithIds(docs.council.doc()), ...entriesWithIds(docs.ledger.doc())];
    expect(entries).toHaveLength(state.records);
    for (const { key, id } of entries) {
      expect(key).toHaveLength(32);
      expect(key).toBe(storageKeyOf(id));
      expect(id.startsWith(key)).toBe(true);
      expect(bucketOf(id)).toBe(key.slice(0, 2));
    }
  });

  it("derives the same state from documents that store records under their whole id, and writes on into them", async () => {
    const { alice, docs, state } = await council(5);
    const legacy = { council: underWholeIds(docs.council.doc()), ledger: underWholeIds(docs.ledger.doc()) };
    expect([...allEntries(legacy.ledger.doc())].every(([key]) => key.length === 64)).toBe(true);
    expect(await derive(legacy.council, legacy.ledger)).toEqual(state);

    const later = await Council.open(legacy, { identity: alice, now });
    const donation = await later.ledger.donate("common", 7);
    const after = await later.state();
    expect(after.excluded).toEqual([]);
    expect(after.records).toBe(state.records + 1);
    expect(after.ledger.some((e) => e.record === donation && e.status === "applied")).toBe(true);
    expect(entriesWithIds(legacy.ledger.doc()).find((e) => e.id === donation)?.key).toBe(storageKeyOf(donation));
  });

  it("does not store again a record already held under its whole id", async () => {
    const { docs } = await council(1);
    const legacy = underWholeIds(docs.ledger.doc());
    const before = entriesWithIds(legacy.doc());
    legacy.change((d) => putRecords(d, before));
    expect(entriesWithIds(legacy.doc())).toEqual(before);
  });

  it("counts a record held under both keys once, whichever copy arrives first", async () => {
    const { docs, state, a } = await council(3);
    const [donation] = entriesWithIds(docs.ledger.doc()).filter((e) => e.key.length === 32);
    // Another replica holding the same record under its whole id, merged in, then a fresh load of the result.
    const peer = docs.ledger.fork();
    putRaw(peer, donation!.id, donation!.bytes);
    docs.ledger.merge(peer);
    expect(await a.state()).toEqual(state);
    expect(await derive(PlainDocument.load(docs.council.save()), PlainDocument.load(docs.ledger.save()))).toEqual(
      state,
    );
    // The other order: a replica that read the whole-id copy first.
    const legacy = { council: underWholeIds(docs.council.doc()), ledger: underWholeIds(docs.ledger.doc()) };
    const reader = await Council.open(legacy);
    await reader.state();
    legacy.ledger.merge(docs.ledger);
    expect(await reader.state()).toEqual(state);
  });

  it("reports garbage under a record's other key only while the genuine record is not held", async () => {
    const { docs, state } = await council(2);
    const { id, key, bytes } = entriesWithIds(docs.ledger.doc()).find((e) => e.key.length === 32)!;
    const garbage = bytes.slice();
    garbage[garbage.length - 1]! ^= 1;
    // Garbage under the whole id, the genuine bytes under the storage key: in either order, nothing is excluded.
    const first = docs.ledger.fork();
    putRaw(first, id, garbage);
    const reader = await Council.open({ council: docs.council.fork(), ledger: first });
    expect((await reader.state()).excluded).toEqual([]);
    const late = await Council.open({ council: docs.council.fork(), ledger: docs.ledger.fork() });
    await late.state();
    late.sources.ledger.change((d) => {
      (d as LedgerDoc).records[bucketOf(id)]![id] = garbage;
    });
    expect(await late.state()).toEqual(state);

    // Without the genuine bytes the garbage is reported under the key it sits at, and so is the gap it leaves.
    const alone = docs.ledger.fork();
    alone.change((d) => {
      delete (d as LedgerDoc).records[bucketOf(id)]![key];
    });
    putRaw(alone, id, garbage);
    const excluded = (await derive(docs.council.fork(), alone)).excluded;
    expect(excluded.find((e) => e.id === id)?.reason).toBe("bad-id");
  });

  it("excludes a record's bytes under another 128-bit key as bad-id, named by that key", async () => {
    const { docs, state } = await council(1);
    const { bytes } = entriesWithIds(docs.ledger.doc()).find((e) => e.key.length === 32)!;
    const key = `${"0".repeat(31)}1`;
    const peer = docs.ledger.fork();
    putRaw(peer, key, bytes);
    docs.ledger.merge(peer);
    const after = await derive(docs.council, docs.ledger);
    expect(after.excluded).toEqual([{ id: key, reason: "bad-id", detail: expect.stringMatching(/not the hash/) }]);
    expect({ ...after, excluded: [] }).toEqual(state);
  });

  it("saves more than 12 bytes a record against whole-id keys, one record per change", async () => {
    const { docs } = await council(60);
    const entries = entriesWithIds(docs.ledger.doc());
    const written = (key: (id: RecordId) => string) => {
      let doc = A.from<FederaDoc>({ ...docs.ledger.doc(), records: {} } as FederaDoc);
      for (const { id, bytes } of entries)
        doc = A.change(doc, (d) => {
          d.records[bucketOf(id)] ??= {};
          d.records[bucketOf(id)]![key(id)] = bytes;
        });
      return A.save(doc).length;
    };
    const saved = written((id) => id) - written(storageKeyOf);
    expect(saved / entries.length).toBeGreaterThan(12);
  });
});

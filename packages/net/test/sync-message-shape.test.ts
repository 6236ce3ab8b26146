/**
 * The walk over a sync message's counts and lengths: every message Automerge writes passes, and one whose entries
 * would decode to far more objects than its bytes suggest, or that is not laid out as a sync message, is refused.
 */
import * as A from "@automerge/automerge";
import { describe, expect, it } from "vitest";
import { InvalidFrameError } from "../src/index.js";
import { checkSyncMessageShape, MAX_SYNC_CHANGES, MAX_SYNC_HASHES, MAX_SYNC_HAVES } from "../src/sync-message-shape.js";

type Minutes = {
  lines: Record<string, string>;
  blob?: Uint8Array;
};

/** Every message two documents exchange until they are in sync, from `a` to `b` and back. */
function conversation(a: A.Doc<Minutes>, b: A.Doc<Minutes>): Uint8Array[] {
  const messages: Uint8Array[] = [];
  // Copies: receiving a message makes the document it was given outdated.
  [a, b] = [A.clone(a), A.clone(b)];
  let [stateA, stateB] = [A.initSyncState(), A.initSyncState()];
  for (let round = 0; round < 20; round++) {
    let toB: Uint8Array | null;
    let toA: Uint8Array | null;
    [stateA, toB] = A.generateSyncMessage(a, stateA);
    if (toB !== null) {
      messages.push(toB);
      [b, stateB] = A.receiveSyncMessage(b, stateB, toB);
    }
    [stateB, toA] = A.generateSyncMessage(b, stateB);
    if (toA !== null) {
      messages.push(toA);
      [a, stateA] = A.receiveSyncMessage(a, stateA, toA);
    }
    if (toA === null && toB === null) break;
  }
  return messages;
}

function edited(doc: A.Doc<Minutes>, n: number, tag: string): A.Doc<Minutes> {
  for (let i = 0; i < n; i++)
    doc = A.change(doc, (d) => {
      d.lines[`${tag}${i}`] = `line ${i} of ${tag}`;
    });
  return doc;
}

/** Unsigned LEB128, as Automerge writes counts. */
function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

describe("checkSyncMessageShape", () => {
  it("passes every message Automerge writes: first contact, bundles, document chunks, concurrent heads", () => {
    const base = edited(A.from<Minutes>({ lines: {} }), 5, "base");
    const messages = [
      ...conversation(A.init<Minutes>(), A.init<Minutes>()),
      ...conversation(base, A.init<Minutes>()),
      ...conversation(edited(A.clone(base), 40, "a"), edited(A.clone(base), 60, "b")),
      ...conversation(edited(A.clone(base), 400, "a"), A.init<Minutes>()),
      ...conversation(
        A.change(A.clone(base), (d) => {
          d.blob = new Uint8Array(200_000).fill(7);
        }),
        base,
      ),
    ];
    // Many concurrent heads: each of 50 actors edits the same base.
    let merged = base;
    for (let i = 0; i < 50; i++) merged = A.merge(merged, edited(A.clone(base), 1, `actor${i}`));
    expect(A.getHeads(merged)).toHaveLength(50);
    messages.push(...conversation(merged, A.clone(base)));
    expect(messages.length).toBeGreaterThan(15);
    for (const message of messages) expect(() => checkSyncMessageShape(message)).not.toThrow();
  });

  it("refuses more have entries, hashes or changes than any honest message holds, before decoding any", () => {
    // Millions of empty have entries: two bytes each on the wire, an object each once decoded.
    const haves = 12_000_000;
    const bomb = new Uint8Array([0x42, 0, 0, ...uleb(haves), ...new Array(16).fill(0)]);
    expect(() => checkSyncMessageShape(bomb)).toThrow(new RegExp(`${haves} have entries, more than ${MAX_SYNC_HAVES}`));
    expect(() => checkSyncMessageShape(new Uint8Array([0x42, ...uleb(MAX_SYNC_HASHES + 1)]))).toThrow(/heads/);
    expect(() => checkSyncMessageShape(new Uint8Array([0x42, 0, 0, 0, ...uleb(MAX_SYNC_CHANGES + 1)]))).toThrow(
      /changes/,
    );
    // Changes of no bytes cost an object each too: a chunk has at least a header.
    expect(() => checkSyncMessageShape(new Uint8Array([0x42, 0, 0, 0, 3, 0, 0, 0]))).toThrow(/change of 0 bytes/);
  });

  it("refuses what is not laid out as a sync message: another type, counts past the end, a runaway number", () => {
    const cases: number[][] = [
      [],
      [0x41, 0, 0, 0, 0],
      [0x42, 1, 0xaa], // a head of 1 byte, not 32
      [0x42, 0, 0, 1, 0, 9], // a bloom filter of 9 bytes, none there
      [0x42, 0, 0, 0, 1, 20, 1, 2, 3], // a change of 20 bytes, 3 there
      [0x42, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], // a count of more than 32 bits
    ];
    for (const bytes of cases)
      expect(() => checkSyncMessageShape(new Uint8Array(bytes)), JSON.stringify(bytes)).toThrow(InvalidFrameError);
  });
});

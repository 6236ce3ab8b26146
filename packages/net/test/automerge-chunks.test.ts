/** Automerge's storage chunks: a sync message's changes split at their headers. */
import * as A from "@automerge/automerge";
import { describe, expect, it } from "vitest";
import { CHANGE_CHUNK, changeDeps, chunkType, concat, splitChunks } from "../src/automerge-chunks.js";

type Doc = { entries: { [key: string]: Uint8Array } };

/** Two replicas of one document and the sync state each keeps of the other, as two connected peers hold them. */
interface Pair {
  a: A.Doc<Doc>;
  b: A.Doc<Doc>;
  sa: A.SyncState;
  sb: A.SyncState;
}

/**
 * Runs the sync protocol between the pair until it is quiet; with `stopAtChanges`, returns instead the first chunk
 * of changes `a` sends (not delivered).
 */
function syncPair(p: Pair, stopAtChanges: boolean): Uint8Array | undefined {
  for (let round = 0; round < 20; round++) {
    let message: Uint8Array | null;
    [p.sa, message] = A.generateSyncMessage(p.a, p.sa);
    if (message !== null) {
      const { changes } = A.decodeSyncMessage(message);
      if (stopAtChanges && changes.length > 0) return changes[0];
      [p.b, p.sb] = A.receiveSyncMessage(p.b, p.sb, message);
    }
    let answer: Uint8Array | null;
    [p.sb, answer] = A.generateSyncMessage(p.b, p.sb);
    if (answer !== null) [p.a, p.sa] = A.receiveSyncMessage(p.a, p.sa, answer);
    if (message === null && answer === null) return undefined;
  }
  throw new Error("the pair did not settle");
}

describe("splitChunks", () => {
  it("splits change chunks laid end to end into single changes, in causal order", () => {
    let base = A.from<Doc>({ entries: {} });
    for (let i = 1; i < 100; i++) {
      base = A.change(base, (d) => {
        d.entries[`b${i}`] = new Uint8Array([i % 256]);
      });
    }
    const p: Pair = { a: A.clone(base), b: A.clone(base), sa: A.initSyncState(), sb: A.initSyncState() };
    syncPair(p, false);
    const start = A.getHeads(p.a);
    for (let i = 0; i < 50; i++) {
      p.a = A.change(p.a, (d) => {
        d.entries[`e${i}`] = new Uint8Array([i]);
      });
    }
    const lacking = A.getChangesSince(p.a, start).map((c) => A.decodeChange(c).hash);
    // What a sync message to a peer that holds most of the document carries: the changes it lacks, end to end.
    const part = syncPair(p, true)!;
    expect(chunkType(part)).toBe(CHANGE_CHUNK);
    const singly = splitChunks(part)!;
    expect(singly.map((c) => A.decodeChange(c).hash)).toEqual(lacking);
    let b = p.b;
    for (const change of singly) [b] = A.applyChanges(b, [change]);
    expect(A.getHeads(b)).toEqual(A.getHeads(p.a));
  });

  it("refuses to split what is not whole chunks", () => {
    const bad = [
      new Uint8Array([0x85, 0x6f, 0x4a, 0x83, 1, 2, 3, 4, 1, 200]), // a length past the end
      new Uint8Array([0x85, 0x6f, 0x4a, 0x83, 1, 2, 3, 4, 1, 0x80, 0x80, 0x80, 0x80, 0x80, 1]), // an overlong length
      new Uint8Array([0x85, 0x6f, 0x4a, 0x83, 1, 2, 3, 4, 1]), // no length
      new Uint8Array([1, 2, 3]),
    ];
    for (const bytes of bad) expect(splitChunks(bytes)).toBeUndefined();
    const good = new Uint8Array([0x85, 0x6f, 0x4a, 0x83, 1, 2, 3, 4, 1, 2, 9, 9]);
    expect(splitChunks(concat([good, good]))).toHaveLength(2);
  });
});

describe("changeDeps", () => {
  it("reads a change's dependencies as Automerge decodes them, and nothing from what is no whole change", () => {
    const base = A.from<{ n: number }>({ n: 0 });
    const left = A.change(A.clone(base), (d) => {
      d.n = 1;
    });
    const right = A.change(A.clone(base), (d) => {
      d.n = 2;
    });
    const merged = A.change(A.merge(left, right), (d) => {
      d.n = 3;
    });
    for (const change of A.getAllChanges(merged)) {
      expect(changeDeps(change)?.sort()).toEqual([...A.decodeChange(change).deps].sort());
    }
    const last = A.getLastLocalChange(merged) as Uint8Array;
    expect(changeDeps(last)).toHaveLength(2);
    expect(changeDeps(A.save(merged))).toBeUndefined(); // a document chunk
    expect(changeDeps(last.subarray(0, 20))).toBeUndefined();
  });
});

/** Received changes applied at once when cheap, else queued per document and applied a slice per turn. */
import * as A from "@automerge/automerge";
import { type DocHandle, Repo } from "@automerge/automerge-repo";
import { describe, expect, it } from "vitest";
import { chunkType, concat, DOCUMENT_CHUNK, splitChunks } from "../src/automerge-chunks.js";
import { MAX_CHANGES_PER_BYTE, SlicedChanges, splitChanges } from "../src/sliced-changes.js";
import { waitFor } from "./support/wait.js";

type Doc = { entries: { [key: string]: Uint8Array } };

/** A Repo with no network holding a document of `held` entries, and `more` entries' changes it lacks, end to end. */
function localDocument(held: number, more: number): { handle: DocHandle<Doc>; part: Uint8Array; all: A.Doc<Doc> } {
  let doc = A.from<Doc>({ entries: {} });
  for (let i = 0; i < held; i++) {
    doc = A.change(doc, (d) => {
      d.entries[`h${i}`] = crypto.getRandomValues(new Uint8Array(64));
    });
  }
  const repo = new Repo();
  const handle = repo.import<Doc>(A.save(doc));
  const start = A.getHeads(doc);
  for (let i = 0; i < more; i++) {
    doc = A.change(doc, (d) => {
      d.entries[`m${i}`] = crypto.getRandomValues(new Uint8Array(64));
    });
  }
  return { handle, part: concat(A.getChangesSince(doc, start)), all: doc };
}

function entries(handle: DocHandle<Doc>): number {
  return Object.keys(handle.doc().entries).length;
}

describe("SlicedChanges", () => {
  it("applies cheap changes at once, and queues costly ones, and cheap ones behind them, applying all in turns", async () => {
    const { handle, part } = localDocument(10, 300);
    const [first, second] = [splitChunks(part)!.slice(0, 299), splitChunks(part)!.slice(299)];
    const slices = new SlicedChanges({ wholeMs: 1, sliceMs: 1 }); // about 3 kB counts as costly
    expect(slices.take(handle, [concat(first)])).toBe(false);
    expect(slices.take(handle, [second[0]!])).toBe(false); // cheap, but its document has changes waiting
    expect(slices.pending).toBe(300);
    expect(entries(handle)).toBe(10); // nothing applied in the call
    let updates = 0;
    handle.on("heads-changed", () => updates++);
    await slices.idle();
    expect(entries(handle)).toBe(310);
    expect(updates).toBeGreaterThan(2);
    // Nothing waits now: cheap changes are applied in the call.
    const other = localDocument(10, 5);
    expect(slices.take(other.handle, [other.part])).toBe(true);
    expect(entries(other.handle)).toBe(15);
  });

  it("drains what is queued at once and resolves idle()", async () => {
    const { handle, part } = localDocument(10, 300);
    const slices = new SlicedChanges({ wholeMs: 0 });
    const chunks = splitChunks(part)!;
    expect(slices.take(handle, [concat(chunks.slice(0, 150))])).toBe(false);
    expect(slices.take(handle, [concat(chunks.slice(150))])).toBe(false);
    expect(slices.pending).toBe(300);
    let idle = false;
    void slices.idle().then(() => {
      idle = true;
    });
    slices.drain();
    expect(slices.pending).toBe(0);
    expect(entries(handle)).toBe(310);
    await Promise.resolve();
    expect(idle).toBe(true);
  });

  it("splits a costly chunk of the document format too, loading it on its own", async () => {
    const { handle, all } = localDocument(3, 200);
    const chunk = A.save(all); // what Automerge sends a peer that lacks most of the document
    expect(chunkType(chunk)).toBe(DOCUMENT_CHUNK);
    const singly = splitChanges([chunk])!;
    expect(singly.map((c) => A.decodeChange(c).hash)).toEqual(A.getAllChanges(all).map((c) => A.decodeChange(c).hash));
    const slices = new SlicedChanges({ wholeMs: 0 });
    expect(slices.take(handle, [chunk])).toBe(false);
    await slices.idle();
    expect(entries(handle)).toBe(203);
  });

  it("applies whole a document chunk that would expand to implausibly many changes", () => {
    let doc = A.from<Doc>({ entries: {} });
    for (let i = 0; i < 3_000; i++) doc = A.emptyChange(doc);
    const chunk = A.save(doc);
    expect(A.getAllChanges(doc).length).toBeGreaterThan(chunk.byteLength * MAX_CHANGES_PER_BYTE);
    expect(splitChanges([chunk])).toBeUndefined();
    const repo = new Repo();
    const handle = repo.import<Doc>(A.save(A.from<Doc>({ entries: {} })));
    const slices = new SlicedChanges({ wholeMs: 0 });
    expect(slices.take(handle, [chunk])).toBe(true);
    expect(slices.pending).toBe(0);
  });

  it("drops queued changes once their sender may no longer give that document", async () => {
    const { handle, part } = localDocument(10, 300);
    const slices = new SlicedChanges({ wholeMs: 0, sliceMs: 0.5 });
    let allowed = true;
    slices.take(handle, [part], () => allowed);
    await waitFor(() => entries(handle) > 10, "a first slice");
    allowed = false;
    await slices.idle();
    expect(entries(handle)).toBeLessThan(310);
    expect(slices.pending).toBe(0);
  });

  it("reports changes that will not apply and goes on, even when the report throws", async () => {
    const { handle, part } = localDocument(10, 50);
    const errors: unknown[] = [];
    const slices = new SlicedChanges({
      wholeMs: 0,
      onError: (err) => {
        errors.push(err);
        throw new Error("a failing listener");
      },
    });
    const broken = {
      documentId: "broken",
      update: () => {
        throw new Error("no such document");
      },
    } as unknown as DocHandle<unknown>;
    slices.take(broken, [part]);
    slices.take(handle, [part]);
    await slices.idle();
    expect(errors.length).toBeGreaterThan(0);
    expect(entries(handle)).toBe(60);
  });

  it("bounds what is queued: past the bound, what arrives is applied at once", async () => {
    const first = localDocument(10, 300);
    const second = localDocument(10, 300);
    const slices = new SlicedChanges({ wholeMs: 0, maxQueuedBytes: first.part.byteLength + 1 });
    expect(slices.take(first.handle, [first.part])).toBe(false);
    // One message always fits, however large: what counts is what is queued behind it.
    expect(slices.queuedBytes).toBe(splitChunks(first.part)!.reduce((n, c) => n + c.byteLength, 0));
    expect(slices.take(second.handle, [second.part])).toBe(true);
    expect(entries(second.handle)).toBe(310);
    await slices.idle();
    expect(entries(first.handle)).toBe(310);
    expect(slices.queuedBytes).toBe(0);
    // Room again once the queue has drained.
    const third = localDocument(10, 300);
    expect(slices.take(third.handle, [third.part])).toBe(false);
    await slices.idle();
    expect(slices.queuedBytes).toBe(0);
  });

  it("counts a queued bundle as the change chunks it stands for, three times its size", async () => {
    const bundled = (held: number, more: number) => {
      const { handle, all } = localDocument(held, more);
      const missing = A.getChangesSince(all, A.getHeads(handle.doc())).map((c) => A.decodeChange(c).hash as string);
      return { handle, bundle: A.saveBundle(all, missing) };
    };
    const first = bundled(10, 120);
    const second = bundled(10, 120);
    // Room for the first bundle's bytes twice over, but not for the work of two.
    const slices = new SlicedChanges({ wholeMs: 0, maxQueuedBytes: first.bundle.byteLength * 4 });
    expect(slices.take(first.handle, [first.bundle])).toBe(false);
    expect(slices.queuedBytes).toBe(first.bundle.byteLength * 3);
    expect(slices.take(second.handle, [second.bundle])).toBe(true); // past the bound: applied at once
    expect(entries(second.handle)).toBe(130);
    await slices.idle();
    expect(entries(first.handle)).toBe(130);
    expect(slices.queuedBytes).toBe(0);
  });

  it("once closed, drains what is queued and applies whatever arrives at once", () => {
    const first = localDocument(10, 300);
    const second = localDocument(10, 300);
    const slices = new SlicedChanges({ wholeMs: 0 });
    expect(slices.take(first.handle, [first.part])).toBe(false);
    slices.close();
    expect(entries(first.handle)).toBe(310);
    expect(slices.take(second.handle, [second.part])).toBe(true);
    expect(entries(second.handle)).toBe(310);
    expect(slices.pending).toBe(0);
  });
});

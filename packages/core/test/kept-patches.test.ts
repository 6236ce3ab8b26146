import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import * as A from "@automerge/automerge";
import { describe, expect, it } from "vitest";
import { forgetReplacedPatches } from "../src/documents/kept-patches.js";
import { PlainDocument } from "../src/documents/source.js";

const STATE = Symbol.for("_am_meta");
const cached = (doc: A.Doc<unknown>) =>
  (doc as unknown as Record<symbol, { mostRecentPatch?: { patches: A.Patch[] } }>)[STATE]?.mostRecentPatch;

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
/** Collects garbage once the current job is over (a WeakRef's target stays alive until then). */
const collect = () =>
  new Promise<void>((resolve) =>
    setTimeout(() => {
      gc();
      resolve();
    }, 0),
  );

type Doc = { records: Record<string, { bytes: Uint8Array }> };
const put = (key: string) => (d: Doc) => {
  d.records[key] = { bytes: new Uint8Array(64).fill(7) };
};

describe("patches kept after a change", () => {
  it("are where forgetReplacedPatches looks: Automerge caches the latest change's patches on the document's state", () => {
    const doc = A.change(A.from<Doc>({ records: {} }), put("a"));
    // If Automerge moves this cache, forgetReplacedPatches silently does nothing: this test says so first.
    expect(cached(doc)?.patches.length).toBeGreaterThan(0);
  });

  it("of a replaced version can be collected, while the values that change made stay", async () => {
    const plain = (() => {
      const doc = new PlainDocument(A.from<Doc>({ records: {} }));
      doc.change(put("first"));
      const ref = new WeakRef(cached(doc.doc())!.patches);
      doc.change(put("second"));
      return { doc, ref };
    })();
    await collect();
    expect(plain.ref.deref()).toBeUndefined();
    expect(plain.doc.doc().records.first?.bytes).toEqual(new Uint8Array(64).fill(7));

    // Without forgetting: the values materialised by the first change keep its patches alive.
    const doc = A.change(A.from<Doc>({ records: {} }), put("first"));
    const kept = new WeakRef(cached(doc)!.patches);
    const next = A.change(doc, put("second"));
    await collect();
    expect(kept.deref()).toBeDefined();
    expect(next.records.first).toBeDefined();
  });

  it("leave diffs as they were: across the latest change from the cache, across older ones recomputed", () => {
    const doc = new PlainDocument(A.from<Doc>({ records: {} }));
    const h0 = A.getHeads(doc.doc());
    doc.change(put("a"));
    const h1 = A.getHeads(doc.doc());
    doc.change(put("b"));
    const h2 = A.getHeads(doc.doc());
    const other = doc.fork();
    other.change(put("c"));
    doc.merge(other);
    const h3 = A.getHeads(doc.doc());
    const keys = (patches: A.Patch[]) =>
      patches.filter((p) => p.action === "put" && p.path.length === 2).map((p) => p.path[1]);
    expect(keys(A.diff(doc.doc(), h2, h3))).toEqual(["c"]);
    expect(keys(A.diff(doc.doc(), h0, h3))).toEqual(["a", "b", "c"]);
    expect(keys(A.diff(doc.doc(), h1, h2))).toEqual(["b"]);
  });

  it("is a no-op on anything that is not a document version with a cache", () => {
    expect(() => forgetReplacedPatches(undefined)).not.toThrow();
    expect(() => forgetReplacedPatches(A.from({ x: 1 }))).not.toThrow();
  });
});

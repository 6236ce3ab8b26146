/** Documents written here and not yet saved: what their sync messages wait for. */
import { describe, expect, it } from "vitest";
import { LocalSaves } from "../src/local-saves.js";

describe("LocalSaves", () => {
  it("holds a document's messages until the save after its latest write, then nothing", async () => {
    const saving: Array<{ document: string; done: () => void; fail: (e: Error) => void }> = [];
    const saves = new LocalSaves(
      (document) =>
        new Promise<void>((done, fail) => {
          saving.push({ document, done, fail });
        }),
    );
    expect(saves.pending("ledger")).toBeUndefined();
    saves.wrote("ledger");
    const first = saves.pending("ledger");
    expect(first).toBeInstanceOf(Promise);
    saves.wrote("ledger"); // a later write: messages now wait for its save
    const second = saves.pending("ledger");
    expect(second).not.toBe(first);
    expect(saves.pending("council")).toBeUndefined();
    saving[0]!.done();
    await first;
    expect(saves.pending("ledger")).toBe(second);
    // A failed save lets the messages go rather than holding them for good.
    saving[1]!.fail(new Error("disk full"));
    await second;
    expect(saves.pending("ledger")).toBeUndefined();
  });
});

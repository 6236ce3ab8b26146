/** The file storage on a damaged directory: a file where its directory should be is refused at once, and kept. */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DurableFsStorageAdapter, StorageDirectoryError } from "../src/node/durable-fs-storage.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "federa-storage-damage-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("a storage directory that is a file", () => {
  it("is refused when the adapter is made, with an error naming it, and left as it was", async () => {
    const path = join(dir, "repo");
    await writeFile(path, "not a directory");
    let thrown: unknown;
    try {
      new DurableFsStorageAdapter(path);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(StorageDirectoryError);
    expect(thrown).toMatchObject({ code: "ENOTDIR", path });
    expect((thrown as Error).message).toContain(`${path} is not a directory`);
    expect(await readFile(path, "utf8")).toBe("not a directory");

    // A directory not made yet is not refused: the first save makes it.
    const storage = new DurableFsStorageAdapter(join(dir, "later"));
    await storage.save(["abcdef", "snapshot", "h"], new Uint8Array([1]));
    expect(await storage.load(["abcdef", "snapshot", "h"])).toEqual(new Uint8Array([1]));
  });
});

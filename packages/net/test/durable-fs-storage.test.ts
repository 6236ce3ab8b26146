/** The crash-safe file storage: automerge-repo's shared suite, the on-disk layout, crash leftovers and a real SIGKILL. */
import { spawn } from "node:child_process";
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import * as A from "@automerge/automerge";
import { Repo } from "@automerge/automerge-repo";
import { runStorageAdapterTests } from "@automerge/automerge-repo/helpers/tests/storage-adapter-tests.js";
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs";
import { afterEach, describe, expect, it } from "vitest";
import { TEMP_PREFIX, tempName } from "../src/node/durable-write.js";
import { DurableFsStorageAdapter, type StorageFileFailure } from "../src/node/index.js";
import { CRASH_DOC, crashPayload, wholePayload } from "./fixtures/crash-payload.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const SAVE_LOOP = join(ROOT, "packages/net/test/fixtures/save-loop.ts");

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "federa-storage-"));
  dirs.push(dir);
  return dir;
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** Every file under `dir`, as paths relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => !e.isDirectory()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}

const bytes = (...values: number[]) => new Uint8Array(values);
const byKey = (a: { key: string[] }, b: { key: string[] }) => a.key.join("/").localeCompare(b.key.join("/"));

runStorageAdapterTests(async () => {
  const dir = await mkdtemp(join(tmpdir(), "federa-storage-suite-"));
  return {
    adapter: new DurableFsStorageAdapter(dir),
    teardown: () => rm(dir, { recursive: true, force: true }),
  };
}, "DurableFsStorageAdapter");

describe("DurableFsStorageAdapter", () => {
  it("keeps a chunk at NodeFSStorageAdapter's path and loads it in a new adapter", async () => {
    const dir = await tempDir();
    await new DurableFsStorageAdapter(dir).save(["abcdef", "incremental", "h1"], bytes(1, 2, 3));

    expect(new Uint8Array(await readFile(join(dir, "ab", "cdef", "incremental", "h1")))).toEqual(bytes(1, 2, 3));
    expect(await filesUnder(dir)).toEqual([join("ab", "cdef", "incremental", "h1")]);
    const reopened = new DurableFsStorageAdapter(dir);
    expect(await reopened.load(["abcdef", "incremental", "h1"])).toEqual(bytes(1, 2, 3));
    expect(await reopened.loadRange(["abcdef"])).toEqual([
      { key: ["abcdef", "incremental", "h1"], data: bytes(1, 2, 3) },
    ]);
  });

  it("loads what NodeFSStorageAdapter wrote, chunk by chunk and as a Repo document", async () => {
    const dir = await tempDir();
    const old = new NodeFSStorageAdapter(dir);
    const chunks = [
      { key: ["docAAAAA", "incremental", "h1"], data: bytes(1, 2) },
      { key: ["docAAAAA", "snapshot", "h2"], data: bytes(3) },
      { key: ["docAAAAA", "sync-state", "peer"], data: bytes(4, 5, 6) },
    ];
    for (const c of chunks) await old.save(c.key, c.data);
    await old.save(["storage-adapter-id"], bytes(9));
    const oldRepo = new Repo({ storage: old, network: [] });
    const handle = oldRepo.create<{ items: string[] }>({ items: [] });
    for (let i = 0; i < 5; i++) handle.change((d) => d.items.push(`item ${i}`));
    await oldRepo.flush();
    await oldRepo.shutdown();

    const storage = new DurableFsStorageAdapter(dir);
    expect(await storage.load(["storage-adapter-id"])).toEqual(bytes(9));
    expect((await storage.loadRange(["docAAAAA"])).sort(byKey)).toEqual([...chunks].sort(byKey));
    expect(await storage.loadRange(["docAAAAA", "sync-state"])).toEqual([chunks[2]]);
    const repo = new Repo({ storage, network: [] });
    const loaded = await repo.find<{ items: string[] }>(handle.url);
    expect(loaded.doc().items).toEqual(["item 0", "item 1", "item 2", "item 3", "item 4"]);
    await repo.shutdown();
  });

  it("writes files NodeFSStorageAdapter reads", async () => {
    const dir = await tempDir();
    await new DurableFsStorageAdapter(dir).save(["docBBBBB", "snapshot", "h"], bytes(7, 8));
    expect(await new NodeFSStorageAdapter(dir).load(["docBBBBB", "snapshot", "h"])).toEqual(bytes(7, 8));
  });

  it("saves a Repo document that a new Repo on the same directory loads with all its changes", async () => {
    const dir = await tempDir();
    const first = new Repo({ storage: new DurableFsStorageAdapter(dir), network: [] });
    const handle = first.create<{ items: string[] }>({ items: [] });
    // Flushed after each change: a small document is compacted each time, a new snapshot replacing the last one.
    for (let i = 0; i < 40; i++) {
      handle.change((d) => d.items.push(`item ${i}`));
      await first.flush();
    }
    const heads = A.getHeads(handle.doc());
    await first.shutdown();

    const second = new Repo({ storage: new DurableFsStorageAdapter(dir), network: [] });
    const loaded = await second.find<{ items: string[] }>(handle.url);
    expect(loaded.doc().items).toEqual(Array.from({ length: 40 }, (_, i) => `item ${i}`));
    expect(A.getHeads(loaded.doc())).toEqual(heads);
    await second.shutdown();
    expect((await filesUnder(dir)).filter((f) => f.includes(TEMP_PREFIX))).toEqual([]);
  });

  it("ignores temporary files a crash left, removes them on first use and leaves other files alone", async () => {
    const dir = await tempDir();
    await new DurableFsStorageAdapter(dir).save(["docCCCCC", "incremental", "h1"], crashPayload(1, 1));
    const chunkDir = join(dir, "do", "cCCCCC", "incremental");
    // A crash mid-write: a truncated replacement of h1, and a new chunk whose rename never happened.
    const torn = join(chunkDir, tempName("0123456789ab", 1));
    await writeFile(torn, crashPayload(1, 2).subarray(0, 1000));
    const orphanDir = join(dir, "do", "cDDDDD", "snapshot");
    await mkdir(orphanDir, { recursive: true });
    const orphan = join(orphanDir, tempName("0123456789ab", 2));
    await writeFile(orphan, bytes(1, 2, 3));
    const foreign = join(chunkDir, ".DS_Store");
    await writeFile(foreign, bytes(0));

    const storage = new DurableFsStorageAdapter(dir);
    expect(await storage.loadRange(["docCCCCC"])).toEqual([
      { key: ["docCCCCC", "incremental", "h1"], data: crashPayload(1, 1) },
    ]);
    expect(await storage.loadRange(["docDDDDD"])).toEqual([]);
    expect(await storage.load(["docCCCCC", "incremental", "h1"])).toEqual(crashPayload(1, 1));
    await expect(lstat(torn)).rejects.toThrow(/ENOENT/);
    await expect(lstat(orphan)).rejects.toThrow(/ENOENT/);
    expect((await lstat(foreign)).isFile()).toBe(true);
  });

  it("ends concurrent saves of one key with the last call's bytes", async () => {
    const dir = await tempDir();
    const storage = new DurableFsStorageAdapter(dir);
    const key = ["docEEEEE", "snapshot", "latest"];
    // A long one first: unordered writes would let it land last.
    const versions = Array.from({ length: 8 }, (_, i) => new Uint8Array(i === 0 ? 8 << 20 : 1000 - i).fill(i + 1));
    await Promise.all(versions.map((v) => storage.save(key, v)));

    expect(await new DurableFsStorageAdapter(dir).load(key)).toEqual(versions.at(-1));
    expect(await filesUnder(dir)).toEqual([join("do", "cEEEEE", "snapshot", "latest")]);
  });

  it("applies saves, removes and removeRange in call order", async () => {
    const dir = await tempDir();
    const storage = new DurableFsStorageAdapter(dir);
    const a = ["docFFFFF", "incremental", "a"];
    const b = ["docFFFFF", "incremental", "b"];
    const c = ["docFFFFF", "incremental", "c"];
    const done = [
      storage.save(a, bytes(1)),
      storage.save(b, bytes(2)),
      storage.removeRange(["docFFFFF"]),
      storage.save(b, bytes(3)),
      storage.save(c, bytes(4)),
      storage.remove(c),
    ];
    const afterRemove = storage.loadRange(["docFFFFF"]);
    await Promise.all(done);

    expect(await afterRemove).toEqual([{ key: b, data: bytes(3) }]);
    expect(await new DurableFsStorageAdapter(dir).loadRange(["docFFFFF"])).toEqual([{ key: b, data: bytes(3) }]);
  });

  it("reports an unreadable chunk, loads the rest and keeps the file", async () => {
    const dir = await tempDir();
    const failures: StorageFileFailure[] = [];
    const storage = new DurableFsStorageAdapter(dir, { onError: (f) => failures.push(f) });
    const good = ["docGGGGG", "incremental", "good"];
    await storage.save(good, bytes(5, 6));
    // A symlink to itself: listed like a file, every read fails (ELOOP), whoever the test runs as.
    const bad = join(dir, "do", "cGGGGG", "incremental", "bad");
    await symlink("bad", bad);

    expect(await storage.loadRange(["docGGGGG"])).toEqual([{ key: good, data: bytes(5, 6) }]);
    expect(await storage.load(["docGGGGG", "incremental", "bad"])).toBeUndefined();
    expect(failures.map((f) => ({ path: f.path, key: f.key, code: (f.error as NodeJS.ErrnoException).code }))).toEqual([
      { path: bad, key: ["docGGGGG", "incremental", "bad"], code: "ELOOP" },
      { path: bad, key: ["docGGGGG", "incremental", "bad"], code: "ELOOP" },
    ]);
    expect((await lstat(bad)).isSymbolicLink()).toBe(true);
  });

  it("refuses keys that would leave the directory, collide in its layout or pass for temporary files", async () => {
    const storage = new DurableFsStorageAdapter(await tempDir());
    for (const key of [[], ["ab", "x"], ["docHHHHH", ".."], ["docHHHHH", "a/b"], ["docHHHHH", ".federa-tmp.x"], [""]])
      await expect(storage.save(key, bytes(1))).rejects.toThrow(TypeError);
    await expect(storage.loadRange(["docHHHHH", "../.."])).rejects.toThrow(TypeError);
  });

  it("leaves, after a SIGKILL in the middle of a write, every acknowledged chunk whole and no torn chunk", async () => {
    const dir = await tempDir();
    // From round 15 on, the child's next file write stops half-way and says so: the kill lands mid-write.
    const child = spawn(process.execPath, ["--import", "tsx", SAVE_LOOP, dir, "15"], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    const exited = new Promise<NodeJS.Signals | null>((done) => child.on("exit", (_code, signal) => done(signal)));
    const acknowledged = await new Promise<number>((done, fail) => {
      let out = "";
      child.stdout.setEncoding("utf8").on("data", (d: string) => {
        out += d;
        if (!/^paused$/m.test(out)) return;
        child.kill("SIGKILL");
        done(Math.max(-1, ...[...out.matchAll(/^saved (\d+)$/gm)].map((m) => Number(m[1]))));
      });
      child.on("exit", () => fail(new Error(`save loop exited: ${stderr}`)));
    });
    expect(await exited).toBe("SIGKILL");
    expect(acknowledged).toBe(14);

    // On disk, before any adapter touches it: every chunk file whole, the interrupted write a partial temporary file.
    const before = await filesUnder(dir);
    const temps = before.filter((f) => f.split(sep).at(-1)!.startsWith(TEMP_PREFIX));
    for (const file of before.filter((f) => !temps.includes(f))) {
      const salt = file.includes("snapshot") ? 2 : 1;
      expect(wholePayload(salt, new Uint8Array(await readFile(join(dir, file)))), file).toBeDefined();
    }
    const contents = await Promise.all(temps.map((f) => readFile(join(dir, f))));
    const torn = contents.filter((b) => wholePayload(1, b) === undefined && wholePayload(2, b) === undefined);
    expect(torn.length).toBeGreaterThan(0);

    const failures: StorageFileFailure[] = [];
    const storage = new DurableFsStorageAdapter(dir, { onError: (f) => failures.push(f) });
    const chunks = await storage.loadRange([CRASH_DOC]);
    const numbers = chunks.filter((c) => c.key[1] === "incremental").map((c) => wholePayload(1, c.data));
    for (let n = 0; n <= acknowledged; n++) expect(numbers, `chunk ${n}`).toContain(n);
    expect(numbers).not.toContain(undefined);
    const latest = chunks.filter((c) => c.key[1] === "snapshot");
    expect(latest).toHaveLength(1);
    expect(wholePayload(2, latest[0]!.data)).toBeGreaterThanOrEqual(2 * acknowledged + 1);
    expect(failures).toEqual([]);
    expect((await filesUnder(dir)).filter((f) => f.includes(TEMP_PREFIX))).toEqual([]);
  });
});

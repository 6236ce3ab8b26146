/** A node directory's JSON files under writers at once: in one process, across processes, after a crashed writer. */
import { utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { STALE_LOCK_MS } from "../src/file-lock.js";
import { NodeDir } from "../src/node-dir.js";
import { federa, ROOT, spawnTs, tempDir } from "./support/cli.js";

let tmp: { path: string; remove: () => Promise<void> };
beforeAll(async () => {
  tmp = await tempDir("federa-dir-");
});
afterAll(async () => {
  await tmp.remove();
});

describe("the node directory's shared files", { timeout: 60_000 }, () => {
  it("keeps every entry when writers in two processes add councils and federation delegates at once", async () => {
    const dir = new NodeDir(join(tmp.path, "busy"));
    const other = spawnTs(join(ROOT, "packages/cli/test/support/add-councils.ts"), [dir.root, "theirs", "25"]);
    await Promise.all([
      ...Array.from({ length: 25 }, (_, i) => dir.addCouncil(`ours-${i}`, `automerge:ours${i}`)),
      ...Array.from({ length: 10 }, (_, i) =>
        dir.saveFederation({ federation: "f", url: "automerge:f", delegates: [{ peer: `peer-${i}`, addresses: [] }] }),
      ),
    ]);
    expect((await other.done).code).toBe(0);
    const councils = await dir.councils();
    expect(Object.keys(councils)).toHaveLength(50);
    expect(councils["theirs-24"]).toBe("automerge:theirs24");
    expect((await dir.federations())[0]?.delegates).toHaveLength(10);
  });

  it("takes over a lock its writer left behind when it died", async () => {
    const dir = new NodeDir(join(tmp.path, "crashed"));
    await dir.create();
    const lock = `${dir.councilsPath}.lock`;
    await writeFile(lock, "");
    const old = (Date.now() - STALE_LOCK_MS - 1_000) / 1_000;
    await utimes(lock, old, old);
    await dir.addCouncil("c", "automerge:c");
    expect(await dir.councils()).toEqual({ c: "automerge:c" });
  });

  it("says a hand-edited list is damaged rather than failing somewhere later", async () => {
    const dir = new NodeDir(join(tmp.path, "edited"));
    expect((await federa(["init", "--dir", dir.root, "--name", "Ada"])).code).toBe(0);
    await writeFile(dir.federationsPath, JSON.stringify([{ federation: "f", inviter: { peer: "p" } }]));
    await expect(dir.federations()).rejects.toThrow(/federations\.json is damaged: expected a list of federations/);
    await writeFile(dir.joinsPath, "{}");
    await expect(dir.joins()).rejects.toThrow(/joins\.json is damaged/);
    const ran = await federa(["federation", "list", "--dir", dir.root]);
    expect(ran.code).toBe(1);
    expect(ran.stderr).toMatch(/federations\.json is damaged/);
    expect(ran.stderr).not.toMatch(/this is a bug/);
  });

  it("dates vouches written without a start, once, so that every vouch ends", async () => {
    const dir = new NodeDir(join(tmp.path, "undated"));
    await dir.create();
    const peer = (c: string) => `12D3KooW${c.repeat(44)}`;
    const entry = {
      federation: "f0".repeat(32),
      url: "automerge:4NMNnkMhL8jXrdJ9jamS58PAVdXu",
      inviter: { peer: peer("a"), addresses: [] },
      delegates: [
        { peer: peer("b"), addresses: [], council: "c1".repeat(32) },
        { peer: peer("c"), addresses: [], since: "2026-01-01T00:00:00.000Z" },
      ],
    };
    await writeFile(dir.federationsPath, JSON.stringify([entry]));
    expect(await dir.dateVouches("2026-11-23T00:00:00.000Z")).toBe(2);
    const [dated] = await dir.federations();
    expect([dated?.inviter, ...(dated?.delegates ?? [])].map((d) => d?.since)).toEqual([
      "2026-11-23T00:00:00.000Z",
      "2026-11-23T00:00:00.000Z",
      "2026-01-01T00:00:00.000Z",
    ]);
    expect(await dir.dateVouches("2026-12-01T00:00:00.000Z")).toBe(0);
    expect((await dir.federations())[0]?.inviter?.since).toBe("2026-11-23T00:00:00.000Z");
  });
});

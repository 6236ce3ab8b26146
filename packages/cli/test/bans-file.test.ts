/** D/bans.json: the bans a node keeps across restarts, readable by its owner only, never in the way of starting. */
import { stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { BanRecord } from "@federa/net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { NodeDir } from "../src/index.js";
import { tempDir } from "./support/cli.js";

let tmp: Awaited<ReturnType<typeof tempDir>>;
let dir: NodeDir;

beforeEach(async () => {
  tmp = await tempDir();
  dir = new NodeDir(join(tmp.path, "node"));
  await dir.create();
});

afterEach(async () => {
  await tmp.remove();
});

describe("the bans file", () => {
  it("gives back the bans saved, in a file only its owner reads", async () => {
    const bans: BanRecord[] = [
      { peer: "12D3KooWAttacker", until: 1_800_000_000_000, strikes: 2, ms: 1_200_000 },
      { peer: "12D3KooWOther", until: 1_800_000_600_000, strikes: 1, ms: 600_000 },
    ];
    expect(await dir.bans()).toEqual([]);
    await dir.saveBans(bans);
    expect(await dir.bans()).toEqual(bans);
    expect((await stat(dir.bansPath)).mode & 0o777).toBe(0o600);
  });

  it("reads a damaged file as no bans, so the node still starts", async () => {
    await writeFile(dir.bansPath, "{ not json");
    expect(await dir.bans()).toEqual([]);
    await writeFile(dir.bansPath, JSON.stringify({ peer: "x" }));
    expect(await dir.bans()).toEqual([]);
  });
});

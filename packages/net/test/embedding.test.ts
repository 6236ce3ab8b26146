import { readFileSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { embedding } from "../examples/embedding.js";

describe("docs/networking.md, in your own program", () => {
  it("shows exactly the example that runs here", () => {
    const doc = readFileSync(new URL("../../../docs/networking.md", import.meta.url), "utf8");
    const example = readFileSync(new URL("../examples/embedding.ts", import.meta.url), "utf8");
    const blocks = [...doc.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
    expect(blocks).toContain(example);
  });

  it("runs: Ben's node joins Ana's council over libp2p and his donation reaches Ana's node, stored on disk", async () => {
    const root = await mkdtemp(join(tmpdir(), "federa-embedding-"));
    try {
      const dirs = { ana: join(root, "ana"), ben: join(root, "ben") };
      expect(await embedding(dirs)).toBe(25);
      expect((await readdir(dirs.ben)).length).toBeGreaterThan(0);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

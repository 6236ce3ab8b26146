/** High-water marks kept in D/high-water.json: `federa status` and `federa node` report a signer whose chain shrank. */
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { type AutomergeUrl, Repo } from "@automerge/automerge-repo";
import type { CouncilDoc, LedgerDoc } from "@federa/core";
import { DurableFsStorageAdapter } from "@federa/net/node";
import { describe, expect, it } from "vitest";
import { HighWaterStore, marksOf, mergeMarks, parseHighWater, rolledBack } from "../src/high-water.js";
import { NodeDir } from "../src/index.js";
import { federaJson, federaOk } from "./support/cli.js";
import { nodeScratchDir, type StatusJson, startNode, stopNode } from "./support/node-process.js";
import { waitFor } from "./support/wait.js";

const tmp = nodeScratchDir();

describe("merging and comparing marks", () => {
  it("keeps the larger mark of each signer and never lowers a stored one", () => {
    const stored = { a: 5, b: 2 };
    expect(mergeMarks(stored, { a: 3, b: 4, c: 0 })).toEqual({ a: 5, b: 4, c: 0 });
    expect(mergeMarks(undefined, { a: 1 })).toEqual({ a: 1 });
    // A signer absent now keeps its stored mark.
    expect(mergeMarks(stored, {})).toEqual(stored);
  });

  it("lists the signers below their stored mark, one missing now as -1", () => {
    expect(rolledBack({ a: 5, b: 2, c: 1 }, { a: 3, b: 4 })).toEqual([
      { signer: "a", stored: 5, now: 3 },
      { signer: "c", stored: 1, now: -1 },
    ]);
    expect(rolledBack(undefined, { a: 0 })).toEqual([]);
    expect(rolledBack({ a: 2 }, { a: 2 })).toEqual([]);
  });

  it("drops signers with no valid record and malformed entries of the file", () => {
    expect(
      marksOf(
        new Map([
          ["b", 2],
          ["a", -1],
        ]),
      ),
    ).toEqual({ b: 2 });
    expect(parseHighWater({ c1: { a: 3, b: "3", d: -2, e: 1.5 }, c2: [1], c3: null })).toEqual({ c1: { a: 3 } });
    expect(parseHighWater([])).toEqual({});
    expect(parseHighWater(undefined)).toEqual({});
  });

  it("stores updates made at once in one process without losing any, and returns drops against the stored marks", async () => {
    const dir = new NodeDir(join(tmp.path, "store"));
    await dir.create();
    const store = new HighWaterStore(dir);
    await Promise.all([
      store.update(new Map([["c1", { a: 2 }]])),
      store.update(new Map([["c2", { b: 7 }]])),
      store.update(new Map([["c1", { z: 0 }]])),
    ]);
    expect(await store.read()).toEqual({ c1: { a: 2, z: 0 }, c2: { b: 7 } });
    const drops = await store.update(new Map([["c1", { a: 1, z: 0 }]]));
    expect(drops.get("c1")).toEqual([{ signer: "a", stored: 2, now: 1 }]);
    expect((await store.read()).c1).toEqual({ a: 2, z: 0 });
    expect((await stat(dir.highWaterPath)).mode & 0o777).toBe(0o600);
  });
});

/** Deletes one record's key from its bucket of the ledger document, as a member's device could, and saves it. */
async function deleteLedgerRecord(dir: string, councilUrl: string, record: string): Promise<Uint8Array> {
  const repo = new Repo({ storage: new DurableFsStorageAdapter(join(dir, "repo")), network: [] });
  try {
    const council = await repo.find<CouncilDoc>(councilUrl as AutomergeUrl);
    const ledger = await repo.find<LedgerDoc>(council.doc().federa.ledger as AutomergeUrl);
    const bytes = ledger.doc().records[record.slice(0, 2)]?.[record];
    if (bytes === undefined) throw new Error(`record ${record} is not in the ledger document`);
    const kept = new Uint8Array(bytes);
    ledger.change((d) => {
      delete d.records[record.slice(0, 2)]![record];
    });
    await repo.flush();
    return kept;
  } finally {
    await repo.shutdown();
  }
}

/** Puts a record's bytes back under its id (a peer holding the genuine record would sync it back). */
async function restoreLedgerRecord(dir: string, councilUrl: string, record: string, bytes: Uint8Array): Promise<void> {
  const repo = new Repo({ storage: new DurableFsStorageAdapter(join(dir, "repo")), network: [] });
  try {
    const council = await repo.find<CouncilDoc>(councilUrl as AutomergeUrl);
    const ledger = await repo.find<LedgerDoc>(council.doc().federa.ledger as AutomergeUrl);
    ledger.change((d) => {
      d.records[record.slice(0, 2)]![record] = bytes;
    });
    await repo.flush();
  } finally {
    await repo.shutdown();
  }
}

async function storedMarks(dir: string): Promise<Record<string, Record<string, number>>> {
  return JSON.parse(await readFile(join(dir, "high-water.json"), "utf8"));
}

describe("a record deleted in place from the replica on disk", { timeout: 180_000 }, () => {
  it("is reported by federa status and, once per signer, by federa node", async () => {
    const dir = join(tmp.path, "alice");
    const d = ["--dir", dir];
    const alice = await federaJson<{ member: string; device: string }>(["init", ...d, "--name", "Alice"]);
    const created = await federaJson<{ council: string; url: string }>(["council", "create", "Bakery", ...d]);
    const council = created.council;
    // Every act below is signed by Alice's device: its chain runs fund (seq 0), two donations (1, 2), proposal (3).
    await federaOk(["fund", "create", "food", "--type", "cash", ...d]);
    const first = (await federaJson<{ record: string }>(["donate", "food", "100", ...d])).record;
    await federaOk(["donate", "food", "50", ...d]);
    await federaOk(["propose", "--title", "Buy flour", "--closes", "+2d", ...d]);

    // Each command that opened the council stored the marks; the member key signed the genesis (0) and the device (1).
    expect(await storedMarks(dir)).toEqual({ [council]: { [alice.member]: 1, [alice.device]: 3 } });
    expect((await stat(join(dir, "high-water.json"))).mode & 0o777).toBe(
      (await stat(join(dir, "identity.json"))).mode & 0o777,
    );
    const clean = await federaJson<StatusJson>(["status", ...d]);
    expect(clean.councils[0]).toMatchObject({ id: council, balances: { food: 150 }, rolledBack: [] });

    // A member's device deletes the first donation: loaded afresh, the device's chain stops at the fund (seq 0).
    const bytes = await deleteLedgerRecord(dir, created.url, first);
    const tampered = await federaJson<StatusJson>(["status", ...d]);
    expect(tampered.councils[0]!.rolledBack).toEqual([{ signer: alice.device, stored: 3, now: 0 }]);
    // The later records wait as broken-chain, so the balance lost both donations.
    expect(tampered.councils[0]!.balances).toEqual({ food: 0 });
    const human = await federaOk(["status", ...d]);
    expect(human).toContain(
      `warning: signer ${alice.device} rolled back from seq 3 to seq 0: records this device verified were deleted`,
    );
    // The lower mark never lowers the stored one: the next load still reports it.
    expect((await storedMarks(dir))[council]).toEqual({ [alice.member]: 1, [alice.device]: 3 });
    expect((await federaJson<StatusJson>(["status", ...d])).councils[0]!.rolledBack).toHaveLength(1);

    // The node warns when it opens the council and, after a change to the documents, does not warn again.
    const node = await startNode(dir);
    const warnings = () =>
      node
        .stderr()
        .split("\n")
        .filter((l) => l.includes("rolled back"));
    await waitFor(() => warnings().length > 0, "the node's rollback warning");
    expect(warnings()[0]).toContain(`signer ${alice.device} rolled back from seq 3 to seq 0`);
    const changeLines = () =>
      node
        .stderr()
        .split("\n")
        .filter((l) => l.includes('"Bakery": ')).length;
    const before = changeLines();
    await federaOk(["fund", "create", "rent", "--type", "cash", ...d]);
    await waitFor(() => changeLines() > before, "the node's line for the change");
    const viaNode = await federaJson<StatusJson>(["status", ...d]);
    expect(viaNode.node.running).toBe(true);
    expect(viaNode.councils[0]!.rolledBack).toEqual([{ signer: alice.device, stored: 3, now: 0 }]);
    expect(await stopNode(node)).toBe(0);
    expect(warnings()).toHaveLength(1);

    // Once the genuine record is back (as a peer holding it would sync it), nothing is reported.
    await restoreLedgerRecord(dir, created.url, first, bytes);
    const healed = await federaJson<StatusJson>(["status", ...d]);
    expect(healed.councils[0]!.rolledBack).toEqual([]);
    // The device's chain now runs to the fund the node wrote (seq 4), so its mark went up.
    expect((await storedMarks(dir))[council]).toEqual({ [alice.member]: 1, [alice.device]: 4 });
  });
});

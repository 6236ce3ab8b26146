/** High-water marks kept in D/high-water.json: `federa status` reports a signer whose chain shrank, and `federa node` writes back what it can. */
import { cp, readFile, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { type AutomergeUrl, type DocHandle, parseAutomergeUrl, Repo } from "@automerge/automerge-repo";
import type { CouncilDoc, FederaDoc } from "@federa/core";
import { bucketOf, storageKeyOf, storedValue } from "@federa/core";
import { DurableFsStorageAdapter } from "@federa/net/node";
import { describe, expect, it } from "vitest";
import { HighWaterStore, marksOf, mergeMarks, parseHighWater, rolledBack } from "../src/high-water.js";
import { NodeDir } from "../src/index.js";
import { federa, federaJson, federaOk } from "./support/cli.js";
import { logLines, nodeScratchDir, type StatusJson, startNode, stopNode } from "./support/node-process.js";
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

/** Opens the directory's stored documents, runs `fn` on the document `find` picks, and saves what it changed. */
async function onDisk<T>(
  dir: string,
  find: (repo: Repo) => Promise<DocHandle<FederaDoc>>,
  fn: (handle: DocHandle<FederaDoc>) => T,
): Promise<T> {
  const repo = new Repo({ storage: new DurableFsStorageAdapter(join(dir, "repo")), network: [] });
  try {
    const result = fn(await find(repo));
    await repo.flush();
    return result;
  } finally {
    await repo.shutdown();
  }
}

/** The ledger document of the council at `councilUrl`. */
function ledgerOf(councilUrl: string) {
  return async (repo: Repo) => {
    const council = await repo.find<CouncilDoc>(councilUrl as AutomergeUrl);
    return repo.find<FederaDoc>(council.doc().federa.ledger as AutomergeUrl);
  };
}

/** The document at `url`. */
function documentAt(url: string) {
  return (repo: Repo) => repo.find<FederaDoc>(url as AutomergeUrl);
}

/** Deletes one record's key from its bucket, as a member's device could, and saves it; returns the record's bytes. */
function deleteRecord(handle: DocHandle<FederaDoc>, record: string): Uint8Array {
  const bytes = storedValue(handle.doc(), record);
  if (!(bytes instanceof Uint8Array)) throw new Error(`record ${record} is not in the document`);
  const kept = new Uint8Array(bytes);
  handle.change((d) => {
    delete d.records[bucketOf(record)]![storageKeyOf(record)];
  });
  return kept;
}

async function storedMarks(dir: string): Promise<Record<string, Record<string, number>>> {
  return JSON.parse(await readFile(join(dir, "high-water.json"), "utf8"));
}

describe("a record deleted in place from the replica on disk", { timeout: 180_000 }, () => {
  it("is reported by federa status, and written back from the history by federa node", async () => {
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
    await onDisk(dir, ledgerOf(created.url), (h) => deleteRecord(h, first));
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

    // The node finds the donation in the ledger's history and writes it back, once, saying so.
    const node = await startNode(dir);
    const restored = () => logLines(node, "wrote back");
    await waitFor(() => restored().length > 0, "the node's line for the record written back");
    expect(restored()[0]).toContain(`council ${council.slice(0, 12)}…: wrote back 1 record(s)`);
    const changeLines = () => logLines(node, '"Bakery": ').length;
    const before = changeLines();
    await federaOk(["fund", "create", "rent", "--type", "cash", ...d]);
    await waitFor(() => changeLines() > before, "the node's line for the change");
    expect(await stopNode(node)).toBe(0);
    expect(restored()).toHaveLength(1);

    // Nothing is reported any more, and the device's chain runs on to the fund the node wrote (seq 4).
    const healed = await federaJson<StatusJson>(["status", ...d]);
    expect(healed.councils[0]).toMatchObject({ balances: { food: 150, rent: 0 }, rolledBack: [] });
    expect((await storedMarks(dir))[council]).toEqual({ [alice.member]: 1, [alice.device]: 4 });
  });
});

describe("this device's latest records lost from its replica", { timeout: 180_000 }, () => {
  it("refuses to write until a node finds them in the history: the next record would reuse their seq", async () => {
    const dir = join(tmp.path, "bea");
    const d = ["--dir", dir];
    const bea = await federaJson<{ device: string }>(["init", ...d, "--name", "Bea"]);
    const created = await federaJson<{ council: string; url: string }>(["council", "create", "Bakery", ...d]);
    await federaOk(["fund", "create", "food", "--type", "cash", ...d]);
    await federaOk(["donate", "food", "100", ...d]);
    const last = (await federaJson<{ record: string }>(["donate", "food", "50", ...d])).record;

    // The device's tip (seq 2) is gone: its chain here ends at seq 1, below the mark it stored.
    await onDisk(dir, ledgerOf(created.url), (h) => deleteRecord(h, last));
    const refused = await federa(["donate", "food", "7", ...d]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`${bea.device}: seq 2 verified, seq 1 here`);
    expect(refused.stderr).toMatch(/writing now would fork its chain/);
    // Reading still works, and nothing was written.
    expect((await federaJson<StatusJson>(["status", ...d])).councils[0]).toMatchObject({ balances: { food: 100 } });

    // The node sees the mark go down and finds the tip in the ledger's history: nothing else showed harm.
    const node = await startNode(dir);
    await waitFor(() => logLines(node, "wrote back").length > 0, "the node's line for the record written back");
    expect(await stopNode(node)).toBe(0);
    // The device writes again, after it (seq 3), and every record counts.
    expect(await federaJson(["donate", "food", "7", ...d])).toMatchObject({ balance: 157 });
    expect((await storedMarks(dir))[created.council]?.[bea.device]).toBe(3);
  });
});

describe("one document restored from an older backup", { timeout: 180_000 }, () => {
  it("refuses to write while this device's records wait for the ones the backup lacks, and writes nothing", async () => {
    const dir = join(tmp.path, "gil");
    const d = ["--dir", dir];
    const gil = await federaJson<{ device: string }>(["init", ...d, "--name", "Gil"]);
    await federaOk(["council", "create", "Granary", ...d]);
    // The device signs the fund (seq 0) and the first donation (1) before the backup, then a donation (2) in the
    // ledger document and a proposal (3) in the council document.
    await federaOk(["fund", "create", "food", "--type", "cash", ...d]);
    await federaOk(["donate", "food", "100", ...d]);
    const backup = join(tmp.path, "gil-backup");
    await cp(dir, backup, { recursive: true });
    await federaOk(["donate", "food", "200", ...d]);
    await federaOk(["propose", "--title", "Later", ...d]);

    // Only the ledger's folder comes back from the backup: the proposal (seq 3) now waits for the lost donation (2).
    const ledger = (await federaJson<StatusJson>(["status", ...d])).councils[0]!.documents!.find(
      (doc) => doc.role === "ledger",
    )!;
    const id = parseAutomergeUrl(ledger.url as AutomergeUrl).documentId;
    const folder = (root: string) => join(root, "repo", id.slice(0, 2), id.slice(2));
    const newer = join(tmp.path, "gil-ledger-newer");
    await rename(folder(dir), newer);
    await cp(folder(backup), folder(dir), { recursive: true });
    const before = (await federaJson<StatusJson>(["status", ...d])).councils[0]!;
    expect(before).toMatchObject({ balances: { food: 100 } });

    const refused = await federa(["donate", "food", "5", ...d, "--json"]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe("");
    expect(refused.stderr).toContain(`${gil.device}: seq 3 here waits for seq 2`);
    expect(refused.stderr).toMatch(
      /records this device signed are missing here \(.*\): a record written now would wait/,
    );
    // Nothing was written: both documents are where they were.
    const after = (await federaJson<StatusJson>(["status", ...d])).councils[0]!;
    expect(after.documents).toEqual(before.documents);
    expect(after).toMatchObject({ records: before.records, balances: { food: 100 } });

    // With the newer ledger back, the chain is whole again and the device writes after it (seq 4).
    await rm(folder(dir), { recursive: true });
    await rename(newer, folder(dir));
    expect(await federaJson(["donate", "food", "5", ...d])).toMatchObject({
      balance: 305,
      entry: { status: "applied" },
    });
    expect((await storedMarks(dir))[before.id]?.[gil.device]).toBe(4);
  });
});

/** Merges into `dir`'s copy of the council's ledger what `from` holds of it, as a peer's node would send it. */
async function mergeLedger(dir: string, from: string, councilUrl: string): Promise<void> {
  const source = new Repo({ storage: new DurableFsStorageAdapter(join(from, "repo")), network: [] });
  try {
    const theirs = await ledgerOf(councilUrl)(source);
    await onDisk(dir, ledgerOf(councilUrl), (h) => h.merge(theirs));
  } finally {
    await source.shutdown();
  }
}

describe("a whole directory restored from a backup, then written to", { timeout: 180_000 }, () => {
  it("refuses the forked key for good, saying a new device key is the way out, which the member key still gives", async () => {
    const dir = join(tmp.path, "hal");
    const d = ["--dir", dir];
    const hal = await federaJson<{ member: string; device: string }>(["init", ...d, "--name", "Hal"]);
    const created = await federaJson<{ council: string; url: string }>(["council", "create", "Hangar", ...d]);
    // The device signs the fund (seq 0) and a donation (1) before the backup, then a donation (2) a peer receives.
    await federaOk(["fund", "create", "food", "--type", "cash", ...d]);
    await federaOk(["donate", "food", "100", ...d]);
    const backup = join(tmp.path, "hal-backup");
    await cp(dir, backup, { recursive: true });
    await federaOk(["donate", "food", "200", ...d]);
    const peer = join(tmp.path, "hal-peer");
    await cp(dir, peer, { recursive: true });

    // The whole directory comes back from the backup, its marks with it: nothing tells the device that seq 2 is used.
    await rm(dir, { recursive: true });
    await cp(backup, dir, { recursive: true });
    await federaOk(["donate", "food", "300", ...d]);
    // The peer's copy of the first seq 2 arrives: two records with one seq, and nothing missing.
    await mergeLedger(dir, peer, created.url);

    const refused = await federa(["donate", "food", "5", ...d]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      `the chain of records this device (${hal.device}) signs in council ${created.council} is broken at seq 2: ` +
        "it signed two different records with that seq",
    );
    expect(refused.stderr).toContain("(running `federa node` does not help)");
    expect(refused.stderr).toContain(`\`federa init --dir NEW_DIR --name NAME --device-of ${hal.member}\``);
    expect(refused.stderr).not.toMatch(/waits for|until a peer has sent them back/);

    // What the advice asks for works here: an invitation, and a device authorised by the member key, whose chain is whole.
    await federaOk(["invite", ...d]);
    const phone = await federaJson<{ device: string }>([
      ...["init", "--dir", join(tmp.path, "hal-phone"), "--name", "Hal", "--device-of", hal.member],
    ]);
    expect(await federaJson(["device", "add", phone.device, ...d])).toMatchObject({ device: phone.device });
    const listed = await federaJson<{ devices: { device: string }[] }>(["device", "list", ...d]);
    expect(listed.devices.map((x) => x.device)).toContain(phone.device);
  });
});

describe("a federation record deleted in place from the replica on disk", { timeout: 180_000 }, () => {
  it("is reported by federa federation status, and written back from the history by federa node", async () => {
    const ada = ["--dir", join(tmp.path, "ada")];
    const tia = ["--dir", join(tmp.path, "tia")];
    const who = await federaJson<{ member: string }>(["init", ...ada, "--name", "Ada"]);
    await federaJson(["init", ...tia, "--name", "Tia"]);
    await federaOk(["council", "create", "Bakery", ...ada]);
    await federaOk(["council", "create", "Tenants", ...tia]);
    const { token } = await federaJson<{ token: string }>(["invite", ...tia]);
    const created = await federaJson<{ federation: string; url: string }>([
      ...["federation", "create", "Northern Federation", "--with", token, ...ada],
    ]);
    // Ada's member key signs the genesis (seq 0) and her two proposals (1, 2).
    const propose = async (title: string) =>
      (await federaJson<{ proposal: string }>(["federation", "propose", "--title", title, "--closes", "+1d", ...ada]))
        .proposal;
    const first = await propose("Joint rent strike");
    await propose("Shared bakery");
    expect((await storedMarks(ada[1]!))[created.federation]).toEqual({ [who.member]: 2 });
    const status = () => federaJson<{ rolledBack: unknown[] }>(["federation", "status", ...ada]);
    expect((await status()).rolledBack).toEqual([]);

    // The first proposal vanishes from the federation's document: the chain now stops at the genesis.
    await onDisk(ada[1]!, documentAt(created.url), (h) => deleteRecord(h, first));
    expect((await status()).rolledBack).toEqual([{ signer: who.member, stored: 2, now: 0 }]);
    expect(await federaOk(["federation", "status", ...ada])).toContain(
      `warning: signer ${who.member} rolled back from seq 2 to seq 0: records this device verified were deleted`,
    );

    // The node finds the proposal in the document's history and writes it back, naming the federation.
    const node = await startNode(ada[1]!);
    const restored = () => logLines(node, "wrote back");
    await waitFor(() => restored().length > 0, "the node's line for the record written back");
    expect(restored()[0]).toContain(`federation ${created.federation.slice(0, 12)}…: wrote back 1 record(s)`);
    expect(await stopNode(node)).toBe(0);
    expect((await status()).rolledBack).toEqual([]);
  });
});

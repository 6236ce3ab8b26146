/**
 * Following a federation from the command line, offline but for one node start: a delegate whose directory holds the
 * federation's document before its founding council's (as a node fetching it has for a while), joining again with
 * another token, and leaving.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import * as A from "@automerge/automerge";
import { type AutomergeUrl, parseAutomergeUrl, Repo } from "@automerge/automerge-repo";
import { decodeFederationInvitation, encodeFederationInvitation } from "@federa/net";
import { DurableFsStorageAdapter } from "@federa/net/node";
import { describe, expect, it } from "vitest";
import { federa, federaJson, federaOk } from "./support/cli.js";
import { nodeScratchDir, startNode, stopNode } from "./support/node-process.js";

const scratch = nodeScratchDir();

interface Entry {
  federation: string;
  url: string;
  inviter?: { peer: string; addresses: string[] };
}

async function entries(dir: string): Promise<Entry[]> {
  return JSON.parse(await readFile(join(dir, "federations.json"), "utf8")) as Entry[];
}

/** Copies a document from one directory's storage to another's, as a node syncing it would. */
async function copyDocument(from: string, to: string, url: string): Promise<void> {
  const source = new Repo({ storage: new DurableFsStorageAdapter(join(from, "repo")), network: [] });
  const bytes = A.save((await source.find(url as AutomergeUrl)).doc());
  await source.shutdown();
  const target = new Repo({ storage: new DurableFsStorageAdapter(join(to, "repo")), network: [] });
  target.import(bytes, { docId: parseAutomergeUrl(url as AutomergeUrl).documentId });
  await target.flush();
  await target.shutdown();
}

describe("following a federation from the command line", { timeout: 120_000 }, () => {
  it("says a founding record not checked yet, keeps the document it follows, and leaves", async () => {
    const ada = join(scratch.path, "ada");
    const tia = join(scratch.path, "tia");
    await federaJson(["init", "--dir", ada, "--name", "Ada"]);
    await federaJson(["init", "--dir", tia, "--name", "Tia"]);
    await federaOk(["council", "create", "Bakery", "--dir", ada]);
    await federaOk(["council", "create", "Tenants", "--dir", tia]);
    const { token: card } = await federaJson<{ token: string }>(["invite", "--dir", tia]);
    const created = await federaJson<{ federation: string; url: string; token: string }>([
      ...["federation", "create", "North", "--with", card, "--dir", ada],
    ]);
    // Tia holds the federation's document, not the bakery's: the founding record cannot be checked here yet.
    await copyDocument(ada, tia, created.url);
    expect(await federaJson(["federation", "join", created.token, "--dir", tia])).toMatchObject({ available: true });

    const listed = await federaJson<{ federations: unknown[] }>(["federation", "list", "--dir", tia]);
    expect(listed.federations).toEqual([
      { federation: created.federation, url: created.url, name: null, available: true },
    ]);
    const unchecked = "(founding record not checked yet)";
    expect(await federaOk(["federation", "list", "--dir", tia])).toBe(`${created.federation}  ${unchecked}`);
    expect(await federaOk(["federation", "status", "--dir", tia])).toContain(`${created.federation} ${unchecked}`);
    const alert = await federa(["federation", "alert", "--what", "Flood", "--needs", "Pumps", "--dir", tia]);
    expect(alert.code).toBe(1);
    expect(alert.stderr).toMatch(
      new RegExp(`the founding record of federation ${created.federation} cannot be checked on this device yet`),
    );
    expect(alert.stderr).not.toMatch(/null/);

    // The same federation at another document: refused, the document followed kept. The same token with fresher
    // addresses is taken.
    const invitation = decodeFederationInvitation(created.token);
    const elsewhere = new Repo({ network: [] }).create({}).url;
    const forged = encodeFederationInvitation({ ...invitation, url: elsewhere });
    const refused = await federa(["federation", "join", forged, "--dir", tia]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/already follows federation \S+ at another document/);
    expect((await entries(tia)).map((e) => e.url)).toEqual([created.url]);
    const fresher = encodeFederationInvitation({ ...invitation, addresses: ["/ip4/127.0.0.1/tcp/4999"] });
    await federaJson(["federation", "join", fresher, "--dir", tia]);
    expect(await entries(tia)).toMatchObject([
      { url: created.url, inviter: { addresses: ["/ip4/127.0.0.1/tcp/4999"] } },
    ]);

    // Leaving through the running node: the entry, its vouches and the document's syncing go at once.
    const node = await startNode(tia);
    const left = await federa(["federation", "leave", "--dir", tia]);
    expect(left.code).toBe(0);
    expect(left.stdout).toContain(`${created.federation} left`);
    expect(await entries(tia)).toEqual([]);
    const status = await federa(["federation", "status", "--dir", tia]);
    expect(status.code).not.toBe(0);
    expect(status.stderr).toMatch(/follows no federation/);
    expect(await stopNode(node)).toBe(0);
    expect(await entries(tia)).toEqual([]);
    expect((await federaJson<{ federations: unknown[] }>(["federation", "list", "--dir", tia])).federations).toEqual(
      [],
    );
    const again = await federa(["federation", "leave", "--dir", tia]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/follows no federation/);
    // Followed again, at any document: nothing of the one left stands in the way.
    await federaJson(["federation", "join", created.token, "--dir", tia]);
    expect((await entries(tia)).map((e) => e.url)).toEqual([created.url]);
  });
});

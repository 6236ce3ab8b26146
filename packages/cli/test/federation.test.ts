/**
 * Two councils federating from the command line, each on its own `federa node` process on loopback: the delegates
 * exchange invitations, each node fetches the federation and the other member council, and each counts the other's
 * vote through the mandate its council gave.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type AutomergeUrl, Repo } from "@automerge/automerge-repo";
import { DurableFsStorageAdapter } from "@federa/net/node";
import { describe, expect, it } from "vitest";
import { federa, federaJson, federaOk } from "./support/cli.js";
import { type FederationStatus, federationStatus, mandatedCouncil, type Voted } from "./support/federations.js";
import { askNode, nodeScratchDir, startNode, stopNode } from "./support/node-process.js";
import { waitFor } from "./support/wait.js";

const scratch = nodeScratchDir();
const HOUR = 3_600_000;

async function councilsJson(dir: string): Promise<Record<string, string>> {
  return JSON.parse(await readFile(join(dir, "councils.json"), "utf8")) as Record<string, string>;
}

const councilWithDelegate = (name: string, council: string) => mandatedCouncil(scratch.path, name, council);

describe("a federation founded from the command line", { timeout: 180_000 }, () => {
  it("reaches both delegates' nodes with both member councils; each counts the other's vote and answer to an alert", async () => {
    const bakery = await councilWithDelegate("Ada", "Bakery");
    const tenants = await councilWithDelegate("Tia", "Tenants");
    // The nodes stamp records three hours on, after the mandates were issued.
    const env = { FEDERA_CLOCK_OFFSET_MS: String(3 * HOUR) };
    const nodes = [await startNode(bakery.dir, { env }), await startNode(tenants.dir, { env })];

    // Tia hands Ada her council's invitation; Ada founds the federation with it and hands Tia the federation's.
    const { token: card } = await federaJson<{ token: string }>(["invite", "--dir", tenants.dir]);
    const created = await federaJson<{ federation: string; token: string; councils: string[] }>([
      ...["federation", "create", "Northern Federation", "--with", card, "--dir", bakery.dir],
    ]);
    expect(created.councils.sort()).toEqual([bakery.council, tenants.council].sort());
    const wrongKind = await federa(["federation", "join", card, "--dir", tenants.dir]);
    expect(wrongKind.code).toBe(2);
    expect(wrongKind.stderr).toMatch(/not a federation's invitation/);
    // A directory in no council has nothing to follow a federation for: refused, nothing written.
    const lone = join(scratch.path, "lone");
    await federaOk(["init", "--dir", lone, "--name", "Lou"]);
    const loneJoin = await federa(["federation", "join", created.token, "--dir", lone]);
    expect(loneJoin.code).toBe(1);
    expect(loneJoin.stderr).toMatch(/holds no council/);
    await expect(readFile(join(lone, "federations.json"), "utf8")).rejects.toThrow(/ENOENT/);
    await federaJson(["federation", "join", created.token, "--dir", tenants.dir]);
    // Tia's node vouches for Ada's device for Ada's council: the vouch lapses once it holds that council.
    const entries = JSON.parse(await readFile(join(tenants.dir, "federations.json"), "utf8"));
    expect(entries[0].inviter.council).toBe(bakery.council);

    // Each node ends up with the federation and both member councils.
    for (const dir of [bakery.dir, tenants.dir]) {
      await waitFor(async () => {
        const s = await federationStatus(dir).catch(() => undefined);
        return s !== undefined && s.councils.length === 2 && s.councils.every((c) => c.here);
      }, `the federation and both councils on ${dir}`);
    }
    expect((await federationStatus(tenants.dir)).name).toBe("Northern Federation");
    // Both councils mandated a delegate for it (by its name): both consent, which is why their documents crossed.
    expect((await federationStatus(bakery.dir)).councils.map((c) => c.consents)).toEqual([true, true]);

    // Ada proposes; both delegates vote through their mandates.
    const { proposal } = await federaJson<{ proposal: string }>([
      ...["federation", "propose", "--title", "Joint rent strike", "--closes", "+1d", "--dir", bakery.dir],
    ]);
    const adaVote = await federaJson<Voted>(["federation", "vote", proposal, "--position", "yes", "--dir", bakery.dir]);
    expect(adaVote).toMatchObject({ counted: true, via: "node" });
    await waitFor(
      async () => (await federationStatus(tenants.dir)).proposals.some((p) => p.id === proposal),
      "Ada's proposal on Tia's node",
    );
    const short = proposal.slice(0, 10);
    // A position Tia's mandate does not allow is refused before anything is written (it would stay as a conflict).
    const outside = await federa(["federation", "vote", short, "--position", "abstain", "--dir", tenants.dir]);
    expect(outside.code).toBe(2);
    expect(outside.stderr).toMatch(/does not allow "abstain" on this proposal \(it allows: yes, no\)/);
    const tiaVote = await federaJson<Voted>(["federation", "vote", short, "--position", "no", "--dir", tenants.dir]);
    expect(tiaVote.counted).toBe(true);

    // Both nodes derive the same votes, and list the refused one the same way.
    const expected = { [bakery.council]: "yes", [tenants.council]: "no" };
    for (const dir of [bakery.dir, tenants.dir]) {
      await waitFor(async () => {
        const votes = (await federationStatus(dir)).proposals[0]?.votes ?? {};
        return Object.entries(expected).every(([c, v]) => votes[c] === v);
      }, `both votes on ${dir}`);
    }
    // The other member council is kept apart: Tia's council commands still need no --council.
    expect(Object.keys(await councilsJson(tenants.dir))).toEqual([tenants.council]);
    expect((await federaJson<{ council: string }>(["invite", "--dir", tenants.dir])).council).toBe(tenants.council);
    const [a, t] = await Promise.all([federationStatus(bakery.dir), federationStatus(tenants.dir)]);
    expect(a.proposals).toEqual(t.proposals);
    expect(a.conflicts).toEqual([]);
    expect(t.conflicts).toEqual([]);

    // Tia's council raises a solidarity alert; Ada's answers it within the pledge window, and both nodes say so.
    const { alert } = await federaJson<{ alert: string }>([
      ...["federation", "alert", "--what", "Eviction on Elm St", "--needs", "People at 7am", "--dir", tenants.dir],
    ]);
    await waitFor(
      async () => (await federationStatus(bakery.dir)).alerts.some((x) => x.id === alert),
      "Tia's alert on Ada's node",
    );
    const answered = await federaJson<{ pledge: string }>([
      ...["federation", "respond", alert.slice(0, 12), "--offer", "Six bakers", "--dir", bakery.dir],
    ]);
    expect(answered.pledge).toBe("met");
    await waitFor(
      async () => (await federationStatus(tenants.dir)).alerts[0]?.pledges[bakery.council] === "met",
      "Ada's answer on Tia's node",
    );
    expect((await federationStatus(tenants.dir)).alerts[0]).toMatchObject({ what: "Eviction on Elm St", responses: 1 });

    const human = await federaOk(["federation", "status", "--dir", tenants.dir]);
    expect(human).toContain('"Joint rent strike", 2/2 voted');
    expect(human).toContain('"Eviction on Elm St", 1 response(s)');

    // The tenants recall Tia, their only delegate there. The recall stays in their documents, which they stop
    // sharing; their node announces the withdrawal in the federation's, and the bakery's node shows it.
    const recall = await federaOk(
      ["mandate", "recall", tenants.mandate, "--closes", "+10s", "--dir", tenants.dir],
      env, // "+10s" from the nodes' clock, which stamps the record
    );
    await federaOk(["vote", recall, "--choice", "yes", "--dir", tenants.dir]);
    await new Promise((resolve) => setTimeout(resolve, 11_000));
    await federaOk(["tick", "--dir", tenants.dir]);
    await waitFor(async () => {
      const seen = (await federationStatus(bakery.dir)).councils.find((c) => c.id === tenants.council);
      return seen?.withdrawn === true && seen.consents === false;
    }, "the tenants' withdrawal on the bakery's node");
    expect(await federaOk(["federation", "status", "--dir", bakery.dir])).toMatch(
      /withdrew at .*: shares nothing, its delegates do not count/,
    );

    // Stopped, each directory still reads the same federation offline, from its own disk.
    expect(await Promise.all(nodes.map((n) => stopNode(n)))).toEqual([0, 0]);
    const offline = await federaJson<FederationStatus & { via: string }>([
      "federation",
      "status",
      "--dir",
      tenants.dir,
    ]);
    expect(offline.via).toBe("offline");
    expect(offline.proposals).toEqual(t.proposals);
    expect(offline.councils.every((c) => c.here)).toBe(true);
  });

  it("keeps this directory's own council where it is when the federation document's (unsigned) links say otherwise", async () => {
    const ada = join(scratch.path, "ada-2");
    const tia = join(scratch.path, "tia-2");
    await federaJson(["init", "--dir", ada, "--name", "Ada"]);
    await federaJson(["init", "--dir", tia, "--name", "Tia"]);
    const own = await federaOk(["council", "create", "Bakery", "--dir", ada]);
    await federaOk(["council", "create", "Tenants", "--dir", tia]);
    const ownUrl = (await councilsJson(ada))[own];
    const { token } = await federaJson<{ token: string }>(["invite", "--dir", tia]);
    const created = await federaJson<{ url: string }>(["federation", "create", "North", "--with", token, "--dir", ada]);

    // Anyone who may sync the federation document can edit its council → URL map; done here on disk.
    const elsewhere = new Repo({ network: [] }).create({}).url;
    const repo = new Repo({ storage: new DurableFsStorageAdapter(join(ada, "repo")), network: [] });
    const handle = await repo.find<{ federa: { councils: Record<string, string> } }>(created.url as AutomergeUrl);
    handle.change((d) => {
      d.federa.councils[own] = elsewhere;
    });
    await repo.flush();
    await repo.shutdown();

    const node = await startNode(ada);
    // The node has followed the federation (and tried every council it names) once it logs it.
    await waitFor(() => /federation \S+ opened/.test(node.stderr()), "the node to follow the federation");
    expect((await councilsJson(ada))[own]).toBe(ownUrl);
    const status = (await askNode(ada, { op: "status" })) as { councils: { id: string; available: boolean }[] };
    expect(status.councils).toMatchObject([{ id: own, available: true }]);
    expect(await stopNode(node)).toBe(0);
  });
});

/** The `federa` command run as separate processes on temporary node directories, with no node running. */
import { chmod, mkdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { REPORT_COLUMNS, type Report } from "@federa/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CouncilSummary, decodeInvitation, NodeDir } from "../src/index.js";
import { federa, federaJson, federaOk, tempDir } from "./support/cli.js";

let tmp: { path: string; remove: () => Promise<void> };

beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(async () => {
  await tmp.remove();
});

interface Status {
  member: string;
  node: { running: boolean };
  councils: CouncilSummary[];
}

async function init(name: string): Promise<{ dir: string; member: string; device: string }> {
  const dir = join(tmp.path, name.toLowerCase());
  const out = await federaJson<{ member: string; device: string }>(["init", "--dir", dir, "--name", name]);
  return { dir, ...out };
}

describe("federa init", { timeout: 180_000 }, () => {
  it("creates an owner-only directory and identity, and refuses to overwrite it", async () => {
    const { dir, member, device } = await init("Ada");
    expect(member).toMatch(/^12D3KooW/);
    expect(device).toMatch(/^12D3KooW/);
    expect(device).not.toBe(member);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, "identity.json"))).mode & 0o777).toBe(0o600);
    const identity = await readFile(join(dir, "identity.json"), "utf8");
    expect(JSON.parse(identity).member).toBe(member);
    expect(JSON.parse(await readFile(join(dir, "profile.json"), "utf8"))).toMatchObject({
      name: "Ada",
      member,
      device,
    });

    const again = await federa(["init", "--dir", dir, "--name", "Mallory"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/refusing to overwrite/);
    expect(await readFile(join(dir, "identity.json"), "utf8")).toBe(identity);
  });

  it("leaves the mode of a directory that existed alone, warning when others can read it", async () => {
    const open = join(tmp.path, "shared-home");
    await mkdir(open);
    await chmod(open, 0o755);
    const ran = await federa(["init", "--dir", open, "--name", "Ola"]);
    expect(ran.code, ran.stderr).toBe(0);
    expect((await stat(open)).mode & 0o777).toBe(0o755);
    expect((await stat(join(open, "identity.json"))).mode & 0o777).toBe(0o600);
    expect(ran.stderr).toMatch(/^federa: warning: .*shared-home is readable by group or others \(mode 0755\)/);
    expect(ran.stderr.trim().split("\n")).toHaveLength(1);

    const closed = join(tmp.path, "private-home");
    await mkdir(closed);
    await chmod(closed, 0o711);
    const quiet = await federa(["init", "--dir", closed, "--name", "Pia"]);
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stderr).toBe("");
    expect((await stat(closed)).mode & 0o777).toBe(0o711);
  });
});

describe("a council worked offline", { timeout: 180_000 }, () => {
  it("founds, funds, spends, proposes and votes, then reports the derived numbers", async () => {
    const alice = await init("Alice");
    const d = ["--dir", alice.dir];
    const created = await federaJson<{ council: string; url: string }>([
      "council",
      "create",
      "Bakery co-op",
      "--petty-cash",
      "500",
      ...d,
    ]);
    expect(created.council).toMatch(/^[0-9a-f]{64}$/);
    const councils = JSON.parse(await readFile(join(alice.dir, "councils.json"), "utf8"));
    expect(councils).toEqual({ [created.council]: created.url });

    expect(await federaOk(["fund", "create", "food", "--type", "cash", ...d])).toMatch(/^[0-9a-f]{64}$/);
    expect(await federaJson(["donate", "food", "1000", ...d])).toMatchObject({ balance: 1000, via: "offline" });
    expect(await federaJson(["spend", "food", "300", "--payee", "mill", ...d])).toMatchObject({
      balance: 700,
      entry: { status: "applied" },
    });
    // Over the petty-cash limit and not approved otherwise: held, so the balance does not move.
    const held = await federaJson(["spend", "food", "600", "--payee", "oven shop", "--petty", ...d]);
    expect(held).toMatchObject({ balance: 700, entry: { status: "held" } });

    const proposal = await federaOk(["propose", "--title", "Buy an oven", "--closes", "+2d", ...d]);
    expect(proposal).toMatch(/^[0-9a-f]{64}$/);
    // A unique prefix names the proposal; --choice yes fits the charter's default majority method.
    const vote = await federaJson<{ proposal: string; ballot: unknown; passing: boolean }>([
      "vote",
      proposal.slice(0, 10),
      "--choice",
      "yes",
      ...d,
    ]);
    expect(vote).toMatchObject({ proposal, ballot: { method: "majority", choice: "yes" }, passing: true });

    const status = await federaJson<Status>(["status", ...d]);
    expect(status.node.running).toBe(false);
    expect(status.councils).toHaveLength(1);
    const c = status.councils[0]!;
    expect(c).toMatchObject({
      id: created.council,
      available: true,
      name: "Bakery co-op",
      member: true,
      members: [alice.member],
      balances: { food: 700 },
      conflicts: 1,
      excluded: 0,
      proposals: 1,
      // genesis, device, fund, donation, two expenses, proposal, vote
      records: 8,
    });
    expect(c.openProposals).toEqual([expect.objectContaining({ id: proposal, votes: 1, electorate: 1 })]);
    expect(c.documents?.map((x) => x.role)).toEqual(["council", "ledger"]);
    expect(c.documents?.every((x) => x.heads.length > 0 && x.url.startsWith("automerge:"))).toBe(true);

    const report = JSON.parse(
      await federaOk(["export", created.council.slice(0, 8), "--format", "json", ...d]),
    ) as Report;
    expect(report.council).toBe(created.council);
    expect(report.tables.ledger.map((r) => [r.type, r.amount, r.status])).toEqual([
      ["donation", 1000, "applied"],
      ["expense", 300, "applied"],
      ["expense", 600, "held"],
    ]);
    expect(report.tables.decisions).toEqual([expect.objectContaining({ id: proposal, status: "open" })]);

    const csv = (await federaOk(["export", "--format", "csv", "--table", "ledger", ...d])).split(/\r?\n/);
    expect(csv[0]).toBe(REPORT_COLUMNS.ledger.join(","));
    expect(csv).toHaveLength(4);
    expect(csv[3]).toMatch(/,600,.*,held,/);
    const decisions = (await federaOk(["export", "--format", "csv", "--table", "decisions", ...d])).split(/\r?\n/);
    expect(decisions[0]).toBe(REPORT_COLUMNS.decisions.join(","));
    expect(decisions[1]).toContain(proposal);
  });

  it("swaps time and issues a mandate once its vote has closed", async () => {
    const bob = await init("Bob");
    const carol = await init("Carol");
    const d = ["--dir", bob.dir];
    await federaOk(["council", "create", "Tool library", "--founder", carol.member, ...d]);
    await federaOk(["fund", "create", "hours", "--type", "time", ...d]);
    // Carol worked 90 minutes for Bob: the receiver writes it, Bob's balance goes down, Carol's up.
    await federaOk(["swap", "hours", "--provider", carol.member.slice(0, 20), "--minutes", "90", ...d]);
    const mandateProposal = await federaOk([
      "mandate",
      "issue",
      "--delegate",
      "me",
      "--body",
      "Regional assembly",
      "--positions",
      "housing=yes|abstain",
      "--expires",
      "+30d",
      "--closes",
      "+1h",
      ...d,
    ]);
    await federaOk(["vote", mandateProposal, "--choice", "yes", ...d]);
    // A deadline takes effect at the first record after it: one stamped two hours on, as if written then.
    await federaOk(["tick", ...d], { FEDERA_CLOCK_OFFSET_MS: String(2 * 3_600_000) });

    const status = await federaJson<Status>(["status", ...d]);
    const c = status.councils[0]!;
    expect(c.members).toEqual([bob.member, carol.member].sort());
    expect(c.funds).toEqual([
      { id: "hours", type: "time", balance: 0, accounts: { [bob.member]: -90, [carol.member]: 90 } },
    ]);
    expect(c.mandates).toBe(1);
    expect(c.openProposals).toEqual([]);

    const recall = await federaJson<{ proposal: string; mandate: string }>([
      "mandate",
      "recall",
      mandateProposal.slice(0, 12),
      ...d,
    ]);
    expect(recall.mandate).toBe(mandateProposal);
    expect(recall.proposal).not.toBe(mandateProposal);
    const after = await federaJson<Status>(["status", ...d]);
    expect(after.councils[0]!.openProposals?.map((p) => p.id)).toEqual([recall.proposal]);
  });
});

describe("errors", { timeout: 180_000 }, () => {
  it("exits 2 on usage errors, with a message on stderr and no stack trace", async () => {
    const erin = await init("Erin");
    const d = ["--dir", erin.dir];
    await federaOk(["council", "create", "Choir", ...d]);
    const cases: string[][] = [
      ["donate", "food", "12.5", ...d],
      ["donate", "food", "10", "--bogus", ...d],
      ["spend", "food", "10", ...d],
      ["propose", "--title", "x", "--closes", "tomorrow", ...d],
      ["fund", "create", "Not A Name", "--type", "cash", ...d],
      ["fund", "create", "food", "--type", "gold", ...d],
      ["export", "--format", "xml", ...d],
      ["join", "not a token", ...d],
      ["frobnicate"],
      ["donate", "food"],
      // A fund, proposal, mandate or member the council does not hold was named on the command line.
      ["donate", "nofund", "5", ...d],
      ["vote", "ffff", "--choice", "yes", ...d],
      ["mandate", "recall", "ffff", ...d],
      [
        "mandate",
        "issue",
        "--delegate",
        "12D3KooWnobody",
        "--body",
        "B",
        "--positions",
        "*=yes",
        "--expires",
        "+1d",
        ...d,
      ],
    ];
    for (const args of cases) {
      const ran = await federa(args);
      expect({ args, code: ran.code }).toEqual({ args, code: 2 });
      expect(ran.stdout).toBe("");
      // Commander's errors (unknown command or option, missing argument) start like the command's own.
      expect(ran.stderr).toMatch(/^federa: error: /);
      expect(ran.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it("exits 1 with a clear message when acting in a council you are not a member of", async () => {
    const frank = await init("Frank");
    const gina = await init("Gina");
    const council = await federaOk(["council", "create", "Garden", "--dir", frank.dir]);
    await federaOk(["fund", "create", "seeds", "--type", "cash", "--dir", frank.dir]);

    // Gina holds a copy of the documents (as a removed member's device would) but is no member.
    const { cp } = await import("node:fs/promises");
    await cp(join(frank.dir, "repo"), join(gina.dir, "repo"), { recursive: true });
    await cp(join(frank.dir, "councils.json"), join(gina.dir, "councils.json"));
    const acted = await federa(["donate", "seeds", "10", "--dir", gina.dir]);
    expect(acted.code).toBe(1);
    expect(acted.stderr).toContain(`you (${gina.member}) are not a member of council ${council}`);
    expect(acted.stderr).not.toMatch(/\n\s+at /);
    // Reading is fine, and says so.
    const status = await federaJson<Status>(["status", "--dir", gina.dir]);
    expect(status.councils[0]).toMatchObject({ id: council, member: false, balances: { seeds: 0 } });

    // Hank applied but his application was never delivered: the council's documents are not on his device.
    const hank = await init("Hank");
    const token = await federaJson<{ token: string }>(["invite", "--dir", frank.dir]);
    expect(decodeInvitation(token.token)).toMatchObject({ council, peer: frank.device, addresses: [] });
    // With no node running, the addresses of its last run are used, and said to be stale-prone.
    const lastRun = ["/ip4/127.0.0.1/tcp/40123"];
    await new NodeDir(frank.dir).writeNodeInfo({ peerId: frank.device, addresses: lastRun, updated: "" });
    const stale = await federa(["invite", "--json", "--dir", frank.dir]);
    expect(stale.code, stale.stderr).toBe(0);
    expect(JSON.parse(stale.stdout)).toMatchObject({ addresses: lastRun });
    expect(stale.stderr).toMatch(/^federa: warning: no node is running on .*: the addresses are those of its last run/);
    const joined = await federaJson<{ proposal: string; delivered: boolean }>([
      "join",
      token.token,
      "--no-deliver",
      "--dir",
      hank.dir,
    ]);
    expect(joined.delivered).toBe(false);
    const tried = await federa(["vote", joined.proposal, "--choice", "yes", "--dir", hank.dir]);
    expect(tried.code).toBe(1);
    expect(tried.stderr).toMatch(/not on this device: you are not a member yet/);
    // A directory holding no council is a runtime failure; the hint names the directory given.
    const none = await federa(["donate", "seeds", "1", "--dir", (await init("Ivy")).dir]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain(`create one with \`federa council create NAME --dir ${join(tmp.path, "ivy")}\``);
    // A federation named that the directory does not follow is a usage error, as any id that names nothing.
    const unfollowed = await federa(["federation", "status", "--federation", "ffff", "--dir", frank.dir]);
    expect(unfollowed.code).toBe(2);
    expect(unfollowed.stderr).toMatch(/^federa: error: no federation ffff followed here/);
    const hanks = await federaJson<Status & { applications: unknown[] }>(["status", "--dir", hank.dir]);
    expect(hanks.councils).toEqual([expect.objectContaining({ id: council, available: false })]);
    expect(hanks.applications).toEqual([{ council, proposal: joined.proposal, delivered: false }]);
  });
});

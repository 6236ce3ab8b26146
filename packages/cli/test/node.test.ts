/** `federa node` as a separate process: its address line, acting through it, applications over libp2p, clean exit. */
import { access, readFile } from "node:fs/promises";
import { join } from "node:path";
import { decodeInvitation, encodeInvitation } from "@federa/net";
import { describe, expect, it } from "vitest";
import { federa, federaJson, federaOk } from "./support/cli.js";
import {
  askNode,
  logLines,
  nodeScratchDir,
  type StatusJson as Status,
  startNode,
  stopNode as stop,
} from "./support/node-process.js";
import { waitFor } from "./support/wait.js";

const tmp = nodeScratchDir();
const HOUR = 3_600_000;

async function gone(path: string): Promise<boolean> {
  try {
    await access(path);
    return false;
  } catch {
    return true;
  }
}

describe("federa node", { timeout: 180_000 }, () => {
  it("prints its addresses, acts for other commands, receives applications and exits 0 on SIGTERM", async () => {
    const alice = join(tmp.path, "alice");
    const bob = join(tmp.path, "bob");
    await federaOk(["init", "--dir", alice, "--name", "Alice"]);
    await federaOk(["init", "--dir", bob, "--name", "Bob"]);
    const council = await federaOk(["council", "create", "Workshop", "--dir", alice]);
    await federaOk(["fund", "create", "tools", "--type", "cash", "--dir", alice]);

    const node = await startNode(alice);
    expect(node.addresses.length).toBeGreaterThan(0);
    expect(node.addresses.every((a) => a.startsWith("/ip4/127.0.0.1/tcp/") && a.endsWith(`/p2p/${node.peerId}`))).toBe(
      true,
    );
    expect(JSON.parse(await readFile(join(alice, "node.json"), "utf8"))).toMatchObject({
      peerId: node.peerId,
      addresses: node.addresses,
    });

    // Other commands on the same directory go through the node.
    expect(await federaJson(["donate", "tools", "120", "--dir", alice])).toMatchObject({ via: "node", balance: 120 });
    const status = await federaJson<Status>(["status", "--dir", alice]);
    expect(status.node).toMatchObject({ running: true, peerId: node.peerId });
    expect(status.councils[0]).toMatchObject({ id: council, balances: { tools: 120 } });

    // Bob is no member: his application reaches Alice's node over /federa/apply/1.0.0 and opens an admission vote.
    const invited = await federa(["invite", "--json", "--dir", alice]);
    // The running node's own addresses: nothing to warn of.
    expect(invited.stderr).toBe("");
    const { token, addresses } = JSON.parse(invited.stdout) as { token: string; addresses: string[] };
    expect(addresses).toEqual(node.addresses);
    const joined = await federaJson<{ proposal: string; delivered: boolean }>(["join", token, "--dir", bob]);
    expect(joined.delivered).toBe(true);
    const after = await federaJson<Status>(["status", "--dir", alice]);
    expect(after.councils[0]!.openProposals?.map((p) => p.id)).toEqual([joined.proposal]);
    const bobId = JSON.parse(await readFile(join(bob, "identity.json"), "utf8")).member as string;
    const report = JSON.parse(await federaOk(["export", "--dir", alice])) as {
      tables: { decisions: { id: string; effect: string }[] };
    };
    expect(report.tables.decisions).toEqual([expect.objectContaining({ id: joined.proposal, effect: "admit" })]);
    expect(after.councils[0]!.members).toEqual([status.councils[0]!.members![0]]);
    expect(after.councils[0]!.members).not.toContain(bobId);

    // Bob's node, waiting for admission, dials the inviter as soon as it has tried to open the council (1 s here),
    // not on its 10 s retry timer: no mDNS, no bootstrap, only the invitation's addresses.
    const bobNode = await startNode(bob, { args: ["--open-wait", "1"] });
    const started = Date.now();
    await waitFor(() => logLines(bobNode, `peer connected ${node.peerId}`).length > 0, "Bob's node to dial Alice's");
    expect(Date.now() - started).toBeLessThan(8_000);
    expect(await stop(bobNode)).toBe(0);

    expect(await stop(node)).toBe(0);
    expect(await gone(join(alice, "node.sock"))).toBe(true);
    await access(join(alice, "verified.bin"));
    // What the node wrote is on disk for the next offline command.
    const offline = await federaJson<Status>(["status", "--dir", alice]);
    expect(offline.node.running).toBe(false);
    expect(offline.councils[0]).toMatchObject({ balances: { tools: 120 }, proposals: 1 });
  });

  it("a member named at founding joins by authorising a device, and then receives the council", async () => {
    const ada = join(tmp.path, "ada");
    const ben = join(tmp.path, "ben");
    await federaOk(["init", "--dir", ada, "--name", "Ada"]);
    await federaOk(["init", "--dir", ben, "--name", "Ben"]);
    const benId = JSON.parse(await readFile(join(ben, "identity.json"), "utf8")) as {
      member: string;
      deviceSeed: string;
    };
    const benDevice = (JSON.parse(await readFile(join(ben, "profile.json"), "utf8")) as { device: string }).device;
    await federaOk(["council", "create", "Print shop", "--founder", benId.member, "--dir", ada]);
    await federaOk(["fund", "create", "ink", "--type", "cash", "--dir", ada]);
    await federaOk(["donate", "ink", "75", "--dir", ada]);
    const adaNode = await startNode(ada);
    const { token } = await federaJson<{ token: string }>(["invite", "--dir", ada]);
    const joined = await federaJson<{ delivered: boolean }>(["join", token, "--dir", ben]);
    expect(joined.delivered).toBe(true);
    // No admission vote: Ben was a founder; his device is authorised at once.
    const status = await federaJson<Status>(["status", "--dir", ada]);
    expect(status.councils[0]!.openProposals ?? []).toEqual([]);
    const report = JSON.parse(await federaOk(["export", "--dir", ada])) as {
      tables: { members: { id: string; devices: string }[] };
    };
    expect(JSON.stringify(report.tables.members)).toContain(benDevice);
    // Ben's node now receives the council from Ada's.
    const benNode = await startNode(ben, { bootstrap: [adaNode.addresses[0]!] });
    const deadline = Date.now() + 60_000;
    let balance: unknown;
    while (Date.now() < deadline) {
      const s = await federaJson<Status>(["status", "--dir", ben]);
      balance = s.councils[0]?.balances?.ink;
      if (balance === 75) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(balance).toBe(75);
    expect(await stop(benNode)).toBe(0);
    expect(await stop(adaNode)).toBe(0);
  });

  it("stops at once on SIGTERM while it waits for a council whose documents are not here yet", async () => {
    const eli = join(tmp.path, "eli");
    const fay = join(tmp.path, "fay");
    await federaOk(["init", "--dir", eli, "--name", "Eli"]);
    await federaOk(["init", "--dir", fay, "--name", "Fay"]);
    await federaOk(["council", "create", "Bakery", "--dir", eli]);
    const { token } = await federaJson<{ token: string }>(["invite", "--dir", eli]);
    // Eli's node is not running: Fay's application waits, and so does the council's document.
    expect(await federaJson<{ delivered: boolean }>(["join", token, "--dir", fay])).toMatchObject({ delivered: false });
    // At its address line the node starts opening the councils it follows, which waits 2 minutes here for peers to
    // have them; sitting that out would also run past the node's 15 s limit on a clean shutdown.
    const node = await startNode(fay, { args: ["--open-wait", "120"] });
    // Past the default wait of 5 s, it still waits.
    await new Promise((resolve) => setTimeout(resolve, 6_500));
    expect(logLines(node, "documents not here yet")).toEqual([]);
    const asked = Date.now();
    expect(await stop(node)).toBe(0);
    expect(Date.now() - asked).toBeLessThan(12_000);
    expect(logLines(node, "SIGTERM: stopping")).toHaveLength(1);
    expect(logLines(node, "documents not here yet")).toEqual([]);
    const refused = await federa(["node", "--dir", fay, "--open-wait", "0"]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--open-wait.*more than 0/);
    const both = await federa(["node", "--dir", fay, "--dht", "--dht-private"]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/'--dht-private' cannot be used with option '--dht'/);
  });

  it("refuses malformed requests on its control socket by field, and keeps serving", async () => {
    const gus = join(tmp.path, "gus");
    await federaOk(["init", "--dir", gus, "--name", "Gus"]);
    await federaOk(["council", "create", "Garage", "--dir", gus]);
    await federaOk(["fund", "create", "parts", "--type", "cash", "--dir", gus]);
    const node = await startNode(gus);
    const bad = [
      [{ op: "donate", fund: "parts" }, /field "amount" must be a finite number/],
      [{ op: "donate", fund: 7, amount: 10 }, /field "fund" must be a string/],
      [{ op: "donate", fund: "parts", amount: 10, council: ["x"] }, /field "council" must be a string/],
      [{ op: "vote", proposal: "p", scores: { a: "1" } }, /field "scores" must be an object of numbers/],
      [{ op: "federation.create", name: "F", with: ["token"] }, /field "with" must be an array of council cards/],
      // A card missing its node would be stored as it is, and federations.json read as damaged from then on.
      [{ op: "federation.create", name: "F", with: [{ council: "c", url: "u" }] }, /field "with" must be an array/],
      [{ op: "federation.propose", title: "T", admit: { council: "c" } }, /field "admit" must be a council's card/],
      [{ op: "spend", fund: "parts", amount: 5, payee: "Pat", approval: { kind: "budget" } }, /field "approval"/],
      [
        {
          op: "mandate.issue",
          delegate: "me",
          body: "F",
          instructions: "",
          positions: {},
          startsAt: 0,
          expiresAt: 1,
          allowance: { fund: "parts" },
        },
        /field "allowance" must be \{ fund, amount \}/,
      ],
      [{ op: "propose", input: null }, /field "input" must be an object/],
      [{ op: "drop tables" }, /unknown request "drop tables"/],
    ] as const;
    for (const [request, message] of bad) {
      const refused = await askNode(gus, request as never).then(
        () => undefined,
        (e: { code?: string; message: string }) => e,
      );
      expect(refused?.message, JSON.stringify(request)).toMatch(message);
      expect(refused?.code).toBe("USAGE");
    }
    // Nothing was written, and the node still acts for well-formed requests.
    expect(await askNode(gus, { op: "donate", fund: "parts", amount: 10 })).toMatchObject({ balance: 10 });
    expect(await stop(node)).toBe(0);
  });

  it("fails, naming the council, when the inviter's node does not hold the council the token names", async () => {
    const lea = join(tmp.path, "lea");
    const max = join(tmp.path, "max");
    const ned = join(tmp.path, "ned");
    for (const [dir, name] of [
      [lea, "Lea"],
      [max, "Max"],
      [ned, "Ned"],
    ] as const)
      await federaOk(["init", "--dir", dir, "--name", name]);
    await federaOk(["council", "create", "Library", "--dir", lea]);
    // A council of another directory: Lea's node has never held it.
    const elsewhere = await federaJson<{ council: string; url: string }>(["council", "create", "Garage", "--dir", ned]);
    const leaNode = await startNode(lea);
    const { token } = await federaJson<{ token: string }>(["invite", "--dir", lea]);
    const wrong = encodeInvitation({ ...decodeInvitation(token), council: elsewhere.council, url: elsewhere.url });

    const ran = await federa(["join", wrong, "--dir", max]);
    expect(ran.code).toBe(1);
    expect(ran.stdout).toBe("");
    expect(ran.stderr).toMatch(
      new RegExp(
        `^federa: error: the inviter's node \\(${leaNode.peerId}\\) does not hold council ${elsewhere.council}`,
      ),
    );
    // Not a refusal: kept undelivered, for `federa node` to offer again should that node get the council.
    const applications = JSON.parse(await readFile(join(max, "applications.json"), "utf8"));
    expect(applications).toEqual([expect.objectContaining({ council: elsewhere.council, delivered: false })]);
    expect(applications[0].refused).toBeUndefined();
    expect(await stop(leaNode)).toBe(0);
  });

  it("never sends again, nor continues, an application the inviter's node refused: `join` signs a new one", async () => {
    const ida = join(tmp.path, "ida");
    const jon = join(tmp.path, "jon");
    await federaOk(["init", "--dir", ida, "--name", "Ida"]);
    await federaOk(["init", "--dir", jon, "--name", "Jon"]);
    await federaOk(["council", "create", "Kitchen", "--dir", ida]);
    const idaNode = await startNode(ida);
    const { token } = await federaJson<{ token: string }>(["invite", "--dir", ida]);
    const applications = async () =>
      JSON.parse(await readFile(join(jon, "applications.json"), "utf8")) as { record: string; refused?: string }[];

    // Jon's clock runs an hour ahead: Ida's node refuses his application, and his directory marks it refused.
    const ahead = await federa(["join", token, "--dir", jon], { FEDERA_CLOCK_OFFSET_MS: String(HOUR) });
    expect(ahead.code).toBe(1);
    expect(ahead.stderr).toMatch(/refused the application: the application is stamped in the future/);
    const [first] = await applications();
    expect(first?.refused).toMatch(/stamped in the future/);

    // His node does not send it again...
    const jonNode = await startNode(jon);
    await waitFor(() => logLines(jonNode, "documents not here yet").length > 0, "Jon's node to open its councils");
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(logLines(jonNode, "application")).toEqual([]);
    // ...and `join` through it signs a new application, the start of his chain again rather than after the refused
    // one (which Ida's council never stored): delivered, it opens the admission vote.
    const joined = await federaJson<{ proposal: string; delivered: boolean; via?: string }>([
      "join",
      token,
      "--dir",
      jon,
    ]);
    expect(joined.delivered).toBe(true);
    expect(joined.proposal).not.toBe(first?.record);
    expect((await applications()).map((a) => [a.record, a.refused !== undefined])).toEqual([
      [first?.record, true],
      [joined.proposal, false],
    ]);
    const status = await federaJson<Status>(["status", "--dir", ida]);
    expect(status.councils[0]!.openProposals?.map((p) => p.id)).toEqual([joined.proposal]);
    expect(await stop(jonNode)).toBe(0);
    expect(await stop(idaNode)).toBe(0);
  });
});

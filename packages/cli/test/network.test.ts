/**
 * Federa nodes as separate OS processes on loopback: discovery by a bootstrap address, by mDNS alone and through a
 * DHT entered at a stranger's node, convergence after a partition, acknowledged writes surviving SIGKILL, nothing for a
 * stranger, and misbehaving peers dropped while members keep syncing.
 */
import { execFile } from "node:child_process";
import { readdir } from "node:fs/promises";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import type { Report } from "@federa/core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ControlClient, type CouncilSummary } from "../src/index.js";
import type { AttackResult } from "./support/attacker.js";
import { federa, federaJson, federaOk, ROOT, tempDir } from "./support/cli.js";
import {
  askNode,
  killNodes,
  logLines,
  nodeStatus,
  type RunningNode,
  runScript,
  type StatusJson,
  startNode,
  stopNode,
} from "./support/node-process.js";
import { waitFor } from "./support/wait.js";

const run = promisify(execFile);

interface Member {
  readonly name: string;
  readonly dir: string;
  readonly member: string;
  readonly device: string;
}

/** A result of an act printed with --json. */
interface Acted {
  readonly record: string;
  readonly via: "node" | "offline";
  readonly balance?: number;
  readonly entry?: { status: string; reason: string };
}

let tmp: { path: string; remove: () => Promise<void> };
let A: Member;
let B: Member;
let C: Member;
/** Not a member of anything: the stranger of the access test. */
let S: Member;
let members: readonly Member[];
let councilId: string;
/** A network namespace of this run for the mDNS test: its multicast never leaves the machine. */
const NETNS = `federa-mdns-${process.pid}`;
let netnsMade = false;

async function init(name: string): Promise<Member> {
  const dir = join(tmp.path, name.toLowerCase());
  const out = await federaJson<{ member: string; device: string }>(["init", "--dir", dir, "--name", name]);
  return { name, dir, member: out.member, device: out.device };
}

async function report(dir: string): Promise<Report> {
  const result = await askNode(dir, { op: "export", format: "json", table: "ledger" });
  return JSON.parse(String(result.text)) as Report;
}

function ledgerIds(r: Report): Set<string> {
  return new Set(r.tables.ledger.map((row) => row.record));
}

/** The council summary the running nodes of `dirs` share once they all hold identical documents, else undefined. */
async function converged(dirs: readonly string[]): Promise<CouncilSummary | undefined> {
  const all = await Promise.all(dirs.map(nodeStatus));
  const first = all[0]!.councils;
  if (first.length !== 1 || !first[0]!.available) return undefined;
  const text = JSON.stringify(first);
  return all.every((s) => JSON.stringify(s.councils) === text) ? first[0] : undefined;
}

/**
 * True once every member's node has discovered the two others, is connected to each peer its sync tree links it to
 * (three devices form a path through the smallest id, not three links), and all converged with `acts` merged.
 */
async function linkedAndConverged(acts: readonly Acted[]): Promise<boolean> {
  const dirs = members.map((m) => m.dir);
  const all = await Promise.all(dirs.map(nodeStatus));
  const found = all.every((s, i) => members.every((m, j) => i === j || s.node.discovered?.includes(m.device)));
  const linked = all.every((s) => (s.node.links ?? []).length > 0 && s.node.links!.every((p) => s.peers.includes(p)));
  if (!found || !linked || (await converged(dirs)) === undefined) return false;
  const ids = ledgerIds(await report(A.dir));
  return acts.every((x) => ids.has(x.record));
}

/** Runs acts one after another on a directory with no node running; each must succeed offline. */
async function offline(m: Member, acts: readonly (readonly string[])[]): Promise<Acted[]> {
  const done: Acted[] = [];
  for (const act of acts) {
    const result = await federaJson<Acted>([...act, "--dir", m.dir]);
    expect(result.via).toBe("offline");
    done.push(result);
  }
  return done;
}

async function stopAll(nodes: readonly RunningNode[]): Promise<void> {
  // SIGTERM is a clean stop: each node flushes and exits 0.
  expect(await Promise.all(nodes.map((n) => stopNode(n)))).toEqual(nodes.map(() => 0));
}

/** Every file under `dir`, relative to it. */
async function files(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true });
    return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
}

/** A network namespace whose loopback carries multicast, so mDNS works there and nowhere else. */
async function makeNetns(): Promise<void> {
  try {
    await run("ip", ["netns", "add", NETNS]);
  } catch (e) {
    throw new Error(
      `the mDNS test runs its nodes in a network namespace of their own (root and iproute2 needed): ${(e as Error).message}`,
    );
  }
  netnsMade = true;
  await run("ip", ["-n", NETNS, "link", "set", "lo", "up"]);
  await run("ip", ["-n", NETNS, "link", "set", "lo", "multicast", "on"]);
  await run("ip", ["-n", NETNS, "route", "add", "224.0.0.0/4", "dev", "lo"]);
}

beforeAll(async () => {
  tmp = await tempDir("federa-net-");
  [A, B, C, S] = await Promise.all([init("Ada"), init("Ben"), init("Cai"), init("Sam")]);
  members = [A, B, C];
  // Ada founds the council; Ben and Cai join the way the CLI offers: invitation, application over the network, vote.
  councilId = await federaOk([
    ...["council", "create", "Commons kitchen", "--voting-window", "1h", "--petty-cash", "1000"],
    ...["--dir", A.dir],
  ]);
  await federaOk(["fund", "create", "food", "--type", "cash", "--dir", A.dir]);
  const a = await startNode(A.dir);
  const { token } = await federaJson<{ token: string }>(["invite", "--dir", A.dir]);
  const joined = await Promise.all(
    [B, C].map((m) => federaJson<{ proposal: string; delivered: boolean }>(["join", token, "--dir", m.dir])),
  );
  for (const j of joined) {
    expect(j.delivered).toBe(true);
    await federaOk(["vote", j.proposal, "--choice", "yes", "--dir", A.dir]);
  }
  expect(await stopNode(a)).toBe(0);
  // The admissions close an hour after the applications; a record stamped two hours on lets them take effect. It is
  // written offline because a running node stamps with its own clock, not the command's FEDERA_CLOCK_OFFSET_MS.
  await federaOk(["tick", "--dir", A.dir], { FEDERA_CLOCK_OFFSET_MS: String(2 * 3_600_000) });
  const founded = await federaJson<StatusJson>(["status", "--dir", A.dir]);
  expect(founded.councils[0]!.members).toEqual(members.map((m) => m.member).sort());
}, 120_000);

afterEach(async () => {
  await killNodes();
});

afterAll(async () => {
  await killNodes();
  if (netnsMade) await run("ip", ["netns", "del", NETNS]).catch(() => {});
  await tmp?.remove();
});

describe("federa nodes on a network", { timeout: 120_000 }, () => {
  it("find each other by a bootstrap address, work apart, and converge on one derived state", async () => {
    const dirs = members.map((m) => m.dir);
    const a = await startNode(A.dir);
    // Ben and Cai know only Ada's address: the council reaches them through her node.
    const [b, c] = await Promise.all([
      startNode(B.dir, { bootstrap: [a.addresses[0]!] }),
      startNode(C.dir, { bootstrap: [a.addresses[0]!] }),
    ]);
    await waitFor(() => converged(dirs), "the council on all three nodes");
    expect((await nodeStatus(A.dir)).peers).toEqual(expect.arrayContaining([B.device, C.device]));

    await federaOk(["donate", "food", "500", "--dir", A.dir]);
    const stove = await federaOk(["propose", "--title", "Buy a stove", "--closes", "+1d", "--dir", A.dir]);
    const before = await waitFor(async () => {
      const s = await converged(dirs);
      return s?.balances?.food === 500 && s.openProposals?.some((p) => p.id === stove) ? s : undefined;
    }, "the donation and the proposal on all three nodes");

    // A partition: every node stops and each member works on their own replica. Both spends fit the balance each
    // member sees, but not together.
    await stopAll([a, b, c]);
    const [ada, ben, cai] = await Promise.all([
      offline(A, [
        ["donate", "food", "50"],
        ["vote", stove, "--choice", "yes"],
      ]),
      offline(B, [
        ["spend", "food", "400", "--payee", "market"],
        ["vote", stove, "--choice", "no"],
      ]),
      offline(C, [
        ["spend", "food", "300", "--payee", "mill"],
        ["vote", stove, "--choice", "yes"],
      ]),
    ]);
    expect(ben[0]).toMatchObject({ balance: 100, entry: { status: "applied" } });
    expect(cai[0]).toMatchObject({ balance: 200, entry: { status: "applied" } });

    // Ada's node comes back saving bytes (as on a metered link), Cai's sending no bundles: all read what others send.
    const a2 = await startNode(A.dir, { args: ["--trim-documents"] });
    const restarted = await Promise.all(
      [B, C].map((m) =>
        startNode(m.dir, { bootstrap: [a2.addresses[0]!], args: m === C ? ["--no-bundle-changes"] : [] }),
      ),
    );
    await waitFor(
      async () => {
        const s = await converged(dirs);
        return s !== undefined && s.records === before.records! + 6 ? s : undefined;
      },
      "the three replicas to merge",
      60_000,
    );

    // What each member's own command prints is the same everywhere.
    const statuses = await Promise.all(dirs.map((d) => federaJson<StatusJson>(["status", "--dir", d])));
    for (const s of statuses) expect(s.councils).toEqual(statuses[0]!.councils);
    const exports = await Promise.all(dirs.map((d) => federaOk(["export", "--format", "json", "--dir", d])));
    expect(exports[1]).toBe(exports[0]);
    expect(exports[2]).toBe(exports[0]);

    const merged = JSON.parse(exports[0]!) as Report;
    const spends = merged.tables.ledger.filter((row) => row.record === ben[0]!.record || row.record === cai[0]!.record);
    // Whichever comes first in (clock, id) order is paid; the other would overdraw the fund and is held.
    expect(spends.map((row) => row.status).sort()).toEqual(["applied", "held"]);
    const paid = spends.find((row) => row.status === "applied")!;
    // The balance it names is the one at its place in that order (Ada's donation may come before or after it).
    const held = spends.find((row) => row.status === "held")!;
    const balanceThen = /^would overdraw food \(balance (\d+)\)$/.exec(held.reason);
    expect(Number(balanceThen?.[1])).toBeLessThan(held.amount);
    expect(merged.tables.funds).toEqual([expect.objectContaining({ id: "food", balance: 550 - paid.amount })]);
    expect(merged.tables.ledger.find((row) => row.record === ada[0]!.record)).toMatchObject({
      status: "applied",
      amount: 50,
    });
    expect(merged.tables.decisions.find((d) => d.id === stove)).toMatchObject({
      status: "open",
      participation: 3,
      counts: "abstain: 0; no: 1; yes: 2",
    });
    expect(statuses[0]!.peers).toEqual(expect.arrayContaining([B.device, C.device]));
    await stopAll([a2, ...restarted]);
  });

  it("find each other by mDNS alone on one link and converge", async () => {
    await makeNetns();
    const acts = await Promise.all(
      members.map(async (m, i) => (await offline(m, [["donate", "food", String(7 + i)]]))[0]!),
    );
    // No bootstrap address and fresh peer stores: only multicast announcements can introduce the nodes.
    const nodes = await Promise.all(members.map((m) => startNode(m.dir, { mdns: true, netns: NETNS })));
    await waitFor(
      () => linkedAndConverged(acts),
      "every node to discover the two others, link up and converge",
      60_000,
    );
    await stopAll(nodes);
  });

  it("find each other through a DHT, knowing only a stranger's node, and converge", async () => {
    const acts = await Promise.all(
      members.map(async (m, i) => (await offline(m, [["donate", "food", String(20 + i)]]))[0]!),
    );
    // Sam's node, a member of nothing, is the one address the members have: beyond a LAN, a DHT's entry point.
    const dht = ["--dht-private"];
    const rendezvous = await startNode(S.dir, { args: dht });
    const meet = [rendezvous.addresses[0]!];
    const nodes = await Promise.all(members.map((m) => startNode(m.dir, { bootstrap: meet, args: dht })));
    await waitFor(
      () => linkedAndConverged(acts),
      "every node to find the two others through the DHT, link up and converge",
      60_000,
    );
    expect((await nodeStatus(S.dir)).councils).toEqual([]);
    // The entry point has no bootstrap peer of its own: its log says how it joins the DHT; the members' say nothing.
    expect(logLines(rendezvous, "DHT on, no --bootstrap")).toHaveLength(1);
    for (const node of nodes) expect(logLines(node, "DHT on, no --bootstrap")).toEqual([]);
    await stopAll([...nodes, rendezvous]);
  });

  it("keep every acknowledged write when killed with SIGKILL in the middle of syncing", async () => {
    const a = await startNode(A.dir);
    const b = await startNode(B.dir, { bootstrap: [a.addresses[0]!] });
    await waitFor(() => converged([A.dir, B.dir]), "Ada's and Ben's nodes to sync");

    // Ben's node pushes a stream of records to Ada's while Ada's node takes writes from commands and from a client.
    const pushed = new Set<string>();
    let pushing = true;
    const pusher = await ControlClient.connect(join(B.dir, "node.sock"));
    const push = (async () => {
      while (pushing) pushed.add(String((await pusher!.call({ op: "donate", fund: "food", amount: 1 })).record));
    })();
    push.catch(() => {}); // awaited below; this only keeps an early failure from counting as unhandled
    const acknowledged = new Set<string>();
    let killing = false;
    const commands = (async () => {
      while (!killing) {
        const ran = await federa(["donate", "food", "2", "--dir", A.dir, "--json"]);
        // Exit 0 is the acknowledgement: the write was flushed (by the node, or offline once the node is gone).
        if (ran.code === 0) acknowledged.add((JSON.parse(ran.stdout) as Acted).record);
      }
    })();
    commands.catch(() => {});
    const client = await ControlClient.connect(join(A.dir, "node.sock"));
    const direct = (async () => {
      try {
        while (!killing)
          acknowledged.add(String((await client!.call({ op: "donate", fund: "food", amount: 3 })).record));
      } catch {
        // The node died under the client: whatever was answered before is acknowledged.
      }
    })();
    let a2: RunningNode;
    let acked: string[];
    try {
      await waitFor(
        async () => {
          if (acknowledged.size < 20) return undefined;
          const onA = ledgerIds(await report(A.dir));
          return [...pushed].filter((id) => onA.has(id)).length >= 10;
        },
        "writes on Ada's node and Ben's records arriving there",
        60_000,
        100,
      );
      killing = true;
      a.child.kill("SIGKILL");
      expect(await a.exited).toBeNull();
      expect(a.child.signalCode).toBe("SIGKILL");
      await Promise.all([commands, direct]);
      acked = [...acknowledged];

      // Restarted from disk, Ada's node has every acknowledged record; Ben's node still pushes meanwhile.
      a2 = await startNode(A.dir, { bootstrap: [b.addresses[0]!] });
      const onRestart = ledgerIds(await waitFor(() => report(A.dir), "the council to open after the restart"));
      expect(acked.filter((id) => !onRestart.has(id))).toEqual([]);
    } finally {
      // Whatever happened, no writer outlives the test.
      killing = true;
      pushing = false;
      await Promise.allSettled([push, commands, direct]);
      pusher!.close();
      client!.close();
    }
    await push;
    const synced = await waitFor(() => converged([A.dir, B.dir]), "Ada's and Ben's nodes to sync again", 60_000);
    const ids = ledgerIds(await report(A.dir));
    expect([...pushed, ...acked].filter((id) => !ids.has(id))).toEqual([]);
    expect(synced.records).toBeGreaterThan(acked.length + pushed.size);
    await stopAll([a2, b]);
  });

  it("give a stranger's node no council document and not even a document id", async () => {
    const a = await startNode(A.dir, { env: { DEBUG: "federa:sync*" } });
    const b = await startNode(B.dir, { bootstrap: [a.addresses[0]!] });
    // The stranger logs everything its Repo and sync adapter do: a document id it learned would show there.
    const s = await startNode(S.dir, { bootstrap: [a.addresses[0]!], env: { DEBUG: "automerge-repo:*,federa:*" } });
    await waitFor(() => a.stderr().includes(`refused sync peer ${S.device}`), "Ada's node to refuse the stranger");
    expect((await nodeStatus(S.dir)).peers).toContain(a.peerId);

    // Members keep syncing with the stranger connected.
    const donated = await federaJson<Acted>(["donate", "food", "5", "--dir", B.dir]);
    await waitFor(async () => ledgerIds(await report(A.dir)).has(donated.record), "Ben's donation on Ada's node");
    expect((await nodeStatus(S.dir)).peers).toContain(a.peerId);

    const stranger = await federaJson<StatusJson>(["status", "--dir", S.dir]);
    expect(stranger.councils).toEqual([]);
    const council = (await nodeStatus(A.dir)).councils[0]!;
    const documentIds = council.documents!.map((d) => d.url.replace(/^automerge:/, ""));
    expect(documentIds).toHaveLength(2);
    const stored = await files(join(S.dir, "repo"));
    for (const id of documentIds) expect(stored.filter((f) => f.includes(id.slice(2)))).toEqual([]);
    const log = s.stderr();
    expect(log).toContain(`refused sync peer ${a.peerId}`);
    expect(log).not.toContain("established");
    for (const secret of [...documentIds, councilId]) expect(log).not.toContain(secret);
    await stopAll([s, b, a]);
  });

  it("drop a peer sending garbage, oversized, truncated or spoofed frames while members keep syncing", async () => {
    // Bans off: each attack must be seen and dropped on its own (the next test checks the ban that follows one).
    const a = await startNode(A.dir, { env: { DEBUG: "federa:sync*" }, args: ["--ban-ms", "0"] });
    const b = await startNode(B.dir, { bootstrap: [a.addresses[0]!] });
    await waitFor(() => converged([A.dir, B.dir]), "Ada's and Ben's nodes to sync");

    // The attacker holds Cai's device key (Cai's node is not running): a member's device gone bad, whose frames Ada's
    // node reads rather than refusing outright; it also claims to be Ben. A stranger's key is tried as well.
    const scenarios = ["honest", "garbage", "oversized", "truncated", "spoofed-hello", "spoofed-sender", "stranger"];
    const attack = runScript(join(ROOT, "packages/cli/test/support/attacker.ts"), [
      ...["--target", a.addresses[0]!, "--identity", C.dir, "--impersonate", B.device],
      ...scenarios,
      "honest",
    ]);
    let attacking = true;
    const during: string[] = [];
    const syncing = (async () => {
      while (attacking) during.push((await federaJson<Acted>(["donate", "food", "1", "--dir", B.dir])).record);
    })();
    syncing.catch(() => {});
    const ran = await attack.finally(() => {
      attacking = false;
    });
    await syncing;
    expect(ran.code, ran.stderr).toBe(0);
    const results = ran.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as AttackResult);
    expect(results.map((r) => r.scenario)).toEqual([...scenarios, "honest"]);
    const by = (scenario: string) => results.filter((r) => r.scenario === scenario);

    // An honest handshake with that key works, before the attacks and after them: the node still serves it.
    for (const r of by("honest"))
      expect(r).toMatchObject({ as: C.device, hello: true, closed: true, resetByNode: false });
    for (const scenario of ["garbage", "oversized", "truncated", "spoofed-hello", "spoofed-sender"]) {
      expect(by(scenario)).toEqual([expect.objectContaining({ as: C.device, closed: true, resetByNode: true })]);
    }
    const [stranger] = by("stranger");
    expect(stranger).toMatchObject({ frames: 0, hello: false, closed: true, resetByNode: true });
    expect(stranger!.as).not.toBe(C.device);

    // The node says why it dropped each stream.
    const log = a.stderr();
    for (const why of [
      "InvalidFrameError: Frame is not valid CBOR",
      "FrameTooLargeError",
      "TruncatedFrameError",
      `PeerMismatchError: Hello claims peer id ${B.device}`,
      `PeerMismatchError: Message on ${C.device}'s stream claims to come from ${B.device}`,
      `refused sync peer ${stranger!.as}`,
    ]) {
      expect(log).toContain(why);
    }

    // Ada's node is alive, and every record Ben wrote during the attacks reached it.
    expect(a.child.exitCode).toBeNull();
    expect(during.length).toBeGreaterThan(0);
    await waitFor(async () => {
      const ids = ledgerIds(await report(A.dir));
      return during.every((id) => ids.has(id));
    }, "Ben's records written during the attacks on Ada's node");
    expect((await nodeStatus(A.dir)).peers).toContain(B.device);
    await stopAll([b, a]);
  });

  it("ban a member's device that broke the protocol: hung up on and refused, while members keep syncing", async () => {
    const a = await startNode(A.dir);
    const b = await startNode(B.dir, { bootstrap: [a.addresses[0]!] });
    await waitFor(() => converged([A.dir, B.dir]), "Ada's and Ben's nodes to sync");
    const attacker = join(ROOT, "packages/cli/test/support/attacker.ts");
    const target = ["--target", a.addresses[0]!, "--identity", C.dir];

    const attack = await runScript(attacker, [...target, "garbage"]);
    expect(attack.code, attack.stderr + attack.stdout).toBe(0);
    expect(JSON.parse(attack.stdout.trim()) as AttackResult).toMatchObject({ scenario: "garbage", closed: true });
    await waitFor(() => a.stderr().includes(`peer ${C.device} banned until`), "the ban in Ada's node's log");

    // The same device key, now behaving, cannot get back in: every dial is refused until the ban ends.
    const comeback = await runScript(attacker, [...target, "honest"]);
    expect(comeback.code).not.toBe(0);
    expect(comeback.stdout.trim()).toBe("");

    const { record } = await federaJson<Acted>(["donate", "food", "1", "--dir", B.dir]);
    await waitFor(async () => ledgerIds(await report(A.dir)).has(record), "Ben's record on Ada's node after the ban");
    expect(a.child.exitCode).toBeNull();
    await stopAll([b, a]);

    // Restarted, Ada's node still refuses the device: it kept the ban in D/bans.json.
    const again = await startNode(A.dir);
    const retry = await runScript(attacker, ["--target", again.addresses[0]!, "--identity", C.dir, "honest"]);
    expect(retry.code).not.toBe(0);
    expect(retry.stdout.trim()).toBe("");
    await stopAll([again]);
  });
});

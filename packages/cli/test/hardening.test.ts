/** Bad input from the command line, damaged node directories and a silent control socket: plain errors, never hangs. */
import { spawn } from "node:child_process";
import { mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createConnection, createServer } from "node:net";
import { join } from "node:path";
import { type AutomergeUrl, Repo } from "@automerge/automerge-repo";
import { type Act, Council, type CouncilDoc, type LedgerDoc } from "@federa/core";
import { DurableFsStorageAdapter } from "@federa/net/node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { parseAmount, parseDuration } from "../src/args.js";
import { charterOf } from "../src/commands/council.js";
import { parseBanMs } from "../src/commands/node.js";
import { proposalOf } from "../src/commands/proposals.js";
import { ControlClient, serveControl } from "../src/control-socket.js";
import { type CliError, NodeNotAnsweringError, UsageError } from "../src/errors.js";
import { type CouncilSummary, NodeDir } from "../src/index.js";
import { perform } from "../src/operations.js";
import type { Workspace } from "../src/workspace.js";
import { federa, federaJson, federaOk, ROOT, spawnTs, tempDir } from "./support/cli.js";
import { killNodes, logLines, startNode, stopNode } from "./support/node-process.js";
import { waitFor } from "./support/wait.js";

let tmp: { path: string; remove: () => Promise<void> };
/** A directory with one council and one open proposal. */
let dir: string;

beforeAll(async () => {
  tmp = await tempDir("federa-hardening-");
  dir = join(tmp.path, "ada");
  await federaOk(["init", "--dir", dir, "--name", "Ada"]);
  await federaOk(["council", "create", "Print shop", "--dir", dir]);
  await federaOk(["propose", "--title", "More paper", "--dir", dir]);
});
afterAll(async () => {
  await tmp.remove();
});

/** A command that must fail plainly: its exit code, and one error line with no stack and no "this is a bug". */
async function refused(
  args: readonly string[],
  code: number,
  env: Readonly<Record<string, string>> = {},
): Promise<string> {
  const ran = await federa(args, env);
  expect(ran.code, ran.stderr).toBe(code);
  expect(ran.stderr).not.toMatch(/this is a bug|\n\s+at |Unhandled/);
  return ran.stderr;
}

describe("the control socket", { timeout: 20_000 }, () => {
  it("gives up on a listener that never answers, with an error naming the socket", async () => {
    const path = join(tmp.path, "silent.sock");
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(path, resolve));
    try {
      const client = await ControlClient.connect(path, 300);
      const call = client!.call({ op: "ping" });
      await expect(call).rejects.toBeInstanceOf(NodeNotAnsweringError);
      await expect(call).rejects.toThrow(`the node at ${path} does not answer`);
    } finally {
      silent.close();
    }
  });

  it("keeps a client waiting on a slow request with heartbeats", async () => {
    const path = join(tmp.path, "busy.sock");
    const server = await serveControl(
      path,
      () => new Promise((resolve) => setTimeout(() => resolve({ slow: true }), 800)),
      100,
    );
    try {
      // The raw stream: blank lines while the request is under way, then the answer.
      const raw = createConnection(path);
      let heard = "";
      raw.setEncoding("utf8").on("data", (d: string) => {
        heard += d;
      });
      raw.write(`${JSON.stringify({ id: 1, request: { op: "ping" } })}\n`);
      await expect.poll(() => heard, { timeout: 5_000 }).toMatch(/"ok":true/);
      raw.destroy();
      expect(heard).toMatch(/^\n{3,}\{/);
      // A client that gives up after 300 ms of silence still gets the answer that took 800.
      const client = await ControlClient.connect(path, 300);
      expect(await client!.call({ op: "ping" })).toEqual({ slow: true });
      client!.close();
    } finally {
      await server.close();
    }
  });
});

describe("a request the command does not know", () => {
  it("is refused, not answered as done", async () => {
    await expect(perform({} as Workspace, { op: "nope" } as never)).rejects.toThrow(/unknown request "nope"/);
  });
});

describe("a node stopping while requests wait", { timeout: 20_000 }, () => {
  it("finishes and answers the one under way, and answers the others that nothing was done", async () => {
    const path = join(tmp.path, "stopping.sock");
    let performed = 0;
    const server = await serveControl(path, async () => {
      performed++;
      await new Promise((resolve) => setTimeout(resolve, 500));
      return { done: performed };
    });
    const client = (await ControlClient.connect(path))!;
    const calls = [1, 2, 3].map(() =>
      client.call({ op: "ping" } as never).then(
        (r) => r,
        (e: Error) => e,
      ),
    );
    await expect.poll(() => performed).toBe(1);
    await server.close();
    const [first, ...rest] = await Promise.all(calls);
    expect(first).toEqual({ done: 1 });
    for (const r of rest) expect((r as CliError).code).toBe("NODE_STOPPING");
    expect(performed).toBe(1);
    client.close();
  });
});

describe("a damaged node directory", { timeout: 120_000 }, () => {
  it("names a damaged councils.json, identity.json or federations.json and leaves it as it was", async () => {
    const d = join(tmp.path, "damaged");
    await federaOk(["init", "--dir", d, "--name", "Bea"]);
    const councils = join(d, "councils.json");
    for (const text of ['"abc"', '{"id":5}', '["x"]']) {
      await writeFile(councils, text);
      expect(await refused(["status", "--dir", d], 1)).toMatch(/councils\.json is damaged/);
      expect(await readFile(councils, "utf8")).toBe(text);
    }
    await rm(councils);

    const identity = join(d, "identity.json");
    const saved = await readFile(identity, "utf8");
    await writeFile(identity, "null");
    expect(await refused(["status", "--dir", d], 1)).toMatch(/identity\.json is damaged/);
    await writeFile(identity, JSON.stringify({ ...JSON.parse(saved), deviceSeed: "zz" }));
    expect(await refused(["status", "--dir", d], 1)).toMatch(/identity\.json is damaged: a seed is 64 hex digits/);
    await writeFile(identity, saved);

    const federations = join(d, "federations.json");
    await writeFile(federations, JSON.stringify([{ federation: "f".repeat(64), url: "nope" }]));
    expect(await refused(["federation", "list", "--dir", d], 1)).toMatch(/federations\.json is damaged/);
    expect(JSON.parse(await readFile(federations, "utf8"))).toEqual([{ federation: "f".repeat(64), url: "nope" }]);
    await rm(federations);

    // Files status only reports from: named beside what it can still say, not in its place.
    for (const file of ["applications.json", "joins.json", "profile.json"]) await writeFile(join(d, file), "{ torn");
    const shown = await federa(["status", "--dir", d]);
    expect(shown.code, shown.stderr).toBe(0);
    for (const file of ["applications.json", "joins.json", "profile.json"])
      expect(shown.stdout).toContain(`warning: ${join(d, file)} is damaged`);
    const json = await federaJson<{ damaged: string[] }>(["status", "--dir", d]);
    expect(json.damaged).toHaveLength(3);
    for (const file of ["applications.json", "joins.json", "profile.json"]) await rm(join(d, file));

    // The high-water marks: neither unreadable nor some other JSON value is taken for no marks.
    const marks = join(d, "high-water.json");
    for (const text of ["{ torn", "null", "[]"]) {
      await writeFile(marks, text);
      expect(await refused(["status", "--dir", d], 1)).toMatch(/high-water\.json is damaged: .*move it aside/);
      expect(await readFile(marks, "utf8")).toBe(text);
    }
    await rm(marks);

    // A directory where a file belongs: Node's own message would name no path.
    await mkdir(councils);
    expect(await refused(["status", "--dir", d], 1)).toMatch(
      /councils\.json is damaged: a directory where a file belongs/,
    );
    await rm(councils, { recursive: true });
  });

  it("says the storage directory is a file instead of crashing", async () => {
    const d = join(tmp.path, "no-repo");
    await federaOk(["init", "--dir", d, "--name", "Cy"]);
    await rm(join(d, "repo"), { recursive: true, force: true });
    await writeFile(join(d, "repo"), "x");
    const stderr = await refused(["status", "--quiet", "--dir", d], 1);
    expect(stderr).toMatch(`the storage directory ${join(d, "repo")} is not a directory`);
    expect(stderr.trim().split("\n")).toHaveLength(1);
    expect(await readFile(join(d, "repo"), "utf8")).toBe("x");
  });

  it("names the folder of a council document Automerge cannot load, and changes nothing", async () => {
    const d = join(tmp.path, "torn");
    await federaOk(["init", "--dir", d, "--name", "Ed"]);
    const { council, url } = await federaJson<{ council: string; url: string }>([
      "council",
      "create",
      "Eds",
      "--dir",
      d,
    ]);
    const id = url.slice("automerge:".length);
    const folder = join(d, "repo", id.slice(0, 2), id.slice(2));
    const snapshot = join(folder, "snapshot", (await readdir(join(folder, "snapshot")))[0]!);
    const bytes = await readFile(snapshot);
    bytes[bytes.length >> 1]! ^= 0xff;
    await writeFile(snapshot, bytes);
    const stderr = await refused(["status", "--quiet", "--dir", d], 1);
    expect(stderr).toContain(`${folder} is damaged: council ${council}'s stored document cannot be loaded`);
    expect(await readFile(snapshot)).toEqual(bytes);
  });

  it("reports a council it cannot load as unavailable and still reports the others", async () => {
    const d = join(tmp.path, "half-torn");
    await federaOk(["init", "--dir", d, "--name", "Gil"]);
    const torn = await federaJson<{ council: string; url: string }>(["council", "create", "Torn", "--dir", d]);
    const whole = await federaOk(["council", "create", "Whole", "--dir", d]);
    const id = torn.url.slice("automerge:".length);
    const folder = join(d, "repo", id.slice(0, 2), id.slice(2));
    const snapshot = join(folder, "snapshot", (await readdir(join(folder, "snapshot")))[0]!);
    const bytes = await readFile(snapshot);
    bytes[bytes.length >> 1]! ^= 0xff;
    await writeFile(snapshot, bytes);

    const json = await federaJson<{ councils: CouncilSummary[] }>(["status", "--quiet", "--dir", d]);
    const [first, second] = [torn.council, whole].map((c) => json.councils.find((s) => s.id === c));
    expect(first).toMatchObject({ available: false, error: { code: "BAD_DIR" } });
    expect(first?.error?.message).toContain(`${folder} is damaged`);
    expect(second).toMatchObject({ available: true, name: "Whole" });
    const human = await federa(["status", "--quiet", "--dir", d]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain(`council ${torn.council}: unavailable: ${folder} is damaged`);
    expect(human.stdout).toContain(`council ${whole} "Whole"`);
    // Asked about the damaged one alone, nothing could be read: the command fails with its reason.
    expect(await refused(["status", "--council", torn.council, "--quiet", "--dir", d], 1)).toContain(
      `${folder} is damaged`,
    );
    expect(await readFile(snapshot)).toEqual(bytes);
  });

  it("ends plainly when storage fails in the background (a file where a storage folder belongs)", async () => {
    const d = join(tmp.path, "no-st");
    await federaOk(["init", "--dir", d, "--name", "Di"]);
    await federaOk(["council", "create", "Dairy", "--dir", d]);
    await rm(join(d, "repo", "st"), { recursive: true, force: true });
    await writeFile(join(d, "repo", "st"), "x");
    expect(await refused(["status", "--quiet", "--dir", d], 1)).toMatch(/federa: error: .*repo\/st/);
    expect(await readFile(join(d, "repo", "st"), "utf8")).toBe("x");
  });
});

/** Every file under `root` with its size and modification time: what a command that writes nothing leaves as it was. */
async function snapshotOf(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const st = await stat(path);
    out[path] = `${st.size} ${st.mtimeMs}`;
  }
  return out;
}

/** The `federa` command run as if `dir` were on a read-only file system. */
const READ_ONLY = join(import.meta.dirname, "support/read-only-dir.ts");
function federaReadOnly(dir: string, args: readonly string[]) {
  return spawnTs(READ_ONLY, [...args, "--dir", dir], { FEDERA_READ_ONLY: dir }).done;
}

describe("a node directory this process cannot write", { timeout: 120_000 }, () => {
  it("answers the commands that only read, taking no lock and writing nothing; a write still fails, saying why", async () => {
    const d = join(tmp.path, "read-only");
    await federaOk(["init", "--dir", d, "--name", "Rae"]);
    const council = await federaOk(["council", "create", "Archive", "--dir", d]);
    await federaOk(["fund", "create", "food", "--type", "cash", "--dir", d]);
    await federaOk(["donate", "food", "40", "--dir", d]);
    const before = await snapshotOf(d);

    const status = await federaReadOnly(d, ["status", "--json"]);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stderr).toBe("");
    expect(JSON.parse(status.stdout).councils[0]).toMatchObject({ id: council, balances: { food: 40 } });
    const exported = await federaReadOnly(d, ["export", "--format", "csv", "--table", "ledger"]);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toContain("donation");
    for (const args of [
      ["council", "list"],
      ["device", "list"],
      ["federation", "list"],
    ]) {
      const ran = await federaReadOnly(d, args);
      expect({ args, code: ran.code, stderr: ran.stderr }).toEqual({ args, code: 0, stderr: "" });
    }
    expect(await snapshotOf(d)).toEqual(before);

    // A copy taken while a node ran holds its dead lock, which cannot be moved aside here: reading still works.
    const dead = 2 ** 22 + 7; // past any pid_max
    await writeFile(join(d, "replica.lock"), JSON.stringify({ pid: dead, holder: "node", since: 0 }));
    const copied = await snapshotOf(d);
    const held = await federaReadOnly(d, ["status", "--json"]);
    expect(held.code, held.stderr).toBe(0);
    expect(JSON.parse(held.stdout).councils[0]).toMatchObject({ id: council, balances: { food: 40 } });
    expect(await snapshotOf(d)).toEqual(copied);
    await rm(join(d, "replica.lock"));

    // A write needs the replica lock, which cannot be made: it fails naming the file, and nothing is written.
    const write = await federaReadOnly(d, ["donate", "food", "1"]);
    expect(write.code).toBe(1);
    expect(write.stderr).toMatch(/^federa: error: EROFS: read-only file system, open '.*replica\.lock'/);
    expect(await snapshotOf(d)).toEqual(before);
  });
});

/** Truncates the snapshot of a council's document, as a torn write would, and returns the document's folder. */
async function tear(dir: string, url: string): Promise<string> {
  const id = url.slice("automerge:".length);
  const folder = join(dir, "repo", id.slice(0, 2), id.slice(2));
  const snapshot = join(folder, "snapshot", (await readdir(join(folder, "snapshot")))[0]!);
  await writeFile(snapshot, (await readFile(snapshot)).subarray(0, 100));
  return folder;
}

describe("a node on a damaged directory", { timeout: 120_000 }, () => {
  afterEach(killNodes);

  it("names a council document it cannot load, keeps serving the others, and answers requests for it with why", async () => {
    const d = join(tmp.path, "node-torn");
    await federaOk(["init", "--dir", d, "--name", "Hal"]);
    const torn = await federaJson<{ council: string; url: string }>(["council", "create", "Torn", "--dir", d]);
    const whole = await federaOk(["council", "create", "Whole", "--dir", d, "--quiet"]);
    const folder = await tear(d, torn.url);

    const node = await startNode(d);
    await waitFor(() => logLines(node, "not opened").length > 0, "the node to say the council is damaged");
    expect(logLines(node, "not opened")[0]).toContain(`${folder} is damaged`);
    expect(logLines(node, "documents not here yet")).toEqual([]);
    await federaOk(["propose", "--title", "Still here", "--council", whole, "--dir", d]);
    const ask = ["propose", "--title", "Lost", "--council", torn.council, "--dir", d];
    expect(await refused(ask, 1)).toContain(`${folder} is damaged`);
    // Past the wait for documents (5 s), when a rejection left unhandled used to end the process.
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    expect(node.child.exitCode).toBeNull();
    expect(await stopNode(node)).toBe(0);
    expect(node.stderr()).not.toMatch(/this is a bug|aborted/i);
  });

  it("opens the councils on disk whatever damaged applications.json and joins.json, and says what it could not read", async () => {
    const d = join(tmp.path, "node-lists");
    await federaOk(["init", "--dir", d, "--name", "Ida"]);
    const council = await federaOk(["council", "create", "Ida's", "--dir", d, "--quiet"]);
    await writeFile(join(d, "applications.json"), "{ torn");
    await writeFile(join(d, "joins.json"), "[1, 2");

    const node = await startNode(d);
    await waitFor(() => logLines(node, "opened").length > 0, "the council to open");
    await waitFor(() => logLines(node, "applications not delivered").length > 0, "the node to name the file");
    expect(logLines(node, "applications not delivered")[0]).toContain(`${join(d, "applications.json")} is damaged`);
    expect(logLines(node, "not opened")).toEqual([]);
    await federaOk(["propose", "--title", "Fix the lists", "--council", council, "--dir", d]);
    expect(node.child.exitCode).toBeNull();
    expect(await stopNode(node)).toBe(0);
  });
});

describe("a node that cannot listen", { timeout: 60_000 }, () => {
  it("says which address failed and why in one line, and leaves the directory free", async () => {
    const address = "/ip4/127.0.0.1/udp/0/quic-v1";
    const stderr = await refused(["node", "--dir", dir, "--no-mdns", "--listen", address], 1);
    expect(stderr).toContain(`the node could not start: could not listen on ${address}: UnsupportedListenAddressError`);
    expect((await federa(["status", "--dir", dir])).code).toBe(0);
  });

  it("refuses bootstrap addresses that name no node, or this one", async () => {
    const { device } = await federaJson<{ device: string }>(["status", "--dir", dir]);
    for (const [address, why] of [
      ["/ip4/127.0.0.1/tcp/4001", /must end in \/p2p\/PEER_ID/],
      ["/ip4/127.0.0.1/tcp/4001/p2p/notapeer", /must end in \/p2p\/PEER_ID/],
      [`/ip4/127.0.0.1/tcp/4001/p2p/${device}`, /is this node itself/],
    ] as const)
      expect(await refused(["node", "--dir", dir, "--no-mdns", "--bootstrap", address], 2)).toMatch(why);
  });
});

describe("output into a pipe", { timeout: 120_000 }, () => {
  it("reaches the reader whole, however large, before the command exits", async () => {
    const d = join(tmp.path, "big");
    await federaOk(["init", "--dir", d, "--name", "Flo"]);
    const { url } = await federaJson<{ url: string }>(["council", "create", "Food bank", "--dir", d]);
    await federaOk(["fund", "create", "food", "--type", "cash", "--dir", d]);
    // 1,500 donations written straight into the directory's storage (one change), as a long-lived council holds them.
    const repo = new Repo({ storage: new DurableFsStorageAdapter(join(d, "repo")), network: [] });
    try {
      const councilHandle = await repo.find<CouncilDoc>(url as AutomergeUrl);
      const ledgerHandle = await repo.find<LedgerDoc>(councilHandle.doc().federa.ledger as AutomergeUrl);
      const identity = await new NodeDir(d).identity();
      const council = await Council.open({ council: councilHandle, ledger: ledgerHandle }, { identity });
      await council.write(
        Array.from(
          { length: 1_500 },
          (_, i) => ({ kind: "ledger.donate", body: { fund: "food", amount: i + 1 } }) as Act,
        ),
      );
      await repo.flush();
    } finally {
      await repo.shutdown();
    }
    // Through a shell pipe, as `federa export ... | jq` reads it (a pipe, not the socket a spawned child's stdout is).
    const main = join(ROOT, "packages/cli/src/main.ts");
    const cmd = `"${process.execPath}" --import tsx "${main}" export --format csv --table ledger --dir "${d}" | cat; exit \${PIPESTATUS[0]}`;
    const ran = await new Promise<{ code: number | null; stdout: string }>((resolve, reject) => {
      const child = spawn("bash", ["-c", cmd], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
      let stdout = "";
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        stdout += chunk;
      });
      child.on("error", reject);
      child.on("close", (code) => resolve({ code, stdout }));
    });
    expect(ran.code).toBe(0);
    expect(ran.stdout.length).toBeGreaterThan(3 * 65_536);
    expect(ran.stdout.trim().split("\n")).toHaveLength(1_501);
  });
});

describe("command-line values", { timeout: 120_000 }, () => {
  it("refuses an empty --dir rather than working in the current directory", async () => {
    expect(await refused(["status", "--dir", ""], 2)).toMatch(/--dir must name a directory/);
  });

  it("refuses a council named twice, differently, rather than letting one win", async () => {
    const { councils } = await federaJson<{ councils: { id: string }[] }>(["council", "list", "--dir", dir]);
    const id = councils[0]!.id;
    const other = id.startsWith("0") ? "1" : "0";
    for (const command of ["export", "invite"])
      expect(await refused([command, id.slice(0, 4), "-c", other, "--dir", dir], 2)).toMatch(/two councils named/);
    // The same council named twice (a prefix and the whole id) is fine.
    expect(await federaOk(["export", id.slice(0, 4), "-c", id, "--dir", dir])).toContain(id);
  });

  it("matches every id prefix one way: hex ids whatever their case, base58 ids as typed, 4 characters at least", async () => {
    const status = await federaJson<{ device: string; councils: CouncilSummary[] }>(["status", "--dir", dir]);
    const council = status.councils[0]!.id;
    const proposal = status.councils[0]!.openProposals![0]!.id;
    const other = (id: string) => (id.startsWith("0") ? "1" : "0") + id.slice(1, 8);

    // Record ids are lowercase hex: a prefix in capitals names the council, or the proposal, all the same (the
    // proposal found, the vote stops at its --choice, writing nothing).
    expect(await federaOk(["export", council.slice(0, 8).toUpperCase(), "--dir", dir])).toContain(council);
    expect(await refused(["vote", proposal.slice(0, 8).toUpperCase(), "--choice", "maybe", "--dir", dir], 2)).toMatch(
      /--choice for a majority proposal must be one of/,
    );
    // Device ids are base58, where case tells characters apart: a prefix is taken as typed.
    const device = status.device;
    const swapped = [...device.slice(0, 12)].map((c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()));
    expect(await refused(["device", "revoke", device.slice(0, 12), "--dir", dir], 2)).toMatch(/your last device/);
    expect(await refused(["device", "revoke", swapped.join(""), "--dir", dir], 2)).toMatch(/no device of yours/);

    // Too short a prefix names nothing, whatever it would match.
    for (const short of [council.slice(0, 1), council.slice(0, 3)])
      expect(await refused(["export", short, "--dir", dir], 2)).toMatch(
        new RegExp(`council "${short}" is too short: name it by its id or at least 4 characters of it`),
      );
    expect(await refused(["vote", proposal.slice(0, 2), "--choice", "yes", "--dir", dir], 2)).toMatch(
      /proposal "..?" is too short/,
    );
    // An id that names nothing is a usage error, whatever it names: council, proposal or federation.
    expect(await refused(["export", other(council), "--dir", dir], 2)).toMatch(/no council \w+ in /);
    expect(await refused(["vote", other(proposal), "--choice", "yes", "--dir", dir], 2)).toMatch(
      /no proposal \w+ in this council/,
    );
    expect(await refused(["federation", "status", "--federation", "abcd", "--dir", dir], 2)).toMatch(
      /no federation abcd followed here/,
    );
    // None named, and none there: the directory's state, not a name typed wrong (exit 1).
    expect(await refused(["federation", "status", "--dir", dir], 1)).toMatch(/follows no federation/);
  });

  it("takes --ban-ms as decimal digits only, and says what an amount counts", async () => {
    for (const bad of ["", " ", "0x10", "1e3", "-1", "1.5"]) expect(() => parseBanMs(bad)).toThrow(/whole number/);
    expect(parseBanMs("0")).toBe(0);
    expect(parseBanMs("600000")).toBe(600_000);
    const stderr = await refused(["node", "--ban-ms", "0x10", "--dir", dir], 2);
    expect(stderr).toMatch(/^federa: error: option '--ban-ms <ms>' argument '0x10' is invalid/);

    expect(() => parseAmount("-3", "--minutes", "minutes")).toThrow(
      '--minutes must be a positive integer (minutes), got "-3"',
    );
    expect(() => parseAmount("0")).toThrow('amount must be between 1 and 2^53 - 1 (minor units), got "0"');
    expect(() => parseAmount(String(2 ** 53))).toThrow(/2\^53 - 1/);
    expect(parseAmount(String(2 ** 53 - 1))).toBe(2 ** 53 - 1);
    expect(await refused(["swap", "food", "--provider", "me", "--minutes", "-3", "--dir", dir], 2)).not.toMatch(
      /minor units/,
    );
  });

  it("refuses CSV on stdout with --json, and says where the file went with --out", async () => {
    expect(await refused(["export", "--format", "csv", "--json", "--dir", dir], 2)).toMatch(/--json/);
    const file = join(tmp.path, "ledger.csv");
    expect(await federaJson(["export", "--format", "csv", "--out", file, "--dir", dir])).toMatchObject({ file });
  });

  it("takes the quorum the help shows: a ratio and a comparison, of the electorate", () => {
    const quorum = { ratio: { num: 1, den: 2 }, cmp: ">=" };
    expect(charterOf({ quorum: "1/2:>=" }).quorum).toEqual(quorum);
    expect(proposalOf({ title: "t", quorum: "1/2:>=" }).quorum).toEqual(quorum);
    expect(charterOf({ quorum: "1/2:eligible:>=" }).quorum).toEqual(quorum);
    expect(charterOf({ quorum: "2/3" }).quorum).toEqual({ ratio: { num: 2, den: 3 }, cmp: ">" });
    // A quorum counts the electorate: a base of votes cast would be silently ignored.
    expect(() => charterOf({ quorum: "1/2:cast" })).toThrow(UsageError);
    // More than all can never be met: a council founded with it could never pass anything, not even an amendment.
    expect(() => charterOf({ threshold: "1/1:cast:>" })).toThrow(/can never be met/);
    expect(() => charterOf({ quorum: "1/1:>" })).toThrow(/can never be met/);
    expect(charterOf({ threshold: "1/1:cast:>=" }).threshold).toEqual({
      ratio: { num: 1, den: 1 },
      of: "cast",
      cmp: ">=",
    });
  });

  it("bounds scales, waits and spans, and refuses an empty id that every id starts with", async () => {
    expect(await refused(["sim", join(tmp.path, "none.json"), "--scale", "Infinity"], 2)).toMatch(/--scale must be/);
    // An output directory that cannot be made is refused before the run, not after it (the scenario is not even read).
    const file = join(tmp.path, "a-file");
    await writeFile(file, "x");
    expect(await refused(["sim", join(tmp.path, "none.json"), "--out", join(file, "out")], 2)).toMatch(
      /--out .* cannot be made a directory/,
    );
    expect(() => parseDuration("99999999999w", "--timeout")).toThrow(UsageError);
    expect(() => parseDuration("25d", "--timeout")).toThrow(/at most 24 days/);
    expect(parseDuration("24d", "--timeout")).toBe(24 * 86_400_000);
    // Charter spans are never waited out by a timer: a 90-day term stays fine.
    expect(charterOf({ maxMandateTerm: "90d" }).maxMandateTermMs).toBe(90 * 86_400_000);
    expect(() => proposalOf({ title: "t", closes: "+99999999999w" })).toThrow(UsageError);

    const token = await federaOk(["invite", "--dir", dir, "--quiet"]);
    const joiner = join(tmp.path, "joiner");
    expect(await refused(["join", token, "--timeout", "99999999999w", "--dir", joiner], 2)).toMatch(/--timeout/);

    expect(await refused(["vote", "", "--choice", "no", "--dir", dir], 2)).toMatch(/empty/);
    expect(await refused(["status", "--council", "", "--dir", dir], 2)).toMatch(/empty/);
    expect(await refused(["invite", "", "--dir", dir], 2)).toMatch(/empty/);
    // Applying to one's own council would only write a record the council excludes.
    expect(await refused(["join", token, "--no-deliver", "--dir", dir], 2)).toMatch(/already a member of council/);
    expect(await refused(["join", token, "--reapply", "--no-deliver", "--dir", dir], 2)).toMatch(/already a member/);
    expect(await refused(["federation", "status", "--federation", "", "--dir", dir], 2)).toMatch(/empty/);
  });

  it("refuses a clock shifted past a century, and an allowance that is not one fund=amount", async () => {
    const far = { FEDERA_CLOCK_OFFSET_MS: String(8e15) };
    expect(await refused(["donate", "general", "1", "--dir", dir], 2, far)).toMatch(/within a century/);
    const before = await federaJson(["status", "--dir", dir]);
    expect(await refused(["propose", "--title", "Later", "--dir", dir], 2, far)).toMatch(/FEDERA_CLOCK_OFFSET_MS/);
    expect(await federaJson(["status", "--dir", dir])).toEqual(before);
    const issue = ["mandate", "issue", "--delegate", "me", "--body", "Regional assembly", "--expires", "+30d"];
    for (const bad of ["food=10=99999", "=10", "food"])
      expect(await refused([...issue, "--allowance", bad, "--dir", dir], 2)).toMatch(/fund=amount/);
  });

  it("refuses empty and overlong names, and shows control characters in names escaped", async () => {
    const nobody = join(tmp.path, "nobody");
    expect(await refused(["init", "--dir", nobody, "--name", " "], 2)).toMatch(/--name/);
    await expect(readFile(join(nobody, "identity.json"))).rejects.toThrow(/ENOENT/);
    expect(await refused(["council", "create", "  ", "--dir", dir], 2)).toMatch(/name/);
    expect(await refused(["council", "create", "x".repeat(201), "--dir", dir], 2)).toMatch(/at most 200/);
    expect(await refused(["propose", "--title", "   ", "--dir", dir], 2)).toMatch(/--title must not be empty/);
    expect(() => proposalOf({ title: "" })).toThrow(UsageError);

    const d = join(tmp.path, "escapes");
    await federaOk(["init", "--dir", d, "--name", "Di"]);
    const name = "a\nb\u001b[31mred\u009b";
    await federaOk(["council", "create", name, "--dir", d]);
    const human = await federaOk(["status", "--dir", d]);
    expect(human).toContain('"a\\x0ab\\x1b[31mred\\x9b"');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: no control character but newlines may reach the terminal.
    expect(human).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    const json = await federaJson<{ councils: { name: string }[] }>(["status", "--dir", d]);
    expect(json.councils[0]?.name).toBe(name);
  });
});

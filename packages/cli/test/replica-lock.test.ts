/** One process at a time on a directory's replica: commands run at once queue up instead of forking the device's chain. */
import { spawn } from "node:child_process";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CouncilSummary } from "../src/index.js";
import { lockForNode, ReplicaLock, replicaLockPath } from "../src/replica-lock.js";
import { federa, federaJson, federaOk, MAIN, spawnTs, tempDir } from "./support/cli.js";

let tmp: { path: string; remove: () => Promise<void> };

beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(async () => {
  await tmp.remove();
});

/** The pid of a process that has exited (so no live process holds it, barring reuse in the test's lifetime). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""]);
  await new Promise((resolve) => child.on("exit", resolve));
  return child.pid!;
}

async function council(name: string): Promise<string[]> {
  const dir = join(tmp.path, name);
  await federaOk(["init", "--dir", dir, "--name", name]);
  await federaOk(["council", "create", `${name} co-op`, "--dir", dir]);
  await federaOk(["fund", "create", "food", "--type", "cash", "--dir", dir]);
  return ["--dir", dir];
}

describe("the replica lock", { timeout: 180_000 }, () => {
  it("queues offline commands run at once on one directory: every record counts, none is excluded", async () => {
    const d = await council("ada");
    const amounts = [11, 12, 13, 14];
    const ran = await Promise.all(amounts.map((a) => federa(["donate", "food", String(a), ...d])));
    expect(ran.map((r) => r.code)).toEqual([0, 0, 0, 0]);
    const status = await federaJson<{ councils: CouncilSummary[] }>(["status", ...d]);
    expect(status.councils[0]).toMatchObject({ balances: { food: 50 }, excluded: 0 });
    // The device still writes afterwards.
    expect(await federaJson(["donate", "food", "5", ...d])).toMatchObject({ balance: 55 });
    await expect(readFile(replicaLockPath(d[1]!))).rejects.toThrow(/ENOENT/);
  });

  it("takes over a lock whose process died, and waits for one whose process lives", async () => {
    const d = await council("bea");
    const path = replicaLockPath(d[1]!);
    await writeFile(path, JSON.stringify({ pid: await deadPid(), holder: "command", since: 0 }));
    expect(await federaJson(["donate", "food", "7", ...d])).toMatchObject({ balance: 7 });

    // A live holder (this test process): the command waits until it lets go.
    const held = await ReplicaLock.tryAcquire(d[1]!, "command");
    expect(held).toBeInstanceOf(ReplicaLock);
    const waiting = federa(["donate", "food", "8", "--json", ...d]);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(JSON.parse(await readFile(path, "utf8")).pid).toBe(process.pid);
    await (held as ReplicaLock).release();
    const done = await waiting;
    expect(done.code).toBe(0);
    expect(JSON.parse(done.stdout)).toMatchObject({ balance: 15 });
  });

  it("removes the lock a takeover killed midway left aside, and keeps a live process's", async () => {
    const d = await council("eve");
    const root = d[1]!;
    // A process killed between moving a dead holder's lock aside and removing it left `replica.lock.PID.stale`.
    const stale = JSON.stringify({ pid: await deadPid(), holder: "command", since: 0 });
    const leftAside = `${replicaLockPath(root)}.${await deadPid()}.stale`;
    await writeFile(leftAside, stale);
    // One a live process moved aside may be on its way back: left alone.
    const inFlight = `${replicaLockPath(root)}.${process.pid}.stale`;
    await writeFile(inFlight, stale);

    expect(await federaJson(["donate", "food", "3", ...d])).toMatchObject({ balance: 3 });
    await expect(readFile(leftAside)).rejects.toThrow(/ENOENT/);
    expect(await readFile(inFlight, "utf8")).toBe(stale);
    await rm(inFlight);
  });

  it("lets a node start only when no other node holds the directory, and after commands finish", async () => {
    const root = join(tmp.path, "cal");
    await federaOk(["init", "--dir", root, "--name", "Cal"]);
    const other = await ReplicaLock.tryAcquire(root, "node");
    expect(other).toBeInstanceOf(ReplicaLock);
    // Another live node (this process, as far as the lock says) holds it: refused at once.
    await expect(lockForNode(root, () => {}, undefined, 60_000)).rejects.toThrow(/a node is already running/);
    await (other as ReplicaLock).release();

    const command = (await ReplicaLock.tryAcquire(root, "command")) as ReplicaLock;
    const waited: number[] = [];
    await expect(lockForNode(root, (h) => waited.push(h.pid), undefined, 300)).rejects.toThrow(
      /busy: another federa command/,
    );
    expect(waited).toEqual([process.pid]);
    // A stop asked for while waiting gives up the wait, taking nothing.
    let stopAsked = false;
    setTimeout(() => {
      stopAsked = true;
    }, 200);
    expect(
      await lockForNode(
        root,
        () => {},
        () => stopAsked,
        10_000,
      ),
    ).toBeUndefined();
    expect(JSON.parse(await readFile(command.path, "utf8"))).toMatchObject({ holder: "command" });
    setTimeout(() => void command.release(), 200);
    const node = (await lockForNode(root, () => {}, undefined, 10_000)) as ReplicaLock;
    expect(JSON.parse(await readFile(node.path, "utf8"))).toMatchObject({ pid: process.pid, holder: "node" });
    await node.release();
  });

  it("a node waiting for a command to finish stops on SIGTERM, taking nothing", async () => {
    const root = join(tmp.path, "dee");
    await federaOk(["init", "--dir", root, "--name", "Dee"]);
    const command = (await ReplicaLock.tryAcquire(root, "command")) as ReplicaLock;
    const { child, done } = spawnTs(MAIN, ["node", "--dir", root, "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns"]);
    try {
      await new Promise<void>((resolve) => {
        let log = "";
        child.stderr!.on("data", (d: Buffer) => {
          log += d.toString();
          if (log.includes("waiting for a federa command")) resolve();
        });
      });
      child.kill("SIGTERM");
      const ran = await done;
      expect(ran.code).toBe(0);
      expect(ran.stdout).toBe(""); // never started: no address line
      expect(JSON.parse(await readFile(command.path, "utf8"))).toMatchObject({ holder: "command", pid: process.pid });
    } finally {
      child.kill("SIGKILL");
      await command.release();
    }
  });
});

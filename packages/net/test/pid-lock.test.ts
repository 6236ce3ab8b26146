/** The lock file that keeps a storage directory (and a node directory) to one process. */
import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { PidLock } from "../src/node/index.js";

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function scratch(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "federa-pid-lock-"));
  dirs.push(dir);
  return dir;
}

/** The pid of a process that has exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ["-e", ""]).pid as number;
}

describe("PidLock", () => {
  it("takes over a dead holder's lock, and refuses while the holder lives", async () => {
    const path = join(await scratch(), "repo.lock");
    await writeFile(path, JSON.stringify({ pid: deadPid(), since: 0 }));
    const lock = await PidLock.tryAcquire(path, { use: "test" });
    expect(lock).toBeInstanceOf(PidLock);
    expect(JSON.parse(await readFile(path, "utf8"))).toMatchObject({ pid: process.pid, use: "test" });
    expect(await PidLock.tryAcquire(path)).toMatchObject({ pid: process.pid });
    await (lock as PidLock).release();
    expect(await PidLock.tryAcquire(path)).toBeInstanceOf(PidLock);
  });

  it("removes what takeovers killed midway left aside, only its own and only of dead processes", async () => {
    const dir = await scratch();
    const path = join(dir, "repo.lock");
    const live = spawn("sleep", ["30"]);
    try {
      const dead = deadPid();
      const content = JSON.stringify({ pid: dead, since: 0 });
      // A SIGKILL between moving a dead holder's lock aside and removing it leaves `repo.lock.PID.stale`.
      await writeFile(join(dir, `repo.lock.${dead}.stale`), content);
      // A live taker's may be on its way back; another lock's is not this one's to touch.
      await writeFile(join(dir, `repo.lock.${live.pid}.stale`), content);
      await writeFile(join(dir, `replica.lock.${dead}.stale`), content);
      expect(await PidLock.tryAcquire(path)).toBeInstanceOf(PidLock);
      expect((await readdir(dir)).sort()).toEqual(
        [`replica.lock.${dead}.stale`, "repo.lock", `repo.lock.${live.pid}.stale`].sort(),
      );
    } finally {
      live.kill();
    }
  });
});

/**
 * Joining beyond the LAN, as separate `federa node` processes on loopback: the inviter's node moved after the token
 * was made, so the addresses it names answer no more; the applicant's node, in the same DHT, finds the inviter by its
 * device id, delivers the application, and fetches the council once admitted.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { federaJson, federaOk } from "./support/cli.js";
import { nodeScratchDir, nodeStatus, startNode, stopNode } from "./support/node-process.js";
import { waitFor } from "./support/wait.js";

const scratch = nodeScratchDir();
/** DHT peers on one machine: loopback addresses must stay in it. */
const DHT = ["--dht-private"];

describe("an applicant's node in a DHT", { timeout: 180_000 }, () => {
  it("finds an inviter that moved since the token was made, delivers the application and gets the council", async () => {
    const dirs = { ada: join(scratch.path, "ada"), zoe: join(scratch.path, "zoe"), sam: join(scratch.path, "sam") };
    for (const [name, dir] of Object.entries(dirs)) await federaOk(["init", "--dir", dir, "--name", name]);
    const council = await federaOk(["council", "create", "Night market", "--voting-window", "1h", "--dir", dirs.ada]);
    // Sam's node, a member of nothing, is the DHT's entry point for both.
    const rendezvous = await startNode(dirs.sam, { args: DHT });
    const meet = [rendezvous.addresses[0]!];
    const before = await startNode(dirs.ada, { bootstrap: meet, args: DHT });
    const { token } = await federaJson<{ token: string }>(["invite", "--dir", dirs.ada]);
    expect(await stopNode(before)).toBe(0);
    // Ada's node comes back on another port: the token's addresses reach nothing now.
    const ada = await startNode(dirs.ada, { bootstrap: meet, args: DHT });
    expect(ada.addresses).not.toContain(before.addresses[0]);
    const { delivered, proposal } = await federaJson<{ delivered: boolean; proposal: string }>([
      ...["join", token, "--dir", dirs.zoe],
    ]);
    expect(delivered).toBe(false);

    // Zoe's node knows Ada's device id from the token and the DHT's entry point, nothing else.
    await startNode(dirs.zoe, { bootstrap: meet, args: DHT });
    await waitFor(
      async () => (await nodeStatus(dirs.ada)).councils[0]?.openProposals?.some((p) => p.id === proposal),
      "the application delivered to Ada's node",
      60_000,
    );
    await federaOk(["vote", proposal, "--choice", "yes", "--dir", dirs.ada]);
    // The admission closes an hour after the application: a record stamped two hours on lets it take effect, written
    // offline (a running node stamps with its own clock). Ada's node then moves once more.
    expect(await stopNode(ada)).toBe(0);
    await federaOk(["tick", "--dir", dirs.ada], { FEDERA_CLOCK_OFFSET_MS: String(2 * 3_600_000) });
    await startNode(dirs.ada, { bootstrap: meet, args: DHT });
    const zoe = await waitFor(
      async () => {
        const status = await nodeStatus(dirs.zoe);
        return status.councils[0]?.available === true ? status : undefined;
      },
      "the council on Zoe's node",
      60_000,
    );
    expect(zoe.councils[0]!.id).toBe(council);
    expect(zoe.councils[0]!.members).toContain(zoe.member);
    expect(zoe.node.lookups).toBeGreaterThan(0); // it looked for Ada's device
  });
});

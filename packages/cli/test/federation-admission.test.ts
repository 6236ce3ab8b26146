/**
 * A council admitted to a running federation from the command line, three `federa node` processes on loopback: the
 * candidate's delegate reads the federation while the members vote, and the members' councils only once admitted.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { federa, federaJson, federaOk } from "./support/cli.js";
import { FEDERATION_NAME, federationStatus, mandatedCouncil, type Voted } from "./support/federations.js";
import { logLines, nodeScratchDir, startNode, stopNode } from "./support/node-process.js";
import { waitFor } from "./support/wait.js";

const scratch = nodeScratchDir();
const HOUR = 3_600_000;
/** How long the members have to vote on the admission (the nodes run three hours on, as the councils' records do). */
const VOTING_MS = 45_000;

describe("a council admitted to a federation from the command line", { timeout: 240_000 }, () => {
  it("reads the federation while proposed, the member councils once admitted, and they read it", async () => {
    const [bakery, tenants, couriers] = await Promise.all([
      mandatedCouncil(scratch.path, "Ada", "Bakery"),
      mandatedCouncil(scratch.path, "Tia", "Tenants"),
      mandatedCouncil(scratch.path, "Cal", "Couriers"),
    ]);
    const env = { FEDERA_CLOCK_OFFSET_MS: String(3 * HOUR) };
    const [ada, tia, cal] = [bakery.dir, tenants.dir, couriers.dir];
    const nodes = await Promise.all([ada, tia, cal].map((dir) => startNode(dir, { env })));
    const holds = async (dir: string, councils: readonly string[]) => {
      const s = await federationStatus(dir).catch(() => undefined);
      return councils.every((id) => s?.councils.some((c) => c.id === id && c.here) === true);
    };

    // Ada and Tia found the federation.
    const { token: tenantsCard } = await federaJson<{ token: string }>(["invite", "--dir", tia]);
    const created = await federaJson<{ federation: string; token: string }>([
      ...["federation", "create", FEDERATION_NAME, "--with", tenantsCard, "--dir", ada],
    ]);
    await federaJson(["federation", "join", created.token, "--dir", tia]);
    const founders = [bakery.council, tenants.council];
    for (const dir of [ada, tia]) await waitFor(() => holds(dir, founders), `both founding councils on ${dir}`);

    // Cal hands Ada the couriers' invitation; Ada proposes their admission and hands Cal the federation's.
    const { token: couriersCard } = await federaJson<{ token: string }>(["invite", "--dir", cal]);
    const closesAt = new Date(Date.now() + 3 * HOUR + VOTING_MS);
    const { proposal } = await federaJson<{ proposal: string }>([
      ...["federation", "propose", "--title", "Admit the couriers", "--admit", couriersCard],
      ...["--closes", closesAt.toISOString(), "--dir", ada],
    ]);
    // Dan's drivers are proposed at the same time, and will be refused.
    const dan = join(scratch.path, "dan");
    const danId = await federaJson<{ device: string }>(["init", "--dir", dan, "--name", "Dan"]);
    await federaOk(["council", "create", "Drivers", "--dir", dan]);
    const { token: driversCard } = await federaJson<{ token: string }>(["invite", "--dir", dan]);
    const { proposal: refusal } = await federaJson<{ proposal: string }>([
      ...["federation", "propose", "--title", "Admit the drivers", "--admit", driversCard],
      ...["--closes", closesAt.toISOString(), "--dir", ada],
    ]);
    const delegates = async () =>
      (JSON.parse(await readFile(join(ada, "federations.json"), "utf8")) as { delegates?: { peer: string }[] }[])[0]
        ?.delegates ?? [];
    expect((await delegates()).map((d) => d.peer)).toContain(danId.device);
    // Nor can a council already proposed and not yet decided, or a member council; nothing is written.
    const twice = await federa(["federation", "propose", "--title", "Twice", "--admit", couriersCard, "--dir", ada]);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toMatch(/is still open/);
    const again = await federa(["federation", "propose", "--title", "Again", "--admit", tenantsCard, "--dir", ada]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already a member of this federation/);
    const { token: federationCard } = await federaJson<{ token: string }>(["federation", "invite", "--dir", ada]);
    await federaJson(["federation", "join", federationCard, "--dir", cal]);

    // While the vote runs, Cal's node holds the federation's document but none of the members' councils (so it
    // cannot yet vouch for their records either: it derives nothing from them).
    await waitFor(
      async () => (await federationStatus(cal).catch(() => undefined)) !== undefined,
      "the federation on Cal's node",
    );
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const waiting = await federationStatus(cal);
    expect(waiting.councils.filter((c) => c.here)).toEqual([]);
    expect(waiting.proposals).toEqual([]);

    // Both delegates vote for it, through their mandates; once it closes, the couriers are a member council.
    await waitFor(
      async () => (await federationStatus(tia)).proposals.some((p) => p.id === proposal),
      "the admission proposal on Tia's node",
    );
    await waitFor(
      async () => (await federationStatus(tia)).proposals.some((p) => p.id === refusal),
      "the drivers' admission proposal on Tia's node",
    );
    for (const dir of [ada, tia]) {
      const voted = await federaJson<Voted>(["federation", "vote", proposal, "--position", "yes", "--dir", dir]);
      expect(voted.counted).toBe(true);
      const against = await federaJson<Voted>(["federation", "vote", refusal, "--position", "no", "--dir", dir]);
      expect(against.counted).toBe(true);
    }
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, closesAt.getTime() - 3 * HOUR - Date.now() + 500)));
    await federaOk(["federation", "tick", "--dir", ada]);

    const everyone = [...founders, couriers.council];
    for (const dir of [ada, tia, cal])
      await waitFor(() => holds(dir, everyone), `all three councils on ${dir}`, 90_000);
    const status = await federationStatus(cal);
    expect(status.proposals.find((p) => p.id === proposal)?.status).toBe("passed");
    expect(status.councils.map((c) => c.consents)).toEqual([true, true, true]);
    // The drivers were refused: Ada's node no longer vouches for Dan's device, and forgot it.
    expect(status.proposals.find((p) => p.id === refusal)?.status).toBe("failed");
    await waitFor(
      () => logLines(nodes[0]!, "no longer vouching for 1 refused candidate").length > 0,
      "Ada's node to drop the refused candidate",
    );
    expect((await delegates()).map((d) => d.peer)).not.toContain(danId.device);
    // Tia's (a founder) and Cal's (admitted) stay.
    expect(await delegates()).toHaveLength(2);
    expect(await Promise.all(nodes.map((n) => stopNode(n)))).toEqual([0, 0, 0]);
  });
});

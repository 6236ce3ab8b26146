/** Records stamped far ahead of this machine's clock: `federa status` lists them and `federa node` warns of each once. */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { federaJson, federaOk, tempDir } from "./support/cli.js";
import { killNodes, logLines, type StatusJson, startNode, stopNode } from "./support/node-process.js";
import { waitFor } from "./support/wait.js";

const HOUR = 3_600_000;

let tmp: { path: string; remove: () => Promise<void> };
let dir: string;
let member: string;
/** The fund.create record Alice stamped an hour ahead. */
let ahead: string;

beforeAll(async () => {
  tmp = await tempDir();
  dir = join(tmp.path, "alice");
  member = (await federaJson<{ member: string }>(["init", "--dir", dir, "--name", "Alice"])).member;
  await federaOk(["council", "create", "Allotment", "--dir", dir]);
  // Alice's clock runs an hour fast for one act: the record carries that clock to every peer.
  const created = await federa1hAhead(["fund", "create", "seeds", "--type", "cash", "--dir", dir, "--json"]);
  ahead = (JSON.parse(created) as { record: string }).record;
}, 60_000);

afterAll(async () => {
  await killNodes();
  await tmp.remove();
});

function federa1hAhead(args: readonly string[]): Promise<string> {
  return federaOk(args, { FEDERA_CLOCK_OFFSET_MS: String(HOUR) });
}

describe("records stamped in the future", { timeout: 120_000 }, () => {
  it("federa status lists them per council, as JSON and as a warning", async () => {
    const status = await federaJson<StatusJson>(["status", "--dir", dir]);
    const future = status.councils[0]!.futureRecords!;
    expect(future.count).toBe(1);
    expect(future.records).toEqual([{ id: ahead, kind: "fund.create", author: member, at: expect.any(String) }]);
    // Stamped by a clock an hour fast: well past the 10 minutes tolerated, not yet two hours.
    const at = Date.parse(future.records[0]!.at);
    expect(at - Date.now()).toBeGreaterThan(HOUR - 10 * 60_000);
    expect(at - Date.now()).toBeLessThan(2 * HOUR);

    const human = await federaOk(["status", "--dir", dir]);
    expect(human).toContain("warning: 1 record(s) stamped more than 10 minutes ahead of this machine's clock");
    expect(human).toContain(`${ahead.slice(0, 12)} fund.create by ${member}`);

    // Judged by this machine's clock: one that is itself an hour fast sees nothing ahead.
    const fast = JSON.parse(await federa1hAhead(["status", "--dir", dir, "--json"])) as StatusJson;
    expect(fast.councils[0]!.futureRecords).toEqual({ count: 0, records: [] });
  });

  it("federa node warns once of those it holds, then once of each new one as it arrives", async () => {
    const node = await startNode(dir);
    const warnings = () => logLines(node, " warning: council ");
    await waitFor(() => warnings().length > 0, "the warning at opening");
    expect(warnings()).toEqual([expect.stringContaining(`holds 1 record(s) stamped more than 10 minutes ahead`)]);
    expect(warnings()[0]).toContain(ahead);

    // The node's own clock is right, but a record must come after all it has seen: a new one inherits the future
    // clock, and is warned of once.
    const first = (await federaJson<{ record: string }>(["donate", "seeds", "5", "--dir", dir])).record;
    await waitFor(() => warnings().some((l) => l.includes(first)), "the warning of the first donation");
    const second = (await federaJson<{ record: string }>(["donate", "seeds", "7", "--dir", dir])).record;
    await waitFor(() => warnings().some((l) => l.includes(second)), "the warning of the second donation");
    const status = await federaJson<StatusJson>(["status", "--dir", dir]);
    expect(status.councils[0]!.futureRecords?.count).toBe(3);
    expect(await stopNode(node)).toBe(0);

    const lines = warnings();
    expect(lines).toHaveLength(3);
    for (const id of [ahead, first, second]) expect(lines.filter((l) => l.includes(id))).toHaveLength(1);
    expect(lines[1]).toContain(`record ${first} (ledger.donate by ${member}) is stamped`);
  });
});

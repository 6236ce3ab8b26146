/**
 * A convergence from the command line, offline in one directory: a delegate of both member councils calls it, both
 * vote it through, and ratifications count only inside its window, within a mandate, once per council and action;
 * mandates that cannot count (another body, not started, expired) are passed over, and refused when named.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { federa, federaOk } from "./support/cli.js";
import { nodeScratchDir } from "./support/node-process.js";

const scratch = nodeScratchDir();
const HOUR = 3_600_000;

/** Runs a command with the clock `hours` on; its JSON result, or throws with what it printed. */
async function at<T = Record<string, unknown>>(hours: number, args: readonly string[]): Promise<T> {
  const ran = await federa([...args, "--json"], { FEDERA_CLOCK_OFFSET_MS: String(hours * HOUR) });
  if (ran.code !== 0) throw new Error(`federa ${args.join(" ")} exited ${ran.code}: ${ran.stderr}`);
  return JSON.parse(ran.stdout) as T;
}

describe("a convergence from the command line", { timeout: 120_000 }, () => {
  it("is called by a vote, ratified inside its window through mandates, and refused outside it", async () => {
    const d = ["--dir", join(scratch.path, "ada")];
    await federaOk(["init", ...d, "--name", "Ada"]);
    const bakery = await federaOk(["council", "create", "Bakery", ...d]);
    const tenants = await federaOk(["council", "create", "Tenants", ...d]);
    // Each council mandates Ada; the bakery allows her to ratify the strike only, the tenants the picket too. The
    // bakery also gives her mandates that allow the picket but can never count here: for another federation, one
    // that starts in ten days, and one that expires before the federation exists.
    const issue = async (council: string, body: string, positions: string, term: readonly string[]) => {
      const proposal = await federaOk([
        ...["mandate", "issue", "--delegate", "me", "--body", body, "--positions", positions, ...term],
        ...["--closes", "+1h", "--council", council, ...d],
      ]);
      await federaOk(["vote", proposal, "--choice", "yes", "--council", council, ...d]);
      return proposal;
    };
    const month = ["--expires", "+30d"];
    await issue(bakery, "Northern Federation", "*=yes|no|strike", month);
    await issue(tenants, "Northern Federation", "*=yes|no|strike|picket", month);
    const elsewhere = await issue(bakery, "Southern Federation", "*=yes|no|strike|picket", month);
    const later = await issue(bakery, "Northern Federation", "*=yes|no|strike|picket", ["--starts", "+10d", ...month]);
    const over = await issue(bakery, "Northern Federation", "*=yes|no|strike|picket", ["--expires", "+90m"]);
    for (const council of [bakery, tenants])
      await federaOk(["tick", "--council", council, ...d], { FEDERA_CLOCK_OFFSET_MS: String(2 * HOUR) });
    const { token } = await at<{ token: string }>(2, ["invite", "--council", tenants, ...d]);
    const { federation } = await at<{ federation: string }>(2, [
      ...["federation", "create", "Northern Federation", "--with", token, "--council", bakery, ...d],
    ]);

    // A mandate naming the federation by its name in another case, or by the start of its id, never counts: proposed
    // all the same (a council may mandate for a federation it does not follow yet), with a warning.
    for (const [body, warning] of [
      ["northern federation", /differs only by case from the name of federation/],
      [federation.slice(0, 10), /is only the start of the id of federation/],
    ] as const) {
      const ran = await federa(
        [...["mandate", "issue", "--delegate", "me", "--body", body, "--expires", "+30d", "--council", bakery], ...d],
        { FEDERA_CLOCK_OFFSET_MS: String(2 * HOUR) },
      );
      expect(ran.code).toBe(0);
      expect(ran.stderr).toMatch(warning);
    }
    const exact = await federa(
      [
        ...["mandate", "issue", "--delegate", "me", "--body", federation, "--expires", "+30d", "--council", bakery],
        ...d,
      ],
      { FEDERA_CLOCK_OFFSET_MS: String(2 * HOUR) },
    );
    expect(exact.code).toBe(0);
    expect(exact.stderr).not.toMatch(/warning/);

    // A box that would open before the vote calling it closes (by default a week on) is refused before writing.
    const early = await federa(
      [
        ...["federation", "converge", "--title", "Too soon", "--action", "strike", "--starts", "+2d", "--ends", "+5d"],
        ...["--council", bakery, ...d],
      ],
      { FEDERA_CLOCK_OFFSET_MS: String(2 * HOUR) },
    );
    expect(early.code).toBe(2);
    expect(early.stderr).toMatch(/must open after the vote calling it closes/);
    // Called by a vote closing half an hour on, the convergence runs from one hour on to four.
    const { proposal } = await at<{ proposal: string }>(2, [
      ...["federation", "converge", "--title", "General strike", "--action", "strike", "--action", "picket"],
      ...["--starts", "+1h", "--ends", "+4h", "--closes", "+30m", "--council", bakery, ...d],
    ]);
    for (const council of [bakery, tenants])
      expect(
        await at<{ counted: boolean }>(2, [
          ...["federation", "vote", proposal, "--position", "yes", "--council", council, ...d],
        ]),
      ).toMatchObject({ counted: true });
    await at(3.5, ["federation", "tick", "--council", bakery, ...d]);

    const ratifying = (council: string, action: string) => [
      "federation",
      "ratify",
      proposal.slice(0, 10),
      "--action",
      action,
      "--council",
      council,
      ...d,
    ];
    // Inside the window, within each mandate: counted, once per council and action.
    expect(await at(3.5, ratifying(bakery, "strike"))).toMatchObject({ counted: true });
    expect(await at(3.6, ratifying(tenants, "picket"))).toMatchObject({ counted: true });
    const ratify = (hours: number, council: string, action: string, more: readonly string[] = []) =>
      federa([...ratifying(council, action), ...more], { FEDERA_CLOCK_OFFSET_MS: String(hours * HOUR) });
    // Refused before anything is written: a second ratification of an action by the same council, an action the
    // bakery's mandate does not allow, a mandate of hers that cannot count, an action the convergence does not have,
    // and any ratification after the window.
    const refusals = [
      [await ratify(3.7, bakery, "strike"), /your council \S+ already ratified "strike" in this convergence/],
      [await ratify(3.8, bakery, "picket"), /does not allow "picket" on this convergence/],
      [await ratify(3.8, bakery, "picket", ["--mandate", elsewhere]), /for "Southern Federation".*\(wrong-body\)/],
      [await ratify(3.8, bakery, "picket", ["--mandate", later.slice(0, 10)]), /starts at .* \(not-started\)/],
      [await ratify(3.8, bakery, "picket", ["--mandate", over]), /expired at .* \(expired\)/],
      [await ratify(3.8, bakery, "march"), /"march" is not an action of this convergence/],
      [await ratify(7, tenants, "strike"), /a ratification now would not count/],
    ] as const;
    for (const [ran, message] of refusals) {
      expect(ran.code).toBe(2);
      expect(ran.stderr).toMatch(message);
    }

    const status = await at<{
      convergences: { id: string; status: string; ratified: Record<string, string[]> }[];
      conflicts: unknown[];
    }>(3.9, ["federation", "status", ...d]);
    expect(status.convergences).toEqual([
      expect.objectContaining({
        id: proposal,
        status: "open",
        ratified: { strike: [bakery], picket: [tenants] },
      }),
    ]);
    expect(status.conflicts).toEqual([]);
    expect((await at<{ excluded: number }>(3.9, ["federation", "status", ...d])).excluded).toBe(0);
    expect(await federaOk(["federation", "status", ...d], { FEDERA_CLOCK_OFFSET_MS: String(4 * HOUR) })).toContain(
      `convergence ${proposal.slice(0, 12)} "General strike" open; ratified: strike 1, picket 1`,
    );
  });
});

/** `federa mandate issue|recall`: propose a mandate for a delegate, or a vote to recall one. */
import type { Command } from "commander";
import { collect, parseAmount, parseName, parsePositions, parseThreshold, parseTime } from "../args.js";
import { now as clock } from "../clock.js";
import { UsageError } from "../errors.js";
import { type CommonOptions, common, contextOf, run } from "./common.js";

interface CouncilOptions extends CommonOptions {
  readonly council?: string;
}

interface IssueOptions extends CouncilOptions {
  readonly delegate: string;
  readonly body: string;
  readonly positions?: string[];
  readonly instructions?: string;
  readonly allowance?: string;
  readonly starts?: string;
  readonly expires: string;
  readonly recall?: string;
  readonly closes?: string;
  readonly title?: string;
}

export function registerMandate(program: Command): void {
  const mandate = program.command("mandate").description("mandates for delegates to federation bodies");
  common(
    mandate
      .command("issue")
      .description("propose a mandate (it is issued when the proposal passes); prints the proposal id")
      .requiredOption("--delegate <member>", "the delegate: member id, a unique prefix, or me")
      .requiredOption("--body <body>", "the federation body the mandate is for")
      .option("--positions <topic=a|b>", "positions the delegate may take on a topic (repeatable)", collect)
      .option("--instructions <text>", "instructions to the delegate", "")
      .option("--allowance <fund=amount>", "a spending allowance from a fund")
      .option("--starts <when>", "start: +1d or an ISO date (default: now)")
      .requiredOption("--expires <when>", "expiry: +30d or an ISO date (within the charter's maximum term)")
      .option("--recall <ratio>", "recall threshold, e.g. 1/2:eligible:> (default: the charter's threshold)")
      .option("--closes <when>", "when the issuing vote closes")
      .option("--title <title>", "the proposal's title"),
    { council: true },
  ).action(async (options: IssueOptions) => {
    const now = clock();
    let allowance: { fund: string; amount: number } | undefined;
    if (options.allowance !== undefined) {
      const parts = options.allowance.split("=");
      const [fund, amount] = parts;
      if (parts.length !== 2 || !fund?.trim() || amount === undefined)
        throw new UsageError(`--allowance must look like fund=amount, got "${options.allowance}"`);
      allowance = { fund: fund.trim(), amount: parseAmount(amount, "--allowance amount") };
    }
    const { result } = await run(
      options,
      {
        op: "mandate.issue",
        council: options.council,
        delegate: options.delegate,
        body: options.body,
        instructions: options.instructions ?? "",
        positions: parsePositions(options.positions ?? []),
        ...(allowance ? { allowance } : {}),
        startsAt: options.starts === undefined ? now : parseTime(options.starts, "--starts", now),
        expiresAt: parseTime(options.expires, "--expires", now),
        ...(options.recall !== undefined ? { recall: parseThreshold(options.recall, "--recall") } : {}),
        ...(options.closes !== undefined ? { closesAt: parseTime(options.closes, "--closes", now) } : {}),
        ...(options.title !== undefined ? { title: parseName(options.title, "--title") } : {}),
      },
      (r) => String(r.proposal),
    );
    // Still proposed: a council may mandate a delegate for a federation before following it.
    const { out } = contextOf(options);
    for (const warning of (result.warnings as string[] | undefined) ?? []) out.warn(warning);
  });

  common(
    mandate
      .command("recall")
      .description("open a recall vote on a mandate (its own recall threshold applies); prints the proposal id")
      .argument("<mandate>", "mandate id or a unique prefix")
      .option("--closes <when>", "when the recall vote closes"),
    { council: true },
  ).action(async (id: string, options: CouncilOptions & { closes?: string }) => {
    await run(
      options,
      {
        op: "mandate.recall",
        council: options.council,
        mandate: id,
        ...(options.closes !== undefined ? { closesAt: parseTime(options.closes, "--closes") } : {}),
      },
      (r) => String(r.proposal),
    );
  });
}

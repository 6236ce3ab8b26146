/** `federa fund create`, `donate`, `spend` and `swap`: the council's money and time. */
import type { Command } from "commander";
import { parseAmount, parseChoice } from "../args.js";
import { UsageError } from "../errors.js";
import type { NotCounted } from "../operations.js";
import { printable } from "../output.js";
import { type CommonOptions, common, run } from "./common.js";

interface CouncilOptions extends CommonOptions {
  readonly council?: string;
}

/** The human form of a ledger act: the record id on stdout, and on stderr why it moved no money, if it did not. */
export function entryLine(r: Record<string, unknown>): string[] {
  const entry = r.entry as { status: string; reason: string } | undefined;
  const notCounted = r.notCounted as NotCounted | undefined;
  const lines = [String(r.record)];
  // A held entry moved no money: say why on stderr so stdout stays the record id.
  if (entry?.status === "held") process.stderr.write(`federa: held: ${printable(entry.reason)}\n`);
  // Written, but the council does not count it: as silent, it would read as done.
  if (notCounted !== undefined)
    process.stderr.write(`federa: not counted: ${printable(notCounted.detail)} (${printable(notCounted.reason)})\n`);
  return lines;
}

export function registerLedger(program: Command): void {
  const fund = program.command("fund").description("funds of a council's ledger");
  common(
    fund
      .command("create")
      .description("create a fund")
      .argument("<name>", "fund name: lowercase words joined by -")
      .requiredOption("--type <type>", "cash, time (time-swap) or jar (commons jar)")
      .option("--description <text>", "what the fund is for"),
    { council: true },
  ).action(async (name: string, options: CouncilOptions & { type: string; description?: string }) => {
    const type = parseChoice(options.type, ["cash", "time", "jar"] as const, "--type");
    await run(
      options,
      {
        op: "fund.create",
        council: options.council,
        fund: name,
        type,
        ...(options.description ? { description: options.description } : {}),
      },
      (r) => String(r.record),
    );
  });

  common(
    program
      .command("donate")
      .description("record money coming into a fund")
      .argument("<fund>", "fund name")
      .argument("<amount>", "integer minor units")
      .option("--from <name>", "who gave it"),
    { council: true },
  ).action(async (fundName: string, amount: string, options: CouncilOptions & { from?: string }) => {
    await run(
      options,
      {
        op: "donate",
        council: options.council,
        fund: fundName,
        amount: parseAmount(amount),
        ...(options.from ? { from: options.from } : {}),
      },
      entryLine,
    );
  });

  common(
    program
      .command("spend")
      .description("record an expense (held, not applied, when unapproved or when it would overdraw)")
      .argument("<fund>", "fund name")
      .argument("<amount>", "integer minor units")
      .requiredOption("--payee <payee>", "who is paid")
      .option("--petty", "approved as petty cash (the default)")
      .option("--budget <proposal>", "approved by a passed budget proposal")
      .option("--mandate <mandate>", "approved by a mandate's spending allowance")
      .option("--memo <text>", "what it was for"),
    { council: true },
  ).action(
    async (
      fundName: string,
      amount: string,
      options: CouncilOptions & { payee: string; petty?: boolean; budget?: string; mandate?: string; memo?: string },
    ) => {
      const chosen = [options.petty, options.budget, options.mandate].filter((x) => x !== undefined);
      if (chosen.length > 1) throw new UsageError("pass only one of --petty, --budget and --mandate");
      const approval =
        options.budget !== undefined
          ? { kind: "budget" as const, id: options.budget }
          : options.mandate !== undefined
            ? { kind: "mandate" as const, id: options.mandate }
            : { kind: "petty" as const };
      await run(
        options,
        {
          op: "spend",
          council: options.council,
          fund: fundName,
          amount: parseAmount(amount),
          payee: options.payee,
          approval,
          ...(options.memo ? { memo: options.memo } : {}),
        },
        entryLine,
      );
    },
  );

  common(
    program
      .command("swap")
      .description("record time a member worked for you (your time-swap balance goes down, theirs up)")
      .argument("<fund>", "time fund name")
      .requiredOption("--provider <member>", "who did the work: member id or a unique prefix")
      .requiredOption("--minutes <n>", "how long")
      .option("--note <text>", "what was done"),
    { council: true },
  ).action(async (fundName: string, options: CouncilOptions & { provider: string; minutes: string; note?: string }) => {
    await run(
      options,
      {
        op: "swap",
        council: options.council,
        fund: fundName,
        provider: options.provider,
        minutes: parseAmount(options.minutes, "--minutes", "minutes"),
        ...(options.note ? { note: options.note } : {}),
      },
      entryLine,
    );
  });
}

/** `federa council create|list`: found a council on the node directory's storage, list the councils it holds. */

import type { Charter, VoteMethod } from "@federa/core";
import type { Command } from "commander";
import {
  collect,
  MAX_NAME,
  MAX_SPAN_MS,
  parseChoice,
  parseCount,
  parseDuration,
  parseList,
  parseName,
  parseQuorum,
  parseThreshold,
} from "../args.js";
import { type CommonOptions, common, run } from "./common.js";

const METHODS: readonly VoteMethod[] = ["consent", "majority", "supermajority", "consensus", "ranked", "score", "dot"];

interface CreateOptions extends CommonOptions {
  readonly pettyCash?: string;
  readonly method?: string;
  readonly threshold?: string;
  readonly quorum?: string;
  readonly votingWindow?: string;
  readonly maxMandateTerm?: string;
  readonly timeDebtLimit?: string;
  readonly splitThreshold?: string;
  readonly roles?: string;
  readonly consecutiveMandates?: boolean;
  readonly founder?: string[];
}

/** The charter overrides the options name; everything else takes core's defaults. */
export function charterOf(o: CreateOptions): Partial<Charter> {
  const c: { -readonly [K in keyof Charter]?: Charter[K] } = {};
  if (o.pettyCash !== undefined) c.pettyCashLimit = parseCount(o.pettyCash, "--petty-cash");
  if (o.method !== undefined) c.method = parseChoice(o.method, METHODS, "--method");
  if (o.threshold !== undefined) c.threshold = parseThreshold(o.threshold, "--threshold");
  if (o.quorum !== undefined) c.quorum = parseQuorum(o.quorum, "--quorum");
  // Spans on the council's calendar, never waited out by a timer.
  if (o.votingWindow !== undefined) c.votingWindowMs = parseDuration(o.votingWindow, "--voting-window", MAX_SPAN_MS);
  if (o.maxMandateTerm !== undefined)
    c.maxMandateTermMs = parseDuration(o.maxMandateTerm, "--max-mandate-term", MAX_SPAN_MS);
  if (o.timeDebtLimit !== undefined) c.timeDebtLimitMinutes = parseCount(o.timeDebtLimit, "--time-debt-limit");
  if (o.splitThreshold !== undefined) c.splitThreshold = parseCount(o.splitThreshold, "--split-threshold");
  if (o.roles !== undefined) c.roles = parseList(o.roles);
  if (o.consecutiveMandates === false) c.noConsecutiveMandates = true;
  return c;
}

export function registerCouncil(program: Command): void {
  const council = program.command("council").description("found and list councils");
  common(
    council
      .command("create")
      .description("found a council (you are its first member) and print its id")
      .argument("<name>", `the council's name (at most ${MAX_NAME} characters)`, (v: string) =>
        parseName(v, "the council's name"),
      )
      .option("--petty-cash <amount>", "expenses up to this many minor units need no decision (default 0)")
      .option("--method <method>", `default vote method: ${METHODS.join(", ")}`)
      .option("--threshold <ratio>", "default threshold, e.g. 1/2:cast:> or 2/3:eligible:>=")
      .option("--quorum <ratio>", "default quorum, a share of the electorate: 1/2 (more than half) or 1/2:>=")
      .option("--voting-window <duration>", "how long proposals stay open by default, e.g. 7d")
      .option("--max-mandate-term <duration>", "longest mandate term, e.g. 90d")
      .option("--time-debt-limit <minutes>", "how far below zero a time-swap balance may go")
      .option("--split-threshold <amount>", "a fund must hold more than this before it may split")
      .option("--roles <list>", "rotating roles, comma-separated")
      .option("--no-consecutive-mandates", "forbid the same member holding consecutive mandates")
      .option("--founder <member>", "another founding member's id (repeatable)", collect),
  ).action(async (name: string, options: CreateOptions) => {
    await run(
      options,
      { op: "council.create", name, charter: charterOf(options), founders: options.founder ?? [] },
      (r) => String(r.council),
    );
  });
  common(council.command("list").description("list the councils in the node directory")).action(
    async (options: CommonOptions) => {
      await run(options, { op: "council.list" }, (r) =>
        (r.councils as { id: string; url: string }[]).map((c) => `${c.id} ${c.url}`),
      );
    },
  );
}

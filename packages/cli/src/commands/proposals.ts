/** `federa propose`, `federa vote` and `federa tick`: open proposals, cast ballots, let deadlines take effect. */

import type { Effect, ProposeInput, VoteMethod } from "@federa/core";
import type { Command } from "commander";
import {
  parseChoice,
  parseCount,
  parseJson,
  parseList,
  parseName,
  parseQuorum,
  parseThreshold,
  parseTime,
  parseWeights,
} from "../args.js";
import { now as clock } from "../clock.js";
import { type CommonOptions, common, run } from "./common.js";

const METHODS: readonly VoteMethod[] = ["consent", "majority", "supermajority", "consensus", "ranked", "score", "dot"];

interface CouncilOptions extends CommonOptions {
  readonly council?: string;
}

interface ProposeOptions extends CouncilOptions {
  readonly title: string;
  readonly text?: string;
  readonly method?: string;
  readonly options?: string;
  readonly closes?: string;
  readonly effectJson?: string;
  readonly threshold?: string;
  readonly quorum?: string;
  readonly maxScore?: string;
  readonly dotsPerVoter?: string;
}

interface VoteOptions extends CouncilOptions {
  readonly choice?: string;
  readonly ranking?: string;
  readonly scores?: string;
  readonly dots?: string;
}

/** The proposal the options describe; fields left out take the charter's defaults. */
export function proposalOf(o: ProposeOptions, now: number = clock()): ProposeInput {
  const input: { -readonly [K in keyof ProposeInput]: ProposeInput[K] } = { title: parseName(o.title, "--title") };
  if (o.text !== undefined) input.text = o.text;
  if (o.method !== undefined) input.method = parseChoice(o.method, METHODS, "--method");
  if (o.options !== undefined) input.options = parseList(o.options);
  if (o.closes !== undefined) input.closesAt = parseTime(o.closes, "--closes", now);
  if (o.effectJson !== undefined) input.effect = parseJson(o.effectJson, "--effect-json") as Effect;
  if (o.threshold !== undefined) input.threshold = parseThreshold(o.threshold, "--threshold");
  if (o.quorum !== undefined) input.quorum = parseQuorum(o.quorum, "--quorum");
  if (o.maxScore !== undefined) input.maxScore = parseCount(o.maxScore, "--max-score");
  if (o.dotsPerVoter !== undefined) input.dotsPerVoter = parseCount(o.dotsPerVoter, "--dots-per-voter");
  return input;
}

export function registerProposals(program: Command): void {
  common(
    program
      .command("propose")
      .description("open a proposal and print its id")
      .requiredOption("-t, --title <title>", "what is proposed")
      .option("--text <text>", "the proposal's text")
      .option("-m, --method <method>", `vote method: ${METHODS.join(", ")} (default: the charter's)`)
      .option("-o, --options <list>", "options for ranked, score and dot votes, comma-separated")
      .option("--closes <when>", "closing time: +2d, +12h or an ISO date (default: the charter's voting window)")
      .option("--effect-json <json>", 'what passing does, e.g. {"type":"budget","fund":"food","amount":5000}')
      .option("--threshold <ratio>", "threshold, e.g. 2/3:cast:>=")
      .option("--quorum <ratio>", "quorum, a share of the electorate: 1/2 (more than half) or 1/2:>=")
      .option("--max-score <n>", "highest score per option (score votes)")
      .option("--dots-per-voter <n>", "dots each voter may place (dot votes)"),
    { council: true },
  ).action(async (options: ProposeOptions) => {
    await run(options, { op: "propose", council: options.council, input: proposalOf(options) }, (r) =>
      String(r.proposal),
    );
  });

  common(
    program
      .command("vote")
      .description("cast (or replace) your vote on a proposal")
      .argument("<proposal>", "proposal id or a unique prefix")
      .option("--choice <choice>", "yes|no|abstain (majority), consent|object|stand-aside, agree|disagree|block")
      .option("--ranking <list>", "ranked votes: options in order of preference, comma-separated")
      .option("--scores <map>", "score votes: a=3,b=1")
      .option("--dots <map>", "dot votes: a=2,b=1"),
    { council: true },
  ).action(async (proposal: string, options: VoteOptions) => {
    await run(
      options,
      {
        op: "vote",
        council: options.council,
        proposal,
        ...(options.choice !== undefined ? { choice: options.choice } : {}),
        ...(options.ranking !== undefined ? { ranking: parseList(options.ranking) } : {}),
        ...(options.scores !== undefined ? { scores: parseWeights(options.scores, "--scores") } : {}),
        ...(options.dots !== undefined ? { dots: parseWeights(options.dots, "--dots") } : {}),
      },
      (r) => String(r.record),
    );
  });

  common(program.command("tick").description("write an empty record so deadlines that have passed take effect"), {
    council: true,
  }).action(async (options: CouncilOptions) => {
    await run(options, { op: "tick", council: options.council }, (r) => String(r.record));
  });
}

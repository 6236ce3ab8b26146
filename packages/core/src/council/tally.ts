/** Counts a council's ballots under each decision method and says, exactly and deterministically, whether it passed. */

import type { Ballot, Ratio, RunoffRound, TallyInput, TallyResult, Threshold } from "./tally-types.js";

/** Highest score per option when a score proposal does not say. */
export const DEFAULT_MAX_SCORE = 5;
/** Dots per voter when a dot proposal does not say. */
export const DEFAULT_DOTS_PER_VOTER = 3;

/** What a method's count decides before quorum and participation are added. */
type Outcome = Omit<TallyResult, "quorumMet" | "participation">;

/**
 * Whether `count / base` compares (`>` or `>=`) to `ratio`, decided by integer cross-multiplication so no float rounds.
 * A zero or invalid base, or a ratio that is not a pair of non-negative safe integers with a positive denominator,
 * never meets the threshold (fail closed).
 */
export function meetsRatio(count: number, base: number, ratio: Ratio, cmp: ">" | ">="): boolean {
  if (!isCount(count) || !isCount(base) || base === 0) return false;
  if (!isCount(ratio.num) || !isCount(ratio.den) || ratio.den === 0) return false;
  // BigInt keeps the products exact even past 2^53.
  const left = BigInt(count) * BigInt(ratio.den);
  const right = BigInt(ratio.num) * BigInt(base);
  if (cmp === ">") return left > right;
  if (cmp === ">=") return left >= right;
  return false;
}

/**
 * Counts `input.ballots` under `input.method`.
 *
 * - Participation is the number of ballots; quorum is met iff participation compares (`quorum.cmp`) to `quorum.ratio`
 *   of the electorate size. Without quorum the proposal fails with no winner or tie, though counts (and runoff
 *   rounds) are still filled.
 * - The threshold base is, for `of: "cast"`, the ballots that are not abstentions or stand-asides (consent: consent +
 *   object; majority/supermajority: yes + no; consensus: agree + disagree + block) and, for `of: "eligible"`, the
 *   electorate size. A base of 0 fails the proposal.
 * - consent: passes iff nobody objects and at least one member consents; the threshold is not applied.
 * - majority, supermajority: passes iff yes meets the threshold of the base (they differ only in the ratio stated).
 * - consensus: any block fails it; otherwise passes iff agree meets the threshold of the base (disagree only counts).
 * - ranked: instant runoff. Each ballot counts for its highest-ranked remaining option (unknown ids and repeats are
 *   skipped; exhausted ballots count for nothing). An option meeting the threshold of the round's base (`cast`: the
 *   ballots still in play; `eligible`: the electorate) wins. Otherwise every option tied for fewest votes is
 *   eliminated at once, unless that would eliminate all remaining options, which is an unbreakable tie. A last option
 *   standing below the threshold fails. `counts` are the final round's; `rounds` records every round.
 * - score: integer scores 0..maxScore (default 5) are summed per option; the unique highest total wins and passes iff
 *   it meets the threshold of maxScore × base (`cast`: valid ballots; `eligible`: electorate size).
 * - dot: non-negative integer dots, at most dotsPerVoter (default 3) per ballot, are summed per option; the unique
 *   highest total wins and passes iff it meets the threshold of all dots cast (`cast`) or dotsPerVoter × electorate
 *   size (`eligible`).
 * - A tie at the top (ranked, score, dot) fails the proposal and lists the tied options in `tied`.
 * - A ballot of another method, or a malformed one (unknown option, score or dots not a whole number in range, dots
 *   over budget), still counts for participation and quorum but is otherwise ignored like an abstention.
 * - Fail closed: a malformed ratio is never met, and a malformed maxScore or dotsPerVoter fails the proposal.
 *
 * Keys of `counts` are sorted by code unit so every peer produces the same output; the function never throws.
 */
export function tally(input: TallyInput): TallyResult {
  const participation = input.ballots.size;
  const electorateSize = input.electorate.length;
  const quorumMet = meetsRatio(participation, electorateSize, input.quorum.ratio, input.quorum.cmp);
  // Sort by voter id so nothing downstream can depend on the Map's insertion order.
  const ballots = [...input.ballots.entries()].sort(([a], [b]) => compareIds(a, b)).map(([, ballot]) => ballot);
  const outcome = countByMethod(input, ballots, electorateSize);
  if (quorumMet) return { ...outcome, quorumMet, participation };
  const { ratio, cmp } = input.quorum;
  return {
    passed: false,
    quorumMet,
    counts: outcome.counts,
    participation,
    ...(outcome.rounds === undefined ? {} : { rounds: outcome.rounds }),
    reason:
      `Failed because quorum was not met: ${participation} of ${electorateSize} eligible members took part, ` +
      `not ${cmpWords(cmp)} the ${ratio.num}/${ratio.den} required.`,
  };
}

function countByMethod(input: TallyInput, ballots: readonly Ballot[], electorateSize: number): Outcome {
  const method = input.method;
  switch (method) {
    case "consent":
      return countConsent(ballots);
    case "majority":
    case "supermajority":
      return countYesNo(method, ballots, input.threshold, electorateSize);
    case "consensus":
      return countConsensus(ballots, input.threshold, electorateSize);
    case "ranked":
      return countRanked(input, ballots, electorateSize);
    case "score":
      return countScore(input, ballots, electorateSize);
    case "dot":
      return countDot(input, ballots, electorateSize);
    default:
      return { passed: false, counts: {}, reason: `Failed because "${String(method)}" is not a known voting method.` };
  }
}

// A ballot whose method differs from the proposal's, or that is malformed, is ignored like an abstention.

function countConsent(ballots: readonly Ballot[]): Outcome {
  const counts = countChoices("consent", ["consent", "object", "stand-aside"], ballots);
  const consents = counts.get("consent") ?? 0;
  const objections = counts.get("object") ?? 0;
  const record = toRecord(counts);
  if (objections > 0) {
    const stand = objections === 1 ? "objection stands" : "objections stand";
    return { passed: false, counts: record, reason: `Failed because ${objections} ${stand}.` };
  }
  if (consents === 0) return { passed: false, counts: record, reason: "Failed because no member consented." };
  return {
    passed: true,
    counts: record,
    reason: `Passed with ${plural(consents, "consent", "consents")} and no objections.`,
  };
}

function countYesNo(
  method: "majority" | "supermajority",
  ballots: readonly Ballot[],
  threshold: Threshold,
  electorateSize: number,
): Outcome {
  const counts = countChoices(method, ["abstain", "no", "yes"], ballots);
  const yes = counts.get("yes") ?? 0;
  const cast = yes + (counts.get("no") ?? 0);
  return judgeShare(toRecord(counts), yes, "yes", cast, threshold, electorateSize);
}

function countConsensus(ballots: readonly Ballot[], threshold: Threshold, electorateSize: number): Outcome {
  const counts = countChoices("consensus", ["abstain", "agree", "block", "disagree"], ballots);
  const agree = counts.get("agree") ?? 0;
  const blocks = counts.get("block") ?? 0;
  const record = toRecord(counts);
  if (blocks > 0) {
    return { passed: false, counts: record, reason: `Failed because ${plural(blocks, "member", "members")} blocked.` };
  }
  const cast = agree + (counts.get("disagree") ?? 0);
  return judgeShare(record, agree, "agree", cast, threshold, electorateSize);
}

/** Decides a yes/no-style count: `support` votes against the threshold of the cast or eligible base. */
function judgeShare(
  counts: Readonly<Record<string, number>>,
  support: number,
  label: string,
  cast: number,
  threshold: Threshold,
  electorateSize: number,
): Outcome {
  const base = threshold.of === "cast" ? cast : electorateSize;
  if (base === 0) return { passed: false, counts, reason: `Failed because ${emptyBase(threshold)}.` };
  const of = `${support} ${label} out of ${base} ${baseNoun(threshold)}`;
  if (meetsRatio(support, base, threshold.ratio, threshold.cmp)) {
    return { passed: true, counts, reason: `Passed with ${of}, ${verdict(threshold, true)}.` };
  }
  return { passed: false, counts, reason: `Failed with ${of}, ${verdict(threshold, false)}.` };
}

/** Tallies the listed choices (all present, even at 0) over ballots of `method`. */
function countChoices(method: string, choices: readonly string[], ballots: readonly Ballot[]): Map<string, number> {
  const counts = new Map<string, number>(choices.map((choice) => [choice, 0]));
  for (const ballot of ballots) {
    if (field(ballot, "method") !== method) continue;
    const choice = field(ballot, "choice");
    if (typeof choice !== "string") continue;
    const current = counts.get(choice);
    if (current !== undefined) counts.set(choice, current + 1);
  }
  return counts;
}

function countRanked(input: TallyInput, ballots: readonly Ballot[], electorateSize: number): Outcome {
  const { threshold } = input;
  const options = uniqueSorted(input.options);
  const known = new Set(options);
  const rankings: string[][] = [];
  for (const ballot of ballots) {
    const ranking = readRanking(ballot, known);
    if (ranking !== undefined) rankings.push(ranking);
  }
  const rounds: RunoffRound[] = [];
  if (options.length === 0) {
    return { passed: false, counts: {}, rounds, reason: "Failed because the proposal has no options." };
  }
  const remaining = new Set(options);
  // Each pass either ends the count or eliminates at least one option, so the loop ends.
  for (;;) {
    const tallies = new Map<string, number>(options.filter((o) => remaining.has(o)).map((o) => [o, 0]));
    let live = 0;
    for (const ranking of rankings) {
      const choice = ranking.find((o) => remaining.has(o));
      if (choice === undefined) continue;
      tallies.set(choice, (tallies.get(choice) ?? 0) + 1);
      live += 1;
    }
    const counts = toRecord(tallies);
    const roundNo = rounds.length + 1;
    const base = threshold.of === "cast" ? live : electorateSize;
    const ended = (outcome: Omit<Outcome, "counts" | "rounds">): Outcome => {
      rounds.push({ counts, eliminated: [] });
      return { ...outcome, counts, rounds };
    };
    if (live === 0) return ended({ passed: false, reason: "Failed because no ballot ranks a remaining option." });
    const meeting = [...tallies].filter(([, votes]) => meetsRatio(votes, base, threshold.ratio, threshold.cmp));
    if (meeting.length > 0) {
      const leaders = topOf(new Map(meeting));
      const top = tallies.get(leaders[0]!) ?? 0;
      if (leaders.length > 1) {
        return ended({
          passed: false,
          tied: leaders,
          reason: `Failed because ${listWords(leaders)} tied at the top in round ${roundNo} with ${top} votes each.`,
        });
      }
      const winner = leaders[0]!;
      return ended({
        passed: true,
        winner,
        reason:
          `Passed: ${winner} won in round ${roundNo} with ${top} of ${base} ${runoffNoun(threshold)}, ` +
          `${verdict(threshold, true)}.`,
      });
    }
    if (remaining.size === 1) {
      const [last, votes] = [...tallies][0]!;
      return ended({
        passed: false,
        reason:
          `Failed because ${last}, the last option standing, had ${votes} of ${base} ${runoffNoun(threshold)}, ` +
          `${verdict(threshold, false)}.`,
      });
    }
    const fewest = extreme(tallies.values(), Math.min);
    const lowest = [...tallies].filter(([, votes]) => votes === fewest).map(([option]) => option);
    if (lowest.length === remaining.size) {
      return ended({
        passed: false,
        tied: lowest,
        reason:
          `Failed because ${listWords(lowest)} tied in round ${roundNo} with ${fewest} votes each, ` +
          "so none can be eliminated.",
      });
    }
    rounds.push({ counts, eliminated: lowest });
    for (const option of lowest) remaining.delete(option);
  }
}

/** The known options a ranked ballot names, in order, without repeats; undefined when it is not a usable ranking. */
function readRanking(ballot: Ballot, known: ReadonlySet<string>): string[] | undefined {
  if (field(ballot, "method") !== "ranked") return undefined;
  const ranking = field(ballot, "ranking");
  if (!Array.isArray(ranking)) return undefined;
  const seen = new Set<string>();
  for (const entry of ranking as readonly unknown[]) {
    if (typeof entry === "string" && known.has(entry)) seen.add(entry);
  }
  return [...seen];
}

function countScore(input: TallyInput, ballots: readonly Ballot[], electorateSize: number): Outcome {
  const maxScore = input.maxScore ?? DEFAULT_MAX_SCORE;
  const options = uniqueSorted(input.options);
  const zeros = toRecord(new Map(options.map((o) => [o, 0])));
  if (!isCount(maxScore) || maxScore === 0) {
    return { passed: false, counts: zeros, reason: "Failed because the maximum score is not a positive whole number." };
  }
  const { totals, valid } = sumPoints("score", "scores", ballots, new Set(options), maxScore, Number.POSITIVE_INFINITY);
  const base = input.threshold.of === "cast" ? valid : electorateSize;
  return judgeTop(totals, valid, maxScore * base, "points", input.threshold);
}

function countDot(input: TallyInput, ballots: readonly Ballot[], electorateSize: number): Outcome {
  const dotsPerVoter = input.dotsPerVoter ?? DEFAULT_DOTS_PER_VOTER;
  const options = uniqueSorted(input.options);
  const zeros = toRecord(new Map(options.map((o) => [o, 0])));
  if (!isCount(dotsPerVoter) || dotsPerVoter === 0) {
    return {
      passed: false,
      counts: zeros,
      reason: "Failed because the number of dots per voter is not a positive whole number.",
    };
  }
  const { totals, valid } = sumPoints("dot", "dots", ballots, new Set(options), dotsPerVoter, dotsPerVoter);
  let cast = 0;
  for (const dots of totals.values()) cast += dots;
  const possible = input.threshold.of === "cast" ? cast : dotsPerVoter * electorateSize;
  return judgeTop(totals, valid, possible, "dots", input.threshold);
}

/** Sums per-option points over valid ballots, each value an integer in 0..maxEach and their sum at most maxTotal. */
function sumPoints(
  method: "score" | "dot",
  key: "scores" | "dots",
  ballots: readonly Ballot[],
  known: ReadonlySet<string>,
  maxEach: number,
  maxTotal: number,
): { totals: Map<string, number>; valid: number } {
  const totals = new Map<string, number>([...known].map((o) => [o, 0]));
  let valid = 0;
  for (const ballot of ballots) {
    const parsed = parsePoints(method, key, ballot, known, maxEach, maxTotal);
    if (typeof parsed === "string") continue;
    valid += 1;
    for (const [option, value] of parsed) totals.set(option, (totals.get(option) ?? 0) + value);
  }
  return { totals, valid };
}

/** A points ballot's (option, points) pairs, or why the count ignores it. */
function parsePoints(
  method: "score" | "dot",
  key: "scores" | "dots",
  ballot: Ballot,
  known: ReadonlySet<string>,
  maxEach: number,
  maxTotal: number,
): [string, number][] | string {
  if (field(ballot, "method") !== method) return `the proposal is decided by ${method} votes`;
  const points = field(ballot, key);
  if (typeof points !== "object" || points === null || Array.isArray(points)) return `no ${key} given`;
  const parsed: [string, number][] = [];
  let sum = 0;
  for (const [option, value] of Object.entries(points as Record<string, unknown>)) {
    if (!known.has(option)) return `${option} is not one of the options`;
    if (typeof value !== "number" || !isCount(value) || value > maxEach)
      return `${option}: ${String(value)} is not a whole number from 0 to ${maxEach}`;
    sum += value;
    if (sum > maxTotal) return `more than ${maxTotal} ${key} in all`;
    parsed.push([option, value]);
  }
  return parsed;
}

/**
 * Why the count would ignore this ballot on a score or dot proposal (a ballot it ignores still counts towards quorum),
 * or null when it counts. Other methods' ballots are judged by the record schema.
 */
export function ballotProblem(
  proposal: Pick<TallyInput, "method" | "options" | "maxScore" | "dotsPerVoter">,
  ballot: Ballot,
): string | null {
  const known = new Set(proposal.options);
  if (proposal.method === "score") {
    const parsed = parsePoints("score", "scores", ballot, known, proposal.maxScore ?? DEFAULT_MAX_SCORE, Infinity);
    return typeof parsed === "string" ? parsed : null;
  }
  if (proposal.method === "dot") {
    const dots = proposal.dotsPerVoter ?? DEFAULT_DOTS_PER_VOTER;
    const parsed = parsePoints("dot", "dots", ballot, known, dots, dots);
    return typeof parsed === "string" ? parsed : null;
  }
  return null;
}

/** Decides score and dot counts: the unique highest total must meet the threshold of `possible`. */
function judgeTop(
  totals: Map<string, number>,
  valid: number,
  possible: number,
  unit: string,
  threshold: Threshold,
): Outcome {
  const counts = toRecord(totals);
  if (totals.size === 0) return { passed: false, counts, reason: "Failed because the proposal has no options." };
  if (valid === 0 || possible === 0) return { passed: false, counts, reason: `Failed because no ${unit} were cast.` };
  const leaders = topOf(totals);
  const top = totals.get(leaders[0]!) ?? 0;
  if (leaders.length > 1) {
    return {
      passed: false,
      counts,
      tied: leaders,
      reason: `Failed because ${listWords(leaders)} tied at the top with ${top} ${unit} each.`,
    };
  }
  const winner = leaders[0]!;
  const of =
    threshold.of === "cast"
      ? `${possible} ${unit} ${unit === "dots" ? "cast" : "possible"}`
      : `${possible} ${unit} possible from eligible members`;
  const share = `${winner} led with ${top} of ${of}`;
  if (meetsRatio(top, possible, threshold.ratio, threshold.cmp)) {
    return { passed: true, counts, winner, reason: `Passed: ${share}, ${verdict(threshold, true)}.` };
  }
  return { passed: false, counts, reason: `Failed: ${share}, ${verdict(threshold, false)}.` };
}

/** The options holding the highest value, in sorted order. */
function topOf(values: ReadonlyMap<string, number>): string[] {
  const top = extreme(values.values(), Math.max);
  return [...values]
    .filter(([, value]) => value === top)
    .map(([option]) => option)
    .sort(compareIds);
}

/** Reads an own property of a value that may not be an object at all (ballots arrive from peers). */
function field(value: unknown, key: string): unknown {
  if (typeof value !== "object" || value === null || !Object.hasOwn(value, key)) return undefined;
  return (value as Record<string, unknown>)[key];
}

/** The max or min of some numbers without spreading them into arguments (no call-stack limit). */
function extreme(values: Iterable<number>, pick: (a: number, b: number) => number): number {
  let result: number | undefined;
  for (const value of values) result = result === undefined ? value : pick(result, value);
  return result ?? 0;
}

function isCount(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

/** Code-unit order: the same on every peer, unlike localeCompare. */
function compareIds(a: string, b: string): number {
  if (a < b) return -1;
  return a > b ? 1 : 0;
}

function uniqueSorted(values: readonly string[]): string[] {
  return [...new Set(values.filter((v) => typeof v === "string"))].sort(compareIds);
}

/** A plain record with sorted keys; Object.fromEntries defines own keys, so even "__proto__" stays data. */
function toRecord(counts: ReadonlyMap<string, number>): Record<string, number> {
  return Object.fromEntries([...counts].sort(([a], [b]) => compareIds(a, b)));
}

function cmpWords(cmp: ">" | ">="): string {
  return cmp === ">" ? "more than" : "at least";
}

/** "more than the 1/2 required", or with "not " in front when the threshold was missed. */
function verdict(threshold: Threshold, met: boolean): string {
  const { ratio, cmp } = threshold;
  return `${met ? "" : "not "}${cmpWords(cmp)} the ${ratio.num}/${ratio.den} required`;
}

function baseNoun(threshold: Threshold): string {
  return threshold.of === "cast" ? "votes cast" : "eligible members";
}

function runoffNoun(threshold: Threshold): string {
  return threshold.of === "cast" ? "ballots still in play" : "eligible members";
}

function emptyBase(threshold: Threshold): string {
  return threshold.of === "cast" ? "no votes were cast for or against" : "the electorate is empty";
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

function listWords(items: readonly string[]): string {
  if (items.length <= 2) return items.join(" and ");
  return `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}

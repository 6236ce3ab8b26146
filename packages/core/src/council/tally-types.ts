/** The vocabulary of decision methods: what a proposal asks, what a ballot says, what a count yields. */

/** A method of deciding, as named in a proposal. */
export type VoteMethod = "consent" | "majority" | "supermajority" | "consensus" | "ranked" | "score" | "dot";

/** An exact fraction; thresholds are rationals so every peer computes the same comparison. */
export interface Ratio {
  readonly num: number;
  readonly den: number;
}

/**
 * When a proposal passes: `ratio` of the votes `of` "cast" (abstentions and stand-asides excluded)
 * or of "eligible" members (the frozen electorate), compared with `>` or `>=`.
 */
export interface Threshold {
  readonly ratio: Ratio;
  readonly of: "cast" | "eligible";
  readonly cmp: ">" | ">=";
}

/** The least participation for a count to stand: a ratio of the frozen electorate (ballots of any kind count). */
export interface Quorum {
  readonly ratio: Ratio;
  readonly cmp: ">" | ">=";
}

/** A ballot, shaped by the method it answers. */
export type Ballot =
  | { readonly method: "consent"; readonly choice: "consent" | "object" | "stand-aside" }
  | { readonly method: "majority" | "supermajority"; readonly choice: "yes" | "no" | "abstain" }
  | { readonly method: "consensus"; readonly choice: "agree" | "abstain" | "disagree" | "block" }
  | { readonly method: "ranked"; readonly ranking: readonly string[] }
  | { readonly method: "score"; readonly scores: Readonly<Record<string, number>> }
  | { readonly method: "dot"; readonly dots: Readonly<Record<string, number>> };

/** Everything a count needs; the electorate is the frozen list of eligible member ids. */
export interface TallyInput {
  readonly method: VoteMethod;
  /** Options for ranked, score and dot; ignored by the yes/no methods. */
  readonly options: readonly string[];
  readonly threshold: Threshold;
  readonly quorum: Quorum;
  /** Frozen at opening, sorted; ballots from anyone else are ignored by the caller. */
  readonly electorate: readonly string[];
  /** The latest ballot of each voter (voter id -> ballot), already filtered to the electorate and the deadline. */
  readonly ballots: ReadonlyMap<string, Ballot>;
  /** Highest score a voter may give an option (score method). */
  readonly maxScore?: number;
  /** Dots each voter may spend (dot method). */
  readonly dotsPerVoter?: number;
}

/** One round of an instant runoff: tallies of first live preferences, and who was eliminated. */
export interface RunoffRound {
  readonly counts: Readonly<Record<string, number>>;
  readonly eliminated: readonly string[];
}

/** The outcome of a count, with enough detail to explain it to an assembly. */
export interface TallyResult {
  readonly passed: boolean;
  readonly quorumMet: boolean;
  /** The chosen option for ranked, score and dot methods when passed. */
  readonly winner?: string;
  /** Per-choice or per-option totals. */
  readonly counts: Readonly<Record<string, number>>;
  /** Number of ballots counted (participation). */
  readonly participation: number;
  readonly rounds?: readonly RunoffRound[];
  /** Options tied at the top, when a tie had to be broken or left the result undecided. */
  readonly tied?: readonly string[];
  /** One plain sentence: why it passed or failed. */
  readonly reason: string;
}

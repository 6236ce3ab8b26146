/** The federation's internal derived model: what the federation fold mutates, and how it is copied at checkpoints. */
import type { Quorum, TallyResult, Threshold } from "../council/tally-types.js";
import type { ModelSnapshot, OutcomeStep, Rejection, Timer } from "../derive/model.js";
import type { Hlc } from "../hlc.js";
import type { CouncilId, FederationId, MandateId, MemberId, ProposalId, RecordId } from "../ids.js";
import type { FederationCharter, FederationEffect, FederationMethod } from "../records/schemas.js";

/** A council the federation admitted: at its genesis, or by a passed `admit-council` proposal. */
export interface MemberCouncilModel {
  readonly id: CouncilId;
  readonly since: Hlc;
  readonly admittedBy: "genesis" | ProposalId;
}

/** A council's announced withdrawal: the announcement's clock, and when (ms) the recall it announces took effect. */
export interface Withdrawal {
  readonly at: Hlc;
  readonly since: number;
  /** The latest announced at an earlier clock: what acts at this one's very clock are judged by. */
  readonly earlier?: Withdrawal;
}

/** A delegate's vote or ratification that counts, with the mandate it was cast under. */
export interface MandatedAct {
  readonly council: CouncilId;
  readonly delegate: MemberId;
  readonly mandate: MandateId;
  readonly record: RecordId;
  readonly at: Hlc;
}

/** The counted vote of one member council. */
export interface CountedVote extends MandatedAct {
  readonly position: string;
}

/** A convergence as its calling proposal states it, with the defaults resolved when the proposal opened. */
export type ConvergenceEffect = Extract<FederationEffect, { type: "convergence" }> & {
  readonly endsAt: number;
  readonly topic: string;
};

/** The effect of a federation proposal once opened (a convergence's end and topic filled in). */
export type ResolvedEffect = Exclude<FederationEffect, { type: "convergence" }> | ConvergenceEffect;

export interface FederationProposalModel {
  readonly id: ProposalId;
  readonly author: MemberId;
  /** The member council the proposer acted for. */
  readonly council: CouncilId;
  readonly title: string;
  readonly text: string;
  /** The mandate topic delegates vote under: named in the proposal, or its own id. */
  readonly topic: string;
  readonly method: FederationMethod;
  readonly threshold: Threshold;
  readonly quorum: Quorum;
  readonly openedAt: Hlc;
  readonly closesAt: number;
  /** Member councils when the proposal opened, sorted: one vote each. */
  readonly electorate: readonly CouncilId[];
  readonly effect: ResolvedEffect;
  /** Each council's latest vote cast within a mandate. */
  votes: Map<CouncilId, CountedVote>;
  status: "open" | "passed" | "failed";
  result: TallyResult | null;
  history: OutcomeStep[];
  effectOutcome: { applied: boolean; detail: string } | null;
}

/** One council's answer to a solidarity alert. */
export interface AlertResponse {
  readonly record: RecordId;
  readonly council: CouncilId;
  readonly author: MemberId;
  readonly offer: string;
  readonly at: Hlc;
}

export interface AlertModel {
  readonly id: RecordId;
  readonly council: CouncilId;
  readonly author: MemberId;
  readonly what: string;
  readonly needs: string;
  readonly at: Hlc;
  /** The charter's pledge window when the alert was raised. */
  readonly pledgeWindowMs: number;
  /** The other member councils when the alert was raised, sorted: those the pledge binds. */
  readonly expected: readonly CouncilId[];
  responses: AlertResponse[];
}

export interface ConvergenceModel {
  readonly id: ProposalId;
  readonly title: string;
  readonly topic: string;
  readonly startsAt: number;
  readonly endsAt: number;
  readonly actions: readonly string[];
  readonly calledAt: Hlc;
  /** Per action, per council, the first ratification that counts. */
  ratifications: Map<string, Map<CouncilId, MandatedAct>>;
}

export type FederationConflictType = "out-of-mandate" | "outside-window" | "late-vote" | "effect-failed";

/** An act the federation derivation did not count, shown with its reason rather than dropped. */
export interface FederationConflict {
  readonly type: FederationConflictType;
  readonly record: RecordId;
  readonly at: Hlc;
  /** The member council the act was for (null for a failed effect). */
  readonly council: CouncilId | null;
  /** The proposal or convergence it concerns. */
  readonly target: ProposalId;
  /** For `out-of-mandate`: why the mandate does not cover it (a `mandateAllows` refusal or the federation's own). */
  readonly reason: string | null;
  readonly detail: string;
}

/** Everything the federation fold derives; logs are append-only so a checkpoint keeps only their lengths. */
export interface FederationModel {
  federation: FederationId | null;
  name: string;
  charter: FederationCharter | null;
  genesisAt: Hlc | null;
  horizon: Hlc;
  councils: Map<CouncilId, MemberCouncilModel>;
  /** Each member council's latest announced withdrawal (`federation.withdraw`): its clock, and the recall's time. */
  withdrawals: Map<CouncilId, Withdrawal>;
  proposals: Map<ProposalId, FederationProposalModel>;
  alerts: Map<RecordId, AlertModel>;
  convergences: Map<ProposalId, ConvergenceModel>;
  timers: Timer[];
  logs: {
    conflicts: FederationConflict[];
    rejections: Rejection[];
  };
}

export type FederationSnapshot = ModelSnapshot<FederationModel>;

export function emptyFederationModel(): FederationModel {
  return {
    federation: null,
    name: "",
    charter: null,
    genesisAt: null,
    horizon: { ms: 0, c: 0 },
    councils: new Map(),
    withdrawals: new Map(),
    proposals: new Map(),
    alerts: new Map(),
    convergences: new Map(),
    timers: [],
    logs: { conflicts: [], rejections: [] },
  };
}

/** Records an act the derivation did not count. */
export function flag(model: FederationModel, conflict: FederationConflict): void {
  model.logs.conflicts.push(conflict);
}

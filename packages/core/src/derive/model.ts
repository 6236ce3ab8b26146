/** The council's internal derived model: what the fold mutates, and how it is copied at checkpoints. */
import type { Ballot, Quorum, TallyResult, Threshold, VoteMethod } from "../council/tally-types.js";
import type { Hlc } from "../hlc.js";
import type { CouncilId, DeviceId, FundId, MandateId, MemberId, ProposalId, RecordId, SignerId } from "../ids.js";
import type { ExclusionReason } from "../records/integrity.js";
import type { Charter, Effect, Positions } from "../records/schemas.js";

export interface MemberModel {
  readonly id: MemberId;
  since: Hlc;
  admittedBy: "genesis" | ProposalId;
  devices: DeviceId[];
}

export interface OutcomeStep {
  readonly at: Hlc;
  readonly record: RecordId | null;
  readonly passed: boolean;
  readonly event: "vote" | "close";
}

export interface ProposalModel {
  readonly id: ProposalId;
  readonly author: MemberId;
  readonly title: string;
  readonly text: string;
  readonly method: VoteMethod;
  readonly options: readonly string[];
  readonly threshold: Threshold;
  readonly quorum: Quorum;
  readonly openedAt: Hlc;
  readonly closesAt: number;
  readonly electorate: readonly MemberId[];
  readonly effect: Effect;
  readonly maxScore: number;
  readonly dotsPerVoter: number;
  /** Latest ballot per voter, with the record that cast it. */
  votes: Map<MemberId, { ballot: Ballot; record: RecordId; at: Hlc }>;
  status: "open" | "passed" | "failed";
  result: TallyResult | null;
  history: OutcomeStep[];
  effectOutcome: { applied: boolean; detail: string } | null;
}

export interface MandateModel {
  readonly id: MandateId;
  readonly delegate: MemberId;
  readonly body: string;
  readonly instructions: string;
  readonly positions: Positions;
  readonly allowance: { fund: FundId; amount: number } | null;
  spent: number;
  readonly startsAt: number;
  readonly expiresAt: number;
  readonly recall: Threshold;
  readonly issuedAt: Hlc;
  recalledAt: Hlc | null;
  recalledBy: ProposalId | null;
}

export interface RoleModel {
  readonly role: string;
  /** Who held the role this cycle (cleared once every eligible member has held it). */
  cycle: MemberId[];
  lastHolder: MemberId | null;
  streak: number;
  meetings: Map<string, MemberId>;
}

export interface JarRound {
  readonly proposal: ProposalId;
  readonly closesAt: number;
  readonly remainderTo: FundId;
  requests: { id: RecordId; by: MemberId; amount: number; purpose: string; at: Hlc }[];
  dots: Map<MemberId, Record<string, number>>;
}

export interface FundModel {
  readonly id: FundId;
  readonly type: "cash" | "time" | "jar";
  readonly createdAt: Hlc;
  readonly parent: FundId | null;
  readonly circle: readonly MemberId[];
  balance: number;
  /** Time-swap balances per member, in minutes. */
  accounts: Map<MemberId, number>;
  round: JarRound | null;
  roundsClosed: number;
}

export type EntryType =
  | "donation"
  | "expense"
  | "transfer-out"
  | "transfer-in"
  | "swap"
  | "jar-contribution"
  | "jar-payout"
  | "jar-remainder"
  | "split-out"
  | "split-in";

/** One line of the open ledger. Held entries did not move money. */
export interface LedgerEntry {
  readonly record: RecordId;
  readonly at: Hlc;
  readonly fund: FundId;
  readonly type: EntryType;
  readonly amount: number;
  readonly by: MemberId;
  readonly counterparty: string;
  readonly memo: string;
  readonly status: "applied" | "held";
  readonly reason: string;
}

export type ConflictType =
  | "overdraft-held"
  | "unapproved-held"
  | "debt-limit-held"
  | "out-of-mandate"
  | "rotation-conflict"
  | "rotation-violation"
  | "late-vote"
  | "effect-failed";

/** A conflict the derivation resolved deterministically, shown to the assembly rather than dropped. */
export interface Conflict {
  readonly type: ConflictType;
  readonly record: RecordId;
  readonly at: Hlc;
  readonly detail: string;
}

/** A record the fold excluded because of who wrote it or what it asked. */
export interface Rejection {
  readonly id: RecordId;
  readonly reason: ExclusionReason;
  readonly detail: string;
  readonly signer: SignerId;
  readonly seq: number;
}

export interface Alert {
  readonly type: "rotation-stalled";
  readonly at: Hlc;
  readonly detail: string;
}

export interface Timer {
  readonly ms: number;
  readonly key: string;
  readonly kind: "close-proposal" | "close-jar";
}

/** Everything the fold derives; logs are append-only so a checkpoint keeps only their lengths. */
export interface CouncilModel {
  council: CouncilId | null;
  name: string;
  charter: Charter | null;
  genesisAt: Hlc | null;
  horizon: Hlc;
  members: Map<MemberId, MemberModel>;
  former: Map<MemberId, { left: Hlc; how: "left" | ProposalId }>;
  deviceOwner: Map<DeviceId, MemberId>;
  proposals: Map<ProposalId, ProposalModel>;
  mandates: Map<MandateId, MandateModel>;
  roles: Map<string, RoleModel>;
  funds: Map<FundId, FundModel>;
  budgets: Map<ProposalId, { fund: FundId; remaining: number }>;
  minutes: Map<string, { record: RecordId; title: string; decisions: RecordId[]; at: Hlc }>;
  timers: Timer[];
  logs: {
    entries: LedgerEntry[];
    conflicts: Conflict[];
    rejections: Rejection[];
    alerts: Alert[];
    roleHistory: { role: string; meeting: string; holder: MemberId; at: Hlc; record: RecordId; violation: boolean }[];
  };
}

export type Logs = CouncilModel["logs"];

/** A model whose append-only logs are lists (the council's, the federation's). */
type WithLogs = { logs: { [key: string]: unknown[] } };

/** A checkpoint of a model: its tables copied, its shared logs kept with their lengths. */
export interface ModelSnapshot<M extends WithLogs> {
  readonly tables: Omit<M, "logs">;
  readonly lengths: { [K in keyof M["logs"]]: number };
  readonly logs: M["logs"];
}

export type CouncilSnapshot = ModelSnapshot<CouncilModel>;

export function emptyModel(): CouncilModel {
  return {
    council: null,
    name: "",
    charter: null,
    genesisAt: null,
    horizon: { ms: 0, c: 0 },
    members: new Map(),
    former: new Map(),
    deviceOwner: new Map(),
    proposals: new Map(),
    mandates: new Map(),
    roles: new Map(),
    funds: new Map(),
    budgets: new Map(),
    minutes: new Map(),
    timers: [],
    logs: { entries: [], conflicts: [], rejections: [], alerts: [], roleHistory: [] },
  };
}

/** Copies the mutable tables; logs are shared and truncated back to their lengths on restore. */
export function snapshotModel<M extends WithLogs>(model: M): ModelSnapshot<M> {
  const { logs, ...tables } = model;
  const lengths = Object.fromEntries(Object.entries(logs).map(([k, v]) => [k, v.length]));
  return { tables: structuredClone(tables), lengths, logs } as ModelSnapshot<M>;
}

export function restoreModel<M extends WithLogs>(snap: ModelSnapshot<M>): M {
  const logs = snap.logs;
  for (const key of Object.keys(logs) as (keyof M["logs"] & string)[]) logs[key]!.length = snap.lengths[key];
  return { ...structuredClone(snap.tables), logs } as M;
}

/** A copy of a model to try records on: its tables cloned, its logs fresh (what the trial adds is all they hold). */
export function trialCopy<M extends WithLogs>(model: M): M {
  const { logs, ...tables } = model;
  const fresh = Object.fromEntries(Object.keys(logs).map((k) => [k, []]));
  return { ...structuredClone(tables), logs: fresh } as unknown as M;
}

/** Schedules a timer, keeping timers sorted by (ms, key). */
export function schedule(model: { timers: Timer[] }, timer: Timer): void {
  let i = model.timers.length;
  while (i > 0) {
    const t = model.timers[i - 1]!;
    if (t.ms < timer.ms || (t.ms === timer.ms && t.key <= timer.key)) break;
    i--;
  }
  model.timers.splice(i, 0, timer);
}

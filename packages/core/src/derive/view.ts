/** The derived state as plain, sorted, JSON-safe data: what applications render and what reports export. */
import { nextEligible } from "../council/roles.js";
import type { Ballot, TallyResult } from "../council/tally-types.js";
import type { Hlc } from "../hlc.js";
import type { CouncilId, DeviceId, FundId, MemberId, ProposalId, RecordId } from "../ids.js";
import type { Mandate } from "../mandate/mandate.js";
import { mandateView } from "../mandate/mandate.js";
import type { Exclusion } from "../records/integrity.js";
import type { Charter, Effect } from "../records/schemas.js";
import type { Alert, Conflict, CouncilModel, LedgerEntry, OutcomeStep } from "./model.js";

export interface MemberState {
  readonly id: MemberId;
  readonly since: Hlc;
  readonly admittedBy: "genesis" | ProposalId;
  readonly devices: readonly DeviceId[];
}

export interface ProposalState {
  readonly id: ProposalId;
  readonly title: string;
  readonly text: string;
  readonly author: MemberId;
  readonly method: string;
  readonly options: readonly string[];
  /** Highest score per option (score votes) and dots per ballot (dot votes), as the proposal set them. */
  readonly maxScore: number;
  readonly dotsPerVoter: number;
  readonly openedAt: Hlc;
  readonly closesAt: number;
  readonly electorate: readonly MemberId[];
  readonly status: "open" | "passed" | "failed";
  /** Latest ballot per voter. */
  readonly votes: Readonly<Record<string, Ballot>>;
  /** Final count once closed, or the provisional count while open. */
  readonly result: TallyResult | null;
  /** Every change of the provisional outcome, then the close: how late votes moved it. */
  readonly history: readonly OutcomeStep[];
  readonly effect: Effect;
  readonly effectOutcome: { readonly applied: boolean; readonly detail: string } | null;
}

export interface RoleState {
  readonly role: string;
  readonly holders: readonly {
    readonly meeting: string;
    readonly holder: MemberId;
    readonly at: Hlc;
    readonly violation: boolean;
  }[];
  /** Who may take the role next without breaching rotation. */
  readonly nextEligible: readonly MemberId[];
  readonly stalled: boolean;
}

export interface FundState {
  readonly id: FundId;
  readonly type: "cash" | "time" | "jar";
  readonly balance: number;
  readonly parent: FundId | null;
  readonly circle: readonly MemberId[];
  /** Time-swap balances in minutes (sum is always zero). */
  readonly accounts: Readonly<Record<string, number>>;
  readonly round: { readonly closesAt: number; readonly requests: number } | null;
  readonly roundsClosed: number;
}

/** Everything derived from a council's records. Two peers with the same records hold byte-identical states. */
export interface CouncilState {
  readonly council: CouncilId | null;
  readonly name: string;
  readonly charter: Charter | null;
  /** The latest record clock folded: the council's notion of "now". */
  readonly horizon: Hlc;
  readonly records: number;
  readonly members: readonly MemberState[];
  readonly formerMembers: readonly { readonly id: MemberId; readonly left: Hlc; readonly how: string }[];
  readonly proposals: readonly ProposalState[];
  readonly mandates: readonly Mandate[];
  readonly roles: readonly RoleState[];
  readonly funds: readonly FundState[];
  readonly ledger: readonly LedgerEntry[];
  readonly budgets: readonly { readonly proposal: ProposalId; readonly fund: FundId; readonly remaining: number }[];
  readonly minutes: readonly {
    readonly meeting: string;
    readonly record: RecordId;
    readonly title: string;
    readonly decisions: readonly RecordId[];
  }[];
  readonly conflicts: readonly Conflict[];
  readonly alerts: readonly Alert[];
  /** Every record excluded from derivation, with its reason. */
  readonly excluded: readonly Exclusion[];
}

const byKey =
  <T>(key: (t: T) => string) =>
  (a: T, b: T) =>
    key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;

/** Builds the plain view of a model (the structural exclusions come from the integrity index). */
export function viewOf(model: CouncilModel, records: number, structural: readonly Exclusion[]): CouncilState {
  const excluded = [...structural, ...model.logs.rejections].sort(byKey((e) => e.id));
  return {
    council: model.council,
    name: model.name,
    charter: model.charter,
    horizon: model.horizon,
    records,
    members: [...model.members.values()].sort(byKey((m) => m.id)).map((m) => ({ ...m, devices: [...m.devices] })),
    formerMembers: [...model.former.entries()]
      .sort(byKey(([id]) => id))
      .map(([id, f]) => ({ id, left: f.left, how: f.how })),
    proposals: [...model.proposals.values()].sort(byKey((p) => p.id)).map((p) => ({
      id: p.id,
      title: p.title,
      text: p.text,
      author: p.author,
      method: p.method,
      options: p.options,
      maxScore: p.maxScore,
      dotsPerVoter: p.dotsPerVoter,
      openedAt: p.openedAt,
      closesAt: p.closesAt,
      electorate: p.electorate,
      status: p.status,
      votes: Object.fromEntries([...p.votes.entries()].sort(byKey(([id]) => id)).map(([id, v]) => [id, v.ballot])),
      result: p.result,
      history: [...p.history],
      effect: p.effect,
      effectOutcome: p.effectOutcome,
    })),
    mandates: [...model.mandates.values()].sort(byKey((m) => m.id)).map(mandateView),
    roles: [...(model.charter?.roles ?? [])].sort().map((name) => {
      const role = model.roles.get(name);
      return {
        role: name,
        holders: model.logs.roleHistory
          .filter((h) => h.role === name)
          .map(({ meeting, holder, at, violation }) => ({ meeting, holder, at, violation })),
        nextEligible: role ? nextEligible(model, role) : [...model.members.keys()].sort(),
        stalled: role !== undefined && role.streak >= (model.charter?.rotationStallAfter ?? Number.POSITIVE_INFINITY),
      };
    }),
    funds: [...model.funds.values()].sort(byKey((f) => f.id)).map((f) => ({
      id: f.id,
      type: f.type,
      balance: f.balance,
      parent: f.parent,
      circle: f.circle,
      accounts: Object.fromEntries([...f.accounts.entries()].sort(byKey(([id]) => id))),
      round: f.round ? { closesAt: f.round.closesAt, requests: f.round.requests.length } : null,
      roundsClosed: f.roundsClosed,
    })),
    ledger: [...model.logs.entries],
    budgets: [...model.budgets.entries()].sort(byKey(([id]) => id)).map(([proposal, b]) => ({ proposal, ...b })),
    minutes: [...model.minutes.entries()]
      .sort(byKey(([m]) => m))
      .map(([meeting, m]) => ({ meeting, record: m.record, title: m.title, decisions: m.decisions })),
    conflicts: [...model.logs.conflicts],
    alerts: [...model.logs.alerts],
    excluded,
  };
}

/** The federation's derived state as plain, sorted, JSON-safe data: what applications render and reports export. */
import type { TallyResult } from "../council/tally-types.js";
import type { OutcomeStep } from "../derive/model.js";
import type { CouncilState } from "../derive/view.js";
import type { Hlc } from "../hlc.js";
import type { CouncilId, FederationId, MemberId, ProposalId, RecordId } from "../ids.js";
import type { Exclusion } from "../records/integrity.js";
import type { FederationCharter, FederationMethod } from "../records/schemas.js";
import { consentsTo, mandatedBodies, stillWithdrawn } from "./consent.js";
import type {
  AlertModel,
  CountedVote,
  FederationConflict,
  FederationModel,
  MandatedAct,
  ResolvedEffect,
} from "./federation-model.js";

/** A member council, named as its own derived state names it (null when that state is not available here). */
export interface MemberCouncilState {
  readonly id: CouncilId;
  readonly name: string | null;
  readonly since: Hlc;
  readonly admittedBy: "genesis" | ProposalId;
  /**
   * Whether the council consents to the federation (a delegate mandated for it and not recalled: see `consentsTo`),
   * so that it shares its documents with the other member councils; null when its state is not available here. False
   * while it is `withdrawn`, whatever its state here says.
   */
  readonly consents: boolean | null;
  /** The clock of the council's latest announced withdrawal, or null. */
  readonly withdrawnAt: Hlc | null;
  /** Whether that withdrawal stands: no delegate mandated for the federation since, as far as this peer knows. */
  readonly withdrawn: boolean;
}

export interface FederationProposalState {
  readonly id: ProposalId;
  readonly title: string;
  readonly text: string;
  readonly author: MemberId;
  /** The member council the proposer acted for. */
  readonly council: CouncilId;
  /** The mandate topic delegates vote under. */
  readonly topic: string;
  readonly method: FederationMethod;
  readonly openedAt: Hlc;
  readonly closesAt: number;
  /** Member councils when it opened: one vote each. */
  readonly electorate: readonly CouncilId[];
  readonly status: "open" | "passed" | "failed";
  /** Per member council, its latest vote cast within a mandate. */
  readonly votes: Readonly<Record<string, CountedVote>>;
  readonly result: TallyResult | null;
  readonly history: readonly OutcomeStep[];
  readonly effect: ResolvedEffect;
  readonly effectOutcome: { readonly applied: boolean; readonly detail: string } | null;
}

/**
 * Whether a council kept the solidarity pledge for one alert: `met` (first response within the window), `late`
 * (after it), `missed` (no response and the federation's time is past the window) or `pending`.
 */
export interface PledgeState {
  readonly council: CouncilId;
  readonly status: "met" | "late" | "missed" | "pending";
  readonly respondedAt: Hlc | null;
  /** Milliseconds from the alert's clock to the council's first response's clock. */
  readonly responseMs: number | null;
}

export interface AlertState {
  readonly id: RecordId;
  readonly council: CouncilId;
  readonly author: MemberId;
  readonly what: string;
  readonly needs: string;
  readonly raisedAt: Hlc;
  readonly pledgeWindowMs: number;
  /** Every response, in derivation order, with its delay after the alert by record clocks. */
  readonly responses: readonly {
    readonly record: RecordId;
    readonly council: CouncilId;
    readonly author: MemberId;
    readonly offer: string;
    readonly at: Hlc;
    readonly afterMs: number;
  }[];
  /** Milliseconds from the alert to its first response, null while nobody has responded. */
  readonly firstResponseMs: number | null;
  /** One per council that was a member when the alert was raised (the raiser aside), sorted. */
  readonly pledges: readonly PledgeState[];
}

export interface ConvergenceState {
  readonly id: ProposalId;
  readonly title: string;
  readonly topic: string;
  readonly startsAt: number;
  readonly endsAt: number;
  readonly calledAt: Hlc;
  /** By the federation's time: before the box, inside it, or past its end. */
  readonly status: "scheduled" | "open" | "dissolved";
  readonly actions: readonly { readonly action: string; readonly ratifiedBy: readonly MandatedAct[] }[];
}

/** Everything derived from a federation's records and its member councils' states. */
export interface FederationState {
  readonly federation: FederationId | null;
  readonly name: string;
  readonly charter: FederationCharter | null;
  /** The latest clock of a record by a member of a member council: the federation's "now". */
  readonly horizon: Hlc;
  readonly records: number;
  readonly councils: readonly MemberCouncilState[];
  readonly proposals: readonly FederationProposalState[];
  readonly alerts: readonly AlertState[];
  readonly convergences: readonly ConvergenceState[];
  /** Acts not counted (out of mandate, outside a convergence, late) and effects that failed, in derivation order. */
  readonly conflicts: readonly FederationConflict[];
  readonly excluded: readonly Exclusion[];
}

const byKey =
  <T>(key: (t: T) => string) =>
  (a: T, b: T) =>
    key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;

function alertView(a: AlertModel, horizon: Hlc): AlertState {
  const responses = a.responses.map((r) => ({ ...r, afterMs: r.at.ms - a.at.ms }));
  const first = new Map<CouncilId, (typeof responses)[number]>();
  for (const r of responses) if (!first.has(r.council)) first.set(r.council, r);
  const pledges = a.expected.map((council): PledgeState => {
    const r = first.get(council);
    if (r !== undefined)
      return {
        council,
        status: r.afterMs <= a.pledgeWindowMs ? "met" : "late",
        respondedAt: r.at,
        responseMs: r.afterMs,
      };
    const missed = horizon.ms > a.at.ms + a.pledgeWindowMs;
    return { council, status: missed ? "missed" : "pending", respondedAt: null, responseMs: null };
  });
  return {
    id: a.id,
    council: a.council,
    author: a.author,
    what: a.what,
    needs: a.needs,
    raisedAt: a.at,
    pledgeWindowMs: a.pledgeWindowMs,
    responses,
    firstResponseMs: responses[0]?.afterMs ?? null,
    pledges,
  };
}

/** Builds the plain view of a federation model (structural exclusions come from the integrity index). */
export function federationViewOf(
  model: FederationModel,
  records: number,
  structural: readonly Exclusion[],
  states: ReadonlyMap<CouncilId, CouncilState>,
): FederationState {
  const horizon = model.horizon;
  return {
    federation: model.federation,
    name: model.name,
    charter: model.charter,
    horizon,
    records,
    councils: [...model.councils.values()].sort(byKey((c) => c.id)).map((c) => {
      const state = states.get(c.id);
      const federation = { id: model.federation ?? "", name: model.name };
      const withdrawal = model.withdrawals.get(c.id);
      const withdrawn = stillWithdrawn(withdrawal, state?.mandates ?? [], federation);
      const consents = withdrawn
        ? false
        : state === undefined
          ? null
          : consentsTo(mandatedBodies(state.mandates), federation);
      return { ...c, name: state?.name ?? null, consents, withdrawnAt: withdrawal?.at ?? null, withdrawn };
    }),
    proposals: [...model.proposals.values()].sort(byKey((p) => p.id)).map((p) => ({
      id: p.id,
      title: p.title,
      text: p.text,
      author: p.author,
      council: p.council,
      topic: p.topic,
      method: p.method,
      openedAt: p.openedAt,
      closesAt: p.closesAt,
      electorate: p.electorate,
      status: p.status,
      votes: Object.fromEntries([...p.votes.entries()].sort(byKey(([id]) => id))),
      result: p.result,
      history: [...p.history],
      effect: p.effect,
      effectOutcome: p.effectOutcome,
    })),
    // Fold order puts the first response first, so `firstResponseMs` is the smallest delay.
    alerts: [...model.alerts.values()].sort(byKey((a) => a.id)).map((a) => alertView(a, horizon)),
    convergences: [...model.convergences.values()].sort(byKey((c) => c.id)).map((c) => ({
      id: c.id,
      title: c.title,
      topic: c.topic,
      startsAt: c.startsAt,
      endsAt: c.endsAt,
      calledAt: c.calledAt,
      status: horizon.ms < c.startsAt ? "scheduled" : horizon.ms > c.endsAt ? "dissolved" : "open",
      actions: c.actions.map((action) => ({
        action,
        ratifiedBy: [...(c.ratifications.get(action)?.values() ?? [])].sort(byKey((x) => x.council)),
      })),
    })),
    conflicts: [...model.logs.conflicts],
    excluded: [...structural, ...model.logs.rejections].sort(byKey((e) => e.id)),
  };
}

/** Mandates: issued to a delegate by a passed decision, bounded in positions, money and time, recallable by vote. */
import type { CouncilModel, MandateModel, ProposalModel } from "../derive/model.js";
import type { Hlc } from "../hlc.js";
import { compareHlc } from "../hlc.js";
import type { FundId, MandateId, MemberId, ProposalId } from "../ids.js";
import type { Charter, Effect } from "../records/schemas.js";

/** A mandate as the rest of the world sees it (derived, plain data). */
export interface Mandate {
  readonly id: MandateId;
  readonly delegate: MemberId;
  readonly body: string;
  readonly instructions: string;
  /** Per topic (a federation proposal id or a named topic), the positions the delegate may take. */
  readonly positions: Readonly<Record<string, readonly string[]>>;
  readonly allowance: { readonly fund: FundId; readonly amount: number } | null;
  readonly spent: number;
  readonly startsAt: number;
  readonly expiresAt: number;
  readonly issuedAt: Hlc;
  readonly recalledAt: Hlc | null;
}

/** Something a delegate does under a mandate. */
export type MandateAct =
  | {
      readonly type: "vote";
      readonly body: string;
      readonly topic: string;
      readonly position: string;
      readonly at: Hlc;
    }
  | { readonly type: "spend"; readonly fund: string; readonly amount: number; readonly at: Hlc };

/** Why an act falls outside a mandate. */
export type MandateRefusal =
  | "not-started"
  | "expired"
  | "recalled"
  | "wrong-body"
  | "topic-not-covered"
  | "position-not-allowed"
  | "no-allowance"
  | "wrong-fund"
  | "over-allowance";

/**
 * Whether `mandate` allows `act`, judged only by record clocks (never the local wall clock): the act must fall in
 * [startsAt, expiresAt], not after a recall's clock, and within the positions or the remaining allowance.
 */
export function mandateAllows(mandate: Mandate, act: MandateAct): { ok: true } | { ok: false; reason: MandateRefusal } {
  if (act.at.ms < mandate.startsAt) return { ok: false, reason: "not-started" };
  if (act.at.ms > mandate.expiresAt) return { ok: false, reason: "expired" };
  // An act stamped with the decisive vote's own clock is concurrent with it and counts (as a vote at a deadline does):
  // the fold may order it before or after that vote by id, and both orders must agree with this verdict.
  if (mandate.recalledAt !== null && compareHlc(act.at, mandate.recalledAt) > 0)
    return { ok: false, reason: "recalled" };
  if (act.type === "vote") {
    if (act.body !== mandate.body) return { ok: false, reason: "wrong-body" };
    const allowed = mandate.positions[act.topic] ?? mandate.positions["*"];
    if (allowed === undefined) return { ok: false, reason: "topic-not-covered" };
    if (!allowed.includes(act.position)) return { ok: false, reason: "position-not-allowed" };
    return { ok: true };
  }
  if (mandate.allowance === null) return { ok: false, reason: "no-allowance" };
  if (mandate.allowance.fund !== act.fund) return { ok: false, reason: "wrong-fund" };
  if (mandate.spent + act.amount > mandate.allowance.amount) return { ok: false, reason: "over-allowance" };
  return { ok: true };
}

/** Why the charter forbids a mandate's term, or null (checked when it is issued; callers may check before proposing). */
export function mandateTermProblem(
  charter: Pick<Charter, "maxMandateTermMs">,
  term: { readonly startsAt: number; readonly expiresAt: number },
): string | null {
  if (term.expiresAt <= term.startsAt) return "the mandate expires before it starts";
  if (term.expiresAt - term.startsAt > charter.maxMandateTermMs) return "the term is longer than the charter's maximum";
  return null;
}

/** Issues the mandate a passed proposal describes; a reason string when the charter forbids it. */
export function issueMandate(
  model: CouncilModel,
  p: ProposalModel,
  e: Extract<Effect, { type: "mandate" }>,
  at: Hlc,
): string | null {
  const charter = model.charter!;
  const delegate = e.delegate as MemberId;
  if (!model.members.has(delegate)) return "the delegate is not a member";
  const term = mandateTermProblem(charter, e);
  if (term !== null) return term;
  if (charter.noConsecutiveMandates) {
    let previous: MandateModel | undefined;
    for (const m of model.mandates.values())
      if (m.body === e.body && (previous === undefined || compareHlc(m.issuedAt, previous.issuedAt) > 0)) previous = m;
    if (previous !== undefined && previous.delegate === delegate)
      return "the charter forbids consecutive mandates for one member";
  }
  const mandate: MandateModel = {
    id: p.id as string as MandateId,
    delegate,
    body: e.body,
    instructions: e.instructions,
    positions: e.positions,
    allowance: e.allowance ? { fund: e.allowance.fund as FundId, amount: e.allowance.amount } : null,
    spent: 0,
    startsAt: e.startsAt,
    expiresAt: e.expiresAt,
    recall: e.recall,
    issuedAt: at,
    recalledAt: null,
    recalledBy: null,
  };
  model.mandates.set(mandate.id, mandate);
  return null;
}

/** Ends a mandate at this point of the order. */
export function recallMandate(mandate: MandateModel, by: ProposalId, at: Hlc): { applied: boolean; detail: string } {
  if (mandate.recalledAt !== null) return { applied: false, detail: "already recalled" };
  mandate.recalledAt = at;
  mandate.recalledBy = by;
  return { applied: true, detail: `mandate of ${mandate.delegate} recalled` };
}

/** The public view of a mandate model. */
export function mandateView(m: MandateModel): Mandate {
  return {
    id: m.id,
    delegate: m.delegate,
    body: m.body,
    instructions: m.instructions,
    positions: m.positions,
    allowance: m.allowance,
    spent: m.spent,
    startsAt: m.startsAt,
    expiresAt: m.expiresAt,
    issuedAt: m.issuedAt,
    recalledAt: m.recalledAt,
  };
}

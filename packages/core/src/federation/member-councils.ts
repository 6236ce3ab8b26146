/**
 * What the federation reads of its member councils' derived states: who was a member when, which devices sign for
 * whom, and which mandates each council issued; and the checks built on them (authorship, acting for a council,
 * acting within a mandate).
 */
import { reject } from "../derive/context.js";
import type { CouncilState } from "../derive/view.js";
import type { Hlc } from "../hlc.js";
import { compareHlc } from "../hlc.js";
import type { CouncilId, MandateId, MemberId, ProposalId, SignerId } from "../ids.js";
import type { Mandate, MandateRefusal } from "../mandate/mandate.js";
import { mandateAllows } from "../mandate/mandate.js";
import type { ExclusionReason } from "../records/integrity.js";
import type { FederaRecord } from "../records/record.js";
import { canonicalJson } from "../reports/canonical-json.js";
import { namesFederation, stillWithdrawn } from "./consent.js";
import type { FederationModel } from "./federation-model.js";
import { flag } from "./federation-model.js";

/** The facts of one council's derived state that federation derivation depends on. */
export interface CouncilFacts {
  readonly id: CouncilId;
  /** Current members and since when. */
  readonly members: ReadonlyMap<MemberId, Hlc>;
  /** Former members and when they left. */
  readonly former: ReadonlyMap<MemberId, Hlc>;
  /** Current devices and the member each signs for. */
  readonly devices: ReadonlyMap<SignerId, MemberId>;
  readonly mandates: ReadonlyMap<MandateId, Mandate>;
}

/** Why an act under a mandate does not count: `mandateAllows`'s refusals and the federation's own. */
export type FederationRefusal =
  | MandateRefusal
  | "unknown-mandate"
  | "not-the-delegate"
  | "not-yet-issued"
  | "council-withdrawn";

/** The facts of a council's derived state. */
export function factsOf(state: CouncilState, id: CouncilId): CouncilFacts {
  const devices = new Map<SignerId, MemberId>();
  for (const m of state.members) for (const d of m.devices) devices.set(d, m.id);
  return {
    id,
    members: new Map(state.members.map((m) => [m.id, m.since])),
    former: new Map(state.formerMembers.map((m) => [m.id, m.left])),
    devices,
    mandates: new Map(state.mandates.map((m) => [m.id, m])),
  };
}

/**
 * A string that changes exactly when the facts the federation fold reads change: members, devices, departures and
 * mandates (without the money spent under them, which no federation act depends on).
 */
export function fingerprintOf(state: CouncilState): string {
  return canonicalJson({
    members: state.members.map((m) => [m.id, m.since, m.devices]),
    former: state.formerMembers.map((m) => [m.id, m.left]),
    mandates: state.mandates.map(({ spent: _, ...m }) => m),
  });
}

/** Whether `member` belonged to the council at clock `at`: admitted by then, or gone only later. */
export function memberAt(facts: CouncilFacts, member: MemberId, at: Hlc): boolean {
  const since = facts.members.get(member);
  if (since !== undefined) return compareHlc(since, at) <= 0;
  const left = facts.former.get(member);
  return left !== undefined && compareHlc(at, left) < 0;
}

/** Who may write a record: the member councils its author belonged to at its clock, or why nobody vouches for it. */
export type Authority =
  | { readonly ok: true; readonly councils: ReadonlySet<CouncilId> }
  | { readonly ok: false; readonly reason: ExclusionReason; readonly detail: string };

/**
 * Checks a record's author against `candidates` (member councils): the author must have been a member of one of them
 * at the record's clock, and the signer must be the author's own key or a device the author authorised in one of them.
 */
export function authority(
  facts: ReadonlyMap<CouncilId, CouncilFacts>,
  candidates: Iterable<CouncilId>,
  r: FederaRecord,
): Authority {
  const councils = new Set<CouncilId>();
  let signer = r.signer === r.author;
  for (const id of candidates) {
    const f = facts.get(id);
    if (f === undefined) continue;
    if (memberAt(f, r.author, r.at)) councils.add(id);
    if (f.devices.get(r.signer) === r.author) signer = true;
  }
  if (councils.size === 0)
    return {
      ok: false,
      reason: "not-a-member",
      detail: "the author was no member of a member council (whose state is known here) at the record's clock",
    };
  if (!signer)
    return {
      ok: false,
      reason: "device-not-authorised",
      detail: "the signing device is not authorised by the author in any member council",
    };
  return { ok: true, councils };
}

/** One fold step's view of who is acting: the model, the member councils' facts, and the author's councils. */
export interface Step {
  readonly model: FederationModel;
  readonly facts: ReadonlyMap<CouncilId, CouncilFacts>;
  readonly councils: ReadonlySet<CouncilId>;
}

/** The member council a record acts for, or null after rejecting it (not a member council, or not the author's). */
export function actingFor(step: Step, r: FederaRecord, council: string): CouncilId | null {
  const id = council as CouncilId;
  if (!step.model.councils.has(id)) {
    reject(step.model, r, "invalid-act", "the council named is not a member council at this point");
    return null;
  }
  if (!step.councils.has(id)) {
    reject(step.model, r, "not-a-member", "the author was not a member of the council named at the record's clock");
    return null;
  }
  return id;
}

/** What a delegate does under a mandate, in the federation's words. */
export interface DelegateAct {
  readonly mandate: string;
  readonly author: MemberId;
  readonly topic: string;
  readonly position: string;
  readonly at: Hlc;
}

/**
 * Whether a council's mandate covers a delegate's act: the mandate exists in the council's derived state, names the
 * author as delegate, was issued by the act's clock, and `mandateAllows` the position on the topic for this
 * federation's body. A mandate names the federation by its id or by its name.
 */
export function judgeMandate(
  facts: CouncilFacts,
  federation: { readonly id: string; readonly name: string },
  act: DelegateAct,
): { ok: true; mandate: Mandate } | { ok: false; reason: FederationRefusal } {
  const mandate = facts.mandates.get(act.mandate as MandateId);
  if (mandate === undefined) return { ok: false, reason: "unknown-mandate" };
  if (mandate.delegate !== act.author) return { ok: false, reason: "not-the-delegate" };
  if (compareHlc(act.at, mandate.issuedAt) < 0) return { ok: false, reason: "not-yet-issued" };
  // The mandate's own body when it names this federation, else the id (refused as `wrong-body`).
  const body = namesFederation(mandate.body, federation) ? mandate.body : federation.id;
  const verdict = mandateAllows(mandate, {
    type: "vote",
    body,
    topic: act.topic,
    position: act.position,
    at: act.at,
  });
  return verdict.ok ? { ok: true, mandate } : verdict;
}

/** Whether member council `council` stood withdrawn from the federation at clock `at` (see `stillWithdrawn`). */
export function withdrawnAt(step: Step, council: CouncilId, at: Hlc): boolean {
  const { model } = step;
  const mandates = step.facts.get(council)?.mandates.values() ?? [];
  let withdrawal = model.withdrawals.get(council);
  // An act at the very clock of an announcement is concurrent with it: judged by the announcement before, if any.
  while (withdrawal !== undefined && compareHlc(at, withdrawal.at) <= 0) withdrawal = withdrawal.earlier;
  return stillWithdrawn(withdrawal, mandates, { id: model.federation!, name: model.name }, at);
}

/**
 * Whether a delegate's vote or ratification counts under its council's mandate; when it does not, flags it as
 * out-of-mandate, `what` naming the act in the flag's detail.
 */
export function countsUnderMandate(
  step: Step,
  r: FederaRecord<"federation.vote" | "federation.ratify">,
  council: CouncilId,
  act: { readonly target: ProposalId; readonly topic: string; readonly position: string; readonly what: string },
): boolean {
  const { model } = step;
  const facts = step.facts.get(council)!;
  const federation = { id: model.federation!, name: model.name };
  const judged = judgeMandate(facts, federation, {
    mandate: r.body.mandate,
    author: r.author,
    topic: act.topic,
    position: act.position,
    at: r.at,
  });
  // A council that announced its withdrawal has recalled its delegates, whether or not the recall is here yet.
  const verdict =
    judged.ok && withdrawnAt(step, council, r.at)
      ? { ok: false as const, reason: "council-withdrawn" as const }
      : judged;
  if (verdict.ok) return true;
  flag(model, {
    type: "out-of-mandate",
    record: r.id,
    at: r.at,
    council,
    target: act.target,
    reason: verdict.reason,
    detail: `${act.what} is outside mandate (${verdict.reason}); not counted`,
  });
  return false;
}

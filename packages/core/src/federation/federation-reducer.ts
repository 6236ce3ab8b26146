/**
 * The federation fold step: checks each record's author against the member councils' derived states, fires due
 * deadlines, and hands the record to its domain module. The member councils' facts are fixed for one fold; when they
 * change, the federation is folded again.
 */
import { reject } from "../derive/context.js";
import type { Reducer } from "../derive/fold.js";
import { restoreModel, snapshotModel } from "../derive/model.js";
import { compareHlc } from "../hlc.js";
import type { CouncilId, FederationId, ProposalId } from "../ids.js";
import type { FederaRecord } from "../records/record.js";
import type { RecordKind } from "../records/schemas.js";
import { applyRatify } from "./convergences.js";
import type { FederationModel, FederationSnapshot } from "./federation-model.js";
import { emptyFederationModel } from "./federation-model.js";
import { applyFederationProposal, applyFederationVote, closeFederationProposal } from "./federation-proposals.js";
import type { CouncilFacts, Step } from "./member-councils.js";
import { actingFor, authority } from "./member-councils.js";
import { applyAlert, applyResponse } from "./solidarity.js";

type StepKind =
  | "federation.proposal"
  | "federation.vote"
  | "federation.alert"
  | "federation.response"
  | "federation.ratify"
  | "federation.withdraw"
  | "tick";

const handlers: { [K in StepKind]: (step: Step, r: FederaRecord<K>) => void } = {
  "federation.proposal": applyFederationProposal,
  "federation.vote": applyFederationVote,
  "federation.alert": applyAlert,
  "federation.response": applyResponse,
  "federation.ratify": applyRatify,
  "federation.withdraw": applyWithdraw,
  tick: () => {},
};

function isStepKind(kind: RecordKind): kind is StepKind {
  return Object.hasOwn(handlers, kind);
}

/**
 * A member of a member council announces that the council has withdrawn (recalled its delegates): from this clock its
 * delegates' acts do not count and it no longer consents, on every peer, until it mandates a delegate here again.
 */
function applyWithdraw(step: Step, r: FederaRecord<"federation.withdraw">): void {
  if (r.body.since > r.at.ms) return reject(step.model, r, "invalid-act", "announces a recall after its own clock");
  const council = actingFor(step, r, r.body.council);
  if (council === null) return;
  const prior = step.model.withdrawals.get(council);
  // Records fold in clock order, so the prior announcement is at this clock or before it; keep one depth of history.
  const earlier =
    prior !== undefined && compareHlc(prior.at, r.at) < 0 ? { at: prior.at, since: prior.since } : prior?.earlier;
  step.model.withdrawals.set(council, { at: r.at, since: r.body.since, ...(earlier === undefined ? {} : { earlier }) });
}

/** Fires every deadline strictly before `ms`, in (time, key) order. */
function fireTimers(model: FederationModel, ms: number): void {
  while (model.timers.length > 0 && model.timers[0]!.ms < ms) {
    const t = model.timers.shift()!;
    closeFederationProposal(model, t.key as ProposalId);
  }
}

/** The genesis: founding member councils and the charter; its author belongs to a founding council. */
function applyGenesis(
  model: FederationModel,
  facts: ReadonlyMap<CouncilId, CouncilFacts>,
  r: FederaRecord<"federation.genesis">,
): void {
  if (model.federation !== null) return reject(model, r, "invalid-act", "the federation already has a genesis");
  if (r.signer !== r.author)
    return reject(model, r, "device-not-authorised", "a genesis is signed by the founder's own key");
  const founding = [...new Set(r.body.councils)].sort() as CouncilId[];
  const who = authority(facts, founding, r);
  if (!who.ok) return reject(model, r, who.reason, who.detail);
  model.federation = r.id as FederationId;
  model.name = r.body.name;
  model.charter = r.body.charter;
  model.genesisAt = r.at;
  model.horizon = r.at;
  for (const id of founding) model.councils.set(id, { id, since: r.at, admittedBy: "genesis" });
}

function apply(model: FederationModel, facts: ReadonlyMap<CouncilId, CouncilFacts>, r: FederaRecord): void {
  if (r.kind === "federation.genesis") return applyGenesis(model, facts, r as FederaRecord<"federation.genesis">);
  if (model.charter === null) return reject(model, r, "not-a-member", "no genesis precedes this record");
  const who = authority(facts, model.councils.keys(), r);
  if (!who.ok) return reject(model, r, who.reason, who.detail);
  // Only records of members of member councils move the federation's time, as in a council.
  fireTimers(model, r.at.ms);
  model.horizon = r.at;
  if (!isStepKind(r.kind)) return reject(model, r, "invalid-act", "a council record in a federation's document");
  (handlers[r.kind] as (step: Step, r: FederaRecord) => void)({ model, facts, councils: who.councils }, r);
}

/** The federation reducer for the incremental fold, reading the member councils' facts it was made with. */
export function federationReducer(
  facts: ReadonlyMap<CouncilId, CouncilFacts>,
): Reducer<FederationModel, FederationSnapshot> {
  return {
    init: emptyFederationModel,
    apply: (model, r) => apply(model, facts, r),
    snapshot: snapshotModel,
    restore: restoreModel,
  };
}

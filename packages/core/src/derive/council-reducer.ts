/** The council fold step: fires due deadlines, checks who may act, and hands each record to its domain module. */
import { applyDeviceAuthorize, applyDeviceRevoke, applyGenesis, applyLeave } from "../council/membership.js";
import { applyMemberApply, applyProposalOpen, applyVote, closeProposal } from "../council/proposals.js";
import { applyRoleAssign } from "../council/roles.js";
import type { FundId, ProposalId } from "../ids.js";
import {
  applyDonate,
  applyFundCreate,
  applyJarContribute,
  applyJarDots,
  applyJarRequest,
  applySpend,
  applySwap,
  applyTransfer,
  closeJarRound,
} from "../ledger/ledger.js";
import type { FederaRecord } from "../records/record.js";
import type { RecordKind } from "../records/schemas.js";
import { FEDERATION_KINDS } from "../records/schemas.js";
import { reject } from "./context.js";
import type { Reducer } from "./fold.js";
import type { CouncilModel, CouncilSnapshot } from "./model.js";
import { emptyModel, restoreModel, snapshotModel } from "./model.js";

/** Federation kinds belong to a federation's document; in a council's they are refused. */
type CouncilKind = Exclude<RecordKind, `federation.${string}`>;
type Handlers = { [K in CouncilKind]: (model: CouncilModel, r: FederaRecord<K>) => void };

const handlers: Handlers = {
  "council.genesis": applyGenesis,
  "device.authorize": applyDeviceAuthorize,
  "device.revoke": applyDeviceRevoke,
  "member.apply": applyMemberApply,
  "member.leave": applyLeave,
  "proposal.open": applyProposalOpen,
  "proposal.vote": applyVote,
  "role.assign": applyRoleAssign,
  "minutes.open": (model, r) => {
    if (model.minutes.has(r.body.meeting)) return reject(model, r, "invalid-act", "minutes for that meeting exist");
    model.minutes.set(r.body.meeting, {
      record: r.id,
      title: r.body.title,
      decisions: r.body.decisions as never,
      at: r.at,
    });
  },
  tick: () => {},
  "fund.create": applyFundCreate,
  "ledger.donate": applyDonate,
  "ledger.spend": applySpend,
  "ledger.transfer": applyTransfer,
  "swap.record": applySwap,
  "jar.contribute": applyJarContribute,
  "jar.request": applyJarRequest,
  "jar.dots": applyJarDots,
};

/** Kinds a non-member may write. */
const OPEN_KINDS: ReadonlySet<RecordKind> = new Set(["council.genesis", "member.apply"]);

/** Fires every deadline strictly before `ms`, in (time, key) order. */
function fireTimers(model: CouncilModel, ms: number): void {
  while (model.timers.length > 0 && model.timers[0]!.ms < ms) {
    const t = model.timers.shift()!;
    if (t.kind === "close-proposal") closeProposal(model, t.key as ProposalId);
    else closeJarRound(model, t.key as FundId);
  }
}

/**
 * Only members move a council's time (fire deadlines, advance the horizon): an outsider's record, even well signed,
 * must not close proposals early. The one exception is an applicant whose admission is passing and due, so that
 * their first record sees the admission close.
 */
function movesTime(model: CouncilModel, r: FederaRecord): boolean {
  if (r.kind === "council.genesis" || model.members.has(r.author)) return true;
  for (const p of model.proposals.values()) {
    if (p.status === "open" && p.effect.type === "admit" && p.effect.member === r.author && p.closesAt < r.at.ms) {
      return p.result?.passed === true;
    }
  }
  return false;
}

function apply(model: CouncilModel, r: FederaRecord): void {
  if (movesTime(model, r)) {
    fireTimers(model, r.at.ms);
    model.horizon = r.at;
  }
  if (!OPEN_KINDS.has(r.kind)) {
    if (model.charter === null) return reject(model, r, "not-a-member", "no genesis precedes this record");
    if (!model.members.has(r.author))
      return reject(model, r, "not-a-member", "the author is not a member at this point");
    if (r.signer !== r.author && model.deviceOwner.get(r.signer as never) !== r.author) {
      return reject(model, r, "device-not-authorised", "the signing device is not authorised by the author");
    }
  } else if (r.kind === "member.apply" && model.charter === null) {
    return reject(model, r, "not-a-member", "no genesis precedes this record");
  }
  if (FEDERATION_KINDS.has(r.kind))
    return reject(model, r, "invalid-act", "a federation record in a council's documents");
  (handlers[r.kind as CouncilKind] as (m: CouncilModel, r: FederaRecord) => void)(model, r);
}

/** The council reducer for the incremental fold. */
export const councilReducer: Reducer<CouncilModel, CouncilSnapshot> = {
  init: emptyModel,
  apply,
  snapshot: snapshotModel,
  restore: restoreModel,
};

/** Small helpers every fold step shares: rejecting a record, flagging a conflict, checking membership. */
import type { MemberId } from "../ids.js";
import type { ExclusionReason } from "../records/integrity.js";
import type { FederaRecord } from "../records/record.js";
import type { ConflictType, CouncilModel, Rejection } from "./model.js";

/** Excludes a record at the fold stage (its author or its act was not valid at its position); any model with logs. */
export function reject(
  model: { readonly logs: { readonly rejections: Rejection[] } },
  record: FederaRecord,
  reason: ExclusionReason,
  detail: string,
): void {
  model.logs.rejections.push({ id: record.id, reason, detail, signer: record.signer, seq: record.seq });
}

/** Records a conflict the derivation resolved. */
export function conflict(model: CouncilModel, type: ConflictType, record: FederaRecord, detail: string): void {
  model.logs.conflicts.push({ type, record: record.id, at: record.at, detail });
}

/** True when `member` belongs to the council at this point of the fold. */
export function isMember(model: CouncilModel, member: string): member is MemberId {
  return model.members.has(member as MemberId);
}

/** Current members, sorted (a frozen electorate is this list at opening). */
export function memberList(model: CouncilModel): MemberId[] {
  return [...model.members.keys()].sort();
}

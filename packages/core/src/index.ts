/**
 * Federa core: councils, ledgers, mandates and federations as signed records in Automerge documents, and the pure,
 * deterministic derivation of everything they imply (membership, outcomes, balances, mandates, rotation, pledges).
 *
 * @example
 * ```ts
 * import { Council, createIdentity, foundCouncil } from "@federa/core";
 *
 * const alice = await createIdentity();
 * const docs = await foundCouncil(alice, { name: "Bakery co-op" });
 * const council = await Council.openPlain(docs, { identity: alice });
 * await council.ledger.createFund("strike-fund", "cash");
 * await council.ledger.donate("strike-fund", 5_000);
 * const state = await council.state();
 * state.funds[0]?.balance; // 5000
 * ```
 *
 * @packageDocumentation
 */

export type { SealedApplication, SealOptions } from "./api/application.js";
export { scratchDocuments, sealApplication } from "./api/application.js";
export type { Act, CouncilOptions, CouncilSources, FoundedCouncil, FoundInit, ProposeInput } from "./api/council.js";
export { Council, foundCouncil } from "./api/council.js";
export type {
  CouncilStatesSource,
  DelegateInput,
  FederationOptions,
  FederationProposeInput,
  FoundedFederation,
  FoundFederationInit,
} from "./api/federation.js";
export { Federation, foundFederation } from "./api/federation.js";
export type { SpendApproval } from "./api/ledger.js";
export { Ledger } from "./api/ledger.js";
export { ballotProblem, tally } from "./council/tally.js";
export type { Ballot, Quorum, Ratio, TallyInput, TallyResult, Threshold, VoteMethod } from "./council/tally-types.js";
export type { MergeChange } from "./derive/compare.js";
export { compareStates } from "./derive/compare.js";
export type { FoldStats } from "./derive/fold.js";
export type { Alert, Conflict, ConflictType, EntryType, LedgerEntry, OutcomeStep } from "./derive/model.js";
export type { CouncilState, FundState, MemberState, ProposalState, RoleState } from "./derive/view.js";
export { forgetReplacedPatches } from "./documents/kept-patches.js";
export type { CouncilDoc, FederaDoc, FederationDoc, LedgerDoc } from "./documents/layout.js";
export { bucketOf, linkCouncil, putRecords, storageKeyOf, storedValue } from "./documents/layout.js";
export type { DocSource } from "./documents/source.js";
export { PlainDocument } from "./documents/source.js";
export type { ErrorCode } from "./errors.js";
export {
  ErrorCodes,
  FederaError,
  InvalidInputError,
  InvalidKeyError,
  NotAMemberError,
  NotFoundError,
  RejectedActError,
  UnknownDocumentError,
} from "./errors.js";
export type {
  AlertRow,
  AssemblyRow,
  AutonomyLedger,
  AutonomyRows,
  AutonomyTable,
  ConvergenceRow,
  FederationDecisionRow,
  PledgeRow,
} from "./federation/autonomy-ledger.js";
export {
  AUTONOMY_COLUMNS,
  AUTONOMY_TABLES,
  autonomyLedger,
  exportAutonomyCsv,
  exportAutonomyJson,
} from "./federation/autonomy-ledger.js";
export { defaultFederationCharter } from "./federation/charter.js";
export type { FederationName } from "./federation/consent.js";
export { consentsTo, mandatedBodies, namesFederation, stillWithdrawn } from "./federation/consent.js";
export { deriveFederation } from "./federation/derive-federation.js";
export type {
  CountedVote,
  FederationConflict,
  FederationConflictType,
  MandatedAct,
  ResolvedEffect,
} from "./federation/federation-model.js";
export { FEDERATION_POSITIONS } from "./federation/federation-proposals.js";
export type {
  AlertState,
  ConvergenceState,
  FederationProposalState,
  FederationState,
  MemberCouncilState,
  PledgeState,
} from "./federation/federation-view.js";
export { foundingCouncils } from "./federation/founding-councils.js";
export type { FederationRefusal } from "./federation/member-councils.js";
export type { Hlc } from "./hlc.js";
export { compareHlc } from "./hlc.js";
export type { Identity, IdentityFile, Keypair } from "./identity.js";
export {
  addDevice,
  createIdentity,
  exportIdentity,
  generateKeypair,
  importIdentity,
  keypairFromSeed,
  peerIdOf,
  publicKeyOf,
  verifySignature,
} from "./identity.js";
export type {
  CouncilId,
  DeviceId,
  FederationId,
  FundId,
  MandateId,
  MemberId,
  ProposalId,
  RecordId,
  SignerId,
} from "./ids.js";
export type { Mandate, MandateAct, MandateRefusal } from "./mandate/mandate.js";
export { mandateAllows, mandateTermProblem } from "./mandate/mandate.js";
export type { Exclusion, ExclusionReason } from "./records/integrity.js";
export type { FederaRecord } from "./records/record.js";
export type {
  Approval,
  Charter,
  Effect,
  FederationCharter,
  FederationEffect,
  FederationMethod,
  Positions,
  RecordKind,
} from "./records/schemas.js";
export { defaultCharter } from "./records/schemas.js";
export type { VerifiedCache } from "./records/verified-cache.js";
export { MemoryVerifiedCache } from "./records/verified-cache.js";
export { canonicalJson } from "./reports/canonical-json.js";
export type { CsvOptions, CsvValue } from "./reports/csv.js";
export { csvField, toCsv } from "./reports/csv.js";
export type {
  ConflictRow,
  DecisionRow,
  FundRow,
  LedgerRow,
  MandateRow,
  MemberRow,
  Report,
  ReportRows,
  ReportTable,
  RotationRow,
} from "./reports/export.js";
export { exportCsv, exportJson, exportReport, REPORT_COLUMNS, REPORT_TABLES, reportRows } from "./reports/export.js";

/** The schema of every record kind's body, and of the charter, checked on every record before derivation sees it. */
import * as v from "valibot";

const MAX_TEXT = 10_000;
const MAX_NAME = 200;
const MAX_LIST = 1_000;

/** Money and time are integers (minor units, minutes): never NaN, fractional, negative or beyond 2^53. */
export const Amount = v.pipe(v.number(), v.safeInteger(), v.minValue(1));
const NonNegative = v.pipe(v.number(), v.safeInteger(), v.minValue(0));
const Ms = v.pipe(v.number(), v.safeInteger(), v.minValue(0));
const Name = v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_NAME));
const Text = v.pipe(v.string(), v.maxLength(MAX_TEXT));
const PeerIdString = v.pipe(v.string(), v.regex(/^12D3KooW[1-9A-HJ-NP-Za-km-z]{44}$/, "not an Ed25519 peer id"));
const RecordIdString = v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/, "not a record id"));
const FundName = v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9-]{0,63}$/, "fund names are lowercase words joined by -"));

export const RatioSchema = v.pipe(
  v.object({ num: NonNegative, den: v.pipe(v.number(), v.safeInteger(), v.minValue(1)) }),
  v.check((r) => r.num <= r.den, "a ratio is at most 1"),
);
export const ThresholdSchema = v.object({
  ratio: RatioSchema,
  of: v.picklist(["cast", "eligible"]),
  cmp: v.picklist([">", ">="]),
});
export const QuorumSchema = v.object({ ratio: RatioSchema, cmp: v.picklist([">", ">="]) });
export const MethodSchema = v.picklist(["consent", "majority", "supermajority", "consensus", "ranked", "score", "dot"]);

export const CharterSchema = v.object({
  /** Defaults a proposal takes when it names none. */
  method: MethodSchema,
  threshold: ThresholdSchema,
  quorum: QuorumSchema,
  /** How long a proposal stays open when it names no closing time. */
  votingWindowMs: v.pipe(Ms, v.minValue(1)),
  /** Longest mandate term (expiry minus start). */
  maxMandateTermMs: v.pipe(Ms, v.minValue(1)),
  /** Forbid a member holding two consecutive mandates for the same body. */
  noConsecutiveMandates: v.boolean(),
  /** Roles that rotate; nobody holds one twice until every eligible member has held it once. */
  roles: v.pipe(v.array(Name), v.maxLength(64)),
  /** Meetings in a row one person may hold a role before turnover counts as stopped. */
  rotationStallAfter: v.pipe(v.number(), v.safeInteger(), v.minValue(2), v.maxValue(100)),
  /** An expense up to this amount needs no decision (0: none). */
  pettyCashLimit: NonNegative,
  /** A fund must hold more than this before it may split into daughter funds. */
  splitThreshold: NonNegative,
  /** How far below zero a member's time-swap balance may go, in minutes. */
  timeDebtLimitMinutes: NonNegative,
});

export const BallotSchema = v.variant("method", [
  v.object({ method: v.literal("consent"), choice: v.picklist(["consent", "object", "stand-aside"]) }),
  v.object({ method: v.picklist(["majority", "supermajority"]), choice: v.picklist(["yes", "no", "abstain"]) }),
  v.object({ method: v.literal("consensus"), choice: v.picklist(["agree", "abstain", "disagree", "block"]) }),
  v.object({ method: v.literal("ranked"), ranking: v.pipe(v.array(Name), v.maxLength(100)) }),
  // Maps are bounded like lists: a ballot names at most as many options as a proposal may have.
  v.object({ method: v.literal("score"), scores: v.pipe(v.record(Name, NonNegative), v.maxEntries(100)) }),
  v.object({ method: v.literal("dot"), dots: v.pipe(v.record(Name, NonNegative), v.maxEntries(100)) }),
]);

export const PositionsSchema = v.pipe(v.record(Name, v.pipe(v.array(Name), v.maxLength(100))), v.maxEntries(MAX_LIST));

export const EffectSchema = v.variant("type", [
  v.object({ type: v.literal("none") }),
  v.object({
    type: v.literal("admit"),
    member: PeerIdString,
    devices: v.optional(v.pipe(v.array(PeerIdString), v.maxLength(16))),
  }),
  v.object({ type: v.literal("remove"), member: PeerIdString }),
  v.object({ type: v.literal("amend"), charter: v.partial(CharterSchema) }),
  v.object({ type: v.literal("expense"), fund: FundName, amount: Amount, payee: Name, memo: v.optional(Text) }),
  v.object({ type: v.literal("budget"), fund: FundName, amount: Amount }),
  v.object({
    type: v.literal("mandate"),
    delegate: PeerIdString,
    body: Name,
    instructions: Text,
    positions: PositionsSchema,
    allowance: v.optional(v.object({ fund: FundName, amount: Amount })),
    startsAt: Ms,
    expiresAt: Ms,
    recall: ThresholdSchema,
  }),
  v.object({ type: v.literal("recall"), mandate: RecordIdString }),
  v.object({
    type: v.literal("split"),
    fund: FundName,
    daughters: v.pipe(
      v.array(
        v.object({ fund: FundName, amount: Amount, circle: v.pipe(v.array(PeerIdString), v.maxLength(MAX_LIST)) }),
      ),
      v.minLength(1),
      v.maxLength(32),
    ),
  }),
  v.object({ type: v.literal("jar-round"), jar: FundName, closesAt: Ms, remainderTo: FundName }),
]);

/** Decision methods a federation may use: delegates state a position, so only the methods whose ballot is one choice. */
export const FederationMethodSchema = v.picklist(["majority", "supermajority", "consent", "consensus"]);

/** The rules a federation is founded with. */
export const FederationCharterSchema = v.object({
  /** How long after an alert a member council has to respond for the solidarity pledge to be met. */
  pledgeWindowMs: v.pipe(Ms, v.minValue(1)),
  /** Length of a convergence whose calling proposal names no end. */
  convergenceMs: v.pipe(Ms, v.minValue(1)),
  /** Defaults a federation proposal takes when it names none. */
  method: FederationMethodSchema,
  threshold: ThresholdSchema,
  quorum: QuorumSchema,
  votingWindowMs: v.pipe(Ms, v.minValue(1)),
});

/** What a passed federation proposal does. */
export const FederationEffectSchema = v.variant("type", [
  v.object({ type: v.literal("none") }),
  v.object({ type: v.literal("admit-council"), council: RecordIdString }),
  v.object({
    type: v.literal("convergence"),
    title: Name,
    startsAt: Ms,
    endsAt: v.optional(Ms),
    /** The mandate topic delegates ratify under; default: the id of the calling proposal. */
    topic: v.optional(Name),
    /** The coordinated actions delegates may ratify. */
    actions: v.pipe(v.array(Name), v.minLength(1), v.maxLength(100)),
  }),
]);

const ApprovalSchema = v.variant("kind", [
  v.object({ kind: v.literal("petty") }),
  v.object({ kind: v.literal("budget"), proposal: RecordIdString }),
  v.object({ kind: v.literal("mandate"), mandate: RecordIdString }),
]);

/** Bodies by record kind. */
export const BodySchemas = {
  "council.genesis": v.object({
    name: Name,
    charter: CharterSchema,
    founders: v.pipe(v.array(PeerIdString), v.minLength(1), v.maxLength(MAX_LIST)),
  }),
  "device.authorize": v.object({ device: PeerIdString, label: v.optional(Name) }),
  "device.revoke": v.object({ device: PeerIdString }),
  "member.apply": v.object({ note: Text, devices: v.pipe(v.array(PeerIdString), v.maxLength(16)) }),
  "member.leave": v.object({ note: v.optional(Text) }),
  "proposal.open": v.object({
    title: Name,
    text: v.optional(Text),
    method: v.optional(MethodSchema),
    options: v.optional(v.pipe(v.array(Name), v.maxLength(100))),
    threshold: v.optional(ThresholdSchema),
    quorum: v.optional(QuorumSchema),
    closesAt: v.optional(Ms),
    maxScore: v.optional(v.pipe(v.number(), v.safeInteger(), v.minValue(1), v.maxValue(100))),
    dotsPerVoter: v.optional(v.pipe(v.number(), v.safeInteger(), v.minValue(1), v.maxValue(1000))),
    effect: v.optional(EffectSchema),
  }),
  "proposal.vote": v.object({ proposal: RecordIdString, ballot: BallotSchema }),
  "role.assign": v.object({ meeting: Name, role: Name, holder: PeerIdString }),
  "minutes.open": v.object({
    meeting: Name,
    title: Name,
    decisions: v.pipe(v.array(RecordIdString), v.maxLength(MAX_LIST)),
  }),
  tick: v.object({}),
  "fund.create": v.object({
    fund: FundName,
    type: v.picklist(["cash", "time", "jar"]),
    description: v.optional(Text),
  }),
  "ledger.donate": v.object({ fund: FundName, amount: Amount, from: v.optional(Name) }),
  "ledger.spend": v.object({
    fund: FundName,
    amount: Amount,
    payee: Name,
    memo: v.optional(Text),
    approval: ApprovalSchema,
  }),
  "ledger.transfer": v.object({ from: FundName, to: FundName, amount: Amount, approval: ApprovalSchema }),
  "swap.record": v.object({ fund: FundName, provider: PeerIdString, minutes: Amount, note: v.optional(Text) }),
  "jar.contribute": v.object({ jar: FundName, amount: Amount }),
  "jar.request": v.object({ jar: FundName, amount: Amount, purpose: Name }),
  "jar.dots": v.object({ jar: FundName, dots: v.pipe(v.record(RecordIdString, NonNegative), v.maxEntries(MAX_LIST)) }),
  "federation.genesis": v.object({
    name: Name,
    charter: FederationCharterSchema,
    councils: v.pipe(v.array(RecordIdString), v.minLength(1), v.maxLength(MAX_LIST)),
  }),
  "federation.proposal": v.object({
    council: RecordIdString,
    title: Name,
    text: v.optional(Text),
    topic: v.optional(Name),
    method: v.optional(FederationMethodSchema),
    threshold: v.optional(ThresholdSchema),
    quorum: v.optional(QuorumSchema),
    closesAt: v.optional(Ms),
    effect: v.optional(FederationEffectSchema),
  }),
  "federation.vote": v.object({
    proposal: RecordIdString,
    council: RecordIdString,
    mandate: RecordIdString,
    position: Name,
  }),
  "federation.alert": v.object({ council: RecordIdString, what: v.pipe(Text, v.minLength(1)), needs: Text }),
  "federation.response": v.object({ alert: RecordIdString, council: RecordIdString, offer: Text }),
  "federation.ratify": v.object({
    convergence: RecordIdString,
    council: RecordIdString,
    mandate: RecordIdString,
    action: Name,
  }),
  // `since`: when the council recalled its last delegate for the federation (ms of the recall, on the council's clock).
  "federation.withdraw": v.object({ council: RecordIdString, since: Ms }),
} as const;

export type RecordKind = keyof typeof BodySchemas;
export type BodyOf<K extends RecordKind> = v.InferOutput<(typeof BodySchemas)[K]>;
export type Charter = v.InferOutput<typeof CharterSchema>;
export type Effect = v.InferOutput<typeof EffectSchema>;
export type Positions = v.InferOutput<typeof PositionsSchema>;
export type Approval = v.InferOutput<typeof ApprovalSchema>;
export type FederationCharter = v.InferOutput<typeof FederationCharterSchema>;
export type FederationEffect = v.InferOutput<typeof FederationEffectSchema>;
export type FederationMethod = v.InferOutput<typeof FederationMethodSchema>;

/** Kinds written to the ledger document; all others go to the council document. */
export const LEDGER_KINDS: ReadonlySet<RecordKind> = new Set([
  "fund.create",
  "ledger.donate",
  "ledger.spend",
  "ledger.transfer",
  "swap.record",
  "jar.contribute",
  "jar.request",
  "jar.dots",
]);

/** Kinds written to a federation document (besides `tick`, which moves any document's time). */
export const FEDERATION_KINDS: ReadonlySet<RecordKind> = new Set([
  "federation.genesis",
  "federation.proposal",
  "federation.vote",
  "federation.alert",
  "federation.response",
  "federation.ratify",
  "federation.withdraw",
]);

/** Kinds that found a document: their id is the id every other record of that document names. */
export const GENESIS_KINDS: ReadonlySet<RecordKind> = new Set(["council.genesis", "federation.genesis"]);

/** True when `kind` names a record kind this version understands. */
export function isRecordKind(kind: unknown): kind is RecordKind {
  return typeof kind === "string" && Object.hasOwn(BodySchemas, kind);
}

/** Validates a body against its kind's schema: the parsed body, or the issues found. */
export function parseBody<K extends RecordKind>(
  kind: K,
  body: unknown,
): { ok: true; body: BodyOf<K> } | { ok: false; issues: string[] } {
  if (!isRecordKind(kind)) return { ok: false, issues: [`unknown record kind ${JSON.stringify(String(kind))}`] };
  const result = v.safeParse(BodySchemas[kind], body);
  if (result.success) return { ok: true, body: result.output as BodyOf<K> };
  return { ok: false, issues: result.issues.map((i) => `${v.getDotPath(i) ?? "body"}: ${i.message}`) };
}

/** A charter with the defaults most assemblies start from. */
export function defaultCharter(overrides: Partial<Charter> = {}): Charter {
  const day = 24 * 60 * 60 * 1000;
  return {
    method: "majority",
    threshold: { ratio: { num: 1, den: 2 }, of: "cast", cmp: ">" },
    quorum: { ratio: { num: 1, den: 2 }, cmp: ">=" },
    votingWindowMs: 7 * day,
    maxMandateTermMs: 90 * day,
    noConsecutiveMandates: false,
    roles: ["facilitator", "minute-taker", "treasurer"],
    rotationStallAfter: 2,
    pettyCashLimit: 0,
    splitThreshold: 1_000_000,
    timeDebtLimitMinutes: 20 * 60,
    ...overrides,
  };
}

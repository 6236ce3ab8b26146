/**
 * The operations commands perform on a workspace, as JSON-safe requests and results: the same code runs offline and
 * inside a running node (the control socket carries exactly these requests).
 */
import type {
  Ballot,
  Charter,
  CouncilId,
  CouncilState,
  DeviceId,
  Exclusion,
  FederationId,
  FederationState,
  FundId,
  Mandate,
  MandateId,
  MemberId,
  ProposeInput,
  ReportTable,
  SignerId,
  SpendApproval,
  Threshold,
  VoteMethod,
} from "@federa/core";
import {
  ballotProblem,
  consentsTo,
  exportCsv,
  exportJson,
  linkCouncil,
  mandateTermProblem,
  publicKeyOf,
} from "@federa/core";
import { now } from "./clock.js";
import {
  CliError,
  CliErrorCodes,
  CouncilUnavailableError,
  DamagedFileError,
  describeError,
  FoundingUncheckedError,
  NoCouncilError,
  NotDelegateError,
  NotFoundCliError,
  NotMemberError,
  OwnChainBrokenError,
  OwnRecordsMissingError,
  UnknownCouncilError,
  UsageError,
} from "./errors.js";
import { HighWaterStore, marksOf, type RolledBack, rolledBack } from "./high-water.js";
import { contactsOf, type FederationEntry, type NodeDir, vouchEnds } from "./node-dir.js";
import { findByReference } from "./references.js";
import type { OpenCouncil, Workspace } from "./workspace.js";

/** Which council a request means: an id, a unique prefix of one, or nothing when the directory holds one council. */
interface CouncilRef {
  readonly council?: string;
}

/** Which federation a request means: an id, a unique prefix of one, or nothing when the directory follows one. */
/** Another council as its delegate's `federa invite` token names it: the council, its document, the delegate's node. */
export interface CouncilCard {
  readonly council: string;
  readonly url: string;
  readonly peer: string;
  readonly addresses: readonly string[];
}

interface FederationRef {
  readonly federation?: string;
}

/** Every request an operation accepts. */
export type Request =
  | { readonly op: "ping" }
  | {
      readonly op: "council.create";
      readonly name: string;
      readonly charter: Partial<Charter>;
      readonly founders?: readonly string[];
    }
  | { readonly op: "council.list" }
  | ({ readonly op: "invite" } & CouncilRef)
  | ({ readonly op: "propose"; readonly input: ProposeInput } & CouncilRef)
  | ({
      readonly op: "vote";
      readonly proposal: string;
      readonly choice?: string;
      readonly ranking?: readonly string[];
      readonly scores?: Readonly<Record<string, number>>;
      readonly dots?: Readonly<Record<string, number>>;
    } & CouncilRef)
  | ({
      readonly op: "fund.create";
      readonly fund: string;
      readonly type: "cash" | "time" | "jar";
      readonly description?: string;
    } & CouncilRef)
  | ({ readonly op: "donate"; readonly fund: string; readonly amount: number; readonly from?: string } & CouncilRef)
  | ({
      readonly op: "spend";
      readonly fund: string;
      readonly amount: number;
      readonly payee: string;
      readonly approval: { readonly kind: "petty" } | { readonly kind: "budget" | "mandate"; readonly id: string };
      readonly memo?: string;
    } & CouncilRef)
  | ({
      readonly op: "swap";
      readonly fund: string;
      readonly provider: string;
      readonly minutes: number;
      readonly note?: string;
    } & CouncilRef)
  | ({
      readonly op: "mandate.issue";
      readonly delegate: string;
      readonly body: string;
      readonly instructions: string;
      readonly positions: Readonly<Record<string, readonly string[]>>;
      readonly allowance?: { readonly fund: string; readonly amount: number };
      readonly startsAt: number;
      readonly expiresAt: number;
      readonly recall?: Threshold;
      readonly closesAt?: number;
      readonly title?: string;
    } & CouncilRef)
  | ({ readonly op: "mandate.recall"; readonly mandate: string; readonly closesAt?: number } & CouncilRef)
  | ({ readonly op: "tick" } & CouncilRef)
  | ({ readonly op: "device.add"; readonly device: string; readonly label?: string } & CouncilRef)
  | ({ readonly op: "device.revoke"; readonly device: string; readonly force?: boolean } & CouncilRef)
  | ({ readonly op: "device.list" } & CouncilRef)
  | ({ readonly op: "council.fetch" } & CouncilRef)
  | ({
      readonly op: "federation.create";
      readonly name: string;
      /** The other founding councils, from their delegates' council invitations. */
      readonly with: readonly CouncilCard[];
    } & CouncilRef)
  | { readonly op: "federation.list" }
  | ({ readonly op: "federation.leave" } & FederationRef)
  | ({ readonly op: "federation.invite" } & FederationRef)
  | ({ readonly op: "federation.fetch" } & FederationRef)
  | ({
      readonly op: "federation.propose";
      readonly title: string;
      readonly text?: string;
      readonly topic?: string;
      readonly closesAt?: number;
      readonly council?: string;
      /** A council to admit (its delegate's council invitation): the proposal's effect. */
      readonly admit?: CouncilCard;
    } & FederationRef)
  | ({ readonly op: "federation.tick"; readonly council?: string } & FederationRef)
  | ({
      readonly op: "federation.vote";
      readonly proposal: string;
      readonly position: string;
      readonly mandate?: string;
      readonly council?: string;
    } & FederationRef)
  | ({ readonly op: "federation.status" } & FederationRef)
  | ({
      readonly op: "federation.alert";
      readonly what: string;
      readonly needs: string;
      readonly council?: string;
    } & FederationRef)
  | ({
      readonly op: "federation.converge";
      readonly title: string;
      readonly text?: string;
      /** The coordinated actions delegates may ratify. */
      readonly actions: readonly string[];
      readonly startsAt: number;
      readonly endsAt: number;
      readonly topic?: string;
      readonly closesAt?: number;
      readonly council?: string;
    } & FederationRef)
  | ({
      readonly op: "federation.ratify";
      readonly convergence: string;
      readonly action: string;
      readonly mandate?: string;
      readonly council?: string;
    } & FederationRef)
  | ({
      readonly op: "federation.respond";
      readonly alert: string;
      readonly offer: string;
      readonly council?: string;
    } & FederationRef)
  | ({ readonly op: "state" } & CouncilRef)
  | ({ readonly op: "status" } & CouncilRef)
  | ({ readonly op: "export"; readonly format: "json" | "csv"; readonly table: ReportTable } & CouncilRef)
  | { readonly op: "apply.deliver"; readonly record: string };

export type Op = Request["op"];

/** Requests that only read (an offline process opening the storage for them never writes it). */
export const READ_OPS: ReadonlySet<Op> = new Set([
  "ping",
  "council.list",
  "state",
  "status",
  "export",
  "device.list",
  "council.fetch",
  "federation.list",
  "federation.invite",
  "federation.status",
]);

/** The summary of one council in `status`. */
export interface CouncilSummary {
  readonly id: string;
  readonly url: string;
  readonly available: boolean;
  readonly reason?: string;
  /** Why a council held here could not be read (its stored documents damaged, say): the others are still reported. */
  readonly error?: { readonly code: string; readonly message: string };
  readonly name?: string;
  readonly member?: boolean;
  readonly documents?: readonly {
    readonly role: "council" | "ledger";
    readonly url: string;
    readonly heads: string[];
  }[];
  readonly records?: number;
  readonly horizon?: string;
  readonly members?: readonly string[];
  readonly openProposals?: readonly {
    readonly id: string;
    readonly title: string;
    readonly method: string;
    readonly closesAt: string;
    readonly votes: number;
    readonly electorate: number;
  }[];
  readonly proposals?: number;
  readonly mandates?: number;
  readonly balances?: Readonly<Record<string, number>>;
  readonly funds?: readonly {
    readonly id: string;
    readonly type: string;
    readonly balance: number;
    /** Time-swap balances in minutes, by member (time funds only). */
    readonly accounts?: Readonly<Record<string, number>>;
  }[];
  readonly conflicts?: number;
  readonly excluded?: number;
  /** Records stamped more than `FUTURE_TOLERANCE_MS` ahead of this machine's clock: all counted, the earliest listed. */
  readonly futureRecords?: { readonly count: number; readonly records: readonly FutureRecord[] };
  /** Signers whose high-water mark is below the one this directory stored: records it verified are gone or altered. */
  readonly rolledBack?: readonly RolledBack[];
}

/** A record stamped ahead of this machine's clock. */
export interface FutureRecord {
  readonly id: string;
  readonly kind: string;
  readonly author: string;
  readonly at: string;
}

/** How far ahead of this machine's clock a record may be stamped before `status` and the node warn of it. */
export const FUTURE_TOLERANCE_MS = 10 * 60_000;
/** Future records a status summary lists (a far-future record drags every later record's clock along with it). */
const FUTURE_LISTED = 100;

/** A council's records stamped more than `FUTURE_TOLERANCE_MS` ahead of `nowMs`, earliest first. */
export function futureRecords(held: OpenCouncil, nowMs: number = now()): FutureRecord[] {
  return held.council
    .futureRecords(nowMs, FUTURE_TOLERANCE_MS)
    .sort((a, b) => a.at.ms - b.at.ms || a.at.c - b.at.c || (a.id < b.id ? -1 : 1))
    .map((r) => ({ id: r.id, kind: r.kind, author: r.author, at: iso(r.at.ms) }));
}

/** Picks the council a request means from the directory's councils.json. */
export async function resolveCouncil(dir: NodeDir, ref: string | undefined): Promise<{ id: CouncilId; url: string }> {
  const councils = await dir.councils();
  const ids = Object.keys(councils);
  if (ref === undefined || ref === "") {
    if (ids.length === 0) {
      throw new NoCouncilError(
        `${dir.root} holds no council: create one with \`federa council create NAME --dir ${dir.root}\` or join one`,
      );
    }
    if (ids.length > 1) throw new UsageError(`${dir.root} holds ${ids.length} councils: pass --council ID`);
    return { id: ids[0] as CouncilId, url: councils[ids[0]!]! };
  }
  const id = findByReference(ids, (i) => i, ref, {
    what: "council",
    where: `in ${dir.root}`,
    alphabet: "hex",
    notFound: (message) => new UnknownCouncilError(message),
  });
  return { id: id as CouncilId, url: councils[id]! };
}

async function openCouncil(ws: Workspace, ref: string | undefined): Promise<OpenCouncil> {
  const { id, url } = await resolveCouncil(ws.dir, ref);
  return ws.open(id, url);
}

/**
 * What an act writes, for the check of this member's own chains: a record core signs with the device key once the
 * device is authorised (else the member key), a device record the member key signs, or nothing at all.
 */
type Writes = "act" | "device-record" | "nothing";

/** Opens a council for acting: the identity must be a current member (a non-member's records would be excluded). */
async function actingIn(
  ws: Workspace,
  ref: string | undefined,
  writes: Writes = "act",
): Promise<{ held: OpenCouncil; state: CouncilState }> {
  const held = await openCouncil(ws, ref);
  const state = await held.council.state();
  const me = state.members.find((m) => m.id === ws.identity.member);
  if (me === undefined) throw new NotMemberError(ws.identity.member, held.council.id);
  if (writes !== "nothing") {
    // As core chooses: the device key once this device is authorised, else (and for device records) the member key.
    const device = ws.identity.device.id as SignerId;
    const byDevice = writes === "act" && me.devices.includes(device as DeviceId);
    const signer = byDevice ? device : (ws.identity.memberKey?.id ?? device);
    await refuseIfOwnChainLost(ws, { kind: "council", id: held.council.id }, held.council, state.excluded, signer);
  }
  return { held, state };
}

/** Exclusion reasons of authentic records past a break in their chain (a forged record neither breaks nor fills it). */
const PAST_A_BREAK: ReadonlySet<string> = new Set(["equivocation", "broken-chain", "clock-backwards"]);

/**
 * The `seq` at which a signer's chain stops counting although every record from there to its tip is held (two records
 * with one `seq`, or one that does not follow on), with why; null when it counts whole or a record is missing.
 */
function brokenAt(
  signer: SignerId,
  valid: number,
  tip: number,
  excluded: readonly Exclusion[],
): { seq: number; why: string } | null {
  if (valid >= tip) return null;
  const past = excluded.filter((e) => e.signer === signer && e.seq !== undefined && e.seq > valid);
  const held = new Set(past.filter((e) => PAST_A_BREAK.has(e.reason)).map((e) => e.seq));
  for (let seq = valid + 1; seq <= tip; seq++) if (!held.has(seq)) return null;
  const seq = valid + 1;
  const twice = past.some((e) => e.seq === seq && e.reason === "equivocation");
  const why = twice
    ? "it signed two different records with that seq"
    : `its record with that seq does not follow on from seq ${seq - 1}`;
  return { seq, why };
}

/**
 * Refuses to write while a chain of this member's keys on this device is not whole here. A chain broken with nothing
 * missing (two records with one `seq`) is refused for good, when `signer` (the key that signs the act) is the one
 * broken: no peer can send anything that mends it. Records missing are refused until they are back: the latest ones,
 * held only up to a lower `seq` than it once verified (its next record would take a `seq` it already used, a fork of
 * its chain that every peer holding the original excludes, with everything after it), or ones below records it holds,
 * which wait for them (its next record would wait too, and the command would report a write that does not count).
 */
async function refuseIfOwnChainLost(
  ws: Workspace,
  where: { readonly kind: "council" | "federation"; readonly id: string },
  chain: { tipSeq(signer: SignerId): number; highWater(): ReadonlyMap<SignerId, number> },
  excluded: readonly Exclusion[],
  signer: SignerId,
): Promise<void> {
  const marks = await new HighWaterStore(ws.dir).read();
  const stored = Object.hasOwn(marks, where.id) ? marks[where.id]! : {};
  const counted = chain.highWater();
  const own = [ws.identity.device.id, ws.identity.memberKey?.id].filter((k): k is SignerId => k !== undefined);
  const lost: string[] = [];
  let fork = false;
  for (const key of own) {
    const tip = chain.tipSeq(key);
    const valid = counted.get(key) ?? -1;
    const broken = brokenAt(key, valid, tip, excluded);
    if (broken !== null) {
      const which = key === ws.identity.device.id ? "device" : "member";
      const owner = { signer: key, key: which, member: ws.identity.member, ...where } as const;
      if (key === signer) throw new OwnChainBrokenError(owner, broken.seq, broken.why);
      continue; // the act is signed by the other key, whose chain this checks too
    }
    if (Object.hasOwn(stored, key) && stored[key]! > tip) {
      lost.push(`${key}: seq ${stored[key]} verified, seq ${tip} here`);
      fork = true;
    } else if (valid < tip) {
      // Stored marks may lag (never written, or a document restored alone): the hole below the tip shows the loss.
      lost.push(`${key}: seq ${tip} here waits for seq ${valid + 1}`);
    }
  }
  if (lost.length > 0) throw new OwnRecordsMissingError(lost, fork);
}

/** Finds one item of a council by its record id (hex) or a unique prefix of it. */
function byPrefix<T>(items: readonly T[], idOf: (t: T) => string, ref: string, what: string): T {
  return findByReference(items, idOf, ref, { what, where: "in this council", alphabet: "hex" });
}

/** Finds one item of a federation's state (a proposal, convergence or alert) by its id or a unique prefix. */
function inFederation<T extends { readonly id: string }>(items: readonly T[], ref: string, what: string): T {
  return findByReference(items, (i) => i.id, ref, { what, where: "in this federation", alphabet: "hex" });
}

/** Finds one member or device of a council by its id (base58) or a unique prefix of it, matched as typed. */
function byKeyPrefix(items: readonly string[], ref: string, what: string): string {
  return findByReference(items, (i) => i, ref, { what, where: "in this council", alphabet: "base58" });
}

/** Device records are signed by the member key: a device without it must ask one that holds it. */
function needMemberKey(ws: Workspace, act: string): void {
  if (ws.identity.memberKey === undefined)
    throw new CliError(
      CliErrorCodes.NOT_A_MEMBER,
      `${act} needs the member key, which this device does not hold: run it on the device where you ran \`federa init\``,
    );
}

/** This member's devices in a council (the identity is a member: `actingIn` checked). */
function myDevices(ws: Workspace, state: CouncilState): readonly string[] {
  return state.members.find((m) => m.id === ws.identity.member)?.devices ?? [];
}

/** A device id as typed: an Ed25519 peer id (a device key's public half). */
function deviceArg(ref: string): DeviceId {
  if (publicKeyOf(ref) === undefined) throw new UsageError(`not a device id: ${ref} (expected a 12D3KooW... peer id)`);
  return ref as DeviceId;
}

function memberRef(ws: Workspace, state: CouncilState, ref: string, what: string): MemberId {
  if (ref === "me" || ref === "self") return ws.identity.member;
  return byKeyPrefix(
    state.members.map((m) => m.id),
    ref,
    what,
  ) as MemberId;
}

// Friendly words accepted for every yes/no-like method, so `--choice yes` works whatever the method.
const CHOICE_ALIASES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  consent: { yes: "consent", no: "object", abstain: "stand-aside", agree: "consent" },
  consensus: { yes: "agree", no: "disagree" },
  majority: { agree: "yes", disagree: "no" },
  supermajority: { agree: "yes", disagree: "no" },
};
const CHOICES: Readonly<Record<string, readonly string[]>> = {
  consent: ["consent", "object", "stand-aside"],
  consensus: ["agree", "abstain", "disagree", "block"],
  majority: ["yes", "no", "abstain"],
  supermajority: ["yes", "no", "abstain"],
};

/** Builds a ballot for a proposal's method from what the voter typed. */
export function ballotFor(
  method: VoteMethod,
  input: {
    choice?: string | undefined;
    ranking?: readonly string[] | undefined;
    scores?: Readonly<Record<string, number>> | undefined;
    dots?: Readonly<Record<string, number>> | undefined;
  },
): Ballot {
  switch (method) {
    case "ranked": {
      const ranking = input.ranking ?? (input.choice ? input.choice.split(",").map((s) => s.trim()) : undefined);
      if (ranking === undefined || ranking.length === 0)
        throw new UsageError("this proposal is ranked: pass --ranking a,b,c");
      return { method, ranking };
    }
    case "score":
      if (input.scores === undefined) throw new UsageError("this proposal is scored: pass --scores a=3,b=1");
      return { method, scores: input.scores };
    case "dot":
      if (input.dots === undefined) throw new UsageError("this proposal is a dot vote: pass --dots a=2,b=1");
      return { method, dots: input.dots };
    default: {
      if (input.choice === undefined) throw new UsageError(`this proposal uses ${method}: pass --choice`);
      const word = input.choice.trim().toLowerCase();
      const choice = CHOICE_ALIASES[method]?.[word] ?? word;
      const allowed = CHOICES[method] ?? [];
      if (!allowed.includes(choice)) {
        throw new UsageError(`--choice for a ${method} proposal must be one of ${allowed.join(", ")}; got "${word}"`);
      }
      return { method, choice } as Ballot;
    }
  }
}

function iso(ms: number): string {
  return Number.isFinite(ms) && Math.abs(ms) < 8.64e15 ? new Date(ms).toISOString() : String(ms);
}

/** The status summary of one council's derived state. */
export function summarise(held: OpenCouncil, url: string, state: CouncilState, member: string): CouncilSummary {
  const open = state.proposals.filter((p) => p.status === "open");
  const future = futureRecords(held);
  return {
    id: held.council.id,
    url,
    available: true,
    name: state.name,
    member: state.members.some((m) => m.id === member),
    documents: [
      { role: "council", url: held.councilHandle.url, heads: [...held.councilHandle.heads()] },
      { role: "ledger", url: held.ledgerHandle.url, heads: [...held.ledgerHandle.heads()] },
    ],
    records: state.records,
    horizon: iso(state.horizon.ms),
    members: state.members.map((m) => m.id),
    openProposals: open.map((p) => ({
      id: p.id,
      title: p.title,
      method: p.method,
      closesAt: iso(p.closesAt),
      votes: Object.keys(p.votes).length,
      electorate: p.electorate.length,
    })),
    proposals: state.proposals.length,
    mandates: state.mandates.filter((m) => m.recalledAt === null).length,
    balances: Object.fromEntries(state.funds.map((f) => [f.id, f.balance])),
    funds: state.funds.map((f) => ({
      id: f.id,
      type: f.type,
      balance: f.balance,
      ...(f.type === "time" ? { accounts: f.accounts } : {}),
    })),
    conflicts: state.conflicts.length,
    excluded: state.excluded.length,
    futureRecords: { count: future.length, records: future.slice(0, FUTURE_LISTED) },
  };
}

async function status(ws: Workspace, ref: string | undefined): Promise<unknown> {
  const councils = await ws.dir.councils();
  const wanted = ref === undefined ? Object.keys(councils) : [(await resolveCouncil(ws.dir, ref)).id];
  const summaries: CouncilSummary[] = [];
  const marks = await new HighWaterStore(ws.dir).read();
  const failures: unknown[] = [];
  for (const id of wanted) {
    const url = councils[id]!;
    try {
      const held = await ws.open(id as CouncilId, url);
      const state = await held.council.state();
      const stored = Object.hasOwn(marks, id) ? marks[id] : undefined;
      const rolled = rolledBack(stored, marksOf(held.council.highWater()));
      summaries.push({ ...summarise(held, url, state, ws.identity.member), rolledBack: rolled });
    } catch (e) {
      if (e instanceof CouncilUnavailableError) {
        summaries.push({ id, url, available: false, reason: "documents not on this device yet" });
        continue;
      }
      // One council's damaged storage must not hide the others; a bug still fails the command.
      const { code, message, expected } = describeError(e);
      if (!expected) throw e;
      failures.push(e);
      summaries.push({ id, url, available: false, reason: `unavailable: ${message}`, error: { code, message } });
    }
  }
  // Nothing could be read: the command fails with the (first) reason.
  if (failures.length > 0 && failures.length === wanted.length) throw failures[0];
  const node = ws.node();
  // Side files: a damaged one is reported beside the councils, not in their place.
  const damaged: string[] = [];
  const orNone = async <T>(read: () => Promise<T>, none: T): Promise<T> => {
    try {
      return await read();
    } catch (e) {
      if (!(e instanceof DamagedFileError)) throw e;
      damaged.push(e.message);
      return none;
    }
  };
  const profile = await orNone(() => ws.dir.profile(), undefined);
  const applications = (await orNone(() => ws.dir.applications(), [])).map((a) => ({
    council: a.council,
    proposal: a.record,
    delivered: a.delivered,
    ...(a.refused !== undefined ? { refused: a.refused } : {}),
  }));
  return {
    dir: ws.dir.root,
    member: ws.identity.member,
    device: ws.identity.device.id,
    name: profile?.name ?? null,
    node: node === null ? { running: false, peers: [] } : { running: true, ...node },
    peers: node?.peers ?? [],
    councils: summaries,
    applications,
    // Councils this device follows as another device of its member, fetched from the inviter.
    joins: (await orNone(() => ws.dir.joins(), [])).map((j) => ({ council: j.council, inviter: j.inviter })),
    ...(damaged.length > 0 ? { damaged } : {}),
  };
}

function approvalOf(
  state: CouncilState,
  a: { readonly kind: "petty" } | { readonly kind: "budget" | "mandate"; readonly id: string },
): SpendApproval {
  if (a.kind === "petty") return "petty";
  if (a.kind === "budget") {
    return { budget: byPrefix(state.proposals, (p) => p.id, a.id, "budget proposal").id };
  }
  return { mandate: byPrefix(state.mandates, (m) => m.id, a.id, "mandate").id };
}

/** The federation a reference means among those D/federations.json lists. */
async function resolveFederation(dir: NodeDir, ref: string | undefined): Promise<FederationEntry> {
  const all = await dir.federations();
  if (ref === undefined) {
    if (all.length === 0)
      throw new NoCouncilError(
        `${dir.root} follows no federation: found one with \`federa federation create NAME --with TOKEN --dir ${dir.root}\` or join one`,
      );
    if (all.length > 1) throw new UsageError(`${dir.root} follows ${all.length} federations: pass --federation ID`);
    return all[0]!;
  }
  // Like a council not in the directory, or a proposal not in the council: a usage error (exit code 2).
  return findByReference(all, (f) => f.federation, ref, {
    what: "federation",
    where: "followed here",
    alphabet: "hex",
  });
}

async function openFederationOf(ws: Workspace, ref: string | undefined) {
  const entry = await resolveFederation(ws.dir, ref);
  const held = await ws.openFederation(entry.federation as FederationId, entry.url);
  return { entry, held, state: await held.federation.state() };
}

/** Why a mandate of the delegate's cannot count for a record of `federation` stamped `at`, or null when it can. */
function mandateProblem(mandate: Mandate, federation: { readonly id: string; readonly name: string }, at: number) {
  if (mandate.recalledAt !== null) return "it was recalled";
  if (!consentsTo(new Set([mandate.body]), federation))
    return `it is for "${mandate.body}", not this federation (wrong-body)`;
  if (at < mandate.startsAt) return `it starts at ${iso(mandate.startsAt)} (not-started)`;
  if (at > mandate.expiresAt) return `it expired at ${iso(mandate.expiresAt)} (expired)`;
  return null;
}

/**
 * The mandate the delegate acts under in `council` for the federation `id` whose state is `state` (the one named, else
 * their only one that can count: not recalled, for this federation, its term covering the act's stamp), refused before
 * anything is written when it cannot count or does not allow `position` on `topic`: an act it cannot cover would stay
 * in the document for good.
 */
function delegateMandate(
  ws: Workspace,
  council: { readonly id: CouncilId; readonly state: CouncilState },
  { id, state }: { readonly id: string; readonly state: FederationState },
  act: { readonly ref: string | undefined; readonly topic: string; readonly position: string; readonly what: string },
): Mandate {
  const federation = { id, name: state.name };
  const at = stampFor(state, council);
  const mine = council.state.mandates.filter((m) => m.delegate === ws.identity.member);
  if (mine.length === 0)
    throw new NotFoundCliError(`council ${council.id} has issued you no mandate: see \`federa mandate issue\``);
  let mandate: Mandate;
  if (act.ref !== undefined) {
    mandate = byPrefix(mine, (m) => m.id, act.ref, "mandate of yours");
    const problem = mandateProblem(mandate, federation, at);
    if (problem !== null)
      throw new UsageError(`your mandate ${mandate.id.slice(0, 12)} cannot count on ${act.what}: ${problem}`);
  } else {
    const usable = mine.filter((m) => mandateProblem(m, federation, at) === null);
    if (usable.length === 0)
      throw new UsageError(
        `none of your mandates of council ${council.id} can count on ${act.what}: ` +
          mine.map((m) => `${m.id.slice(0, 12)}: ${mandateProblem(m, federation, at)}`).join("; "),
      );
    if (usable.length > 1)
      throw new UsageError(
        `you hold ${usable.length} mandates of council ${council.id} for this federation: pass --mandate ID`,
      );
    mandate = usable[0]!;
  }
  const allowed = mandate.positions[act.topic] ?? mandate.positions["*"];
  if (allowed === undefined || !allowed.includes(act.position))
    throw new UsageError(
      `your mandate ${mandate.id.slice(0, 12)} does not allow "${act.position}" on ${act.what}` +
        (allowed ? ` (it allows: ${allowed.join(", ")})` : " (its topic is not covered)"),
    );
  return mandate;
}

/** A federation's name, or null while its founding record is not folded here (a founded federation always has one). */
function federationName(state: FederationState): string | null {
  return state.name === "" ? null : state.name;
}

/**
 * Why a mandate's `--body`, naming no federation followed here, looks meant for one it can never count for (a case
 * slip in its name, or a shortened id); empty when it names one exactly or resembles none.
 */
async function bodyWarnings(ws: Workspace, body: string): Promise<string[]> {
  const followed = await ws.dir.federations().catch(() => []);
  const warnings: string[] = [];
  for (const f of followed) {
    const name = await ws
      .openFederation(f.federation as FederationId, f.url)
      .then(async (h) => federationName(await h.federation.state()))
      .catch(() => null);
    if (consentsTo(new Set([body]), { id: f.federation, name: name ?? "" })) return [];
    const never = "a mandate names a federation by its exact name or full id, so it would never count there";
    const lower = body.toLowerCase();
    if (name !== null && lower === name.toLowerCase())
      warnings.push(
        `--body "${body}" differs only by case from the name of federation ${f.federation}, "${name}": ${never}`,
      );
    else if (lower === f.federation)
      warnings.push(`--body "${body}" differs only by case from the id of federation ${f.federation}: ${never}`);
    else if (body !== "" && f.federation.startsWith(lower))
      warnings.push(`--body "${body}" is only the start of the id of federation ${f.federation}: ${never}`);
  }
  return warnings;
}

/** The least clock a delegate's next federation record carries: now, or after the federation's time if it is ahead. */
function stampOf(state: FederationState): number {
  return Math.max(now(), state.horizon.ms);
}

/** The least clock of a delegate's record for `council`: it is stamped after the council's time too. */
function stampFor(state: FederationState, council: { readonly state: CouncilState }): number {
  return Math.max(stampOf(state), council.state.horizon.ms);
}

/** Opens a federation for a delegate's act: its state and the member council the delegate acts for. */
async function actingInFederation(ws: Workspace, req: { readonly federation?: string; readonly council?: string }) {
  const { held, state } = await openFederationOf(ws, req.federation);
  const council = delegateCouncil(ws, held.federation.id, state, await councilStates(ws, state), req.council);
  // Core signs a federation's records with the member key when this device holds it, else with the device key.
  const signer = (ws.identity.memberKey?.id ?? ws.identity.device.id) as SignerId;
  await refuseIfOwnChainLost(
    ws,
    { kind: "federation", id: held.federation.id },
    held.federation,
    state.excluded,
    signer,
  );
  return { held, state, council };
}

/** The member council a delegate acts for: the one named, else the only member council this member belongs to. */
function delegateCouncil(
  ws: Workspace,
  federation: string,
  state: FederationState,
  councils: ReadonlyMap<string, CouncilState>,
  ref?: string,
): { readonly id: CouncilId; readonly state: CouncilState } {
  // Until its founding record is folded the federation has no member councils to act for, whoever you are.
  if (federationName(state) === null) throw new FoundingUncheckedError(federation);
  const mine = state.councils
    .map((c) => ({ id: c.id, state: councils.get(c.id) }))
    .filter(
      (c): c is { id: CouncilId; state: CouncilState } =>
        c.state?.members.some((m) => m.id === ws.identity.member) === true,
    );
  if (ref !== undefined)
    return findByReference(mine, (c) => c.id, ref, {
      what: "member council of yours",
      where: "in this federation",
      alphabet: "hex",
    });
  if (mine.length === 0) throw new NotDelegateError(ws.identity.member, federation);
  if (mine.length > 1) throw new UsageError(`you belong to ${mine.length} member councils: pass --council ID`);
  return mine[0]!;
}

/** The derived states of the federation's member councils held here, by id. */
async function councilStates(ws: Workspace, state: FederationState): Promise<Map<string, CouncilState>> {
  const councils = await ws.dir.knownCouncils();
  const states = new Map<string, CouncilState>();
  for (const c of state.councils) {
    const url = councils[c.id];
    if (url === undefined) continue;
    const held = await ws.open(c.id, url).catch(() => undefined);
    if (held !== undefined) states.set(c.id, await held.council.state());
  }
  return states;
}

/** The addresses an invitation carries: the running node's, else those it last listened on. */
async function addressesOf(ws: Workspace): Promise<string[]> {
  return [...(ws.node()?.addresses ?? (await ws.dir.nodeInfo())?.addresses ?? [])];
}

/** Performs one request on a workspace; the result is JSON-safe. */
export async function perform(ws: Workspace, req: Request): Promise<Record<string, unknown>> {
  switch (req.op) {
    case "ping": {
      const node = ws.node();
      return { member: ws.identity.member, device: ws.identity.device.id, node };
    }
    case "council.create": {
      const held = await ws.found({
        name: req.name,
        charter: req.charter,
        founders: (req.founders ?? []) as MemberId[],
      });
      await ws.dir.addCouncil(held.council.id, held.councilHandle.url);
      return { council: held.council.id, url: held.councilHandle.url, ledger: held.ledgerHandle.url, name: req.name };
    }
    case "council.list": {
      const councils = await ws.dir.councils();
      return { councils: Object.entries(councils).map(([id, url]) => ({ id, url })) };
    }
    case "invite": {
      const { held } = await actingIn(ws, req.council, "nothing");
      const node = ws.node();
      const addresses = node?.addresses ?? (await ws.dir.nodeInfo())?.addresses ?? [];
      return {
        council: held.council.id,
        url: held.councilHandle.url,
        peer: ws.identity.device.id,
        addresses: [...addresses],
        // No node running: the addresses are those node.json kept from its last run.
        lastRun: node === null,
        // Members named at founding have no device yet: the token tells them to send a device authorisation instead.
        members: (await held.council.state()).members.map((m) => m.id),
      };
    }
    case "propose": {
      const { held } = await actingIn(ws, req.council);
      const proposal = await held.council.propose(req.input);
      return { council: held.council.id, proposal };
    }
    case "vote": {
      const { held, state } = await actingIn(ws, req.council);
      const p = byPrefix(state.proposals, (x) => x.id, req.proposal, "proposal");
      const ballot = ballotFor(p.method as VoteMethod, req);
      // The count would ignore this ballot (while counting it towards quorum): say so rather than cast it.
      const problem = ballotProblem({ ...p, method: p.method as VoteMethod }, ballot);
      if (problem !== null) throw new UsageError(`this ballot would not count: ${problem}`);
      const record = await held.council.vote(p.id, ballot);
      const after = (await held.council.state()).proposals.find((x) => x.id === p.id);
      return {
        council: held.council.id,
        proposal: p.id,
        record,
        ballot,
        status: after?.status ?? p.status,
        passing: after?.result?.passed ?? null,
      };
    }
    case "fund.create": {
      const { held } = await actingIn(ws, req.council);
      const record = await held.council.ledger.createFund(req.fund, req.type, req.description);
      return { council: held.council.id, fund: req.fund, record };
    }
    case "donate": {
      const { held } = await actingIn(ws, req.council);
      const record = await held.council.ledger.donate(req.fund, req.amount, req.from);
      return { council: held.council.id, record, ...fundAfter(held.council.current(), req.fund, record) };
    }
    case "spend": {
      const { held, state } = await actingIn(ws, req.council);
      const approval = approvalOf(state, req.approval);
      const record = await held.council.ledger.spend(req.fund, req.amount, req.payee, approval, req.memo);
      return { council: held.council.id, record, ...fundAfter(held.council.current(), req.fund, record) };
    }
    case "swap": {
      const { held, state } = await actingIn(ws, req.council);
      const provider = memberRef(ws, state, req.provider, "member");
      const record = await held.council.ledger.swap(req.fund, provider, req.minutes, req.note);
      return { council: held.council.id, record, provider, ...fundAfter(held.council.current(), req.fund, record) };
    }
    case "mandate.issue": {
      const { held, state } = await actingIn(ws, req.council);
      const delegate = memberRef(ws, state, req.delegate, "delegate");
      const recall = req.recall ?? state.charter?.threshold;
      if (recall === undefined) throw new UsageError("pass --recall: the council's charter has no default threshold");
      // Caught now rather than when the vote passes and the mandate cannot be issued.
      const term = state.charter === null ? null : mandateTermProblem(state.charter, req);
      if (term !== null) throw new UsageError(term);
      const warnings = await bodyWarnings(ws, req.body);
      const proposal = await held.council.proposeMandate({
        delegate,
        body: req.body,
        instructions: req.instructions,
        positions: Object.fromEntries(Object.entries(req.positions).map(([k, v]) => [k, [...v]])),
        ...(req.allowance ? { allowance: req.allowance } : {}),
        startsAt: req.startsAt,
        expiresAt: req.expiresAt,
        recall,
        ...(req.closesAt !== undefined ? { closesAt: req.closesAt } : {}),
        ...(req.title !== undefined ? { title: req.title } : {}),
      });
      return { council: held.council.id, proposal, delegate, warnings };
    }
    case "mandate.recall": {
      const { held, state } = await actingIn(ws, req.council);
      const mandate = byPrefix(state.mandates, (m) => m.id, req.mandate, "mandate");
      if (mandate.recalledAt !== null) throw new NotFoundCliError(`mandate ${mandate.id} was already recalled`);
      const proposal = await held.council.proposeRecall(mandate.id as MandateId, undefined, req.closesAt);
      return { council: held.council.id, proposal, mandate: mandate.id };
    }
    case "tick": {
      const { held } = await actingIn(ws, req.council);
      const record = await held.council.tick();
      const state = held.council.current();
      return { council: held.council.id, record, horizon: iso(state.horizon.ms) };
    }
    case "device.add": {
      const { held, state } = await actingIn(ws, req.council, "device-record");
      needMemberKey(ws, "authorising a device");
      const device = deviceArg(req.device);
      if (state.members.some((m) => (m.id as string) === device))
        throw new UsageError(`${device} is a member id, not a device id (\`federa init --device-of\` prints both)`);
      const owner = state.members.find((m) => m.devices.includes(device));
      if (owner !== undefined && owner.id !== ws.identity.member)
        throw new UsageError(`device ${device} already acts for another member (${owner.id})`);
      // Already authorised: nothing to write (a second record would be refused by every peer anyway).
      if (owner !== undefined) return { council: held.council.id, member: owner.id, device, record: null };
      const record = await held.council.authorizeDevice(device, req.label);
      return { council: held.council.id, member: ws.identity.member, device, record };
    }
    case "device.revoke": {
      const { held, state } = await actingIn(ws, req.council, "device-record");
      needMemberKey(ws, "revoking a device");
      const mine = myDevices(ws, state);
      const device = byKeyPrefix(mine, req.device, "device of yours");
      // With no device left nothing syncs for the member: a later authorisation could not reach the others' nodes.
      if (mine.length === 1 && req.force !== true)
        throw new UsageError(`${device} is your last device in this council: pass --force to revoke it anyway`);
      const record = await held.council.revokeDevice(device as DeviceId);
      return { council: held.council.id, device, record, thisDevice: device === ws.identity.device.id };
    }
    case "device.list": {
      const { held, state } = await actingIn(ws, req.council, "nothing");
      const mine = myDevices(ws, state);
      return {
        council: held.council.id,
        member: ws.identity.member,
        memberKey: ws.identity.memberKey !== undefined,
        thisDevice: ws.identity.device.id,
        authorised: mine.includes(ws.identity.device.id),
        devices: mine.map((d) => ({ device: d, thisDevice: d === ws.identity.device.id })),
      };
    }
    case "council.fetch": {
      const { id, url } = await resolveCouncil(ws.dir, req.council);
      try {
        const held = await ws.open(id, url);
        return { council: held.council.id, available: true };
      } catch (e) {
        if (!(e instanceof CouncilUnavailableError)) throw e;
        return { council: id, available: false };
      }
    }
    case "federation.create": {
      const { held } = await actingIn(ws, req.council);
      // A token of the founding council itself would vouch for this very device as another council's delegate.
      if (req.with.some((w) => w.council === held.council.id))
        throw new UsageError(
          `--with names ${held.council.id}, the council founding the federation: pass other councils' tokens`,
        );
      const councils = [...new Set([held.council.id, ...req.with.map((w) => w.council as CouncilId)])];
      const urls = {
        ...Object.fromEntries(req.with.map((w) => [w.council, w.url])),
        [held.council.id]: held.councilHandle.url,
      };
      const founded = await ws.foundFederation({ name: req.name, councils, urls });
      const id = founded.federation.id;
      const since = iso(now());
      const delegates = req.with.map((w) => ({ peer: w.peer, addresses: w.addresses, council: w.council, since }));
      await ws.dir.saveFederation({ federation: id, url: founded.handle.url, delegates });
      for (const d of delegates) ws.vouch?.(id, d.peer, d.council as CouncilId, vouchEnds(d));
      return {
        federation: id,
        url: founded.handle.url,
        councils,
        council: held.council.id,
        peer: ws.identity.device.id,
        addresses: await addressesOf(ws),
      };
    }
    case "federation.list": {
      const all = await ws.dir.federations();
      const listed = [];
      for (const f of all) {
        const state = await ws
          .openFederation(f.federation as FederationId, f.url)
          .then((h) => h.federation.state())
          .catch(() => null);
        const name = state === null ? null : federationName(state);
        listed.push({ federation: f.federation, url: f.url, name, available: state !== null });
      }
      return { federations: listed };
    }
    case "federation.leave": {
      const entry = await resolveFederation(ws.dir, req.federation);
      await ws.dir.removeFederation(entry.federation);
      // A running node stops syncing it and lets its delegates in no longer; offline the entry was all there was.
      for (const contact of contactsOf(entry)) ws.unvouch?.(entry.federation as FederationId, contact.peer);
      ws.leave?.(entry.federation as FederationId);
      return { federation: entry.federation, url: entry.url, running: ws.node() !== null };
    }
    case "federation.invite": {
      const entry = await resolveFederation(ws.dir, req.federation);
      // The inviter's member council, when this directory can tell: the joiner's vouch lapses once it holds it.
      const own = await ws.dir.councils();
      const members = await ws
        .openFederation(entry.federation as FederationId, entry.url)
        .then((h) => h.federation.state())
        .then((s) => s.councils.map((c) => c.id as string).filter((c) => own[c] !== undefined))
        .catch(() => []);
      return {
        federation: entry.federation,
        url: entry.url,
        ...(members.length === 1 ? { council: members[0] } : {}),
        peer: ws.identity.device.id,
        addresses: await addressesOf(ws),
      };
    }
    case "federation.fetch": {
      const entry = await resolveFederation(ws.dir, req.federation);
      try {
        const held = ws.follow
          ? await ws.follow(entry)
          : await ws.openFederation(entry.federation as FederationId, entry.url);
        return { federation: held.federation.id, available: true };
      } catch (e) {
        if (!(e instanceof CliError)) throw e;
        return { federation: entry.federation, available: false };
      }
    }
    case "federation.propose": {
      const { held, state, council } = await actingInFederation(ws, req);
      const admit = req.admit;
      if (admit !== undefined && state.councils.some((c) => c.id === admit.council))
        throw new UsageError(`council ${admit.council} is already a member of this federation`);
      const pending = state.proposals.find(
        (p) => p.status === "open" && p.effect.type === "admit-council" && p.effect.council === admit?.council,
      );
      if (pending !== undefined)
        throw new UsageError(`proposal ${pending.id.slice(0, 12)} to admit council ${admit?.council} is still open`);
      const proposal = await held.federation.propose({
        council: council.id,
        title: req.title,
        ...(req.text !== undefined ? { text: req.text } : {}),
        ...(req.topic !== undefined ? { topic: req.topic } : {}),
        ...(req.closesAt !== undefined ? { closesAt: req.closesAt } : {}),
        ...(admit !== undefined ? { effect: { type: "admit-council", council: admit.council } } : {}),
      });
      if (admit !== undefined) {
        // Where its documents are, for every member node once it is admitted; its delegate may read the federation now.
        held.handle.change((d) => linkCouncil(d, admit.council as CouncilId, admit.url));
        const delegate = { peer: admit.peer, addresses: admit.addresses, council: admit.council, since: iso(now()) };
        await ws.dir.saveFederation({ federation: held.federation.id, url: held.handle.url, delegates: [delegate] });
        ws.vouch?.(held.federation.id, admit.peer, admit.council as CouncilId, vouchEnds(delegate));
      }
      return { federation: held.federation.id, council: council.id, proposal };
    }
    case "federation.tick": {
      const { held, council } = await actingInFederation(ws, req);
      const record = await held.federation.tick();
      return { federation: held.federation.id, council: council.id, record };
    }
    case "federation.vote": {
      const { held, state, council } = await actingInFederation(ws, req);
      const proposal = inFederation(state.proposals, req.proposal, "federation proposal");
      const mandate = delegateMandate(
        ws,
        council,
        { id: held.federation.id, state },
        {
          ref: req.mandate,
          topic: proposal.topic,
          position: req.position,
          what: "this proposal",
        },
      );
      const record = await held.federation.vote(proposal.id, {
        council: council.id,
        mandate: mandate.id,
        position: req.position,
      });
      const after = await held.federation.state();
      const counted = after.proposals.find((p) => p.id === proposal.id)?.votes[council.id as string]?.record === record;
      const conflict = after.conflicts.find((c) => c.record === record);
      return {
        federation: held.federation.id,
        proposal: proposal.id,
        council: council.id,
        mandate: mandate.id,
        record,
        counted,
        ...(conflict ? { refused: { type: conflict.type, reason: conflict.reason, detail: conflict.detail } } : {}),
      };
    }
    case "federation.converge": {
      const { held, state, council } = await actingInFederation(ws, req);
      // The fold would exclude these for good: refuse them before writing.
      const at = stampOf(state);
      const closesAt = req.closesAt ?? at + (state.charter?.votingWindowMs ?? 0);
      if (closesAt < at) throw new UsageError("the vote calling the convergence would close before it opens");
      if (req.startsAt <= closesAt)
        throw new UsageError(
          `the convergence must open after the vote calling it closes (${iso(closesAt)}): pass a later --starts or an earlier --closes`,
        );
      if (req.endsAt <= req.startsAt) throw new UsageError("the convergence must end after it starts");
      const proposal = await held.federation.propose({
        council: council.id,
        title: req.title,
        ...(req.text !== undefined ? { text: req.text } : {}),
        ...(req.closesAt !== undefined ? { closesAt: req.closesAt } : {}),
        effect: {
          type: "convergence",
          title: req.title,
          startsAt: req.startsAt,
          endsAt: req.endsAt,
          actions: [...new Set(req.actions)],
          ...(req.topic !== undefined ? { topic: req.topic } : {}),
        },
      });
      return { federation: held.federation.id, council: council.id, proposal };
    }
    case "federation.ratify": {
      const { held, state, council } = await actingInFederation(ws, req);
      const convergence = inFederation(state.convergences, req.convergence, "convergence");
      // A ratification that cannot count would stay in the shared document for good: refuse it before writing.
      if (!convergence.actions.some((a) => a.action === req.action))
        throw new UsageError(
          `"${req.action}" is not an action of this convergence (its actions: ${convergence.actions.map((a) => a.action).join(", ")})`,
        );
      const at = stampOf(state);
      if (at < convergence.startsAt || at > convergence.endsAt)
        throw new UsageError(
          `the convergence runs from ${iso(convergence.startsAt)} to ${iso(convergence.endsAt)}: a ratification now would not count`,
        );
      const ratified = convergence.actions.find((a) => a.action === req.action)?.ratifiedBy ?? [];
      const earlier = ratified.find((r) => r.council === council.id);
      // A council ratifies an action once: a second record would change nothing and stay in the document for good.
      if (earlier !== undefined)
        throw new UsageError(
          `your council ${council.id.slice(0, 12)} already ratified "${req.action}" in this convergence (record ${earlier.record.slice(0, 12)})`,
        );
      const mandate = delegateMandate(
        ws,
        council,
        { id: held.federation.id, state },
        {
          ref: req.mandate,
          topic: convergence.topic,
          position: req.action,
          what: "this convergence",
        },
      );
      const record = await held.federation.ratify(convergence.id, {
        council: council.id,
        mandate: mandate.id,
        action: req.action,
      });
      const after = (await held.federation.state()).convergences.find((c) => c.id === convergence.id);
      const counted = (after?.actions.find((a) => a.action === req.action)?.ratifiedBy ?? []).some(
        (r) => r.record === record,
      );
      return {
        federation: held.federation.id,
        convergence: convergence.id,
        council: council.id,
        mandate: mandate.id,
        record,
        counted,
      };
    }
    case "federation.alert": {
      const { held, council } = await actingInFederation(ws, req);
      const alert = await held.federation.raiseAlert({ council: council.id, what: req.what, needs: req.needs });
      return { federation: held.federation.id, council: council.id, alert };
    }
    case "federation.respond": {
      const { held, state, council } = await actingInFederation(ws, req);
      const alert = inFederation(state.alerts, req.alert, "alert");
      const record = await held.federation.respondToAlert(alert.id, { council: council.id, offer: req.offer });
      const after = (await held.federation.state()).alerts.find((a) => a.id === alert.id);
      const pledge = after?.pledges.find((p) => p.council === council.id);
      return {
        federation: held.federation.id,
        council: council.id,
        alert: alert.id,
        record,
        pledge: pledge?.status ?? null,
        responseMs: pledge?.responseMs ?? null,
      };
    }
    case "federation.status": {
      const { entry, held, state } = await openFederationOf(ws, req.federation);
      const here = await councilStates(ws, state);
      const marks = await new HighWaterStore(ws.dir).read();
      const stored = Object.hasOwn(marks, held.federation.id) ? marks[held.federation.id] : undefined;
      return {
        federation: held.federation.id,
        url: entry.url,
        name: federationName(state),
        records: state.records,
        horizon: iso(state.horizon.ms),
        councils: state.councils.map((c) => ({
          id: c.id,
          name: c.name,
          here: here.has(c.id),
          consents: c.consents,
          withdrawn: c.withdrawn,
          withdrawnAt: c.withdrawnAt === null ? null : iso(c.withdrawnAt.ms),
        })),
        proposals: state.proposals.map((p) => ({
          id: p.id,
          title: p.title,
          status: p.status,
          closesAt: iso(p.closesAt),
          electorate: p.electorate.length,
          votes: Object.fromEntries(Object.entries(p.votes).map(([c, v]) => [c, v.position])),
        })),
        alerts: state.alerts.map((a) => ({
          id: a.id,
          council: a.council,
          what: a.what,
          needs: a.needs,
          raisedAt: iso(a.raisedAt.ms),
          responses: a.responses.length,
          firstResponseMs: a.firstResponseMs,
          pledges: Object.fromEntries(a.pledges.map((p) => [p.council, p.status])),
        })),
        convergences: state.convergences.map((c) => ({
          id: c.id,
          title: c.title,
          status: c.status,
          startsAt: iso(c.startsAt),
          endsAt: iso(c.endsAt),
          ratified: Object.fromEntries(c.actions.map((a) => [a.action, a.ratifiedBy.map((r) => r.council)])),
        })),
        conflicts: state.conflicts.map((c) => ({
          type: c.type,
          record: c.record,
          council: c.council,
          reason: c.reason,
        })),
        excluded: state.excluded.length,
        rolledBack: rolledBack(stored, marksOf(held.federation.highWater())),
      };
    }
    case "state": {
      const held = await openCouncil(ws, req.council);
      return { state: await held.council.state() };
    }
    case "status":
      return (await status(ws, req.council)) as Record<string, unknown>;
    case "export": {
      const held = await openCouncil(ws, req.council);
      const state = await held.council.state();
      const text = req.format === "json" ? exportJson(state) : exportCsv(state, req.table);
      return { council: held.council.id, format: req.format, text };
    }
    case "apply.deliver": {
      if (ws.deliver === undefined) throw new UsageError("only a running node delivers applications");
      return { record: req.record, ...(await ws.deliver(req.record)) };
    }
    default:
      // A request from an older or newer command, or a hand-written one on the control socket.
      throw new UsageError(`unknown request "${String((req as { op?: unknown }).op)}"`);
  }
}

/** Why a record written does not count in the council's state here: its exclusion, or its conflict, with the detail. */
export interface NotCounted {
  readonly reason: string;
  readonly detail: string;
}

/**
 * A fund's balance after a ledger record, with the record's ledger entry (`status` applied or held) or, when the
 * record made none because it does not count, `notCounted` saying why: an act reported with neither would read as
 * done.
 */
export function fundAfter(
  state: Pick<CouncilState, "funds" | "ledger" | "excluded" | "conflicts">,
  fund: string,
  record: string,
): { fund: string; balance: number | null; entry?: { status: string; reason: string }; notCounted?: NotCounted } {
  const f = state.funds.find((x) => x.id === (fund as FundId));
  const balance = f?.balance ?? null;
  const entry = state.ledger.find((e) => e.record === record);
  if (entry !== undefined) return { fund, balance, entry: { status: entry.status, reason: entry.reason } };
  const excluded = state.excluded.find((e) => e.id === record);
  const conflict = state.conflicts.find((c) => c.record === record);
  const notCounted: NotCounted =
    excluded !== undefined
      ? { reason: excluded.reason, detail: excluded.detail }
      : conflict !== undefined
        ? { reason: conflict.type, detail: conflict.detail }
        : { reason: "not-derived", detail: "the council's state on this device holds no entry for it" };
  return { fund, balance, notCounted };
}

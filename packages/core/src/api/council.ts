/**
 * The application developer's API: found a council, open it on DocHandles or plain documents, act (propose, vote,
 * spend, swap, issue mandates...) without knowing the record format, and read the derived state.
 */
import * as A from "@automerge/automerge";
import type { Ballot, Quorum, Threshold, VoteMethod } from "../council/tally-types.js";
import { councilReducer } from "../derive/council-reducer.js";
import { Fold } from "../derive/fold.js";
import type { CouncilModel, CouncilSnapshot } from "../derive/model.js";
import { trialCopy } from "../derive/model.js";
import type { CouncilState } from "../derive/view.js";
import { viewOf } from "../derive/view.js";
import {
  type CouncilDoc,
  initialCouncilDoc,
  initialLedgerDoc,
  type LedgerDoc,
  putRecords,
} from "../documents/layout.js";
import { RecordReader } from "../documents/reader.js";
import { RecordKeeper } from "../documents/restore.js";
import type { DocSource } from "../documents/source.js";
import { PlainDocument } from "../documents/source.js";
import {
  InvalidInputError,
  NotAMemberError,
  NotFoundError,
  RejectedActError,
  UnknownDocumentError,
} from "../errors.js";
import type { Hlc } from "../hlc.js";
import { compareHlc, nextHlc } from "../hlc.js";
import type { Identity, Keypair } from "../identity.js";
import type { CouncilId, DeviceId, FundId, MandateId, MemberId, ProposalId, RecordId, SignerId } from "../ids.js";
import { isRecordId } from "../ids.js";
import { IntegrityIndex } from "../records/integrity.js";
import type { FederaRecord } from "../records/record.js";
import { sealRecord } from "../records/record.js";
import type { BodyOf, Charter, Effect, RecordKind } from "../records/schemas.js";
import { defaultCharter, LEDGER_KINDS, parseBody } from "../records/schemas.js";
import type { VerifiedCache } from "../records/verified-cache.js";
import { Ledger } from "./ledger.js";
import type { Act, Sealed } from "./record-writer.js";
import { appendSealed, ChainWriter, SerialQueue } from "./record-writer.js";

export type { Act } from "./record-writer.js";

/** The two documents of a council. */
export interface CouncilSources {
  readonly council: DocSource<CouncilDoc>;
  readonly ledger: DocSource<LedgerDoc>;
}

/** How a council is opened. */
export interface CouncilOptions {
  /** Who acts; without it the council is read-only. */
  readonly identity?: Identity;
  /** Where verified signatures are remembered across loads (see `MemoryVerifiedCache`). */
  readonly verified?: VerifiedCache;
  /** The wall clock used to stamp new records (never used by derivation). */
  readonly now?: () => number;
  readonly checkpointEvery?: number;
  /**
   * Before writing, try the acts on a copy of the derived state and throw `RejectedActError` for one the derivation
   * would exclude, writing nothing. For interactive callers; each write then costs a copy of the state.
   */
  readonly checkActs?: boolean;
}

/** What a new council starts with. */
export interface FoundInit {
  readonly name: string;
  readonly charter?: Partial<Charter>;
  /** Founding members besides the founder. */
  readonly founders?: readonly MemberId[];
  readonly now?: () => number;
}

/** A proposal as an application states it; omitted fields take the charter's defaults. */
export interface ProposeInput {
  readonly title: string;
  readonly text?: string;
  readonly method?: VoteMethod;
  readonly options?: readonly string[];
  readonly threshold?: Threshold;
  readonly quorum?: Quorum;
  /** Closing time in ms since the epoch; default: now plus the charter's voting window. */
  readonly closesAt?: number;
  readonly maxScore?: number;
  readonly dotsPerVoter?: number;
  readonly effect?: Effect;
}

/** The founding documents of a new council, as plain Automerge documents (import them into a Repo to share). */
export interface FoundedCouncil {
  readonly id: CouncilId;
  readonly council: A.Doc<CouncilDoc>;
  readonly ledger: A.Doc<LedgerDoc>;
}

/** Founds a council: a genesis signed by the founder's member key, and the founder's device authorised. */
export async function foundCouncil(identity: Identity, init: FoundInit): Promise<FoundedCouncil> {
  const memberKey = identity.memberKey;
  if (memberKey === undefined)
    throw new NotAMemberError("founding a council needs the member key, not only a device key");
  const charter = defaultCharter(init.charter);
  const founders = [...new Set([identity.member, ...(init.founders ?? [])])];
  const body = parseBody("council.genesis", { name: init.name, charter, founders });
  if (!body.ok) throw new InvalidInputError("invalid council", body.issues);
  const at = nextHlc({ ms: 0, c: 0 }, (init.now ?? Date.now)());
  const genesis = await sealRecord(
    { kind: "council.genesis", council: null, author: identity.member, seq: 0, prev: null, at, body: body.body },
    memberKey,
    true,
  );
  const id = genesis.id as CouncilId;
  const device = await sealRecord(
    {
      kind: "device.authorize",
      council: id,
      author: identity.member,
      seq: 1,
      prev: genesis.id,
      at: nextHlc(at, at.ms),
      body: { device: identity.device.id },
    },
    memberKey,
    true,
  );
  const council = A.change(A.from<CouncilDoc>(initialCouncilDoc(id)), (d: CouncilDoc) =>
    putRecords(d, [genesis, device]),
  );
  const ledger = A.from<LedgerDoc>(initialLedgerDoc(id));
  return { id, council, ledger };
}

/** Kinds the fold accepts from a non-member, as the council reducer's own list. */
const OPEN_KINDS: ReadonlySet<RecordKind> = new Set(["council.genesis", "member.apply"]);

/** A record of any one kind, so a switch on `kind` narrows its body. */
type AnyRecord = { [K in RecordKind]: FederaRecord<K> }[RecordKind];

/**
 * True when `author`'s admission is passing and due before `ms`: their record stamped then closes it first and is
 * folded as a member's (as the council reducer lets an applicant's record move time).
 */
function admittedBy(model: CouncilModel, author: MemberId, ms: number): boolean {
  for (const p of model.proposals.values()) {
    if (p.status === "open" && p.effect.type === "admit" && p.effect.member === author && p.closesAt < ms)
      return p.result?.passed === true;
  }
  return false;
}

/** Entries a refresh decodes and checks at a time. */
const REFRESH_SLICE = 100;
/** Main-thread time a refresh may take before it lets the event loop run. */
const REFRESH_BUDGET_MS = 20;

/** A council opened on its documents: acts write signed records, `state()` derives. */
export class Council {
  readonly id: CouncilId;
  readonly ledger: Ledger;
  readonly #sources: CouncilSources;
  readonly #identity: Identity | undefined;
  readonly #now: () => number;
  readonly #index: IntegrityIndex;
  readonly #fold: Fold<CouncilModel, CouncilSnapshot>;
  readonly #readers = { council: new RecordReader(), ledger: new RecordReader() };
  readonly #writer: ChainWriter;
  readonly #checkActs: boolean;
  #view: CouncilState | null = null;
  readonly #queue = new SerialQueue();
  readonly #keeper: RecordKeeper;

  private constructor(id: CouncilId, sources: CouncilSources, options: CouncilOptions) {
    this.id = id;
    this.#sources = sources;
    this.#identity = options.identity;
    this.#now = options.now ?? Date.now;
    this.#index = new IntegrityIndex({ council: id, ...(options.verified ? { verified: options.verified } : {}) });
    this.#keeper = new RecordKeeper({
      scope: id,
      index: this.#index,
      counted: () => ({ records: this.#fold.records, excluded: this.current().excluded }),
    });
    this.#writer = new ChainWriter(this.#index, id, this.#now);
    this.#fold = new Fold(councilReducer, options.checkpointEvery ? { checkpointEvery: options.checkpointEvery } : {});
    this.#checkActs = options.checkActs ?? false;
    this.ledger = new Ledger(this);
  }

  /** Opens a council on its two documents (DocHandles or `PlainDocument`s). */
  static async open(sources: CouncilSources, options: CouncilOptions = {}): Promise<Council> {
    const doc = sources.council.doc() as Partial<CouncilDoc> | undefined;
    const ledger = sources.ledger.doc() as Partial<LedgerDoc> | undefined;
    const id = doc?.federa?.council;
    if (doc?.federa?.type !== "council" || !isRecordId(id))
      throw new UnknownDocumentError("not a Federa council document");
    if (ledger?.federa?.type !== "ledger" || ledger.federa.council !== id) {
      throw new UnknownDocumentError("the ledger document does not belong to this council");
    }
    const council = new Council(id as CouncilId, sources, options);
    await council.refresh();
    return council;
  }

  /** Opens plain Automerge documents (for example those `foundCouncil` returned), each wrapped in a `PlainDocument`. */
  static async openPlain(docs: { council: A.Doc<CouncilDoc>; ledger: A.Doc<LedgerDoc> }, options: CouncilOptions = {}) {
    return Council.open({ council: new PlainDocument(docs.council), ledger: new PlainDocument(docs.ledger) }, options);
  }

  get sources(): CouncilSources {
    return this.#sources;
  }

  get identity(): Identity | undefined {
    return this.#identity;
  }

  /** Reads whatever the documents gained (local writes, merges, sync) and re-derives incrementally. */
  refresh(): Promise<void> {
    return this.#serial(() => this.#refresh());
  }

  /** The derived state after a refresh. */
  async state(): Promise<CouncilState> {
    await this.refresh();
    return this.current();
  }

  /** The derived state as of the last refresh, without reading the documents. */
  current(): CouncilState {
    this.#view ??= viewOf(this.#fold.state, this.#fold.records.length, this.#index.exclusions());
    return this.#view;
  }

  /** What the last refresh or write re-derived: `applied` is 1 for a plain append. */
  get foldStats() {
    return this.#fold.stats;
  }

  /** Valid records in derivation order. */
  get records(): readonly FederaRecord[] {
    return this.#fold.records;
  }

  /** Records stamped more than `toleranceMs` ahead of the local clock: a local warning only, never a change to state. */
  futureRecords(nowMs: number = this.#now(), toleranceMs = 10 * 60_000): FederaRecord[] {
    return this.#fold.records.filter((r) => r.at.ms > nowMs + toleranceMs);
  }

  /** The highest valid `seq` of each signer as last read (a copy): kept across loads, it reveals vanished records. */
  highWater(): ReadonlyMap<SignerId, number> {
    return this.#index.highWater();
  }

  /**
   * The `seq` of the signer's latest signed record held here, valid or still waiting for its predecessors (-1 for
   * none): the next record it signs takes the one after, so a host that saw a higher one must not let it write yet.
   */
  tipSeq(signer: SignerId): number {
    return this.#index.tip(signer)?.seq ?? -1;
  }

  /** Whether the documents or what was derived from them suggest harm that `recover()` may mend. */
  showsHarm(): boolean {
    return this.#keeper.showsHarm([this.#sources.council.doc(), this.#sources.ledger.doc()]);
  }

  /**
   * Looks through both documents' whole history for records a change deleted or made worse before this replica read
   * them (a device that loaded a harmed document), writes the better copies back and reads them; returns how many.
   * It decodes every change, so a host runs it when the state shows harm (`showsHarm()`), not on every
   * change: harm done after a record was read is written back by `refresh` already.
   */
  recover(): Promise<number> {
    return this.#serial(async () => {
      let found = 0;
      for (const which of ["council", "ledger"] as const)
        found += await this.#keeper.recover(this.#sources[which], this.#readers[which]);
      if (found > 0) await this.#refresh();
      return found;
    });
  }

  /**
   * How many stored records this council has written back since it opened, after a change deleted them or overwrote
   * them with something worse (garbage, a worse-signed copy): a sign that a member's device tampers with the documents.
   */
  get restored(): number {
    return this.#keeper.restored;
  }

  async #refresh(): Promise<void> {
    for (const which of ["council", "ledger"] as const) {
      const entries = await this.#keeper.read(this.#sources[which], this.#readers[which]);
      if (entries.length === 0) continue;
      const added = new Map<string, FederaRecord>();
      const removed = new Map<string, FederaRecord>();
      let since = performance.now();
      // A merge of thousands of records is checked in slices, letting the event loop run between them; it is
      // folded once at the end (slices in bucket order would each re-derive from an early checkpoint).
      for (let i = 0; i < entries.length; i += REFRESH_SLICE) {
        if (i > 0 && performance.now() - since > REFRESH_BUDGET_MS) {
          await new Promise((resolve) => setTimeout(resolve, 0));
          since = performance.now();
        }
        // Chains are checked once, with the last slice: checking them per slice made a large merge quadratic.
        const change = await this.#index.add(entries.slice(i, i + REFRESH_SLICE), {
          defer: i + REFRESH_SLICE < entries.length,
        });
        for (const r of change.added) if (!removed.delete(r.id)) added.set(r.id, r);
        for (const r of change.removed) if (!added.delete(r.id)) removed.set(r.id, r);
      }
      this.#view = null; // new entries may change the exclusions even when no valid record was added
      this.#apply([...added.values()], [...removed.values()]);
    }
  }

  #apply(added: readonly FederaRecord[], removed: readonly FederaRecord[]): void {
    if (added.length === 0 && removed.length === 0) return;
    this.#fold.update(added, removed);
    this.#view = null;
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    return this.#queue.run(fn);
  }

  #acting(): Identity {
    if (this.#identity === undefined) throw new NotAMemberError("this council was opened without an identity");
    return this.#identity;
  }

  #signer(): { key: Keypair; identity: Identity } {
    const identity = this.#acting();
    const model = this.#fold.state;
    if (model.deviceOwner.get(identity.device.id as DeviceId) === identity.member)
      return { key: identity.device, identity };
    if (identity.memberKey !== undefined) return { key: identity.memberKey, identity };
    throw new NotAMemberError(`device ${identity.device.id} is not authorised for ${identity.member} in this council`);
  }

  /**
   * Writes acts as records (only the last is signed: its hash chain covers the others). Returns their ids. Rejects,
   * writing nothing, an invalid act (`InvalidInputError`), an author who is not a member (`NotAMemberError`) and an
   * act naming a fund, proposal or mandate the derived state does not hold (`NotFoundError`).
   */
  write(acts: readonly Act[], options: { signer?: "device" | "member" } = {}): Promise<RecordId[]> {
    return this.#serial(async () => {
      if (!Array.isArray(acts)) throw new InvalidInputError("acts must be an array of { kind, body }");
      await this.#refresh();
      const { key: chosen, identity } = this.#signer();
      const key = options.signer === "member" ? identity.memberKey : chosen;
      if (key === undefined) throw new NotAMemberError("this act needs the member key");
      const { sealed, change } = await this.#writer.write(
        acts,
        key,
        identity.member,
        this.#fold.state.horizon,
        (all) => {
          for (const which of ["council", "ledger"] as const) {
            const mine = all.filter((s) => LEDGER_KINDS.has(s.record.kind) === (which === "ledger"));
            appendSealed(this.#sources[which] as DocSource<CouncilDoc | LedgerDoc>, this.#readers[which], mine);
          }
        },
        (all) => {
          this.#admissible(all);
          this.#named(all);
          if (this.#checkActs) this.#trial(all);
        },
      );
      this.#apply(change.added, change.removed);
      // Minutes opened (by `openMinutes` or a `minutes.open` act) get their text, which `editMinutes` then edits.
      const opened = sealed.filter((s) => s.record.kind === "minutes.open").map((s) => s.id);
      if (opened.length > 0)
        this.#sources.council.change((d) => {
          for (const id of opened) if (d.minutes[id] === undefined) d.minutes[id] = "";
        });
      return sealed.map((s) => s.id);
    });
  }

  /** Throws `NotAMemberError` when every peer would exclude `sealed` as written by a non-member. */
  #admissible(sealed: readonly Sealed[]): void {
    const model = this.#fold.state;
    const first = sealed.find((s) => !OPEN_KINDS.has(s.record.kind))?.record;
    // Without the genesis (stand-in documents of an application, a replica still syncing) membership is unknown here.
    if (first === undefined || model.charter === null || model.members.has(first.author)) return;
    if (admittedBy(model, first.author, first.at.ms)) return;
    const why = model.former.has(first.author) ? "is no longer" : "is not";
    throw new NotAMemberError(`${first.author} ${why} a member of this council`);
  }

  /**
   * Throws `NotFoundError` for an act naming a fund, proposal or mandate the derived state does not hold, which every
   * peer would exclude: map lookups only, so the write path stays O(1) per act.
   */
  #named(sealed: readonly Sealed[]): void {
    const model = this.#fold.state;
    // A deadline before the first record has not fired here yet (a passing split would make its funds): the state read
    // below is not what the fold will apply these records to, so only `checkActs`'s trial can judge them.
    const first = sealed[0]?.record.at.ms;
    if (first !== undefined && model.timers.length > 0 && model.timers[0]!.ms < first) return;
    const created = new Set<string>();
    const fund = (id: string) => {
      if (!model.funds.has(id as FundId) && !created.has(id)) throw new NotFoundError(`no fund ${id}`);
    };
    for (const { record } of sealed) {
      const r = record as AnyRecord;
      switch (r.kind) {
        case "fund.create":
          created.add(r.body.fund);
          break;
        case "ledger.donate":
        case "ledger.spend":
        case "swap.record":
          fund(r.body.fund);
          break;
        case "ledger.transfer":
          fund(r.body.from);
          fund(r.body.to);
          break;
        case "jar.contribute":
        case "jar.request":
        case "jar.dots":
          fund(r.body.jar);
          break;
        case "proposal.vote":
          if (!model.proposals.has(r.body.proposal as ProposalId))
            throw new NotFoundError(`no proposal ${r.body.proposal}`);
          break;
        case "proposal.open":
          if (r.body.effect?.type === "recall" && !model.mandates.has(r.body.effect.mandate as MandateId))
            throw new NotFoundError(`no mandate ${r.body.effect.mandate}`);
          break;
      }
    }
  }

  /** Throws for the first of `sealed` that the fold, applying them after everything it holds, would exclude. */
  #trial(sealed: readonly Sealed[]): void {
    const model = trialCopy(this.#fold.state);
    for (const s of sealed) councilReducer.apply(model, s.record);
    const rejected = model.logs.rejections[0];
    if (rejected === undefined) return;
    const kind = sealed.find((s) => s.id === rejected.id)?.record.kind ?? "an act";
    throw new RejectedActError(kind, rejected.reason, rejected.detail);
  }

  async #one<K extends RecordKind>(kind: K, body: BodyOf<K>, signer?: "member"): Promise<RecordId> {
    const [id] = await this.write([{ kind, body } as Act], signer ? { signer } : {});
    return id!;
  }

  /** Opens a proposal; returns its id. */
  async propose(input: ProposeInput): Promise<ProposalId> {
    const body = Object.fromEntries(
      Object.entries(input).filter(([, v]) => v !== undefined),
    ) as BodyOf<"proposal.open">;
    return (await this.#one("proposal.open", body)) as ProposalId;
  }

  /** Casts (or replaces) this member's vote. */
  vote(proposal: ProposalId, ballot: Ballot): Promise<RecordId> {
    return this.#one("proposal.vote", { proposal, ballot } as BodyOf<"proposal.vote">);
  }

  /** Authorises another device of this member (needs the member key). */
  authorizeDevice(device: DeviceId | SignerId, label?: string): Promise<RecordId> {
    return this.#one("device.authorize", label ? { device, label } : { device }, "member");
  }

  /** Revokes a device of this member (needs the member key). */
  revokeDevice(device: DeviceId | SignerId): Promise<RecordId> {
    return this.#one("device.revoke", { device }, "member");
  }

  /** Asks to join (for a non-member holding its member key): opens an admission proposal. */
  async apply(note: string): Promise<ProposalId> {
    const identity = this.#acting();
    if (identity.memberKey === undefined) throw new NotAMemberError("applying needs the applicant's member key");
    return (await this.#one("member.apply", { note, devices: [identity.device.id] }, "member")) as ProposalId;
  }

  /** Leaves the council. */
  leave(note?: string): Promise<RecordId> {
    return this.#one("member.leave", note ? { note } : {});
  }

  /** Assigns a role for a meeting; rotation breaches are applied but flagged in state. */
  assignRole(meeting: string, role: string, holder: MemberId): Promise<RecordId> {
    return this.#one("role.assign", { meeting, role, holder });
  }

  /** Issues a mandate by proposal; returns the proposal id (which becomes the mandate id if it passes). */
  proposeMandate(
    input: Omit<Extract<Effect, { type: "mandate" }>, "type"> & { title?: string; closesAt?: number },
  ): Promise<ProposalId> {
    const { title, closesAt, ...mandate } = input;
    return this.propose({
      title: title ?? `Mandate for ${mandate.delegate} to ${mandate.body}`,
      ...(closesAt !== undefined ? { closesAt } : {}),
      effect: { type: "mandate", ...mandate },
    });
  }

  /** Opens a recall vote on a mandate (its threshold is the mandate's own). */
  async proposeRecall(mandate: MandateId, title?: string, closesAt?: number): Promise<ProposalId> {
    return this.propose({
      // A mandate id that is not a string reaches the schema, which names it, rather than failing here.
      title: title ?? `Recall mandate ${String(mandate).slice(0, 8)}`,
      ...(closesAt !== undefined ? { closesAt } : {}),
      effect: { type: "recall", mandate },
    });
  }

  /** Writes an empty record so deadlines before now take effect in derived state. */
  tick(): Promise<RecordId> {
    return this.#one("tick", {});
  }

  /** Opens minutes for a meeting: a record, and a collaborative text keyed by it. */
  async openMinutes(meeting: string, title: string, decisions: readonly RecordId[] = []): Promise<RecordId> {
    return this.#one("minutes.open", { meeting, title, decisions: [...decisions] });
  }

  /**
   * Edits minutes text (inserted and deleted characters merge with other members' edits); `index` and `deleteCount`
   * count UTF-16 code units of the current text. The edit is applied before the returned promise settles.
   */
  async editMinutes(minutes: RecordId, index: number, deleteCount: number, insert = ""): Promise<void> {
    this.#acting();
    const text = isRecordId(minutes) ? this.#sources.council.doc()?.minutes[minutes] : undefined;
    if (text === undefined) throw new NotFoundError(`no minutes ${String(minutes)}`);
    const within = (n: number, max: number) => Number.isSafeInteger(n) && n >= 0 && n <= max;
    const issues: string[] = [];
    if (!within(index, text.length))
      issues.push(`index: ${String(index)} is not a whole number from 0 to ${text.length}`);
    else if (!within(deleteCount, text.length - index))
      issues.push(`deleteCount: ${String(deleteCount)} is not a whole number from 0 to ${text.length - index}`);
    if (typeof insert !== "string") issues.push("insert: not a string");
    if (issues.length > 0) throw new InvalidInputError("invalid minutes edit", issues);
    this.#sources.council.change((d) => A.splice(d, ["minutes", minutes], index, deleteCount, insert));
  }

  /** The current text of minutes. */
  minutesText(minutes: RecordId): string {
    return this.#sources.council.doc()?.minutes[minutes] ?? "";
  }

  /** The later of two clocks: exported for hosts that merge clocks. */
  static laterOf(a: Hlc, b: Hlc): Hlc {
    return compareHlc(a, b) >= 0 ? a : b;
  }
}

/**
 * The federation API: found a federation of councils, open it on its document with its member councils' derived
 * states, act (propose, vote through a mandate, raise and answer alerts, ratify in a convergence) and read the state.
 */
import * as A from "@automerge/automerge";
import type { Quorum, Threshold } from "../council/tally-types.js";
import { Fold } from "../derive/fold.js";
import { trialCopy } from "../derive/model.js";
import type { CouncilState } from "../derive/view.js";
import type { FederationDoc } from "../documents/layout.js";
import { initialFederationDoc, putRecords } from "../documents/layout.js";
import { RecordReader } from "../documents/reader.js";
import { RecordKeeper } from "../documents/restore.js";
import type { DocSource } from "../documents/source.js";
import { PlainDocument } from "../documents/source.js";
import { InvalidInputError, NotAMemberError, RejectedActError, UnknownDocumentError } from "../errors.js";
import type { AutonomyLedger } from "../federation/autonomy-ledger.js";
import { autonomyLedger } from "../federation/autonomy-ledger.js";
import { defaultFederationCharter } from "../federation/charter.js";
import type { FederationModel, FederationSnapshot } from "../federation/federation-model.js";
import { federationReducer } from "../federation/federation-reducer.js";
import type { FederationState } from "../federation/federation-view.js";
import { federationViewOf } from "../federation/federation-view.js";
import type { CouncilFacts } from "../federation/member-councils.js";
import { factsOf, fingerprintOf } from "../federation/member-councils.js";
import { HLC_ZERO, maxHlc, nextHlc } from "../hlc.js";
import type { Identity, Keypair } from "../identity.js";
import type { CouncilId, FederationId, MandateId, ProposalId, RecordId, SignerId } from "../ids.js";
import { isRecordId } from "../ids.js";
import { IntegrityIndex } from "../records/integrity.js";
import type { FederaRecord } from "../records/record.js";
import { sealRecord } from "../records/record.js";
import type { FederationCharter, FederationEffect, FederationMethod } from "../records/schemas.js";
import { parseBody } from "../records/schemas.js";
import type { VerifiedCache } from "../records/verified-cache.js";
import type { Council } from "./council.js";
import type { Act, Sealed } from "./record-writer.js";
import { appendSealed, ChainWriter, SerialQueue } from "./record-writer.js";

/** Where a federation reads its member councils' derived states: open councils, or a function returning states. */
export type CouncilStatesSource =
  | readonly Council[]
  | (() => ReadonlyMap<CouncilId, CouncilState> | Promise<ReadonlyMap<CouncilId, CouncilState>>);

/** How a federation is opened. */
export interface FederationOptions {
  /** The member councils' derived states: read again on every refresh. */
  readonly councils: CouncilStatesSource;
  /** Who acts; without it the federation is read-only. */
  readonly identity?: Identity;
  readonly verified?: VerifiedCache;
  /** The wall clock used to stamp new records (never used by derivation). */
  readonly now?: () => number;
  readonly checkpointEvery?: number;
  /**
   * Before writing, try the acts on a copy of the derived state and throw `RejectedActError` for one the derivation
   * would exclude or not count (a late vote, a vote or ratification outside its mandate or its window), writing
   * nothing. For interactive callers; each write then costs a copy of the state.
   */
  readonly checkActs?: boolean;
}

/** What a new federation starts with. */
export interface FoundFederationInit {
  readonly name: string;
  /** The founding member councils; the founder must be a member of one of them. */
  readonly councils: readonly CouncilId[];
  readonly charter?: Partial<FederationCharter>;
  readonly now?: () => number;
}

/** The founding document of a new federation, as a plain Automerge document. */
export interface FoundedFederation {
  readonly id: FederationId;
  readonly federation: A.Doc<FederationDoc>;
}

/** A federation proposal as an application states it; omitted fields take the federation charter's defaults. */
export interface FederationProposeInput {
  /** The member council the proposer acts for; may be left out when the identity belongs to only one. */
  readonly council?: CouncilId;
  readonly title: string;
  readonly text?: string;
  /** The mandate topic delegates vote under (default: the proposal's id). */
  readonly topic?: string;
  readonly method?: FederationMethod;
  readonly threshold?: Threshold;
  readonly quorum?: Quorum;
  readonly closesAt?: number;
  readonly effect?: FederationEffect;
}

/** A delegate's act for a council, under one of that council's mandates. */
export interface DelegateInput {
  readonly council: CouncilId;
  readonly mandate: MandateId;
}

/** Founds a federation: a genesis signed by the founder's member key naming the founding member councils. */
export async function foundFederation(identity: Identity, init: FoundFederationInit): Promise<FoundedFederation> {
  const memberKey = identity.memberKey;
  if (memberKey === undefined)
    throw new NotAMemberError("founding a federation needs the member key, not only a device key");
  const body = parseBody("federation.genesis", {
    name: init.name,
    charter: defaultFederationCharter(init.charter),
    councils: [...new Set(init.councils)],
  });
  if (!body.ok) throw new InvalidInputError("invalid federation", body.issues);
  const at = nextHlc(HLC_ZERO, (init.now ?? Date.now)());
  const genesis = await sealRecord(
    { kind: "federation.genesis", council: null, author: identity.member, seq: 0, prev: null, at, body: body.body },
    memberKey,
    true,
  );
  const id = genesis.id as FederationId;
  const federation = A.change(A.from<FederationDoc>(initialFederationDoc(id)), (d: FederationDoc) =>
    putRecords(d, [genesis]),
  );
  return { id, federation };
}

/**
 * A federation opened on its document: acts write signed records, `state()` derives. Derivation reads the member
 * councils' states; when the facts it uses from them change, the federation is folded again from its first record.
 */
export class Federation {
  readonly id: FederationId;
  readonly #source: DocSource<FederationDoc>;
  readonly #councils: CouncilStatesSource;
  readonly #identity: Identity | undefined;
  readonly #now: () => number;
  readonly #index: IntegrityIndex;
  readonly #reader = new RecordReader();
  readonly #queue = new SerialQueue();
  readonly #keeper: RecordKeeper;
  readonly #checkpointEvery: number | undefined;
  readonly #checkActs: boolean;
  #fold: Fold<FederationModel, FederationSnapshot>;
  #states: ReadonlyMap<CouncilId, CouncilState> = new Map();
  #facts = new Map<CouncilId, CouncilFacts>();
  #prints = new Map<CouncilId, string>();
  #refolds = 0;
  readonly #writer: ChainWriter;
  #view: FederationState | null = null;

  private constructor(id: FederationId, source: DocSource<FederationDoc>, options: FederationOptions) {
    this.id = id;
    this.#source = source;
    this.#councils = options.councils;
    this.#identity = options.identity;
    this.#now = options.now ?? Date.now;
    this.#index = new IntegrityIndex({ council: id, ...(options.verified ? { verified: options.verified } : {}) });
    this.#writer = new ChainWriter(this.#index, id, this.#now);
    this.#keeper = new RecordKeeper({
      scope: id,
      index: this.#index,
      counted: () => ({ records: this.#fold.records, excluded: this.current().excluded }),
    });
    this.#checkpointEvery = options.checkpointEvery;
    this.#checkActs = options.checkActs ?? false;
    this.#fold = this.#newFold();
  }

  /** Opens a federation on its document (a DocHandle or a `PlainDocument`). */
  static async open(source: DocSource<FederationDoc>, options: FederationOptions): Promise<Federation> {
    const doc = source.doc() as Partial<FederationDoc> | undefined;
    const id = doc?.federa?.federation;
    if (doc?.federa?.type !== "federation" || !isRecordId(id))
      throw new UnknownDocumentError("not a Federa federation document");
    const federation = new Federation(id as FederationId, source, options);
    await federation.refresh();
    return federation;
  }

  /** Opens a plain Automerge document (for example the one `foundFederation` returned). */
  static openPlain(doc: A.Doc<FederationDoc>, options: FederationOptions): Promise<Federation> {
    return Federation.open(new PlainDocument(doc), options);
  }

  get source(): DocSource<FederationDoc> {
    return this.#source;
  }

  /** Reads the member councils' states and whatever the document gained, and re-derives. */
  refresh(): Promise<void> {
    return this.#queue.run(() => this.#refresh());
  }

  /** The derived state after a refresh. */
  async state(): Promise<FederationState> {
    await this.refresh();
    return this.current();
  }

  /** The derived state as of the last refresh. */
  current(): FederationState {
    this.#view ??= federationViewOf(
      this.#fold.state,
      this.#fold.records.length,
      this.#index.exclusions(),
      this.#states,
    );
    return this.#view;
  }

  /** The member councils' states the last derivation read. */
  get councilStates(): ReadonlyMap<CouncilId, CouncilState> {
    return this.#states;
  }

  /** Valid records in derivation order. */
  get records(): readonly FederaRecord[] {
    return this.#fold.records;
  }

  get foldStats() {
    return this.#fold.stats;
  }

  /** The highest valid `seq` of each signer as last read (a copy): kept across loads, it reveals vanished records. */
  highWater(): ReadonlyMap<SignerId, number> {
    return this.#index.highWater();
  }

  /** Whether the document or what was derived from it suggests harm that `recover()` may mend. */
  showsHarm(): boolean {
    return this.#keeper.showsHarm([this.#source.doc()]);
  }

  /** Looks through the document's history for records harmed before they were read here (see `Council.recover`). */
  recover(): Promise<number> {
    return this.#queue.run(async () => {
      const found = await this.#keeper.recover(this.#source, this.#reader);
      if (found > 0) await this.#refresh();
      return found;
    });
  }

  /** How many stored records this federation has written back since it opened (see `Council.restored`). */
  get restored(): number {
    return this.#keeper.restored;
  }

  /**
   * The `seq` of the signer's latest signed record held here, valid or still waiting for its predecessors (-1 for
   * none): the next record it signs takes the one after, so a host that saw a higher one must not let it write yet.
   */
  tipSeq(signer: SignerId): number {
    return this.#index.tip(signer)?.seq ?? -1;
  }

  /** How many times a change in a member council's facts made the federation fold again from its first record. */
  get refolds(): number {
    return this.#refolds;
  }

  /** The autonomy ledger of the last refresh: what the federation and each member council did, for publication. */
  autonomyLedger(): AutonomyLedger {
    return autonomyLedger(this.current(), this.#states);
  }

  #newFold(): Fold<FederationModel, FederationSnapshot> {
    const every = this.#checkpointEvery;
    return new Fold(federationReducer(this.#facts), every ? { checkpointEvery: every } : {});
  }

  async #readCouncils(): Promise<ReadonlyMap<CouncilId, CouncilState>> {
    const source = this.#councils;
    if (typeof source === "function") return await source();
    const states = await Promise.all(source.map(async (c) => [c.id, await c.state()] as const));
    return new Map(states);
  }

  /** Takes the councils' states; true when a fact the fold reads changed (so it must fold again). */
  #takeStates(states: ReadonlyMap<CouncilId, CouncilState>): boolean {
    let changed = states.size !== this.#states.size;
    let refold = states.size !== this.#prints.size;
    const facts = new Map<CouncilId, CouncilFacts>();
    const prints = new Map<CouncilId, string>();
    for (const [id, state] of states) {
      if (this.#states.get(id) !== state) changed = true;
      const print = fingerprintOf(state);
      prints.set(id, print);
      if (this.#prints.get(id) !== print) refold = true;
      const known = this.#facts.get(id);
      facts.set(id, known !== undefined && this.#prints.get(id) === print ? known : factsOf(state, id));
    }
    if (changed) this.#view = null;
    this.#states = states;
    if (refold) {
      this.#facts = facts;
      this.#prints = prints;
    }
    return refold;
  }

  async #refresh(): Promise<void> {
    const refold = this.#takeStates(await this.#readCouncils());
    let added: readonly FederaRecord[] = [];
    let removed: readonly FederaRecord[] = [];
    const entries = await this.#keeper.read(this.#source, this.#reader);
    if (entries.length > 0) {
      ({ added, removed } = await this.#index.add(entries));
      this.#view = null; // new entries may change the exclusions even when no valid record was added
    }
    if (refold) {
      const gone = new Set(removed.map((r) => r.id));
      const records = [...this.#fold.records.filter((r) => !gone.has(r.id)), ...added];
      this.#fold = this.#newFold();
      this.#fold.update(records);
      this.#refolds++;
      this.#view = null;
    } else this.#apply(added, removed);
  }

  #apply(added: readonly FederaRecord[], removed: readonly FederaRecord[]): void {
    if (added.length === 0 && removed.length === 0) return;
    this.#fold.update(added, removed);
    this.#view = null;
  }

  /**
   * The member key when this device holds it, else the device if a member council lists it for the member. A council's
   * state lists only current devices, so a record signed by a device stops counting once that device is revoked or
   * its member leaves; one signed by the member key keeps counting for as long as its author was a member at its clock.
   */
  #signer(): { key: Keypair; identity: Identity } {
    const identity = this.#identity;
    if (identity === undefined) throw new NotAMemberError("this federation was opened without an identity");
    if (identity.memberKey !== undefined) return { key: identity.memberKey, identity };
    for (const id of this.#fold.state.councils.keys()) {
      if (this.#facts.get(id)?.devices.get(identity.device.id) === identity.member)
        return { key: identity.device, identity };
    }
    throw new NotAMemberError(
      `device ${identity.device.id} is not authorised for ${identity.member} in a member council`,
    );
  }

  /** Writes acts as records of the federation (only the last signed). Returns their ids. */
  write(acts: readonly Act[]): Promise<RecordId[]> {
    return this.#queue.run(async () => {
      await this.#refresh();
      const { key, identity } = this.#signer();
      let horizon = this.#fold.state.horizon;
      // After the time of each council acted for: a delegate who saw their council's recall writes after it.
      for (const act of acts) {
        const council = (act.body as { council?: unknown }).council;
        const state = typeof council === "string" ? this.#states.get(council as CouncilId) : undefined;
        if (state !== undefined) horizon = maxHlc(horizon, state.horizon);
      }
      const { sealed, change } = await this.#writer.write(
        acts,
        key,
        identity.member,
        horizon,
        (all) => appendSealed(this.#source, this.#reader, all),
        this.#checkActs ? (all) => this.#trial(all) : undefined,
      );
      this.#apply(change.added, change.removed);
      return sealed.map((s) => s.id);
    });
  }

  /**
   * Throws for the first of `sealed` that the fold, applying them after everything it holds (their clocks follow the
   * federation's time), would exclude or list as a conflict of its own: a conflict names its type as the reason (a
   * late vote is both, and refused as `late-vote`); an effect that fails when a proposal closes is not the act's.
   */
  #trial(sealed: readonly Sealed[]): void {
    const model = trialCopy(this.#fold.state);
    const reducer = federationReducer(this.#facts);
    for (const s of sealed) reducer.apply(model, s.record);
    const { conflicts, rejections } = model.logs;
    for (const { id, record } of sealed) {
      const conflict = conflicts.find((c) => c.record === id && c.type !== "effect-failed");
      if (conflict !== undefined) throw new RejectedActError(record.kind, conflict.type, conflict.detail);
      const rejected = rejections.find((r) => r.id === id);
      if (rejected !== undefined) throw new RejectedActError(record.kind, rejected.reason, rejected.detail);
    }
  }

  async #one(act: Act): Promise<RecordId> {
    const [id] = await this.write([act]);
    return id!;
  }

  /** The member council the identity acts for when the caller names none: the only one it belongs to. */
  #ownCouncil(named: CouncilId | undefined): CouncilId {
    if (named !== undefined) return named;
    const member = this.#identity?.member;
    const mine = [...this.#fold.state.councils.keys()].filter(
      (id) => member !== undefined && this.#facts.get(id)?.members.has(member),
    );
    if (mine.length !== 1)
      throw new InvalidInputError("name the council you act for", [
        `${member ?? "no identity"} belongs to ${mine.length} member councils`,
      ]);
    return mine[0]!;
  }

  /** Opens a federation proposal; returns its id. */
  async propose(input: FederationProposeInput): Promise<ProposalId> {
    const council = this.#ownCouncil(input.council);
    const body = Object.fromEntries(Object.entries({ ...input, council }).filter(([, v]) => v !== undefined));
    return (await this.#one({ kind: "federation.proposal", body } as Act)) as ProposalId;
  }

  /** A delegate's vote for their council: it counts only if the council's mandate allows the position. */
  vote(proposal: ProposalId, input: DelegateInput & { readonly position: string }): Promise<RecordId> {
    const { council, mandate, position } = input;
    return this.#one({ kind: "federation.vote", body: { proposal, council, mandate, position } });
  }

  /** Raises a solidarity alert for a council: what happened and what it needs. Returns the alert's id. */
  async raiseAlert(input: {
    readonly council?: CouncilId;
    readonly what: string;
    readonly needs: string;
  }): Promise<RecordId> {
    const council = this.#ownCouncil(input.council);
    return this.#one({ kind: "federation.alert", body: { council, what: input.what, needs: input.needs } });
  }

  /**
   * Announces that a council has withdrawn from the federation (it recalled its delegates, the last at `since`, ms):
   * from this record on, on every peer, its delegates' acts do not count and it no longer consents, until it mandates
   * a delegate here again (after `since`).
   * The recall itself stays in the council's own documents, which it no longer shares; this record is how the other
   * councils learn of it. A node announces its own council's withdrawal on its own.
   */
  async withdraw(input: { readonly council?: CouncilId; readonly since: number }): Promise<RecordId> {
    const council = this.#ownCouncil(input.council);
    return this.#one({ kind: "federation.withdraw", body: { council, since: input.since } });
  }

  /** Answers an alert for a council with what it offers. */
  async respondToAlert(
    alert: RecordId,
    input: { readonly council?: CouncilId; readonly offer: string },
  ): Promise<RecordId> {
    const council = this.#ownCouncil(input.council);
    return this.#one({ kind: "federation.response", body: { alert, council, offer: input.offer } });
  }

  /** A delegate ratifies a coordinated action of a convergence for their council, under a mandate. */
  ratify(convergence: ProposalId, input: DelegateInput & { readonly action: string }): Promise<RecordId> {
    const { council, mandate, action } = input;
    return this.#one({ kind: "federation.ratify", body: { convergence, council, mandate, action } });
  }

  /** Writes an empty record so deadlines before now take effect in derived state. */
  tick(): Promise<RecordId> {
    return this.#one({ kind: "tick", body: {} });
  }
}

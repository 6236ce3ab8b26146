/**
 * The workspace of a running node: councils held by the FederaNode (so changes sync), applications received over
 * `/federa/apply/1.0.0`, and delivery of this directory's own pending applications.
 */
import type { AutomergeUrl } from "@automerge/automerge-repo";
import type { CouncilId, FederationDoc, FederationId, FoundInit, Identity } from "@federa/core";
import { DocumentDamagedError, type FederaNode, inviterAddresses, sendApplication } from "@federa/net";
import { multiaddr } from "@multiformats/multiaddr";
import { answeredNo, requestOf } from "./delivery.js";
import { CouncilUnavailableError, DamagedFileError, FederationUnavailableError, NotFoundCliError } from "./errors.js";
import { type Application, contactsOf, type FederationEntry, type NodeDir, vouchEnds } from "./node-dir.js";
import { refusedCandidates } from "./refused-candidates.js";
import {
  damagedDocument,
  type FoundFederation,
  type NodeView,
  type OpenCouncil,
  type OpenFederation,
  type Workspace,
} from "./workspace.js";

/** How long opening a council not in local storage waits for connected members to send it, unless told otherwise. */
const OPEN_TIMEOUT_MS = 5_000;

/** Settles with `work`, or rejects after `ms` (a find waiting on peers may not settle on its own). */
function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("timed out")), ms);
    work.then(resolve, reject).finally(() => clearTimeout(timer));
  });
}

/** The error to report when opening council `id` failed for a damaged file, or undefined when it may yet arrive. */
function damageOf(dir: NodeDir, id: string, err: unknown): DamagedFileError | undefined {
  if (err instanceof DamagedFileError) return err;
  if (err instanceof DocumentDamagedError) return damagedDocument(dir, `council ${id}`, err.url, err.cause ?? err);
  return undefined;
}

/** Where the federation's document says each member council's documents are. */
function linksOf(held: OpenFederation): Readonly<Record<string, string>> {
  return (held.handle.doc() as FederationDoc).federa.councils ?? {};
}

/** The councils of a running node. */
export class NodeWorkspace implements Workspace {
  readonly dir: NodeDir;
  readonly identity: Identity;
  readonly #node: FederaNode;
  readonly #openTimeoutMs: number;
  /** Councils whose documents have not arrived yet: opening them is retried in the background, not on request. */
  readonly #pending = new Set<string>();
  readonly #opening = new Map<string, Promise<OpenCouncil>>();
  readonly #failed = new Map<string, DamagedFileError>();
  /** Called once per council when it is opened (the node logs it and watches its documents). */
  onOpen: (held: OpenCouncil) => void = () => {};
  /** Called once per federation when it is opened (the node watches its document). */
  onFederationOpen: (held: OpenFederation) => void = () => {};
  readonly #announced = new Set<string>();

  constructor(dir: NodeDir, node: FederaNode, openTimeoutMs = OPEN_TIMEOUT_MS) {
    this.dir = dir;
    this.#openTimeoutMs = openTimeoutMs;
    this.identity = node.identity;
    this.#node = node;
  }

  /** Councils listed in the directory whose documents are not here yet. */
  get pending(): readonly string[] {
    return [...this.#pending];
  }

  /** Councils that could not be opened for a damaged file, with the error that names it. */
  get failed(): ReadonlyMap<string, DamagedFileError> {
    return this.#failed;
  }

  async open(id: CouncilId, url: string): Promise<OpenCouncil> {
    const held = this.#node.council(id);
    if (held !== undefined) return held;
    const failed = this.#failed.get(id);
    if (failed !== undefined) throw failed;
    if (this.#pending.has(id)) throw new CouncilUnavailableError(id);
    return this.#tryOpen(id, url, this.#openTimeoutMs);
  }

  /** One attempt to open a council, waiting at most `timeoutMs` for its documents; marks it pending on failure. */
  #tryOpen(id: string, url: string, timeoutMs: number): Promise<OpenCouncil> {
    let opening = this.#opening.get(id);
    if (opening === undefined) {
      opening = (async () => {
        try {
          const held = await withTimeout(this.#open(id, url, timeoutMs), timeoutMs + 1_000);
          this.#pending.delete(id);
          // The council is here even if the inviters could not be read again: their trust then lasts until a restart.
          await this.#endTrust(id).catch(() => undefined);
          this.#opened(held);
          return held;
        } catch (err) {
          // A damaged file here (a stored document, the list of inviters) is not fixed by waiting: said, not retried.
          const damaged = damageOf(this.dir, id, err);
          if (damaged !== undefined) {
            this.#failed.set(id, damaged);
            throw damaged;
          }
          this.#pending.add(id);
          throw new CouncilUnavailableError(id);
        } finally {
          this.#opening.delete(id);
        }
      })();
      this.#opening.set(id, opening);
    }
    return opening;
  }

  async #open(id: string, url: string, timeoutMs: number): Promise<OpenCouncil> {
    // A council being joined: its members are unknown until its documents arrive, so the inviter's device is trusted
    // to open a sync stream meanwhile (it still gets only what membership grants).
    let unread: unknown;
    const inviters = await this.dir.inviters().catch((e: unknown) => {
      unread = e;
      return [];
    });
    for (const inviter of inviters) if (inviter.council === id) this.#node.trust(inviter.peer);
    try {
      return await this.#node.openCouncil(url as AutomergeUrl, { timeoutMs, council: id as CouncilId });
    } catch (err) {
      // Documents on disk open without their inviters; a council still being joined cannot, and the damage is why.
      throw unread ?? err;
    }
  }

  /**
   * Once a council is here its inviters are trusted no more, but for those another council being fetched still needs:
   * an inviter who later leaves the council must not keep the sync stream trust gave it.
   */
  async #endTrust(id: string): Promise<void> {
    const inviters = await this.dir.inviters();
    const fetching = (council: string) => council !== id && (this.#pending.has(council) || this.#opening.has(council));
    const needed = new Set(inviters.filter((i) => fetching(i.council)).map((i) => i.peer));
    for (const inviter of inviters)
      if (inviter.council === id && !needed.has(inviter.peer)) this.#node.untrust(inviter.peer);
  }

  /** The inviters of councils still pending (the node keeps dialling them). */
  async inviters(): Promise<{ peer: string; addresses: readonly string[] }[]> {
    return (await this.dir.inviters())
      .filter((i) => this.#pending.has(i.council))
      .map(({ peer, addresses }) => ({ peer, addresses }));
  }

  /** Opens every council of the directory; those not here yet stay pending for `retryPending`. */
  async openAll(): Promise<void> {
    const councils = await this.dir.councils();
    await Promise.allSettled(Object.entries(councils).map(([id, url]) => this.#tryOpen(id, url, this.#openTimeoutMs)));
  }

  /** Tries the pending councils again (after a new peer connects, or on a timer). */
  async retryPending(): Promise<void> {
    const councils = await this.dir.councils();
    await Promise.allSettled(
      [...this.#pending].map((id) => (councils[id] ? this.#tryOpen(id, councils[id], this.#openTimeoutMs) : undefined)),
    );
  }

  async found(init: FoundInit): Promise<OpenCouncil> {
    const held = await this.#node.foundCouncil(init);
    this.#opened(held);
    return held;
  }

  /** Tells `onOpen` of a council once, however it came to be held (a federation's opening holds its members too). */
  #opened(held: OpenCouncil): void {
    if (this.#announced.has(held.council.id)) return;
    this.#announced.add(held.council.id);
    this.onOpen(held);
  }

  async openFederation(id: FederationId, url: string): Promise<OpenFederation> {
    const held =
      this.#node.federations().find((f) => f.federation.id === id) ??
      (await this.#node
        .openFederation(url as AutomergeUrl, { timeoutMs: this.#openTimeoutMs, federation: id })
        .catch(() => undefined));
    if (held === undefined) throw new FederationUnavailableError(id);
    return this.#federationOpened(held);
  }

  async foundFederation(init: FoundFederation): Promise<OpenFederation> {
    const held = await this.#node.foundFederation({ name: init.name, councils: init.councils, urls: init.urls });
    return this.#federationOpened(held);
  }

  /** Tells `onFederationOpen` of a federation once. */
  #federationOpened(held: OpenFederation): OpenFederation {
    if (this.#announced.has(held.federation.id)) return held;
    this.#announced.add(held.federation.id);
    this.onFederationOpen(held);
    return held;
  }

  vouch(federation: FederationId, peer: string, council?: CouncilId, until?: number): void {
    this.#node.trustFor(federation, peer, council, until);
  }

  unvouch(federation: FederationId, peer: string): void {
    this.#node.distrustFor(federation, peer);
  }

  leave(federation: FederationId): void {
    this.#node.leaveFederation(federation);
  }

  /**
   * Follows a federation of D/federations.json: vouches for the devices it names, opens the federation and the member
   * councils it lists (added to D/councils.json, so every command sees them; those not here yet stay pending).
   */
  async follow(entry: FederationEntry): Promise<OpenFederation> {
    const id = entry.federation as FederationId;
    // The documents come from the other delegates: vouch for them, and reach them now rather than on the next retry.
    for (const contact of contactsOf(entry)) {
      this.vouch(id, contact.peer, contact.council as CouncilId | undefined, vouchEnds(contact));
      if (this.#node.peers().includes(contact.peer)) continue;
      for (const address of inviterAddresses(contact)) {
        const dialled = await Promise.resolve()
          .then(() => this.#node.libp2p.dial(multiaddr(address), { signal: AbortSignal.timeout(OPEN_TIMEOUT_MS) }))
          .then(() => true)
          .catch(() => false);
        if (dialled) break;
      }
    }
    const held = await this.openFederation(id, entry.url);
    // The URLs are a hint anyone with the document can edit: this directory's own councils keep theirs, and a fetched
    // document must be the council it is listed as.
    const links = linksOf(held);
    const own = await this.dir.councils();
    const fetched: Record<string, string> = {};
    for (const council of this.#node.memberCouncils(held)) {
      const member = this.#node.council(council);
      if (own[council] !== undefined) {
        if (member !== undefined) this.#opened(member);
        continue;
      }
      const url = entry.councils?.[council] ?? links[council];
      if (url === undefined) continue;
      const opened =
        member ??
        (await this.#node
          .openCouncil(url as AutomergeUrl, { timeoutMs: this.#openTimeoutMs, council })
          .catch(() => undefined));
      if (opened === undefined) continue;
      this.#opened(opened);
      if (entry.councils?.[council] === undefined) fetched[council] = url;
    }
    // Not `saveFederation`: a `federation leave` while this ran must not bring the entry back.
    if (Object.keys(fetched).length > 0) await this.dir.addFederationCouncils(entry.federation, fetched);
    return held;
  }

  /** Stops vouching for candidates the federation refused, and forgets them in D/federations.json; how many. */
  async pruneVouches(held: OpenFederation): Promise<number> {
    const entry = (await this.dir.federations()).find((f) => f.federation === held.federation.id);
    const refused = entry === undefined ? [] : refusedCandidates(held.federation.current(), entry.delegates ?? []);
    if (refused.length === 0) return 0;
    for (const d of refused) this.#node.distrustFor(held.federation.id, d.peer);
    await this.dir.dropDelegates(held.federation.id, new Set(refused.map((d) => d.peer)));
    return refused.length;
  }

  /** The federations of D/federations.json not yet here whole: the document, or a member council, still missing. */
  async waitingFederations(): Promise<FederationEntry[]> {
    const waiting: FederationEntry[] = [];
    for (const entry of await this.dir.federations()) {
      const held = this.#node.federations().find((f) => f.federation.id === entry.federation);
      if (held === undefined || this.#node.memberCouncils(held).some((c) => this.#node.council(c) === undefined))
        waiting.push(entry);
    }
    return waiting;
  }

  /** Writes every held council's documents to storage now. */
  async flush(): Promise<void> {
    await this.#node.flush();
  }

  node(): NodeView {
    return {
      peerId: this.#node.libp2p.peerId.toString(),
      addresses: this.#node.addresses(),
      peers: this.#node.peers(),
      discovered: this.#node.dials.discoveredPeers(),
      links: [...this.#node.dials.wanted()],
      lookups: this.#node.lookups.started,
    };
  }

  /** Delivers one of this directory's applications to its inviter; marks it delivered. */
  async deliver(record: string): Promise<{ proposal: string }> {
    const application = (await this.dir.applications()).find((a) => a.record === record);
    if (application === undefined) throw new NotFoundCliError(`no application ${record} in ${this.dir.root}`);
    // A council joined while the node runs: wait for its documents like those listed at start.
    if (this.#node.council(application.council as CouncilId) === undefined) this.#pending.add(application.council);
    return { proposal: await this.#deliver(application) };
  }

  async #deliver(application: Application): Promise<string> {
    const answer = await sendApplication(
      this.#node.libp2p,
      { peer: application.inviter, addresses: application.addresses },
      requestOf(application),
    );
    if (!answer.ok) throw await answeredNo(this.dir, application, answer);
    await this.dir.saveApplication({ ...application, delivered: true });
    return answer.proposal;
  }

  /** Tries to deliver every undelivered application; returns what happened to each. */
  async deliverPending(): Promise<{ record: string; proposal?: string; error?: string }[]> {
    const waiting = (await this.dir.applications()).filter((a) => !a.delivered && a.refused === undefined);
    return Promise.all(
      waiting.map(async (a) => {
        try {
          return { record: a.record, proposal: await this.#deliver(a) };
        } catch (e) {
          return { record: a.record, error: (e as Error).message };
        }
      }),
    );
  }
}

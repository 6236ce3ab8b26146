/**
 * Who may receive which document: a council's documents go only to the devices its current members have authorised,
 * and to those of a federation's member councils once the council has mandated a delegate to it; re-evaluated whenever
 * membership, device or mandate records change, and a stranger learns nothing (not even document ids).
 */
import type { DocumentId, PeerId, RepoConfig } from "@automerge/automerge-repo/slim";
import type { CouncilId, CouncilState, FederationId } from "@federa/core";
import { consentsTo, mandatedBodies } from "@federa/core";

type ShareConfig = NonNullable<RepoConfig["shareConfig"]>;

/** The longest delay a timer holds; a longer one fires at once (with a warning). */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** The peers a council's derived state lets in: every authorised device of every current member. */
export function devicesOf(state: CouncilState): Set<string> {
  const peers = new Set<string>();
  for (const m of state.members) for (const d of m.devices) peers.add(d);
  return peers;
}

/** A vouch: for which council (null when not named), and until when (null: no end but the documents arriving). */
interface Vouch {
  readonly council: CouncilId | null;
  readonly until: number | null;
}

/** Document access by council membership; call `update` after each derivation, it tells the Repo when to re-check. */
export class AccessPolicy {
  readonly #documents = new Map<DocumentId, CouncilId>();
  readonly #devices = new Map<CouncilId, Set<string>>();
  /** Per council, the bodies it has mandated delegates for: the federations it consents to share with. */
  readonly #bodies = new Map<CouncilId, ReadonlySet<string>>();
  readonly #self: string;
  readonly #trusted = new Set<string>();
  /** Documents being fetched, with how many opens under way want each (one giving up must not end the others). */
  readonly #wanted = new Map<DocumentId, number>();
  /** Federations held: their document and member councils (from derived state). */
  readonly #federations = new Map<FederationId, Set<CouncilId>>();
  readonly #federationNames = new Map<FederationId, string>();
  /** Per federation, the member councils whose withdrawal it records (and that have not mandated a delegate since). */
  readonly #withdrawn = new Map<FederationId, ReadonlySet<CouncilId>>();
  readonly #federationDocs = new Map<DocumentId, FederationId>();
  /** Peers vouched for as delegates of a federation (for a council, when known) before their councils' documents synced. */
  readonly #trustedFor = new Map<FederationId, Map<string, Vouch>>();
  readonly #now: () => number;
  #onChange: () => void = () => {};
  #fetchable: (document: DocumentId) => boolean = () => true;

  /** `self` is this node's own peer id (its own Repo may always hold its documents). */
  constructor(self: string, now: () => number = Date.now) {
    this.#self = self;
    this.#now = now;
  }

  /** Called when the set of allowed peers changed (the node wires it to `repo.shareConfigChanged()`). */
  set onChange(fn: () => void) {
    this.#onChange = fn;
  }

  /** Declares which documents belong to a council. */
  register(council: CouncilId, documents: readonly DocumentId[]): void {
    for (const d of documents) this.#documents.set(d, council);
    if (!this.#devices.has(council)) this.#devices.set(council, new Set());
    this.#fetchedNow(documents);
  }

  /** Documents that were being fetched now have an owner: peers the Repo stopped syncing them with may be let in. */
  #fetchedNow(documents: readonly DocumentId[]): void {
    let changed = false;
    for (const d of documents) changed = this.#wanted.delete(d) || changed;
    if (changed) this.#onChange();
  }

  /** Sets a council's allowed devices and mandated bodies from its derived state; returns true when they changed. */
  update(council: CouncilId, state: CouncilState): boolean {
    const devices = devicesOf(state);
    const bodies = mandatedBodies(state.mandates);
    const prevDevices = this.#devices.get(council);
    const prevBodies = this.#bodies.get(council);
    if (
      prevDevices !== undefined &&
      sameSet(prevDevices, devices) &&
      prevBodies !== undefined &&
      sameSet(prevBodies, bodies)
    )
      return false;
    this.#devices.set(council, devices);
    this.#bodies.set(council, bodies);
    this.#onChange();
    return true;
  }

  /** Declares a federation's document. */
  registerFederation(federation: FederationId, document: DocumentId): void {
    this.#federationDocs.set(document, federation);
    if (!this.#federations.has(federation)) this.#federations.set(federation, new Set());
    this.#fetchedNow([document]);
  }

  /**
   * Sets a federation's member councils, its name (a mandate may name it so) and the councils it records as withdrawn
   * from its derived state; returns true when they changed.
   */
  updateFederation(
    federation: FederationId,
    councils: Iterable<CouncilId>,
    name = "",
    withdrawn: Iterable<CouncilId> = [],
  ): boolean {
    const next = new Set(councils);
    const out = new Set(withdrawn);
    const prev = this.#federations.get(federation);
    // Not registered (or forgotten when the node left it): an update still under way must not bring it back.
    if (prev === undefined) return false;
    const prevOut = this.#withdrawn.get(federation) ?? new Set();
    if (
      prev !== undefined &&
      sameSet(prev, next) &&
      this.#federationNames.get(federation) === name &&
      sameSet(prevOut, out)
    )
      return false;
    this.#federations.set(federation, next);
    this.#federationNames.set(federation, name);
    this.#withdrawn.set(federation, out);
    this.#onChange();
    return true;
  }

  /**
   * True when `council`'s state is held here and it has mandated a delegate for `federation`, and the federation does
   * not record its withdrawal (which the council's own recall, kept in documents it no longer shares, cannot tell).
   */
  #consents(council: CouncilId, federation: FederationId): boolean {
    if (this.#withdrawn.get(federation)?.has(council)) return false;
    const bodies = this.#bodies.get(council);
    const name = this.#federationNames.get(federation) ?? "";
    return bodies !== undefined && consentsTo(bodies, { id: federation, name });
  }

  /**
   * Vouches for `peer` as a delegate's device in `federation` (from an invitation): it may receive the federation's
   * documents before its council's records have synced here to prove it. With its `council` named, the vouch stands
   * until that council's documents are here, and reaches the other councils' documents only once that council is a
   * member (a council proposed for admission reads the federation, not its members, until admitted). Without, it
   * stands while some member council's documents are missing here. Then membership alone decides (a revoked device
   * gets nothing). With `until`, it ends then whatever has arrived: a council whose documents never come (one that
   * never consents, or a delegate who never serves them) cannot keep its device in for good.
   */
  trustFor(federation: FederationId, peer: string, council?: CouncilId, until?: number): void {
    const vouches = this.#trustedFor.get(federation) ?? new Map<string, Vouch>();
    const known = vouches.get(peer);
    const next: Vouch = { council: council ?? known?.council ?? null, until: until ?? null };
    if (known !== undefined && known.council === next.council && known.until === next.until) return;
    vouches.set(peer, next);
    this.#trustedFor.set(federation, vouches);
    this.#onChange();
    // Re-checked when it ends, so streams it opened are closed then rather than at the next change.
    if (until !== undefined) this.#recheckAt(until);
  }

  /** Calls `onChange` once `until` has passed, in steps a timer can hold (at most 2^31 - 1 ms, about 24 days). */
  #recheckAt(until: number): void {
    const left = until - this.#now();
    const timer = setTimeout(
      () => (left > MAX_TIMER_MS ? this.#recheckAt(until) : this.#onChange()),
      Math.min(Math.max(0, left) + 1, MAX_TIMER_MS),
    );
    (timer as { unref?: () => void }).unref?.();
  }

  /** Forgets a federation this node no longer follows: its document and vouches; its councils share as if it never was. */
  forgetFederation(federation: FederationId): void {
    for (const [document, id] of this.#federationDocs) {
      if (id !== federation) continue;
      this.#federationDocs.delete(document);
      this.#wanted.delete(document);
    }
    this.#federations.delete(federation);
    this.#federationNames.delete(federation);
    this.#withdrawn.delete(federation);
    this.#trustedFor.delete(federation);
    this.#onChange();
  }

  /** Withdraws a vouch (a candidate the federation refused): from now on only membership can let `peer` in. */
  distrustFor(federation: FederationId, peer: string): void {
    if (this.#trustedFor.get(federation)?.delete(peer) === true) this.#onChange();
  }

  /** True while `peer`'s vouch in `federation` stands (for a council's documents, when `councilDocs`). */
  #vouched(peer: string, federation: FederationId, councilDocs: boolean): boolean {
    const found = this.#trustedFor.get(federation)?.get(peer);
    if (found === undefined || (found.until !== null && this.#now() >= found.until)) return false;
    const vouch = found.council;
    const members = this.#federations.get(federation);
    if (vouch !== null) return !this.#devices.has(vouch) && (!councilDocs || members?.has(vouch) === true);
    // Unknown federation (its document is being fetched) or a member council not held: the vouch is all there is.
    return members === undefined || members.size === 0 || [...members].some((c) => !this.#devices.has(c));
  }

  /**
   * True when `peer` is vouched for in the federation or a device of a member of one of its councils (of one that
   * consents to it, when `consenting`: those may read the other councils' documents).
   */
  #inFederation(peer: string, federation: FederationId, consenting: boolean): boolean {
    if (this.#vouched(peer, federation, consenting)) return true;
    for (const c of this.#federations.get(federation) ?? [])
      if (this.#devices.get(c)?.has(peer) && (!consenting || this.#consents(c, federation))) return true;
    return false;
  }

  /**
   * Tells whether a document being fetched may be asked of peers: only while this node holds nothing of it (the node
   * wires it to its storage and Repo). What it holds goes nowhere until its council is known. Default: always.
   */
  set fetchable(fn: (document: DocumentId) => boolean) {
    this.#fetchable = fn;
  }

  /**
   * Marks a document this node is fetching: until its council is known, peers it knows may exchange it while
   * `fetchable` says this node holds nothing of it.
   */
  want(document: DocumentId): void {
    this.#wanted.set(document, (this.#wanted.get(document) ?? 0) + 1);
  }

  /** An open that called `want` failed: once no open wants it, unless its council is known, it goes to no one. */
  unwant(document: DocumentId): void {
    const count = this.#wanted.get(document);
    if (count === undefined) return;
    if (count > 1) {
      this.#wanted.set(document, count - 1);
      return;
    }
    this.#wanted.delete(document);
    if (!this.#documents.has(document)) this.#onChange();
  }

  /** Call when what `fetchable` says of a wanted document may have changed (it was loaded, or content arrived). */
  reconsiderWanted(document: DocumentId): void {
    if (this.#wanted.has(document) && !this.#documents.has(document) && !this.#federationDocs.has(document))
      this.#onChange();
  }

  /** The council a document belongs to, when this node knows it. */
  councilOf(document: DocumentId): CouncilId | undefined {
    return this.#documents.get(document);
  }

  /**
   * True when `peer` may receive `document`: a council's documents go to its members' devices and, when the council
   * belongs to a federation and has mandated a delegate for it, to the devices of the members of the other member
   * councils that have too; a federation's document goes to the devices of its member councils' members. Nobody else.
   */
  allows(peer: string, document: DocumentId): boolean {
    if (peer === this.#self) return true;
    const federation = this.#federationDocs.get(document);
    if (federation !== undefined) return this.#inFederation(peer, federation, false);
    const council = this.#documents.get(document);
    if (council !== undefined && !(this.#devices.get(council)?.has(peer) ?? false)) {
      for (const [id, members] of this.#federations)
        if (members.has(council) && this.#consents(council, id) && this.#inFederation(peer, id, true)) return true;
      return false;
    }
    // Unknown documents are never served (no id leaks to strangers), except one this node is fetching from a known peer
    // and holds nothing of yet.
    if (council === undefined) return this.#wanted.has(document) && this.#fetchable(document) && this.knows(peer);
    return this.#devices.get(council)?.has(peer) ?? false;
  }

  /**
   * Lets a peer open sync streams before any council says who it is (the inviter named in a token, a bootstrap
   * node of one's own): it still receives only the documents `allows` grants it.
   */
  trust(peer: string): void {
    if (this.#trusted.has(peer)) return;
    this.#trusted.add(peer);
    this.#onChange();
  }

  /** Ends `trust`: the peer is known again only where membership or a vouch names it. */
  untrust(peer: string): void {
    if (this.#trusted.delete(peer)) this.#onChange();
  }

  /** True when `peer` is trusted or a device of a member of any council this node holds (others may not even open a sync stream). */
  knows(peer: string): boolean {
    if (peer === this.#self || this.#trusted.has(peer)) return true;
    for (const federation of this.#trustedFor.keys()) if (this.#vouched(peer, federation, false)) return true;
    for (const devices of this.#devices.values()) if (devices.has(peer)) return true;
    return false;
  }

  /** Every peer `knows` accepts (but this node): the devices to look for on the network. */
  peers(): Set<string> {
    const all = new Set(this.#trusted);
    for (const devices of this.#devices.values()) for (const d of devices) all.add(d);
    for (const [federation, vouches] of this.#trustedFor)
      for (const peer of vouches.keys()) if (this.#vouched(peer, federation, false)) all.add(peer);
    all.delete(this.#self);
    return all;
  }

  /**
   * The peers among `peers` that share documents with this node, grouped by document (one group per distinct set):
   * each group's members must stay connected among themselves for its documents to reach all of them. A peer this node
   * knows but shares no document with yet (an inviter, say) is a group of its own.
   */
  sharing(peers: Iterable<string>): ReadonlySet<string>[] {
    const candidates = [...new Set(peers)].filter((p) => p !== this.#self);
    const groups = new Map<string, Set<string>>();
    const grouped = new Set<string>();
    const documents = new Set([...this.#documents.keys(), ...this.#federationDocs.keys(), ...this.#wanted.keys()]);
    for (const document of documents) {
      const group = candidates.filter((p) => this.allows(p, document)).sort();
      if (group.length === 0) continue;
      groups.set(group.join(" "), new Set(group));
      for (const p of group) grouped.add(p);
    }
    for (const p of candidates) if (!grouped.has(p) && this.knows(p)) groups.set(p, new Set([p]));
    return [...groups.values()];
  }

  /** The Repo's share configuration backed by this policy. */
  shareConfig(): ShareConfig {
    return {
      announce: async (peer: PeerId, document?: DocumentId) => document !== undefined && this.allows(peer, document),
      access: async (peer: PeerId, document: DocumentId) => this.allows(peer, document),
    };
  }
}

function sameSet<T>(a: ReadonlySet<T>, b: ReadonlySet<T>): boolean {
  return a.size === b.size && [...a].every((x) => b.has(x));
}

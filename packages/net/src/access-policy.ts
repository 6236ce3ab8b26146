/**
 * Who may receive which document: a council's documents go only to the devices its current members have authorised,
 * re-evaluated whenever membership or device records change, and a stranger learns nothing (not even document ids).
 */
import type { DocumentId, PeerId, RepoConfig } from "@automerge/automerge-repo/slim";
import type { CouncilId, CouncilState } from "@federa/core";

type ShareConfig = NonNullable<RepoConfig["shareConfig"]>;

/** The peers a council's derived state lets in: every authorised device of every current member. */
export function devicesOf(state: CouncilState): Set<string> {
  const peers = new Set<string>();
  for (const m of state.members) for (const d of m.devices) peers.add(d);
  return peers;
}

/** Document access by council membership; call `update` after each derivation, it tells the Repo when to re-check. */
export class AccessPolicy {
  readonly #documents = new Map<DocumentId, CouncilId>();
  readonly #devices = new Map<CouncilId, Set<string>>();
  readonly #self: string;
  readonly #trusted = new Set<string>();
  readonly #wanted = new Set<DocumentId>();
  #onChange: () => void = () => {};

  /** `self` is this node's own peer id (its own Repo may always hold its documents). */
  constructor(self: string) {
    this.#self = self;
  }

  /** Called when the set of allowed peers changed (the node wires it to `repo.shareConfigChanged()`). */
  set onChange(fn: () => void) {
    this.#onChange = fn;
  }

  /** Declares which documents belong to a council. */
  register(council: CouncilId, documents: readonly DocumentId[]): void {
    for (const d of documents) this.#documents.set(d, council);
    if (!this.#devices.has(council)) this.#devices.set(council, new Set());
  }

  /** Sets a council's allowed devices from its derived state; returns true when they changed. */
  update(council: CouncilId, state: CouncilState): boolean {
    const next = devicesOf(state);
    const prev = this.#devices.get(council);
    if (prev !== undefined && prev.size === next.size && [...next].every((p) => prev.has(p))) return false;
    this.#devices.set(council, next);
    this.#onChange();
    return true;
  }

  /** Marks a document this node is fetching: until its council is known, peers it knows may exchange it. */
  want(document: DocumentId): void {
    this.#wanted.add(document);
  }

  /** The council a document belongs to, when this node knows it. */
  councilOf(document: DocumentId): CouncilId | undefined {
    return this.#documents.get(document);
  }

  /** True when `peer` may receive `document`: only devices of the document's council's members. */
  allows(peer: string, document: DocumentId): boolean {
    if (peer === this.#self) return true;
    const council = this.#documents.get(document);
    // Unknown documents are never served (no id leaks to strangers), except one this node is fetching from a known peer.
    if (council === undefined) return this.#wanted.has(document) && this.knows(peer);
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

  /** True when `peer` is trusted or a device of a member of any council this node holds (others may not even open a sync stream). */
  knows(peer: string): boolean {
    if (peer === this.#self || this.#trusted.has(peer)) return true;
    for (const devices of this.#devices.values()) if (devices.has(peer)) return true;
    return false;
  }

  /** The Repo's share configuration backed by this policy. */
  shareConfig(): ShareConfig {
    return {
      announce: async (peer: PeerId, document?: DocumentId) => document !== undefined && this.allows(peer, document),
      access: async (peer: PeerId, document: DocumentId) => this.allows(peer, document),
    };
  }
}

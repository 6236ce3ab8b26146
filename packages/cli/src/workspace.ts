/**
 * What a command acts on: the councils of a node directory, opened either offline on the directory's own storage
 * (`LocalWorkspace`) or inside a running node (see `node-workspace.ts`); operations see only this interface.
 */

import { join } from "node:path";
import * as A from "@automerge/automerge";
import { type AutomergeUrl, type DocHandle, parseAutomergeUrl, Repo } from "@automerge/automerge-repo";
import type {
  CouncilDoc,
  CouncilId,
  FederationDoc,
  FederationId,
  FoundInit,
  Identity,
  LedgerDoc,
  MemoryVerifiedCache,
} from "@federa/core";
import { Council, Federation, foundCouncil, foundFederation } from "@federa/core";
import type { HeldCouncil, HeldFederation } from "@federa/net";
import { DurableFsStorageAdapter } from "@federa/net/node";
import { now } from "./clock.js";
import { CouncilUnavailableError, DamagedFileError, FederationUnavailableError } from "./errors.js";
import { HighWaterStore, marksOf, type SignerMarks } from "./high-water.js";
import type { FederationEntry, NodeDir } from "./node-dir.js";
import { ReadOnlyStorage } from "./read-only-storage.js";

/** A council opened on its two DocHandles, offline or in the node (the node's own `HeldCouncil`). */
export type OpenCouncil = HeldCouncil;

/** A federation opened on its DocHandle with the member councils held here (the node's own `HeldFederation`). */
export type OpenFederation = HeldFederation;

/** What founding a federation needs: its name, its member councils, and where the others' documents are. */
export interface FoundFederation {
  readonly name: string;
  readonly councils: readonly CouncilId[];
  /** Council id → council document URL, for every member council (this directory's own included). */
  readonly urls: Readonly<Record<string, string>>;
}

/** Network facts of a running node. */
export interface NodeView {
  readonly peerId: string;
  readonly addresses: readonly string[];
  /** Peers connected now. */
  readonly peers: readonly string[];
  /** Peers discovery announced (mDNS, bootstrap, DHT), remembered. */
  readonly discovered: readonly string[];
  /** The peers this node's sync trees link it to: the ones it dials, or waits for. */
  readonly links: readonly string[];
  /** Devices looked up in the DHT since the node started (0 without `--dht`, or with every device reached). */
  readonly lookups: number;
}

/** The councils of one node directory, offline or in a running node. */
export interface Workspace {
  readonly dir: NodeDir;
  readonly identity: Identity;
  /** Opens a council the directory holds; throws `CouncilUnavailableError` when its documents are not here. */
  open(id: CouncilId, url: string): Promise<OpenCouncil>;
  /** Founds a council in this directory's storage. */
  found(init: FoundInit): Promise<OpenCouncil>;
  /** Opens a federation the directory follows; throws `FederationUnavailableError` when its document is not here. */
  openFederation(id: FederationId, url: string): Promise<OpenFederation>;
  /** Founds a federation in this directory's storage. */
  foundFederation(init: FoundFederation): Promise<OpenFederation>;
  /** Lets a delegate's device in now, in a running node (offline, D/federations.json is read when the node starts). */
  vouch?(federation: FederationId, peer: string, council?: CouncilId, until?: number): void;
  /** Withdraws a vouch in a running node (offline there is none: the node reads D/federations.json when it starts). */
  unvouch?(federation: FederationId, peer: string): void;
  /** In a running node: stops syncing and sharing a federation's document. */
  leave?(federation: FederationId): void;
  /** In a running node: vouches for the entry's devices, opens the federation and fetches its member councils. */
  follow?(entry: FederationEntry): Promise<OpenFederation>;
  /** The running node, or null offline. */
  node(): NodeView | null;
  /** Delivers a stored application to its inviter (only a running node can). */
  deliver?(record: string): Promise<{ proposal: string }>;
}

function isUnavailable(error: unknown): boolean {
  return error instanceof Error && /unavailable|aborted/i.test(error.message);
}

/**
 * A document whose stored chunks Automerge cannot load (a torn or altered file): said with the folder that holds it
 * (automerge-repo keys a document's files by its id) and how to get it back, instead of the parser's message alone.
 */
export function damagedDocument(dir: NodeDir, owner: string, url: string, error: unknown): DamagedFileError {
  const id = parseAutomergeUrl(url as AutomergeUrl).documentId;
  const folder = join(dir.repoPath, id.slice(0, 2), id.slice(2));
  const why = error instanceof Error ? error.message : String(error);
  return new DamagedFileError(
    folder,
    `${owner}'s stored document cannot be loaded (${why}); nothing was changed. Move the folder aside and run ` +
      "`federa node`: members' nodes send the document again",
  );
}

/** Opens the ledger named by a council document, then the Council on both handles. */
export async function openOnHandles(
  councilHandle: DocHandle<CouncilDoc>,
  find: (url: AutomergeUrl) => Promise<DocHandle<LedgerDoc>>,
  options: { identity: Identity; verified: MemoryVerifiedCache; now: () => number },
): Promise<OpenCouncil> {
  const ledgerUrl = councilHandle.doc().federa?.ledger;
  if (ledgerUrl === undefined) throw new CouncilUnavailableError(String(councilHandle.doc().federa?.council));
  const ledgerHandle = await find(ledgerUrl as AutomergeUrl);
  // A command refuses an act the council would exclude rather than write it for good.
  const council = await Council.open({ council: councilHandle, ledger: ledgerHandle }, { ...options, checkActs: true });
  return { council, councilHandle, ledgerHandle };
}

/**
 * The directory's councils opened offline on D/repo; `close` flushes the documents and the verified cache. Opened
 * `readOnly` (for a request that only reads, on a directory this process cannot write), it writes nothing at all.
 */
export class LocalWorkspace implements Workspace {
  readonly dir: NodeDir;
  readonly identity: Identity;
  readonly #repo: Repo;
  readonly #verified: MemoryVerifiedCache;
  readonly #readOnly: boolean;
  readonly #open = new Map<string, OpenCouncil>();
  readonly #federations = new Map<string, OpenFederation>();

  private constructor(dir: NodeDir, identity: Identity, verified: MemoryVerifiedCache, readOnly: boolean) {
    this.dir = dir;
    this.identity = identity;
    this.#verified = verified;
    this.#readOnly = readOnly;
    const storage = new DurableFsStorageAdapter(dir.repoPath);
    this.#repo = new Repo({ storage: readOnly ? new ReadOnlyStorage(storage) : storage, network: [] });
  }

  static async open(dir: NodeDir, options: { readonly readOnly?: boolean } = {}): Promise<LocalWorkspace> {
    const identity = await dir.identity();
    return new LocalWorkspace(dir, identity, await dir.verified(), options.readOnly === true);
  }

  async open(id: CouncilId, url: string): Promise<OpenCouncil> {
    const held = this.#open.get(id);
    if (held !== undefined) return held;
    const find = async <T>(u: AutomergeUrl) => {
      try {
        return await this.#repo.find<T>(u);
      } catch (e) {
        if (isUnavailable(e)) throw new CouncilUnavailableError(id);
        throw damagedDocument(this.dir, `council ${id}`, u, e);
      }
    };
    const councilHandle = await find<CouncilDoc>(url as AutomergeUrl);
    const opened = await openOnHandles(councilHandle, find<LedgerDoc>, {
      identity: this.identity,
      verified: this.#verified,
      now,
    });
    this.#open.set(id, opened);
    return opened;
  }

  async found(init: FoundInit): Promise<OpenCouncil> {
    const founded = await foundCouncil(this.identity, { now, ...init });
    const councilHandle = this.#repo.import<CouncilDoc>(A.save(founded.council));
    const ledgerHandle = this.#repo.import<LedgerDoc>(A.save(founded.ledger));
    councilHandle.change((d) => {
      d.federa.ledger = ledgerHandle.url;
    });
    const council = await Council.open(
      { council: councilHandle, ledger: ledgerHandle },
      { identity: this.identity, verified: this.#verified, now, checkActs: true },
    );
    const opened = { council, councilHandle, ledgerHandle };
    this.#open.set(council.id, opened);
    return opened;
  }

  async openFederation(id: FederationId, url: string): Promise<OpenFederation> {
    const held = this.#federations.get(id);
    if (held !== undefined) return held;
    let handle: DocHandle<FederationDoc>;
    try {
      handle = await this.#repo.find<FederationDoc>(url as AutomergeUrl);
    } catch (e) {
      if (isUnavailable(e)) throw new FederationUnavailableError(id);
      throw damagedDocument(this.dir, `federation ${id}`, url, e);
    }
    // The member councils this directory holds; the others count once `federa node` has fetched them.
    const councils = await this.dir.knownCouncils();
    const members: Council[] = [];
    for (const member of Object.keys(handle.doc().federa.councils ?? {})) {
      const councilUrl = councils[member];
      if (councilUrl === undefined) continue;
      try {
        members.push((await this.open(member as CouncilId, councilUrl)).council);
      } catch (e) {
        if (!(e instanceof CouncilUnavailableError)) throw e;
      }
    }
    const federation = await Federation.open(handle, {
      councils: members,
      identity: this.identity,
      verified: this.#verified,
      now,
      // As for councils: an act the federation would not count is refused, with its reason, before it is written.
      checkActs: true,
    });
    const opened = { federation, handle };
    this.#federations.set(id, opened);
    return opened;
  }

  async foundFederation(init: FoundFederation): Promise<OpenFederation> {
    const founded = await foundFederation(this.identity, { name: init.name, councils: init.councils, now });
    const handle = this.#repo.import<FederationDoc>(A.save(founded.federation));
    handle.change((d) => {
      d.federa.councils = { ...init.urls };
    });
    return this.openFederation(founded.id as FederationId, handle.url);
  }

  node(): null {
    return null;
  }

  /**
   * Writes every open document, then the verified cache and the open councils' and federations' high-water marks.
   * Throws when the documents could not be written; returns, one line each, what could not be written after them.
   */
  async close(): Promise<string[]> {
    // Nothing was written, and the directory takes nothing: the marks wait for a command that can store them.
    if (this.#readOnly) return [];
    const ids = [
      ...[...this.#open.values()].flatMap((o) => [o.councilHandle.documentId, o.ledgerHandle.documentId]),
      ...[...this.#federations.values()].map((f) => f.handle.documentId),
    ];
    // Only documents that loaded: a handle left unavailable cannot be saved (and would make a full flush throw).
    await this.#repo.flush(ids);
    // The documents hold the command's records now: a failure below cannot undo them, so it is said, not thrown.
    const unwritten: string[] = [];
    try {
      await this.dir.saveVerified(this.#verified);
    } catch (e) {
      const cache = "it only caches signatures already checked, which the next command checks again";
      unwritten.push(notWritten(this.dir.verifiedPath, e, cache));
    }
    try {
      // After the flush: a mark must never get ahead of the records on disk.
      await new HighWaterStore(this.dir).update(
        new Map<string, SignerMarks>([
          ...[...this.#open.values()].map((o) => [o.council.id, marksOf(o.council.highWater())] as const),
          ...[...this.#federations.values()].map((f) => [f.federation.id, marksOf(f.federation.highWater())] as const),
        ]),
      );
    } catch (e) {
      const unseen =
        "the high-water marks were not updated, so until a later command stores them this device would not notice " +
        "its newest records vanishing from its replica";
      unwritten.push(notWritten(this.dir.highWaterPath, e, unseen));
    }
    return unwritten;
  }
}

/** One line for a file of the directory not written after the documents were: which, why, and what that means. */
function notWritten(path: string, error: unknown, meaning: string): string {
  const why = error instanceof Error ? error.message : String(error);
  return `the documents are saved, but ${path} could not be written (${why}): ${meaning}`;
}

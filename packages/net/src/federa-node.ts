/**
 * A Federa node: libp2p (Noise, Yamux, identify, the transports and discovery it is given) carrying an automerge-repo
 * Repo through the Federa sync protocol, with storage, councils whose documents only their members' devices get, and
 * bans on peers that break the sync protocol.
 */
import * as A from "@automerge/automerge";
import {
  type AutomergeUrl,
  type DocHandle,
  type DocumentId,
  parseAutomergeUrl,
  Repo,
  type StorageAdapterInterface,
} from "@automerge/automerge-repo";
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import type {
  CouncilDoc,
  CouncilId,
  FederationDoc,
  FederationId,
  FederationState,
  FoundFederationInit,
  FoundInit,
  Identity,
  LedgerDoc,
  RecordId,
  VerifiedCache,
} from "@federa/core";
import {
  Council,
  type DocSource,
  Federation,
  forgetReplacedPatches,
  foundCouncil,
  foundFederation,
  foundingCouncils,
  namesFederation,
  UnknownDocumentError,
} from "@federa/core";
import { generateKeyPairFromSeed } from "@libp2p/crypto/keys";
import { identify } from "@libp2p/identify";
import type { Libp2p } from "@libp2p/interface";
import { EventEmitter } from "eventemitter3";
import { createLibp2p, type Libp2pOptions } from "libp2p";
import { AccessPolicy } from "./access-policy.js";
import { acceptApplication } from "./application.js";
import { requestBytes, serveApplications } from "./apply-protocol.js";
import { warmUpAutomergeOnce } from "./automerge-warm-up.js";
import { BanList, type BanRecord, isViolation, withBans } from "./ban-list.js";
import { bundleSyncMessage } from "./change-bundles.js";
import { type ChangesAhead, changesAhead } from "./changes-ahead.js";
import {
  DEFAULT_BAN_MS,
  DEFAULT_BUNDLE_CHANGES,
  DEFAULT_MAX_DIALS,
  DEFAULT_SYNC_TREE,
  DIAL_QUIET_MS,
} from "./constants.js";
import { DiscoveryDials } from "./discovery-dials.js";
import {
  CouncilNotHeldError,
  DocumentDamagedError,
  DocumentUnavailableError,
  FederationLeftError,
  NodeStoppedError,
  PeerBannedError,
} from "./errors.js";
import { Libp2pNetworkAdapter, type PackTarget } from "./libp2p-adapter.js";
import { LocalSaves } from "./local-saves.js";
import { NodeStorage } from "./node-storage.js";
import { PeerExchange } from "./peer-exchange.js";
import { PeerLookups } from "./peer-lookups.js";
import type { RateLimiter } from "./rate-limit.js";
import { keepDialling } from "./redial.js";
import { SlicedChanges } from "./sliced-changes.js";
import { trimWholeDocument, withNeededChanges } from "./whole-documents.js";

/** Options of a node; in Node.js, transports, listen addresses, discovery and storage come from `nodeOptions` (`@federa/net/node`). */
export interface FederaNodeInit {
  /** The device key is the node's libp2p key: its peer id is the device id members authorise. */
  readonly identity: Identity;
  readonly storage?: StorageAdapterInterface;
  /**
   * libp2p options merged over the node's own (Noise, Yamux, identify, and the device key). A `connectionGater` given
   * here is kept: the node's refusal of banned peers is added to it.
   */
  readonly libp2p?: Partial<Libp2pOptions<Record<string, unknown>>>;
  /** Remembers verified signatures across restarts. */
  readonly verified?: VerifiedCache;
  /** Dial the discovered peers (mDNS, bootstrap, DHT) this node's sync trees ask for (`DiscoveryDials`) while fewer outbound connections to known peers than this are open. */
  readonly maxDials?: number;
  /** The wall clock for stamping records and timing bans (tests pass a fake one). */
  readonly now?: () => number;
  /**
   * Milliseconds a peer that breaks the sync protocol is refused; each repeat while it is remembered doubles the ban,
   * up to a day. 0 turns bans off.
   */
  readonly banMs?: number;
  /** Bans to start with, as `banRecords()` gave them before a restart (expired ones are dropped). */
  readonly bans?: readonly BanRecord[];
  /** Councils and federations held refuse acts their derivation would exclude (`checkActs` of their options). */
  readonly checkActs?: boolean;
  /**
   * Peers to stay connected to (multiaddrs ending in `/p2p/PEER_ID`): dialled at start and again every 5 s
   * (`REDIAL_INTERVAL_MS`) while not connected, so one that restarts is found again.
   */
  readonly bootstrap?: readonly string[];
  /**
   * Warms Automerge's WebAssembly up in the background once the node has started (once per process), so the first
   * merge runs optimized code (`warmUpAutomerge`); true by default.
   */
  readonly warmUp?: boolean;
  /**
   * Sends a round of 64 changes or more to a 1.4 peer as Automerge bundles (see change-bundles.ts), packed in columns
   * as a saved document is: a sixth to a quarter fewer bytes at 4 and 16 nodes (a quarter to a half fewer when they
   * meet again) for about a sixth more CPU at 16, packed a message per event-loop turn after the Repo's round. On by
   * default (`DEFAULT_BUNDLE_CHANGES`); every node reads bundles whatever its own setting, and older peers get change
   * chunks.
   */
  readonly bundleChanges?: boolean;
  /**
   * Sends a whole document as the changes the peer lacks when that is smaller (whole-documents.ts; about 30 ms for a
   * document of 1,600 records, 10 to 15 ms for each further peer the same state goes to), as bundles with
   * `bundleChanges`. Off by default: about a fifth more CPU at 16 nodes for a tenth to a quarter fewer bytes.
   */
  readonly trimDocuments?: boolean;
}

/** Payload of `peer:banned`. */
export interface PeerBannedPayload {
  readonly peerId: string;
  /** When the ban ends, in milliseconds since the epoch by the node's clock. */
  readonly until: number;
  /** The violation, as the sync adapter reported it. */
  readonly error: Error;
}

/** An application to join a council, written here as its admission proposal (or a founder's device authorisation). */
export interface AcceptedApplication {
  readonly council: CouncilId;
  /** The application's record id: the admission proposal's id. */
  readonly record: string;
  /** The device that delivered it. */
  readonly from: string;
}

/** The node's own events. */
export interface FederaNodeEvents {
  /** A peer broke the sync protocol: every connection to it was aborted and it is refused until `until`. */
  "peer:banned": (payload: PeerBannedPayload) => void;
  /** An application to join a council held here was checked, written and flushed (`acceptApplications`). */
  "application:accepted": (payload: AcceptedApplication) => void;
}

/**
 * Calls `refresh` after each change of a document held, and frees the patches Automerge cached for the version that
 * change replaced, which the document's values would otherwise keep for good (see kept-patches.ts in core).
 */
function onChange(handle: DocHandle<unknown>, refresh: () => void): void {
  handle.on("change", ({ patchInfo }) => {
    forgetReplacedPatches(patchInfo.before);
    refresh();
  });
}

/** A federation this node holds: the derived federation and its DocHandle. */
export interface HeldFederation {
  readonly federation: Federation;
  readonly handle: DocHandle<FederationDoc>;
}

/** A council this node holds: the derived council and its two DocHandles. */
export interface HeldCouncil {
  readonly council: Council;
  readonly councilHandle: DocHandle<CouncilDoc>;
  readonly ledgerHandle: DocHandle<LedgerDoc>;
}

/** Storage that one node at a time may use (`DurableFsStorageAdapter`): claimed when it starts, given up when it stops. */
interface ExclusiveStorage {
  lock(): Promise<void>;
  unlock(): Promise<void>;
}

function exclusive(storage: StorageAdapterInterface | undefined): ExclusiveStorage | undefined {
  const s = storage as Partial<ExclusiveStorage> | undefined;
  return typeof s?.lock === "function" && typeof s.unlock === "function" ? (s as ExclusiveStorage) : undefined;
}

/** A running node. */
export class FederaNode {
  readonly libp2p: Libp2p;
  readonly repo: Repo;
  readonly access: AccessPolicy;
  readonly identity: Identity;
  /** The sync adapter: its `events` report every peer whose sync stream it closed, its `traffic` what it moved. */
  readonly adapter: Libp2pNetworkAdapter;
  /** The node's own events. */
  readonly events = new EventEmitter<FederaNodeEvents>();
  /** Changes received in large sync messages, applied a slice per event-loop turn (`idle()` waits for them). */
  readonly slices: SlicedChanges;
  /** Which discovered peers are dialled: this node's neighbours in the sync tree of each group it shares documents with. */
  readonly dials: DiscoveryDials;
  /**
   * Devices to reach and not found by other means are looked up through libp2p's peer routing (a DHT), when it has
   * one, and handed to `dials`.
   */
  readonly lookups: PeerLookups;
  /** Tells the members' devices this node reaches where the others it shares documents with are. */
  readonly peerExchange: PeerExchange;
  readonly #init: FederaNodeInit;
  readonly #bans: BanList;
  readonly #storage: NodeStorage | undefined;
  readonly #saves: LocalSaves | undefined;
  readonly #councils = new Map<CouncilId, HeldCouncil>();
  readonly #federations = new Map<FederationId, HeldFederation & { refresh: () => void }>();
  readonly #pending = new Set<Promise<unknown>>();
  readonly #holding = new Map<CouncilId, Promise<HeldCouncil>>();
  readonly #holdingFederations = new Map<FederationId, Promise<HeldFederation>>();
  /** Aborted when `stop()` is called: opens under way end, and nothing more is opened or written. */
  readonly #stopping = new AbortController();
  #stopped: Promise<void> | undefined;
  readonly #redials = new Set<() => void>();
  /** Leaves so far, and the count at each federation's latest: an open started before it must not hold it again. */
  #leaves = 0;
  readonly #leftAt = new Map<FederationId, number>();
  /** Withdrawals announced (or being announced), by federation, council and recall, so each is written once. */
  readonly #announced = new Set<string>();

  private constructor(
    libp2p: Libp2p,
    repo: Repo,
    access: AccessPolicy,
    adapter: Libp2pNetworkAdapter,
    slices: SlicedChanges,
    dials: DiscoveryDials,
    lookups: PeerLookups,
    peerExchange: PeerExchange,
    bans: BanList,
    storage: NodeStorage | undefined,
    saves: LocalSaves | undefined,
    init: FederaNodeInit,
  ) {
    this.libp2p = libp2p;
    this.repo = repo;
    this.access = access;
    this.adapter = adapter;
    this.slices = slices;
    this.dials = dials;
    this.lookups = lookups;
    this.peerExchange = peerExchange;
    this.identity = init.identity;
    this.#init = init;
    this.#bans = bans;
    this.#storage = storage;
    this.#saves = saves;
  }

  /** Builds and starts a node; its storage, when it can be claimed, is this node's alone until it stops. */
  static async create(init: FederaNodeInit): Promise<FederaNode> {
    const storage = exclusive(init.storage);
    await storage?.lock();
    try {
      return await FederaNode.#start(init);
    } catch (e) {
      await storage?.unlock();
      throw e;
    }
  }

  static async #start(init: FederaNodeInit): Promise<FederaNode> {
    const privateKey = await generateKeyPairFromSeed("Ed25519", init.identity.device.seed);
    const extra = init.libp2p ?? {};
    const bans = new BanList(init.banMs ?? DEFAULT_BAN_MS, init.now ?? Date.now);
    bans.restore(init.bans ?? []);
    const libp2p = await createLibp2p({
      ...extra,
      connectionGater: withBans(extra.connectionGater, (peer) => bans.has(peer.toString())),
      privateKey,
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify(), ...(extra.services ?? {}) },
    });
    if (libp2p.peerId.toString() !== init.identity.device.id)
      throw new Error("libp2p key does not match the device key");
    const access = new AccessPolicy(libp2p.peerId.toString(), init.now);
    const log = libp2p.logger.forComponent("federa:node");
    let saves: LocalSaves | undefined;
    const storage =
      init.storage === undefined
        ? undefined
        : new NodeStorage(init.storage, {
            onLoaded: (document) => access.reconsiderWanted(document as DocumentId),
            onError: (key, e) => log.error("could not save %s - %e", key.join("/"), e),
          });
    let ahead: ChangesAhead | undefined; // needs the Repo, which needs the adapter
    let repo: Repo | undefined;
    let dials: DiscoveryDials | undefined; // needs the access policy's groups, set up after the Repo
    const bundles = init.bundleChanges ?? DEFAULT_BUNDLE_CHANGES;
    const adapter = new Libp2pNetworkAdapter({
      libp2p,
      // A link beside the discovery trees (a bootstrap peer's, say) stops syncing once the trees' links are up.
      discoveredTree: () => dials?.tree(),
      allowPeer: (peer: string) => access.knows(peer),
      changesAhead: (message) => ahead?.(message),
      // Nothing about a document crosses to or from a peer that may not read it, whatever the Repo's rounds do.
      permits: (peer, document) => access.allows(peer, document),
      // After a write here, the document's sync messages go out once it is on disk (see local-saves.ts).
      beforeSend: (message) => (message.type === "sync" ? saves?.pending(message.documentId) : undefined),
      // Fewer bytes for some CPU: large rounds as bundles, and a whole document as the changes the peer lacks.
      ...((bundles || init.trimDocuments === true) && {
        packChanges: (document: DocumentId, data: Uint8Array, peer: PackTarget) => {
          const handle = repo?.handles[document];
          if (handle?.isReady() !== true) return undefined;
          const doc = handle.doc();
          const asBundles = bundles && peer.readsBundles;
          if (init.trimDocuments !== true) return asBundles ? bundleSyncMessage(doc, data) : undefined;
          // After a trimmed document, what a filter's false positive left out goes when the peer asks for it.
          const needed = withNeededChanges(doc, data, peer.said);
          const message = needed ?? data;
          const trimmed = trimWholeDocument(doc, message, peer.said, asBundles);
          return trimmed ?? (asBundles ? bundleSyncMessage(doc, message) : undefined) ?? needed;
        },
      }),
    });
    repo = new Repo({
      peerId: adapter.peerId,
      network: [adapter],
      ...(storage ? { storage } : {}),
      shareConfig: access.shareConfig(),
    });
    if (storage !== undefined) saves = new LocalSaves((document) => repo.flush([document as DocumentId]));
    // A document being fetched is asked of peers only while nothing of it is here: not on disk, nor arrived yet.
    access.fetchable = (document) =>
      (storage === undefined || storage.stored(document) === "absent") && !holdsContent(repo, document);
    const slices = new SlicedChanges({ onError: (err) => log.error("received changes would not apply - %e", err) });
    ahead = changesAhead(repo, (peer, document) => access.allows(peer, document), slices);
    dials = new DiscoveryDials(libp2p, {
      maxConnections: init.maxDials ?? DEFAULT_MAX_DIALS,
      fanout: DEFAULT_SYNC_TREE.fanout,
      groups: (peers) => access.sharing(peers),
      counted: (peer) => access.knows(peer),
      // Links into a group the node reaches already wait out a merge: the peers it is connected to relay it.
      busy: () => adapter.quietFor() < DIAL_QUIET_MS,
      linked: (peer) => adapter.syncsWith(peer),
    });
    const lookups = new PeerLookups(libp2p, {
      targets: () => access.peers(),
      reachable: (peer) => dials.reachable(peer),
      found: (peer) => dials.discovered(peer),
    });
    const peerExchange = await PeerExchange.start(libp2p, {
      knows: (peer) => access.knows(peer),
      tell: (to) => {
        const told = new Set<string>();
        for (const group of access.sharing([to, ...access.peers()]))
          if (group.has(to)) for (const p of group) told.add(p);
        told.delete(to);
        return told;
      },
      wants: (peer) => access.peers().has(peer),
      missing: () => lookups.missing(),
      heard: (peer) => dials.discovered(peer),
    });
    access.onChange = () => {
      repo.shareConfigChanged();
      void adapter.reconsider();
      dials.reconsider(); // a new member's devices are dialled, a departed one's left out
      lookups.reconsider();
      peerExchange.reconsider(); // the peers known may know where the devices now wanted are
    };
    const node = new FederaNode(
      libp2p,
      repo,
      access,
      adapter,
      slices,
      dials,
      lookups,
      peerExchange,
      bans,
      storage,
      saves,
      init,
    );
    adapter.events.on("peer:rejected", ({ peerId, error }) => {
      if (!isViolation(error) || peerId === adapter.peerId) return;
      try {
        node.#ban(peerId, error);
      } catch {
        // A failing `peer:banned` listener must not break the adapter that reported the violation.
      }
    });
    // A connection already past the gater when its peer was banned is closed as it opens.
    libp2p.addEventListener("connection:open", (event) => {
      const peer = event.detail.remotePeer.toString();
      if (bans.has(peer)) event.detail.abort(new PeerBannedError(`Peer ${peer} is banned`));
    });
    if (init.bootstrap !== undefined && init.bootstrap.length > 0) node.keepDialling(init.bootstrap);
    if (init.warmUp !== false) void warmUpAutomergeOnce({ signal: node.#stopping.signal });
    return node;
  }

  /** Hangs up on a peer that broke the sync protocol and refuses it until its ban ends. */
  #ban(peer: string, error: Error): void {
    const until = this.#bans.strike(peer);
    if (until === undefined) return;
    const reason = new PeerBannedError(
      `Peer ${peer} banned until ${new Date(until).toISOString()} for breaking the sync protocol: ${error.message}`,
    );
    for (const connection of this.libp2p.getConnections()) {
      if (connection.remotePeer.toString() === peer) connection.abort(reason);
    }
    this.events.emit("peer:banned", { peerId: peer, until, error });
  }

  /** Peers banned for breaking the sync protocol, each with when its ban ends (ms since the epoch). */
  banned(): Map<string, number> {
    return this.#bans.active();
  }

  /** Every ban the node remembers, to hand back as `bans` when it starts again. */
  banRecords(): BanRecord[] {
    return this.#bans.records();
  }

  /** Lifts a peer's ban and forgets its violations. */
  unban(peer: string): void {
    this.#bans.lift(peer);
  }

  /**
   * Serves `/federa/apply/1.0.0`, the member's side of joining: an application (or a named founder's device
   * authorisation) to a council held here is checked (`checkApplication`), written into the council's document,
   * flushed, reported as `application:accepted` and answered with its proposal's id; a refused one is answered with
   * why. Each peer is rate limited (`APPLY_RATE_LIMIT` unless `limiter` is given). Members then vote on the admission.
   */
  async acceptApplications(options: { readonly limiter?: RateLimiter } = {}): Promise<void> {
    this.#requireRunning();
    const take = async (request: Parameters<typeof requestBytes>[0], from: string): Promise<string> => {
      this.#requireRunning();
      const held = this.#councils.get(request.council as CouncilId);
      // Not refused: the council may be on its way here (a retry later can find it).
      if (held === undefined) throw new CouncilNotHeldError();
      const application = { record: request.record as RecordId, bytes: requestBytes(request) };
      // Written through the node's own source: once it stops, the write is refused (and the applicant told to retry).
      const target = { council: held.council, councilHandle: this.#live(held.councilHandle) };
      const proposal = await acceptApplication(target, application, from, (this.#init.now ?? Date.now)());
      await this.flush();
      this.events.emit("application:accepted", { council: held.council.id, record: proposal, from });
      return proposal;
    };
    // Tracked like a derivation: a stop waits for an application being written, so what it answers is on disk.
    const accept = (request: Parameters<typeof requestBytes>[0], from: string): Promise<string> => {
      const run = take(request, from);
      this.#pending.add(run);
      void run.finally(() => this.#pending.delete(run)).catch(() => {});
      return run;
    };
    await serveApplications(this.libp2p, accept, options.limiter ? { limiter: options.limiter } : {});
  }

  /**
   * Keeps `addresses` dialled while their peers are not connected (at once, then every `REDIAL_INTERVAL_MS`) until
   * the returned function is called or the node stops; failed dials go to `onError` and are tried again.
   */
  keepDialling(addresses: readonly string[], onError?: (address: string, e: Error) => void): () => void {
    this.#requireRunning();
    const stopDialling = keepDialling(this.libp2p, addresses, onError);
    const stop = () => {
      stopDialling();
      this.#redials.delete(stop);
    };
    this.#redials.add(stop);
    return stop;
  }

  /** Lets `peer` open sync streams before any council names it (see `AccessPolicy.trust`). */
  trust(peer: string): void {
    this.access.trust(peer);
  }

  /** Ends `trust` (the council it invited to is here: membership decides from now on). */
  untrust(peer: string): void {
    this.access.untrust(peer);
  }

  /** The addresses other nodes can dial, with this node's peer id. */
  addresses(): string[] {
    return this.libp2p.getMultiaddrs().map((a) => a.toString());
  }

  /** Peers currently connected. */
  peers(): string[] {
    return [...new Set(this.libp2p.getConnections().map((c) => c.remotePeer.toString()))].sort();
  }

  /** Councils held, by id. */
  councils(): HeldCouncil[] {
    return [...this.#councils.values()];
  }

  council(id: CouncilId): HeldCouncil | undefined {
    return this.#councils.get(id);
  }

  /** Founds a council on this node (the identity must hold its member key). */
  async foundCouncil(init: FoundInit): Promise<HeldCouncil> {
    this.#requireRunning();
    const founded = await foundCouncil(this.identity, { ...init, ...(this.#init.now ? { now: this.#init.now } : {}) });
    const councilHandle = this.repo.import<CouncilDoc>(A.save(founded.council));
    const ledgerHandle = this.repo.import<LedgerDoc>(A.save(founded.ledger));
    councilHandle.change((d) => {
      d.federa.ledger = ledgerHandle.url;
    });
    for (const handle of [councilHandle, ledgerHandle]) this.#saves?.wrote(handle.documentId);
    return this.#hold(councilHandle, ledgerHandle);
  }

  /**
   * Opens a council this node has in storage or can fetch from connected members, retrying while no peer has it yet
   * (a sync stream may still be opening) until `timeoutMs` or the signal ends the wait. With `council`, a document
   * that turns out to be another council is refused and not held.
   */
  async openCouncil(
    url: AutomergeUrl,
    options: { signal?: AbortSignal; timeoutMs?: number; council?: CouncilId } = {},
  ): Promise<HeldCouncil> {
    const signal = this.#waitSignal(options);
    const councilHandle = await this.#find<CouncilDoc>(url, signal);
    let ledgerHandle: DocHandle<LedgerDoc> | undefined;
    try {
      // A link is only where to fetch: what the document is comes from its own content.
      const claimed = councilHandle.doc().federa?.council;
      if (options.council !== undefined && claimed !== options.council)
        throw new UnknownDocumentError(`${url} is not council ${options.council}`);
      const ledgerUrl = councilHandle.doc().federa?.ledger;
      if (claimed === undefined || ledgerUrl === undefined)
        throw new UnknownDocumentError(`${url} is not a Federa council document (no council id or ledger in it)`);
      ledgerHandle = await this.#find<LedgerDoc>(ledgerUrl as AutomergeUrl, signal);
      const id = claimed as CouncilId;
      const ledger = ledgerHandle;
      return this.#councils.get(id) ?? (await this.#once(this.#holding, id, () => this.#hold(councilHandle, ledger)));
    } catch (e) {
      // Not held: what arrived of it goes to no one.
      this.access.unwant(councilHandle.documentId);
      if (ledgerHandle !== undefined) this.access.unwant(ledgerHandle.documentId);
      throw e;
    }
  }

  /** Runs `hold` once per key at a time: concurrent opens of one document must not hold it twice. */
  async #once<K, T>(running: Map<K, Promise<T>>, key: K, hold: () => Promise<T>): Promise<T> {
    const started = running.get(key);
    if (started !== undefined) return started;
    const holding = hold();
    running.set(key, holding);
    try {
      return await holding;
    } finally {
      running.delete(key);
    }
  }

  /** The signal a wait for documents ends on: the caller's, its timeout, or the node stopping. */
  #waitSignal(options: { signal?: AbortSignal; timeoutMs?: number }): AbortSignal {
    this.#requireRunning();
    return AbortSignal.any([
      ...(options.signal ? [options.signal] : []),
      AbortSignal.timeout(options.timeoutMs ?? 30_000),
      this.#stopping.signal,
    ]);
  }

  #requireRunning(): void {
    if (this.#stopping.signal.aborted) throw new NodeStoppedError();
  }

  async #find<T>(url: AutomergeUrl, signal: AbortSignal): Promise<DocHandle<T>> {
    let documentId: DocumentId;
    try {
      documentId = parseAutomergeUrl(url).documentId;
    } catch (e) {
      throw new DocumentUnavailableError(String(url), `not an Automerge URL: ${String(url)} (${(e as Error).message})`);
    }
    this.access.want(documentId);
    // A handle left by an earlier attempt stopped syncing with every peer when that one gave up: the Repo re-checks.
    if (this.repo.handles[documentId] !== undefined) this.repo.shareConfigChanged();
    for (;;) {
      try {
        const handle = await untilAborted(this.repo.find<T>(url), signal);
        // Its content is here: from now on it goes only where its council, once known, says.
        this.access.reconsiderWanted(documentId);
        return handle;
      } catch (err) {
        // Anything but "unavailable" (no peer has it yet) is a stored copy Automerge could not load.
        if (!signal.aborted && !isUnavailable(err)) {
          this.access.unwant(documentId);
          throw new DocumentDamagedError(
            url,
            `the stored copy of ${url} cannot be loaded: ${(err as Error).message}`,
            err,
          );
        }
        if (!signal.aborted) {
          await new Promise((resolve) => setTimeout(resolve, 200));
          continue;
        }
        this.access.unwant(documentId);
        this.#requireRunning();
        if (signal.reason instanceof DOMException && signal.reason.name === "TimeoutError")
          throw new DocumentUnavailableError(url, `no peer served ${url} before the wait ended`);
        throw err;
      }
    }
  }

  /** A document source for a council or federation held here: writes through it end when the node stops. */
  #live<T>(handle: DocHandle<T>): DocSource<T> {
    return {
      doc: () => handle.doc(),
      change: (fn) => {
        this.#requireRunning();
        handle.change(fn);
        this.#saves?.wrote(handle.documentId);
      },
    };
  }

  async #hold(councilHandle: DocHandle<CouncilDoc>, ledgerHandle: DocHandle<LedgerDoc>): Promise<HeldCouncil> {
    const council = await Council.open(
      { council: this.#live(councilHandle), ledger: this.#live(ledgerHandle) },
      {
        identity: this.identity,
        ...(this.#init.verified ? { verified: this.#init.verified } : {}),
        ...(this.#init.now ? { now: this.#init.now } : {}),
        ...(this.#init.checkActs ? { checkActs: true } : {}),
      },
    );
    const held: HeldCouncil = { council, councilHandle, ledgerHandle };
    this.#councils.set(council.id, held);
    this.access.register(council.id, [councilHandle.documentId, ledgerHandle.documentId] as DocumentId[]);
    this.access.update(council.id, council.current());
    const refresh = this.#debounced(async () => {
      await council.refresh();
      this.access.update(council.id, council.current());
      // Federations judge delegates' votes by their councils' states.
      for (const f of this.#federations.values()) f.refresh();
    });
    onChange(councilHandle, refresh);
    onChange(ledgerHandle, refresh);
    this.#recoverIfHarmed(council);
    // A council newly held here may be what a federation needed to derive its genesis, members and name.
    for (const f of this.#federations.values()) f.refresh();
    return held;
  }

  /**
   * Looks through the history of a council or federation just held for records harmed before this node read them,
   * when what it derived suggests harm: the look decodes every change, so it runs once, in the background. Whatever
   * it writes back reaches the peers by sync, and the node's change listeners refresh access as for any change.
   */
  #recoverIfHarmed(held: Council | Federation): void {
    if (!held.showsHarm()) return;
    const run = held
      .recover()
      .then(() => {})
      .catch((err) => this.libp2p.logger.forComponent("federa:node").error("could not recover %s - %e", held.id, err));
    this.#pending.add(run);
    void run.finally(() => this.#pending.delete(run));
  }

  /** A refresh that runs once per burst of change events, tracked so `stop` can wait for it. */
  #debounced(fn: () => Promise<void>): () => void {
    let scheduled = false;
    return () => {
      if (scheduled) return;
      scheduled = true;
      const run = (async () => {
        await Promise.resolve();
        scheduled = false;
        await fn();
      })().catch(() => {});
      this.#pending.add(run);
      void run.finally(() => this.#pending.delete(run));
    };
  }

  /** Federations held, by id. */
  federations(): HeldFederation[] {
    return [...this.#federations.values()].map(({ federation, handle }) => ({ federation, handle }));
  }

  /**
   * Founds a federation of councils this node holds (and others named by URL): the founder must be a member of one
   * of them. Its document records where each member council's documents are.
   */
  async foundFederation(init: {
    name: string;
    councils: readonly CouncilId[];
    urls?: Readonly<Record<string, string>>;
    charter?: FoundFederationInit["charter"];
  }): Promise<HeldFederation> {
    this.#requireRunning();
    const founded = await foundFederation(this.identity, {
      name: init.name,
      councils: init.councils,
      ...(init.charter ? { charter: init.charter } : {}),
      ...(this.#init.now ? { now: this.#init.now } : {}),
    });
    const held = await this.holdFederation(founded.federation);
    const urls: Record<string, string> = { ...(init.urls ?? {}) };
    for (const id of init.councils) {
      const held = this.#councils.get(id);
      if (held) urls[id] = held.councilHandle.url;
    }
    held.handle.change((d) => {
      d.federa.councils = urls;
    });
    return held;
  }

  /**
   * Holds a federation founded elsewhere (signed with a member's own key on another device, say): imports its
   * document and shares it with the member councils' devices, as `foundFederation` does with its own.
   */
  async holdFederation(doc: A.Doc<FederationDoc>): Promise<HeldFederation> {
    this.#requireRunning();
    const started = this.#leaves;
    const id = doc.federa.federation as FederationId;
    const existing = this.#federations.get(id);
    if (existing !== undefined) return { federation: existing.federation, handle: existing.handle };
    return this.#once(this.#holdingFederations, id, () =>
      this.#holdFederation(this.repo.import<FederationDoc>(A.save(doc)), started),
    );
  }

  /**
   * Opens a federation, fetching it and its member councils' documents from peers that may share them (devices of
   * member councils, or peers vouched for with `trustFor`).
   */
  async openFederation(
    url: AutomergeUrl,
    options: { signal?: AbortSignal; timeoutMs?: number; federation?: FederationId } = {},
  ): Promise<HeldFederation> {
    const signal = this.#waitSignal(options);
    const started = this.#leaves;
    const handle = await this.#find<FederationDoc>(url, signal);
    const id = handle.doc().federa?.federation as FederationId;
    let held: HeldFederation;
    try {
      // The id a document claims is its own content: one that is not the federation an invitation named is refused.
      if (options.federation !== undefined && id !== options.federation)
        throw new UnknownDocumentError(`${url} is not federation ${options.federation}`);
      const existing = this.#federations.get(id);
      if (existing) return { federation: existing.federation, handle: existing.handle };
      held = await this.#once(this.#holdingFederations, id, () => this.#holdFederation(handle, started));
    } catch (e) {
      this.access.unwant(handle.documentId); // not held: what arrived of it goes to no one
      throw e;
    }
    const links = handle.doc().federa.councils ?? {};
    for (const council of this.memberCouncils(held)) {
      const councilUrl = links[council];
      if (councilUrl !== undefined && !this.#councils.has(council))
        await this.openCouncil(councilUrl as AutomergeUrl, { signal, council }).catch(() => {});
    }
    held.federation.refresh().catch(() => {});
    return held;
  }

  /**
   * A federation's member councils as this node knows them: those its derived state names or, until its records can
   * be vouched for here, those its genesis names (never the document's links, which anyone holding it can edit).
   */
  memberCouncils(held: HeldFederation): CouncilId[] {
    const derived = held.federation.current().councils.map((c) => c.id);
    return derived.length > 0 ? derived : foundingCouncils(held.handle.doc(), held.federation.id);
  }

  /**
   * Vouches for a delegate's device in a federation, for its council when known and until `until` when given, before
   * that council has synced here (see `AccessPolicy.trustFor`).
   */
  trustFor(federation: FederationId, peer: string, council?: CouncilId, until?: number): void {
    this.access.trustFor(federation, peer, council, until);
  }

  /**
   * Stops following a federation: its document is no longer synced or shared from here, its vouches end, and the
   * councils held stop sharing with its other councils on its account (they stay held until the node stops). Returns
   * false when it was not held (an open of it under way then fails). The document stays in storage.
   */
  leaveFederation(federation: FederationId): boolean {
    // Also ends an open of it under way: it throws `FederationLeftError` rather than hold it.
    this.#leftAt.set(federation, ++this.#leaves);
    const held = this.#federations.get(federation);
    this.access.forgetFederation(federation);
    if (held === undefined) return false;
    held.handle.off("change", held.refresh);
    this.#federations.delete(federation);
    return true;
  }

  /** Withdraws a vouch given with `trustFor`. */
  distrustFor(federation: FederationId, peer: string): void {
    this.access.distrustFor(federation, peer);
  }

  /** True when `federation` was left after `started` (the count of leaves when an open of it began). */
  #leftSince(federation: FederationId, started: number): boolean {
    return (this.#leftAt.get(federation) ?? -1) >= started + 1;
  }

  async #holdFederation(handle: DocHandle<FederationDoc>, started: number): Promise<HeldFederation> {
    const states = () => new Map(this.councils().map((h) => [h.council.id, h.council.current()] as const));
    const federation = await Federation.open(this.#live(handle), {
      councils: states,
      identity: this.identity,
      ...(this.#init.verified ? { verified: this.#init.verified } : {}),
      ...(this.#init.now ? { now: this.#init.now } : {}),
      ...(this.#init.checkActs ? { checkActs: true } : {}),
    });
    const id = handle.doc().federa.federation as FederationId;
    if (this.#leftSince(id, started)) throw new FederationLeftError(id);
    this.access.registerFederation(id, handle.documentId);
    const update = async () => {
      await federation.refresh();
      if (this.#leftSince(id, started)) return; // left meanwhile: nothing of it is shared or written any more
      const state = federation.current();
      const withdrawn = state.councils.filter((c) => c.withdrawn).map((c) => c.id);
      this.access.updateFederation(id, this.memberCouncils({ federation, handle }), state.name, withdrawn);
      this.#announceWithdrawals(federation, state);
    };
    const refresh = this.#debounced(update);
    await update();
    if (this.#leftSince(id, started)) throw new FederationLeftError(id);
    onChange(handle, refresh);
    this.#federations.set(id, { federation, handle, refresh });
    this.#recoverIfHarmed(federation);
    return { federation, handle };
  }

  /**
   * Announces in the federation's document each council held here, of which this identity is a member, that has
   * recalled every mandate it gave for the federation: the recall stays in the council's own documents, which it stops
   * sharing at that record, so this is how the other councils learn that it left.
   */
  #announceWithdrawals(federation: Federation, state: FederationState): void {
    // Signed by the member's own key: a device the other councils never saw authorised could not speak for it there.
    if (this.identity.memberKey === undefined || this.#stopping.signal.aborted) return;
    const named = { id: federation.id, name: state.name };
    for (const c of state.councils) {
      const held = this.#councils.get(c.id);
      if (c.withdrawn || held === undefined) continue;
      const own = held.council.current();
      if (!own.members.some((m) => m.id === this.identity.member)) continue;
      const mandates = own.mandates.filter((m) => namesFederation(m.body, named));
      // Never mandated here (a stranger's federation naming it), or still is: nothing to announce.
      if (mandates.length === 0 || mandates.some((m) => m.recalledAt === null)) continue;
      const since = Math.max(...mandates.map((m) => m.recalledAt!.ms));
      // Once per recall: an announcement that did not take effect is not written again on every change.
      const key = `${federation.id}/${c.id}/${since}`;
      if (this.#announced.has(key)) continue;
      this.#announced.add(key);
      void federation.withdraw({ council: c.id, since }).catch(() => {
        this.#announced.delete(key); // refused here (a stale state, say): the next refresh may try again
      });
    }
  }

  /**
   * Writes what the councils and federations held have changed to storage, and resolves once it is there: a write
   * resolves before automerge-repo has saved it (saves are batched), so call this before telling anyone it is kept.
   */
  async flush(): Promise<void> {
    this.slices.drain(); // what was received is kept too
    await this.repo.flush(this.#heldDocuments());
  }

  /** The documents of every council and federation held (handles still waiting for a document cannot be flushed). */
  #heldDocuments(): DocumentId[] {
    return [
      ...this.councils().flatMap((c) => [c.councilHandle.documentId, c.ledgerHandle.documentId]),
      ...this.federations().map((f) => f.handle.documentId),
    ];
  }

  /**
   * Ends opens under way and refuses further writes (`NodeStoppedError`), waits for pending derivations, flushes
   * storage and stops libp2p; calling it again waits for the same stop.
   */
  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      this.#stopping.abort(new NodeStoppedError());
      for (const stop of [...this.#redials]) stop();
      this.dials.stop();
      this.lookups.stop();
      this.peerExchange.stop();
      await Promise.allSettled([...this.#pending]);
      this.slices.close(); // and anything received until libp2p stops is applied at once
      await this.repo.flush(this.#heldDocuments()).catch(() => {});
      await this.repo.shutdown().catch(() => {});
      this.#storage?.close(); // automerge-repo's throttled saves of sync state may still fire
      await this.libp2p.stop();
      await exclusive(this.#init.storage)?.unlock();
    })();
    return this.#stopped;
  }
}

/** Builds and starts a node. */
export function createNode(init: FederaNodeInit): Promise<FederaNode> {
  return FederaNode.create(init);
}

/** automerge-repo's answer for a document that no peer and no storage holds (yet). */
function isUnavailable(err: unknown): boolean {
  return err instanceof Error && /\bunavailable\b/i.test(err.message);
}

/**
 * Waits for `promise` until `signal` aborts, then rejects with the signal's reason. automerge-repo's own `signal`
 * option arms a promise per call that rejects unhandled when the signal ends after a failed load (a damaged file), which
 * would end the process; the wait is raced here instead.
 */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  promise.catch(() => {}); // a failure after the wait ended is nobody's to handle
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    void promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** True when this node's Repo holds some content of `document`. */
function holdsContent(repo: Repo, document: DocumentId): boolean {
  const handle = repo.handles[document];
  return handle?.isReady() === true && A.getHeads(handle.doc()).length > 0;
}

/**
 * One place's computer: a real Federa node (libp2p over the memory transport, automerge-repo, storage) holding both
 * councils and the federation, with the councils and federation opened for each person who acts there.
 */
import * as A from "@automerge/automerge";
import type { AutomergeUrl, DocHandle, StorageAdapterInterface } from "@automerge/automerge-repo";
import type { CouncilState, FederaRecord, FederationDoc, FederationState } from "@federa/core";
import { Council, Federation } from "@federa/core";
import type { FederaNode, HeldCouncil } from "@federa/net";
import { createNode } from "@federa/net";
import type { PeerId } from "@libp2p/interface";
import { multiaddr } from "@multiformats/multiaddr";
import type { CouncilKey, Keys, PlaceId } from "./cast.js";
import { COUNCIL_KEYS } from "./cast.js";
import type { DemoClock } from "./clock.js";
import { LatencyKnob } from "./latency.js";
import type { Links } from "./links.js";

/** The automerge heads of each document a place holds: equal heads mean equal documents. */
export interface PlaceHeads {
  readonly bakery: { readonly council: readonly string[]; readonly ledger: readonly string[] };
  readonly tenants: { readonly council: readonly string[]; readonly ledger: readonly string[] };
  readonly federation: readonly string[];
}

/** What a place derives from what it holds. */
export interface PlaceView {
  readonly councils: Readonly<Record<CouncilKey, CouncilState>>;
  readonly federation: FederationState;
  /** Valid records per council and of the federation, in derivation order (for the timeline). */
  readonly records: Readonly<Record<CouncilKey | "federation", readonly RecordMark[]>>;
  readonly heads: PlaceHeads;
  /** Places this node holds a connection with. */
  readonly connected: readonly PlaceId[];
}

/** A record as the timeline draws it. */
export interface RecordMark {
  readonly id: string;
  readonly kind: string;
  readonly ms: number;
  readonly author: string;
}

/** How a place's node is built. */
export interface PlaceNodeInit {
  readonly place: PlaceId;
  readonly keys: Keys;
  readonly links: Links;
  readonly clock: DemoClock;
  /** A name unique to this run of the demo (memory addresses are global to the page). */
  readonly run: string;
  readonly storage?: StorageAdapterInterface;
}

const markOf = (r: FederaRecord): RecordMark => ({ id: r.id, kind: r.kind, ms: r.at.ms, author: r.author });

/** The memory address of a place in a run. */
export function addressOf(run: string, place: PlaceId): string {
  return `/memory/federa-demo-${run}-${place}`;
}

export class PlaceNode {
  readonly place: PlaceId;
  readonly node: FederaNode;
  readonly latency: LatencyKnob;
  readonly #init: PlaceNodeInit;
  readonly #held = new Map<CouncilKey, HeldCouncil>();
  readonly #actors = new Map<string, Council>();
  readonly #fedActors = new Map<string, Federation>();
  #federation: { handle: DocHandle<FederationDoc>; reader: Federation } | undefined;
  #onChange: () => void = () => {};

  private constructor(init: PlaceNodeInit, node: FederaNode, latency: LatencyKnob) {
    this.place = init.place;
    this.node = node;
    this.latency = latency;
    this.#init = init;
  }

  /** Starts the node: it listens on its memory address and only connects where the network panel allows. */
  static async start(init: PlaceNodeInit): Promise<PlaceNode> {
    const latency = new LatencyKnob();
    const { keys, links, place } = init;
    const refuse = (peer: PeerId) => {
      const other = keys.placeOf(peer.toString());
      return other === undefined || !links.allows(place, other);
    };
    const node = await createNode({
      identity: keys.node(place),
      now: init.clock.now,
      ...(init.storage ? { storage: init.storage } : {}),
      libp2p: {
        addresses: { listen: [addressOf(init.run, place)] },
        transports: [latency.transport()],
        connectionGater: {
          denyDialPeer: refuse,
          denyInboundEncryptedConnection: refuse,
          denyOutboundEncryptedConnection: refuse,
        },
      },
    });
    return new PlaceNode(init, node, latency);
  }

  /** Called (debounced by the caller) whenever a document of this place changes. */
  set onChange(fn: () => void) {
    this.#onChange = fn;
  }

  council(key: CouncilKey): HeldCouncil {
    const held = this.#held.get(key);
    if (held === undefined) throw new Error(`${this.place} does not hold the ${key} council yet`);
    return held;
  }

  get federation(): Federation {
    if (this.#federation === undefined) throw new Error(`${this.place} does not hold the federation yet`);
    return this.#federation.reader;
  }

  get federationHandle(): DocHandle<FederationDoc> {
    if (this.#federation === undefined) throw new Error(`${this.place} does not hold the federation yet`);
    return this.#federation.handle;
  }

  /** Opens a council by its document URL (from this node's repo, or from connected places). */
  async openCouncil(key: CouncilKey, url: AutomergeUrl): Promise<HeldCouncil> {
    const held = await this.node.openCouncil(url, { timeoutMs: 60_000 });
    this.#held.set(key, held);
    held.councilHandle.on("change", () => this.#onChange());
    held.ledgerHandle.on("change", () => this.#onChange());
    return held;
  }

  /** Holds the federation document (founded elsewhere, or fetched from connected places); the node shares it. */
  async openFederation(source: { url: AutomergeUrl } | { doc: A.Doc<FederationDoc> }): Promise<void> {
    const held =
      "doc" in source
        ? await this.node.holdFederation(source.doc)
        : await this.node.openFederation(source.url, { timeoutMs: 60_000 });
    this.#federation = { handle: held.handle, reader: held.federation };
    held.handle.on("change", () => this.#onChange());
  }

  /** The council as `person` acts on it from this place's computer (their own device key here). */
  async actor(key: CouncilKey, person: string): Promise<Council> {
    const id = `${key}/${person}`;
    let council = this.#actors.get(id);
    if (council === undefined) {
      const held = this.council(key);
      council = await Council.open(
        { council: held.councilHandle, ledger: held.ledgerHandle },
        // An act this computer's replica would exclude is refused with its reason rather than written for good.
        { identity: this.#init.keys.identity(person, this.place), now: this.#init.clock.now, checkActs: true },
      );
      this.#actors.set(id, council);
    }
    return council;
  }

  /** The federation as `person` acts on it from this place's computer. */
  async federationActor(person: string): Promise<Federation> {
    let federation = this.#fedActors.get(person);
    if (federation === undefined) {
      federation = await Federation.open(this.federationHandle, {
        councils: COUNCIL_KEYS.map((k) => this.council(k).council),
        identity: this.#init.keys.identity(person, this.place),
        now: this.#init.clock.now,
      });
      this.#fedActors.set(person, federation);
    }
    return federation;
  }

  /** Reads whatever the documents gained and derives every state this place shows. */
  async view(): Promise<PlaceView> {
    const bakery = this.council("bakery").council;
    const tenants = this.council("tenants").council;
    const councils = { bakery: await bakery.state(), tenants: await tenants.state() };
    const federation = await this.federation.state();
    return {
      councils,
      federation,
      records: {
        bakery: bakery.records.map(markOf),
        tenants: tenants.records.map(markOf),
        federation: this.federation.records.map(markOf),
      },
      heads: this.heads(),
      connected: this.connected(),
    };
  }

  /** The heads of every document this place holds. */
  heads(): PlaceHeads {
    const of = (handle: DocHandle<unknown>) => [...A.getHeads(handle.doc() as A.Doc<unknown>)].sort();
    const council = (k: CouncilKey) => ({
      council: of(this.council(k).councilHandle),
      ledger: of(this.council(k).ledgerHandle),
    });
    return { bakery: council("bakery"), tenants: council("tenants"), federation: of(this.federationHandle) };
  }

  /** The places this node holds an open connection with. */
  connected(): PlaceId[] {
    const places = new Set<PlaceId>();
    for (const c of this.node.libp2p.getConnections()) {
      const p = this.#init.keys.placeOf(c.remotePeer.toString());
      if (p !== undefined && c.status === "open") places.add(p);
    }
    return [...places].sort();
  }

  /** Dials another place's node (the gater refuses when the panel says no). */
  async dial(other: PlaceId): Promise<void> {
    const peer = this.#init.keys.node(other).device.id;
    await this.node.libp2p.dial(multiaddr(`${addressOf(this.#init.run, other)}/p2p/${peer}`), {
      signal: AbortSignal.timeout(10_000),
    });
  }

  /** Closes every connection with another place. */
  async hangUp(other: PlaceId): Promise<void> {
    const peer = this.node.libp2p
      .getConnections()
      .find((c) => this.#init.keys.placeOf(c.remotePeer.toString()) === other)?.remotePeer;
    if (peer !== undefined) await this.node.libp2p.hangUp(peer);
  }

  async stop(): Promise<void> {
    await this.node.stop();
  }
}

/**
 * Members' nodes tell each other where the devices they share documents with can be reached. A node that reaches one
 * fellow member (by a bootstrap address, an mDNS answer or one DHT lookup) learns from it the addresses of the others
 * it shares documents with, instead of looking each of them up; and every node comes to know the smallest id of its
 * group, which keeps the sync trees joined. On `/federa/peers/1.0.0`, a request and an answer, each one JSON message
 * its writer ends by closing its side of the stream (as applications are sent).
 */
import type { Connection, IdentifyResult, Libp2p, PeerId, Stream } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import { multiaddr } from "@multiformats/multiaddr";
import { readApplyMessage, writeApplyMessage } from "./apply-protocol.js";

export const PEERS_PROTOCOL = "/federa/peers/1.0.0";
/** Devices told of in one message at most. */
export const MAX_PEERS_TOLD = 96;
/** Addresses per device at most. */
const MAX_ADDRESSES = 4;
/** A message stays under this many bytes of JSON, within what the reader takes (64 KiB). */
const MAX_MESSAGE_CHARS = 60_000;
/** How long a node waits for the message of a peer that opened the stream. */
const READ_TIMEOUT_MS = 10_000;

/** What the exchange needs of the node. */
export interface PeerExchangeInit {
  /** True for a peer this node exchanges with: one it knows (a member's device, a trusted inviter). */
  readonly knows: (peer: string) => boolean;
  /** The devices `peer` may be told of: those it shares documents with through this node. */
  readonly tell: (peer: string) => Iterable<string>;
  /** True for a device this node wants to reach: addresses of others are ignored. */
  readonly wants: (peer: string) => boolean;
  /** True while some device this node wants is neither connected nor known at an address that has not failed. */
  readonly missing: () => boolean;
  /** Told of each wanted device heard of, its addresses now in the peer store. */
  readonly heard: (peer: PeerId) => void;
}

/** One device in an answer: its id and where it listens. */
interface Told {
  readonly id: string;
  readonly addrs: readonly string[];
}

/** While devices are missing, the peers known are asked again after this long, doubling up to `MAX_ASK_AGAIN_MS`. */
export const ASK_AGAIN_MS = 2_000;
/** ...the longest wait between two rounds of asking. */
export const MAX_ASK_AGAIN_MS = 60_000;
/** A peer is answered at most once in this long (asking is cheap, answering reads the peer store); a request sooner
 * waits its turn. */
const ANSWER_EVERY_MS = 1_000;

/**
 * Asks known peers where the devices it shares documents with are, and answers theirs. A node asks a peer once
 * identify shows it speaks the protocol, every known peer when its councils change (it may want more devices now),
 * and again while some device it wants is missing: after 2 s, then twice as long each time, up to a minute.
 */
export class PeerExchange {
  readonly #libp2p: Libp2p;
  readonly #init: PeerExchangeInit;
  readonly #log: ReturnType<Libp2p["logger"]["forComponent"]>;
  /** Peers identified as speaking the protocol, by id. */
  readonly #speakers = new Set<string>();
  /** When each peer was last answered. */
  readonly #answered = new Map<string, number>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #askAgainMs = ASK_AGAIN_MS;
  #stopped = false;

  private constructor(libp2p: Libp2p, init: PeerExchangeInit) {
    this.#libp2p = libp2p;
    this.#init = init;
    this.#log = libp2p.logger.forComponent("federa:peers");
    this.#armTimer();
  }

  /** Asks again later while devices are missing, less and less often; as soon as none is, from the shortest wait. */
  #armTimer(): void {
    clearTimeout(this.#timer);
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      if (this.#init.missing()) {
        this.#askAll();
        this.#askAgainMs = Math.min(MAX_ASK_AGAIN_MS, this.#askAgainMs * 2);
      } else {
        this.#askAgainMs = ASK_AGAIN_MS;
      }
      this.#armTimer();
    }, this.#askAgainMs);
    (this.#timer as { unref?: () => void }).unref?.();
  }

  /** Serves the protocol on `libp2p` and asks each known peer that speaks it, once identified. */
  static async start(libp2p: Libp2p, init: PeerExchangeInit): Promise<PeerExchange> {
    const exchange = new PeerExchange(libp2p, init);
    await libp2p.handle(PEERS_PROTOCOL, (stream, connection) => exchange.#answer(stream, connection), {
      maxInboundStreams: 2,
      maxOutboundStreams: 2,
    });
    libp2p.addEventListener("peer:identify", exchange.#onIdentify);
    libp2p.addEventListener("peer:disconnect", exchange.#onDisconnect);
    return exchange;
  }

  /** Asks every known peer connected that speaks the protocol: call it when the devices wanted change. */
  reconsider(): void {
    this.#askAgainMs = ASK_AGAIN_MS;
    this.#askAll();
    this.#armTimer();
  }

  #askAll(): void {
    if (this.#stopped) return;
    for (const connection of this.#libp2p.getConnections()) {
      const peer = connection.remotePeer.toString();
      if (connection.status === "open" && this.#speakers.has(peer) && this.#init.knows(peer)) this.#ask(connection);
    }
  }

  /** Asks and answers nothing more. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#libp2p.removeEventListener("peer:identify", this.#onIdentify);
    this.#libp2p.removeEventListener("peer:disconnect", this.#onDisconnect);
  }

  readonly #onIdentify = (event: CustomEvent<IdentifyResult>): void => {
    const { peerId, protocols, connection } = event.detail;
    if (this.#stopped || !protocols.includes(PEERS_PROTOCOL)) return;
    this.#speakers.add(peerId.toString());
    if (this.#init.knows(peerId.toString())) this.#ask(connection);
  };

  readonly #onDisconnect = (event: CustomEvent<PeerId>): void => {
    this.#speakers.delete(event.detail.toString());
    this.#answered.delete(event.detail.toString());
  };

  #ask(connection: Connection): void {
    void (async () => {
      const signal = AbortSignal.timeout(READ_TIMEOUT_MS);
      const stream = await connection.newStream(PEERS_PROTOCOL, { signal });
      // Listening first: the answer may come before the request's end is written.
      const reading = readApplyMessage(stream, signal);
      reading.catch(() => {});
      await writeApplyMessage(stream, { v: 1 });
      for (const told of toldOf(await reading)) await this.#heard(told);
    })().catch((e) => this.#log("could not ask %p for its peers - %e", connection.remotePeer, e));
  }

  async #answer(stream: Stream, connection: Connection): Promise<void> {
    const from = connection.remotePeer.toString();
    if (this.#stopped || !this.#init.knows(from)) {
      stream.abort(new Error("not answered"));
      return;
    }
    // A second request within the second is answered when the second is up, not refused: the asker may want more
    // devices since (its councils changed). The stream limit per connection bounds how many wait.
    const due = (this.#answered.get(from) ?? 0) + ANSWER_EVERY_MS;
    this.#answered.set(from, Math.max(due, Date.now()));
    try {
      const request = (await readApplyMessage(stream, AbortSignal.timeout(READ_TIMEOUT_MS))) as { v?: unknown } | null;
      if (typeof request !== "object" || request === null || request.v !== 1) throw new Error("not a peers request");
      const wait = due - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      if (this.#stopped || !this.#init.knows(from)) throw new Error("no longer answered");
      await writeApplyMessage(stream, { v: 1, peers: await this.#told(from) });
    } catch (e) {
      // A bad request is not answered: it never stops the node.
      this.#log("did not answer %p - %e", connection.remotePeer, e);
      stream.abort(e as Error);
    }
  }

  /** What `to` may be told: the devices it shares documents with, where the peer store says they listen. */
  async #told(to: string): Promise<Told[]> {
    const peers: Told[] = [];
    let chars = 0;
    for (const id of this.#init.tell(to)) {
      if (peers.length >= MAX_PEERS_TOLD) break;
      if (id === to) continue;
      const addrs = await this.#addresses(id);
      if (addrs.length === 0) continue;
      chars += JSON.stringify({ id, addrs }).length + 1;
      if (chars > MAX_MESSAGE_CHARS) break;
      peers.push({ id, addrs });
    }
    return peers;
  }

  /** Where `id` listens, as the peer store has it (identify's listen addresses, a lookup's, an announcement's). */
  async #addresses(id: string): Promise<string[]> {
    try {
      const peer = await this.#libp2p.peerStore.get(peerIdFromString(id));
      return peer.addresses.slice(0, MAX_ADDRESSES).map((a) => a.multiaddr.toString());
    } catch {
      return []; // not in the peer store, or not a peer id
    }
  }

  async #heard(told: Told): Promise<void> {
    if (told.id === this.#libp2p.peerId.toString() || !this.#init.wants(told.id)) return;
    const peer = peerIdFromString(told.id);
    if (this.#libp2p.getConnections(peer).length > 0) return;
    const multiaddrs = told.addrs.flatMap((a) => {
      try {
        return [multiaddr(a)];
      } catch {
        return [];
      }
    });
    if (multiaddrs.length === 0) return;
    await this.#libp2p.peerStore.merge(peer, { multiaddrs });
    this.#init.heard(peer);
  }
}

/** The devices an answer tells of, as far as it has the shape of one; throws when it has none. */
function toldOf(message: unknown): Told[] {
  const m = message as { v?: unknown; peers?: unknown } | null;
  if (typeof m !== "object" || m === null || m.v !== 1 || !Array.isArray(m.peers))
    throw new Error("not a peers answer");
  const out: Told[] = [];
  for (const p of m.peers.slice(0, MAX_PEERS_TOLD) as unknown[]) {
    const entry = p as { id?: unknown; addrs?: unknown } | null;
    if (typeof entry !== "object" || entry === null || typeof entry.id !== "string" || !Array.isArray(entry.addrs))
      continue;
    try {
      peerIdFromString(entry.id);
    } catch {
      continue;
    }
    const addrs = (entry.addrs as unknown[]).filter((a): a is string => typeof a === "string").slice(0, MAX_ADDRESSES);
    out.push({ id: entry.id, addrs });
  }
  return out;
}

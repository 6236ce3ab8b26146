/**
 * The automerge-repo network adapter over libp2p: one authenticated sync stream per peer, whose automerge-repo peer id
 * is the Noise-authenticated libp2p peer id, carrying length-prefixed CBOR frames with backpressure.
 */
import type { DocumentId, Message, PeerId, PeerMetadata, StorageId } from "@automerge/automerge-repo/slim";
import { NetworkAdapter } from "@automerge/automerge-repo/slim";
import type { Connection, IdentifyResult, Libp2p, PeerId as Libp2pPeerId, Logger, Stream } from "@libp2p/interface";
import { EventEmitter } from "eventemitter3";
import type { Uint8ArrayList } from "uint8arraylist";
import type { ChangesAhead } from "./changes-ahead.js";
import {
  ACTIVATE_MINOR_VERSION,
  BUNDLE_MINOR_VERSION,
  DEFAULT_HANDSHAKE_TIMEOUT,
  DEFAULT_MAX_FRAME_SIZE,
  DEFAULT_MAX_INBOUND_STREAMS,
  DEFAULT_MAX_OUTBOUND_STREAMS,
  DEFAULT_OPEN_DELAY,
  DEFAULT_SYNC_TREE,
  HOLD_MINOR_VERSION,
  SYNC_PROTOCOL,
  SYNC_PROTOCOL_VERSION,
} from "./constants.js";
import { EphemeralSessions, isEphemeral } from "./ephemeral-sessions.js";
import {
  DuplicateStreamError,
  HandshakeTimeoutError,
  IncompatibleVersionError,
  InvalidFrameError,
  PeerIdMismatchError,
  PeerMismatchError,
  PeerRefusedError,
  StreamChurnError,
} from "./errors.js";
import { DEFLATE_RAW, DEFLATE_RAW_WINDOW, DeflateWindow } from "./frame-compression.js";
import type { Hello } from "./frames.js";
import {
  type ControlType,
  decodeFrame,
  decodeHello,
  encodeActivate,
  encodeControl,
  encodeDeflated,
  encodeFrame,
  encodeHello,
  encodeMessage,
  FrameDecoder,
  isControl,
  REPO_MESSAGE_TYPES,
  varintLength,
} from "./frames.js";
import { Inbox } from "./inbox.js";
import { checkSyncMessageShape, readSyncHeader, type SyncHeader } from "./sync-message-shape.js";
import type { DiscoveredTree, SyncTreeOptions } from "./sync-tree.js";
import { syncTreeNeighbours } from "./sync-tree.js";
import { inTurn } from "./turns.js";

/** Options of a {@link Libp2pNetworkAdapter}; everything but `libp2p` has a default in constants.ts. */
export interface Libp2pNetworkAdapterInit {
  /** The node to sync over. It needs identify; the adapter never dials, it only opens streams on connections. */
  readonly libp2p: Libp2p;
  /**
   * Decides whether a peer may sync at all, before it is sent a hello; a refused peer has its stream closed and
   * never becomes a candidate. Defaults to allowing every peer.
   */
  readonly allowPeer?: (peerId: PeerId) => boolean | Promise<boolean>;
  /** The libp2p protocol id of the sync stream. */
  readonly protocol?: string;
  /** Largest frame accepted from a peer; a peer is never sent a frame larger than the limit its hello announced. */
  readonly maxFrameSize?: number;
  /** Milliseconds a new stream has to complete the hello exchange. */
  readonly handshakeTimeout?: number;
  /** Milliseconds the peer with the higher id waits for the other to open the stream before opening it itself. */
  readonly openDelay?: number;
  readonly maxInboundStreams?: number;
  readonly maxOutboundStreams?: number;
  /**
   * Accept and pass on ephemeral messages that a peer relays from a third peer (automerge-repo gossips them). Their
   * origin cannot be authenticated, so by default they are dropped and ephemeral messages only travel one hop. Only
   * then does the Repo see each peer's ephemeral messages under one session (see ephemeral-sessions.ts); relayed
   * gossip keeps its origin's session ids, which the Repo remembers for as long as it runs.
   */
  readonly relayEphemeral?: boolean;
  /**
   * Bound the sync fan-out of a mesh: sync at once only over a tree of the streams (see sync-tree.ts) and hold the
   * others until traffic is quiet, so a merge crosses each node once instead of being relayed by every peer to every
   * peer. `false` syncs over every stream at once, as protocol 1.0 peers always do.
   */
  readonly syncTree?: Partial<SyncTreeOptions> | false;
  /**
   * The trees the node's discovery lays over the groups of peers it shares documents with (`DiscoveryDials.tree`).
   * Once a stream to each of its neighbours there is up, a stream to another member of those groups is spare (a
   * bootstrap link beside the tree, say): the adapter asks its peer to stop syncing over it (hold, protocol 1.3), and
   * both do if the peer finds it spare too, until traffic is quiet. Without it only the sync tree decides.
   */
  readonly discoveredTree?: () => DiscoveredTree | undefined;
  /**
   * Called with each received message before the Repo gets it: it may apply the message's changes itself and return
   * what is left, which then reaches the Repo on a later event-loop turn, before any other message of that stream
   * (see changes-ahead.ts). A hook that throws is logged and the message goes to the Repo whole.
   */
  readonly changesAhead?: ChangesAhead;
  /**
   * Whether `peer` may send or be sent messages about `documentId`; the others are dropped, unanswered, both ways.
   * Received, the Repo would answer them and keep a note of each such document and ephemeral session for good (a peer
   * sending them for ever new ids would grow its memory without end); sent, this is the last check before the wire,
   * after the Repo's share policy (whose sync rounds can run between a policy change and its re-check). Default: all.
   */
  readonly permits?: (peer: PeerId, documentId: DocumentId) => boolean;
  /** Bytes waiting to be sent to one peer past which its stream is closed (`OUTBOX_MAX_BYTES`). */
  readonly maxOutboxBytes?: number;
  /**
   * What a message must wait for before it is written (its document saved to disk, say), or undefined: messages to
   * one peer keep their order, so later ones wait too. A promise that rejects still lets the message go.
   */
  readonly beforeSend?: (message: Message) => Promise<unknown> | undefined;
  /**
   * Repacks the changes of a sync message to `peer`: returns the message's new data (see whole-documents.ts and
   * change-bundles.ts), or undefined to send it as it is. A hook that throws leaves the message as it is. It is called
   * when the message's turn to be written comes, not inside the Repo's round (a message of `PACK_TURN_BYTES` or more
   * in an event-loop turn of its own), so the document may hold changes made since the message: it must send none
   * beyond the message's heads.
   */
  readonly packChanges?: (documentId: DocumentId, data: Uint8Array, peer: PackTarget) => Uint8Array | undefined;
}

/** What `packChanges` knows of the peer a sync message goes to. */
export interface PackTarget {
  /** What the peer's last sync message about the document said it holds, if it sent one on this stream. */
  readonly said: SyncHeader | undefined;
  /** Whether it reads Automerge bundles (protocol 1.4). */
  readonly readsBundles: boolean;
}

/** Payload of `peer:rejected`. */
export interface PeerRejectedPayload {
  readonly peerId: PeerId;
  /** Why: one of the errors of errors.ts (refused, violation, incompatible version, handshake timeout). */
  readonly error: Error;
}

/** The adapter's own events, beside automerge-repo's (which the Repo listens to on the adapter itself). */
export interface Libp2pNetworkAdapterEvents {
  /** A peer's sync stream was closed because of something the peer did or is; other peers are unaffected. */
  "peer:rejected": (payload: PeerRejectedPayload) => void;
  /**
   * This node stopped syncing with a peer over a stream that stays open, both finding it spare (hold, protocol 1.3):
   * the Repo was told `peer-disconnected`, and gets a new `peer-candidate` when the stream is activated again.
   */
  "peer:held": (payload: { readonly peerId: PeerId }) => void;
}

/**
 * Control frames a peer may send in `CONTROL_WINDOW_MS`: an honest one sends a few per change of streams (a hold, its
 * answer, an activate once quiet), while each toggle has the Repo drop or add the peer over every document.
 */
export const MAX_CONTROL_FRAMES = 32;
const CONTROL_WINDOW_MS = 10_000;

/**
 * Sync streams a peer that `allowPeer` lets in may open in `STREAM_WINDOW_MS`: an honest one opens one per connection
 * (two when both ends open at once), while each replaces the last, with a handshake and the Repo's pass over
 * documents; 300 in a row cost a node about 1.6 s of CPU. The one past the limit is refused as a violation.
 */
export const MAX_STREAMS_OPENED = 16;
const STREAM_WINDOW_MS = 10_000;
/** Peers whose opened streams are counted at most: past it, counts older than the window are forgotten. */
const MAX_COUNTED_PEERS = 1_024;

/** A stream whose received frames wait unhandled past this many bytes is paused (its peer stops sending) until they
 * are handled. */
const INBOX_PAUSE_BYTES = 8 * 1024 * 1024;

/** A stream whose frames to send wait past this many bytes (its peer reads slower than it asks) has its received frames
 * left unhandled until they are sent: each message handled may add an answer. It goes on reading meanwhile. */
export const OUTBOX_HOLD_BYTES = 8 * 1024 * 1024;

/** A stream whose frames to send, or whose frames received and held, wait past this many bytes is closed (its peer may
 * sync again later): memory is bounded. */
export const OUTBOX_MAX_BYTES = 128 * 1024 * 1024;

/** Yamux's largest stream window: what a peer may still have in flight when its stream is paused. */
const MAX_STREAM_WINDOW = 16 * 1024 * 1024;

/** The longest delay a timer takes (larger ones fire at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A peer that refused to hold a spare stream is asked again after this long, doubling with each refusal... */
const ASK_AGAIN_MS = 1_000;
/** ...up to this. */
const MAX_ASK_AGAIN_MS = 60_000;

/**
 * A stream spare from the start syncs once before it may be held, until no sync message has crossed it for this long:
 * the discovered tree may be laid only in part (a busy node waits to dial), and then that stream can be the one link
 * between two halves, each finding its own neighbours linked.
 */
export const FIRST_ROUND_QUIET_MS = 1_000;

/** Held streams are checked this many times per `quietMs` (more often if `maxDeferMs` is shorter). */
const QUIET_CHECKS = 4;

function checkInterval(tree: SyncTreeOptions): number {
  return Math.min(tree.quietMs / QUIET_CHECKS, tree.maxDeferMs);
}

/** Refuses sync tree options the timers could not run with, when the adapter is made rather than in a timer later. */
function checkSyncTree(tree: SyncTreeOptions): SyncTreeOptions {
  if (!Number.isSafeInteger(tree.fanout) || tree.fanout < 1) {
    throw new RangeError(`syncTree.fanout must be a positive integer: ${tree.fanout}`);
  }
  for (const key of ["settleMs", "quietMs", "maxDeferMs"] as const) {
    if (!(tree[key] >= 0 && tree[key] <= MAX_TIMER_MS)) {
      throw new RangeError(`syncTree.${key} must be from 0 to ${MAX_TIMER_MS}: ${tree[key]}`);
    }
  }
  if (tree.quietMs === 0 || tree.maxDeferMs === 0)
    throw new RangeError("syncTree.quietMs and maxDeferMs must be positive");
  return tree;
}

type AdapterState = "idle" | "connected" | "disconnected" | "closed";

/** Frames and bytes (length prefixes included) the adapter wrote and read on all its sync streams, hellos included. */
export interface Libp2pTraffic {
  framesSent: number;
  bytesSent: number;
  framesReceived: number;
  bytesReceived: number;
  /** Sync messages sent with their changes repacked by `packChanges`. */
  messagesPacked: number;
}

/** The automerge-repo peer id of a libp2p peer: its peer id string. */
export function repoPeerId(peerId: Libp2pPeerId): PeerId {
  return peerId.toString() as PeerId;
}

/** A message this large or larger is packed in an event-loop turn of its own (see turns.ts): some 40 changes. */
export const PACK_TURN_BYTES = 16 * 1024;
/** What a message's ids and type add to its data, about, in the outbox's count before it is packed. */
const MESSAGE_HEADER_BYTES = 160;

/** The bytes a message is counted as while it waits to be packed. */
function messageBytes(message: Message): number {
  const { data } = message as { data?: unknown };
  return (data instanceof Uint8Array ? data.byteLength : 0) + MESSAGE_HEADER_BYTES;
}

/** A frame, or what makes it when its turn in a session's queue comes (undefined, or a throw, logged: nothing goes). */
type Outgoing = Uint8ArrayList | (() => Uint8ArrayList | undefined | Promise<Uint8ArrayList | undefined>);

/** One sync stream with one peer: its handshake progress, its frame decoder and its write queue. */
class SyncSession {
  readonly peerId: PeerId;
  readonly stream: Stream;
  readonly connection: Connection;
  readonly decoder: FrameDecoder;
  /** The stream was opened by us after `allowPeer` said yes, so it needs no second check. */
  readonly preApproved: boolean;
  remoteHello: Hello | undefined;
  /** The message payloads this node sent, for a peer that reads windowed frames (1.4), else undefined. */
  sendWindow: DeflateWindow | undefined;
  /** The message payloads received, which the peer's windowed frames are deflated against. */
  readonly receiveWindow = new DeflateWindow();
  greeting = false;
  helloSent = false;
  announced = false;
  /** Held streams are established but not yet handed to the Repo; see `syncTree`. */
  heldSince: number | undefined;
  /** Held at the peer's hold frame: its messages sent before it saw our held frame are dropped until its own. */
  awaitingHeld = false;
  /** A hold frame went to the peer and no held or activate frame has answered it: no second one goes meanwhile. */
  holdAsked = false;
  /** Held by agreement as spare: it syncs again once the node has no stream to a tree neighbour left. */
  spareHeld = false;
  /** It has synced (been handed to the Repo) at least once. */
  everSynced = false;
  /** It was spare when it first synced: no hold is asked or agreed to until its first round is over. */
  firstRound = false;
  /** When a document's sync message last crossed it, either way, or it started syncing. */
  lastSyncAt = 0;
  /** Holds the peer refused in a row: the next is asked no sooner than `askAgainAt`, twice as late each time. */
  refusals = 0;
  askAgainAt = 0;
  /** Control frames received since `controlWindowStart`: each hold or activate costs the Repo a pass over documents. */
  controls = 0;
  controlWindowStart = 0;
  askTimer: ReturnType<typeof setTimeout> | undefined;
  ended = false;
  /** Reading is paused while too many received bytes wait in the inbox. */
  paused = false;
  /** What each document's last sync message from the peer said it holds (see `PackTarget`). */
  readonly peerSaid = new Map<DocumentId, SyncHeader>();
  /** What the changes-ahead hook left of the last message, until it reaches the Repo. */
  rest: Message | undefined = undefined;
  /** The peer closed its side while frames still waited in the inbox: the session ends once they are handled. */
  remoteEnded = false;
  /** Inside `stream.resume()`, which may hand over buffered bytes. */
  resuming = false;
  timer: ReturnType<typeof setTimeout> | undefined;
  readonly #log: Logger;
  /** Frames to write, each after what it waits for (`beforeSend`) when anything. */
  readonly #queue: { readonly out: Outgoing; readonly bytes: number; readonly after: Promise<unknown> | undefined }[] =
    [];
  /** Bytes of the frames in `#queue` (of a frame made in turn, the message it is made from). */
  queuedBytes = 0;
  /** Called whenever the queue falls to half of `OUTBOX_HOLD_BYTES` or has been written out. */
  onSent: () => void = () => {};
  #pumping = false;

  constructor(stream: Stream, connection: Connection, maxFrameSize: number, preApproved: boolean, log: Logger) {
    this.peerId = repoPeerId(connection.remotePeer);
    this.stream = stream;
    this.connection = connection;
    this.decoder = new FrameDecoder(maxFrameSize);
    this.preApproved = preApproved;
    this.#log = log;
  }

  get established(): boolean {
    return this.helloSent && this.remoteHello !== undefined;
  }

  /** Both ends can still write: a stream whose remote closed or reset it is dead even before its close event. */
  isAlive(): boolean {
    return (
      !this.ended &&
      this.stream.status === "open" &&
      this.stream.writeStatus === "writable" &&
      this.stream.remoteWriteStatus === "writable" &&
      this.connection.status === "open"
    );
  }

  /**
   * Queues a frame, counted as `bytes`; frames go out in order, each after `after` settles when given, waiting for the
   * stream to drain whenever `send` says it is full.
   */
  write(out: Outgoing, bytes: number, after?: Promise<unknown>): void {
    this.#queue.push({ out, bytes, after });
    this.queuedBytes += bytes;
    if (!this.#pumping) {
      this.#pump().catch((err) => this.#log.trace("stopped writing to %s - %e", this.peerId, err));
    }
  }

  /** Whether the stream has ended, in which case nothing waiting is written any more. */
  #droppedOnEnd(): boolean {
    if (!this.ended) return false;
    this.#queue.length = 0;
    this.queuedBytes = 0;
    return true;
  }

  async #pump(): Promise<void> {
    this.#pumping = true;
    try {
      let next = this.#queue.shift();
      while (next !== undefined) {
        // Settled either way: what it waited for failing is the caller's to report, the frame still goes.
        if (next.after !== undefined) await next.after.catch(() => {});
        if (this.#droppedOnEnd()) return;
        let frame: Uint8ArrayList | undefined;
        try {
          frame = typeof next.out === "function" ? await next.out() : next.out;
        } catch (err) {
          // One message lost, not the stream: the Repo's next sync round with the peer sends what it lacks.
          this.#log.error("could not make a frame for %s - %e", this.peerId, err);
        }
        this.queuedBytes -= next.bytes;
        // A peer reading about as fast as it is sent to may never see the queue empty: it is released sooner.
        if (this.queuedBytes <= OUTBOX_HOLD_BYTES / 2) this.onSent();
        if (this.#droppedOnEnd()) return;
        if (frame !== undefined && !this.stream.send(frame)) await this.stream.onDrain();
        next = this.#queue.shift();
      }
    } finally {
      this.#pumping = false;
    }
    this.onSent();
  }
}

/**
 * Syncs an automerge-repo Repo over an existing libp2p node. The Repo must use the node's peer id as its own:
 *
 * ```ts
 * const adapter = new Libp2pNetworkAdapter({ libp2p });
 * const repo = new Repo({ network: [adapter], peerId: adapter.peerId });
 * ```
 */
export class Libp2pNetworkAdapter extends NetworkAdapter {
  /** This node's automerge-repo peer id: its libp2p peer id. */
  override readonly peerId: PeerId;
  /** The adapter's own events; automerge-repo's are emitted on the adapter itself. */
  readonly events = new EventEmitter<Libp2pNetworkAdapterEvents>();
  /** Running totals of what went over the sync streams (a few additions per frame). */
  readonly traffic: Libp2pTraffic = {
    framesSent: 0,
    bytesSent: 0,
    framesReceived: 0,
    bytesReceived: 0,
    messagesPacked: 0,
  };
  readonly #libp2p: Libp2p;
  readonly #log: Logger;
  readonly #allowPeer: (peerId: PeerId) => boolean | Promise<boolean>;
  readonly #protocol: string;
  readonly #maxFrameSize: number;
  readonly #handshakeTimeout: number;
  readonly #openDelay: number;
  readonly #maxInboundStreams: number;
  readonly #maxOutboundStreams: number;
  readonly #relayEphemeral: boolean;
  readonly #syncTree: SyncTreeOptions | undefined;
  readonly #discoveredTree: (() => DiscoveredTree | undefined) | undefined;
  #treeTimer: ReturnType<typeof setTimeout> | undefined;
  #heldTimer: ReturnType<typeof setInterval> | undefined;
  /** Sync messages that crossed any stream, and their count at the last check of held streams: quiet is no change. */
  #frames = 0;
  /** When a sync message last crossed any sync stream, either way (ms since the epoch). */
  #lastFrameAt = Number.NEGATIVE_INFINITY;
  #framesAtCheck = 0;
  /** Checks in a row that saw no frame; counted in checks, not time, so a busy event loop never looks quiet. */
  #quietChecks = 0;
  readonly #sessions = new Map<string, SyncSession>();
  /** The storage id each peer first announced (see `#pinned`). */
  readonly #storageIds = new Map<string, StorageId>();
  /** Each peer's ephemeral session, so the Repo notes one per peer (see ephemeral-sessions.ts). */
  readonly #ephemeral = new EphemeralSessions();
  /** Frames received and not yet handled: one message per event-loop turn, streams in turn. */
  readonly #inbox = new Inbox<SyncSession>({
    handle: (session, frame) => this.#handleFrame(session, frame),
    drained: (session) => this.#drained(session),
    failed: (session, err) => this.#log.error("handling a frame from %s failed - %e", session.peerId, err),
  });
  /** Peers we are opening a stream to, so repeated identify events do not open several. */
  readonly #opening = new Set<string>();
  /** Peers whose sync stream was refused or rejected, left out of the sync tree while connected. */
  readonly #turnedAway = new Set<string>();
  /** Peers identify says do not speak the sync protocol (DHT peers, applicants): left out of the sync tree. */
  readonly #notSync = new Set<string>();
  readonly #onIdentify = (event: CustomEvent<IdentifyResult>) => {
    const peer = event.detail.peerId.toString();
    if (event.detail.protocols.includes(this.#protocol)) this.#notSync.delete(peer);
    else this.#notSync.add(peer);
  };
  readonly #onPeerGone = (event: CustomEvent<Libp2pPeerId>) => {
    this.#notSync.delete(event.detail.toString());
    this.#turnedAway.delete(event.detail.toString());
  };
  readonly #started: Promise<void>;
  readonly #changesAhead: ChangesAhead | undefined;
  readonly #permit: (peer: PeerId, documentId: DocumentId) => boolean;
  readonly #maxOutboxBytes: number;
  readonly #beforeSend: ((message: Message) => Promise<unknown> | undefined) | undefined;
  readonly #packChanges: Libp2pNetworkAdapterInit["packChanges"];
  /** Streams each peer opened in the current window (`MAX_STREAMS_OPENED`). */
  readonly #opened = new Map<string, { since: number; streams: number }>();
  #ready = false;
  #state: AdapterState = "idle";
  #topologyId: string | undefined;

  constructor(init: Libp2pNetworkAdapterInit) {
    super();
    this.#libp2p = init.libp2p;
    this.#log = init.libp2p.logger.forComponent("federa:sync");
    this.#allowPeer = init.allowPeer ?? (() => true);
    this.#protocol = init.protocol ?? SYNC_PROTOCOL;
    this.#maxFrameSize = init.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    this.#handshakeTimeout = init.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
    this.#openDelay = init.openDelay ?? DEFAULT_OPEN_DELAY;
    this.#maxInboundStreams = init.maxInboundStreams ?? DEFAULT_MAX_INBOUND_STREAMS;
    this.#maxOutboundStreams = init.maxOutboundStreams ?? DEFAULT_MAX_OUTBOUND_STREAMS;
    this.#relayEphemeral = init.relayEphemeral ?? false;
    this.#changesAhead = init.changesAhead;
    this.#permit = init.permits ?? (() => true);
    this.#maxOutboxBytes = init.maxOutboxBytes ?? OUTBOX_MAX_BYTES;
    this.#beforeSend = init.beforeSend;
    this.#packChanges = init.packChanges;
    this.#syncTree = init.syncTree === false ? undefined : checkSyncTree({ ...DEFAULT_SYNC_TREE, ...init.syncTree });
    this.#discoveredTree = init.discoveredTree;
    this.peerId = repoPeerId(init.libp2p.peerId);
    this.#started = this.#start();
    // A failed start is reported to whoever awaits whenReady(); this keeps it from also being an unhandled rejection.
    this.#started.catch((err) => this.#log.error("could not register the sync protocol - %e", err));
  }

  /** True once the node is started and the sync protocol handler and topology are registered. */
  override isReady(): boolean {
    return this.#ready;
  }

  /** Resolves when {@link isReady} becomes true; it never waits for peers. Rejects if registration failed. */
  override whenReady(): Promise<void> {
    return this.#started;
  }

  /** Called by the Repo: starts syncing with every connected peer that speaks the protocol, and with later ones. */
  override connect(peerId: PeerId, peerMetadata?: PeerMetadata): void {
    if (peerId !== this.peerId) {
      const error = new PeerIdMismatchError(
        `The Repo's peer id ${peerId} is not the libp2p peer id ${this.peerId}: create the Repo with peerId: adapter.peerId`,
      );
      this.#log.error("%s", error.message);
      throw error;
    }
    if (this.#state === "closed") {
      this.#log.error("connect called on a closed sync adapter");
      return;
    }
    this.peerMetadata = peerMetadata ?? {};
    this.#state = "connected";
    // Streams peers opened before the Repo connected were held without a hello; greet them now.
    for (const session of this.#sessions.values()) void this.#greet(session);
    void this.#openToConnectedPeers();
  }

  /** Called by the Repo: sends a message to an announced peer; messages to unknown or gone peers are dropped. */
  override send(message: Message): void {
    if (this.#state !== "connected") {
      this.#log.trace("dropping a %s message to %s: adapter not connected", message.type, message.targetId);
      return;
    }
    const session = this.#sessions.get(message.targetId);
    if (session === undefined || !session.announced || session.ended || session.remoteHello === undefined) {
      this.#log.trace("dropping a %s message to %s: no sync stream", message.type, message.targetId);
      return;
    }
    if (message.senderId !== this.peerId && !(message.type === "ephemeral" && this.#relayEphemeral)) {
      this.#log.trace("dropping a %s message from %s: not ours to relay", message.type, message.senderId);
      return;
    }
    if (!this.#permits(session.peerId, message)) {
      this.#log.trace("dropping a %s message to %s: not permitted", message.type, session.peerId);
      return;
    }
    const limit = Math.min(this.#maxFrameSize, session.remoteHello.maxFrameSize);
    this.#crossed(session, message);
    const after = this.#waitFor(message);
    if (this.#packChanges === undefined) {
      const frame = this.#frame(session, message, limit);
      if (frame !== undefined) this.#write(session, frame, frame.byteLength, after);
      return;
    }
    // Packed when its place in the queue comes (deflate windows follow the order frames go out in), a large message
    // in an event-loop turn of its own: outside the Repo's round, which generates one for every peer in one stretch.
    const target = this.#packTarget(session, message);
    const make = () => (session.ended ? undefined : this.#frame(session, this.#packed(message, target), limit));
    const bytes = messageBytes(message);
    this.#write(session, bytes >= PACK_TURN_BYTES ? () => inTurn(make) : make, bytes, after);
  }

  /** `message` as the frame that carries it to the peer, deflated when the peer reads that; undefined if it cannot go. */
  #frame(session: SyncSession, message: Message, limit: number): Uint8ArrayList | undefined {
    let payload: Uint8Array;
    try {
      payload = encodeMessage(message);
    } catch (err) {
      this.#log.error("could not encode a %s message - %e", message.type, err);
      return undefined;
    }
    if (payload.byteLength > limit) {
      this.#log.error(
        "dropping a %d byte %s message to %s: over the %d byte frame limit",
        payload.byteLength,
        message.type,
        message.targetId,
        limit,
      );
      return undefined;
    }
    // The limit holds for the message itself, which is what the peer inflates a deflated frame to.
    if (session.sendWindow !== undefined || session.remoteHello?.compression?.includes(DEFLATE_RAW)) {
      payload = encodeDeflated(payload, session.sendWindow) ?? payload;
    }
    const frame = encodeFrame(payload, limit);
    this.traffic.framesSent++;
    this.traffic.bytesSent += frame.byteLength;
    return frame;
  }

  /** What `packChanges` is told of the peer a sync message goes to, as the peer stood when the Repo made it. */
  #packTarget(session: SyncSession, message: Message): PackTarget | undefined {
    if (message.type !== "sync" || message.documentId === undefined) return undefined;
    return {
      said: session.peerSaid.get(message.documentId),
      readsBundles: (session.remoteHello?.version.minor ?? 0) >= BUNDLE_MINOR_VERSION,
    };
  }

  /** `message` with its changes repacked for the peer, when `packChanges` does so. */
  #packed(message: Message, target: PackTarget | undefined): Message {
    const { data, documentId } = message as { data?: unknown; documentId?: DocumentId };
    if (target === undefined || !(data instanceof Uint8Array) || documentId === undefined) return message;
    if (this.#packChanges === undefined) return message;
    try {
      const packed = this.#packChanges(documentId, data, target);
      if (packed === undefined) return message;
      this.traffic.messagesPacked++;
      return { ...message, data: packed } as Message;
    } catch (err) {
      this.#log.error("packChanges threw for %s - %e", documentId, err);
      return message;
    }
  }

  /** What `beforeSend` says `message` waits for; a hook that throws makes it wait for nothing. */
  #waitFor(message: Message): Promise<unknown> | undefined {
    try {
      return this.#beforeSend?.(message);
    } catch (err) {
      this.#log.error("beforeSend threw for a %s message - %e", message.type, err);
      return undefined;
    }
  }

  /** Queues a frame of the adapter's own (hello, control), outside any deflate window. */
  #writeFrame(session: SyncSession, payload: Uint8Array): void {
    const frame = encodeFrame(payload, this.#maxFrameSize);
    this.traffic.framesSent++;
    this.traffic.bytesSent += frame.byteLength;
    this.#write(session, frame, frame.byteLength);
  }

  /** Queues `out` (counted as `bytes`), and holds or ends a session whose queue grows past the outbox's limits. */
  #write(session: SyncSession, out: Outgoing, bytes: number, after?: Promise<unknown>): void {
    session.write(out, bytes, after);
    if (session.queuedBytes > this.#maxOutboxBytes) {
      this.#log.error("closing the sync stream with %s: %d bytes wait to be sent", session.peerId, session.queuedBytes);
      // Not inside the Repo's send: it may be sending to its other peers in the same loop.
      queueMicrotask(() => this.#end(session, new Error("Peer does not read what it is sent")));
    } else if (session.queuedBytes > OUTBOX_HOLD_BYTES && !this.#inbox.isHeld(session)) {
      // Its answers pile up: take nothing more from it until they are out (its reading pauses once the inbox fills).
      this.#log("%s reads slowly: its messages wait until %d bytes are sent", session.peerId, session.queuedBytes);
      this.#inbox.hold(session);
      // Not inside the Repo's send: resuming may hand over frames whose handling ends the stream.
      queueMicrotask(() => this.#resume(session));
      session.onSent = () => {
        session.onSent = () => {};
        this.#inbox.release(session);
        this.#pauseIfFull(session);
      };
    }
  }

  /** Called by the Repo: closes every sync stream (peers see them go) and refuses new ones until `connect`. */
  override disconnect(): void {
    if (this.#state === "closed") return;
    this.#state = "disconnected";
    clearTimeout(this.#treeTimer);
    clearInterval(this.#heldTimer);
    this.#heldTimer = undefined;
    for (const session of [...this.#sessions.values()]) this.#end(session, new Error("Sync adapter disconnected"));
  }

  /** Disconnects, removes the protocol handler and topology from the node, and emits `close`. */
  async close(): Promise<void> {
    if (this.#state === "closed") return;
    this.disconnect();
    this.#state = "closed";
    try {
      await this.#started;
      if (this.#topologyId !== undefined) this.#libp2p.unregister(this.#topologyId);
      this.#libp2p.removeEventListener("peer:identify", this.#onIdentify);
      this.#libp2p.removeEventListener("peer:disconnect", this.#onPeerGone);
      await this.#libp2p.unhandle(this.#protocol);
    } catch (err) {
      this.#log.trace("could not unregister the sync protocol - %e", err);
    }
    this.#ready = false;
    this.emit("close");
  }

  async #start(): Promise<void> {
    if (this.#libp2p.status !== "started") {
      await new Promise<void>((resolve) => this.#libp2p.addEventListener("start", () => resolve(), { once: true }));
    }
    await this.#libp2p.handle(this.#protocol, (stream, connection) => this.#onInboundStream(stream, connection), {
      maxInboundStreams: this.#maxInboundStreams,
      maxOutboundStreams: this.#maxOutboundStreams,
    });
    this.#libp2p.addEventListener("peer:identify", this.#onIdentify);
    this.#libp2p.addEventListener("peer:disconnect", this.#onPeerGone);
    this.#topologyId = await this.#libp2p.register(this.#protocol, {
      onConnect: (peer, connection) => {
        void this.#openTo(peer, connection);
      },
    });
    this.#ready = true;
  }

  /** Whether the node syncs with `peer` now: a sync stream to it is up and handed to the Repo. */
  syncsWith(peer: string): boolean {
    const session = this.#sessions.get(peer);
    return session?.announced === true && !session.ended;
  }

  /**
   * Counts a message that crossed a sync stream, either way, for the quiet checks and `quietFor`: only what syncs
   * documents, since an application's presence gossip every second would otherwise keep a node busy for good.
   */
  #crossed(session: SyncSession, message: Message): void {
    if (isEphemeral(message)) return;
    this.#frames++;
    this.#lastFrameAt = Date.now();
    session.lastSyncAt = this.#lastFrameAt;
  }

  /** Milliseconds since a document's sync message last crossed any sync stream, either way (Infinity before the first). */
  quietFor(): number {
    return Date.now() - this.#lastFrameAt;
  }

  /**
   * Asks `allowPeer` again for every connected peer that has no sync stream, opening streams to those now allowed
   * (call it when the allowed set grows, for example after a member's new device is authorised).
   */
  reconsider(): Promise<void> {
    return this.#openToConnectedPeers();
  }

  /** Opens a sync stream on each open connection whose peer is known to speak the protocol. */
  async #openToConnectedPeers(): Promise<void> {
    try {
      await this.#started;
    } catch {
      return;
    }
    const seen = new Set<string>();
    for (const connection of this.#libp2p.getConnections()) {
      const key = connection.remotePeer.toString();
      if (seen.has(key) || connection.status !== "open" || connection.limits != null) continue;
      seen.add(key);
      try {
        const peer = await this.#libp2p.peerStore.get(connection.remotePeer);
        // Not awaited: peers that wait `openDelay` for the other side wait side by side.
        if (peer.protocols.includes(this.#protocol)) void this.#openTo(connection.remotePeer, connection);
      } catch (err) {
        this.#log.trace("peer %p not identified yet - %e", connection.remotePeer, err);
      }
    }
  }

  /**
   * Opens a sync stream to a peer on an existing connection unless one is open or opening, or the peer is refused.
   * The peer with the lower id opens at once; the other waits `openDelay` for that stream and opens only if none came
   * (the lower peer may not run the adapter yet), so both rarely open at once.
   */
  async #openTo(peer: Libp2pPeerId, connection: Connection): Promise<void> {
    const key = peer.toString();
    if (this.#state !== "connected" || this.#opening.has(key) || this.#sessions.get(key)?.isAlive()) return;
    if (connection.status !== "open" || connection.limits != null) return;
    this.#opening.add(key);
    try {
      if (this.peerId > key && this.#openDelay > 0) {
        await new Promise((resolve) => setTimeout(resolve, this.#openDelay));
        if (this.#state !== "connected" || this.#sessions.get(key)?.isAlive() || connection.status !== "open") return;
      }
      if (!(await this.#allows(key as PeerId))) {
        this.#rejected(key as PeerId, new PeerRefusedError(`Peer ${key} refused by allowPeer`));
        return;
      }
      // The peer may have opened a stream to us meanwhile: then that one is used.
      if (this.#state !== "connected" || this.#sessions.get(key)?.isAlive()) return;
      const stream = await connection.newStream(this.#protocol, {
        signal: AbortSignal.timeout(this.#handshakeTimeout),
      });
      this.#adopt(stream, connection, true);
    } catch (err) {
      this.#log("could not open a sync stream to %p - %e", peer, err);
    } finally {
      this.#opening.delete(key);
    }
  }

  #onInboundStream(stream: Stream, connection: Connection): void {
    this.#adopt(stream, connection, false);
  }

  /** Counts a stream `peer` opened; false once it opened more than `MAX_STREAMS_OPENED` within the window. */
  #countOpened(peer: PeerId): boolean {
    const now = Date.now();
    if (this.#opened.size >= MAX_COUNTED_PEERS) {
      for (const [key, count] of this.#opened) if (now - count.since >= STREAM_WINDOW_MS) this.#opened.delete(key);
    }
    let count = this.#opened.get(peer);
    if (count === undefined || now - count.since >= STREAM_WINDOW_MS) {
      count = { since: now, streams: 0 };
      this.#opened.set(peer, count);
    }
    return ++count.streams <= MAX_STREAMS_OPENED;
  }

  /** Takes a new stream (inbound or outbound), keeping a single stream per peer. */
  #adopt(stream: Stream, connection: Connection, preApproved: boolean): void {
    if (this.#state === "disconnected" || this.#state === "closed") {
      stream.abort(new Error("Sync adapter is disconnected"));
      return;
    }
    const key = connection.remotePeer.toString();
    const existing = this.#sessions.get(key);
    if (existing !== undefined) {
      if (existing.isAlive() && !this.#prefers(stream, existing.stream, key)) {
        this.#log("keeping the existing sync stream %s with %s, not %s", existing.stream.id, key, stream.id);
        stream.abort(new DuplicateStreamError());
        return;
      }
      this.#log("replacing the sync stream %s with %s by %s", existing.stream.id, key, stream.id);
      this.#end(existing, new DuplicateStreamError());
    }
    const session = new SyncSession(stream, connection, this.#maxFrameSize, preApproved, this.#log);
    this.#sessions.set(key, session);
    // A paused stream buffers what its peer had in flight (up to Yamux's window): that must not reset it.
    stream.maxReadBufferLength = Math.max(stream.maxReadBufferLength, this.#maxFrameSize, MAX_STREAM_WINDOW);
    stream.addEventListener("message", (event) => this.#onData(session, event.data));
    stream.addEventListener("end", () => {
      if (this.#inbox.has(session)) session.remoteEnded = true;
      else this.#onRemoteEnd(session);
    });
    stream.addEventListener("close", () => this.#end(session));
    session.timer = setTimeout(() => {
      this.#reject(session, new HandshakeTimeoutError(`Peer ${key} did not complete the sync handshake in time`));
    }, this.#handshakeTimeout);
    if (this.#state === "connected") void this.#greet(session);
  }

  /**
   * Whether a new stream should replace a live one with the same peer. When both peers opened one at once, both keep
   * the stream opened by the lower peer id; a peer opening a second stream itself has given up on its first.
   */
  #prefers(candidate: Stream, current: Stream, remote: string): boolean {
    if (candidate.direction !== current.direction) {
      const openedByUs = candidate.direction === "outbound";
      return openedByUs === this.peerId < remote;
    }
    return candidate.direction === "inbound";
  }

  /** Checks `allowPeer` for a peer that opened the stream, then sends our hello. */
  async #greet(session: SyncSession): Promise<void> {
    if (session.greeting || session.ended) return;
    session.greeting = true;
    if (!session.preApproved && !(await this.#allows(session.peerId))) {
      this.#reject(session, new PeerRefusedError(`Peer ${session.peerId} refused by allowPeer`));
      return;
    }
    if (session.ended || this.#state !== "connected") return;
    // Counted once allowed: a refused stream costs little, and a peer not allowed yet may well open again soon.
    if (!session.preApproved && !this.#countOpened(session.peerId)) {
      const limit = `More than ${MAX_STREAMS_OPENED} sync streams in ${STREAM_WINDOW_MS / 1000} s`;
      this.#reject(session, new StreamChurnError(limit));
      return;
    }
    const hello: Hello = {
      version: SYNC_PROTOCOL_VERSION,
      peerId: this.peerId,
      peerMetadata: this.peerMetadata ?? {},
      maxFrameSize: this.#maxFrameSize,
      compression: [DEFLATE_RAW_WINDOW, DEFLATE_RAW],
    };
    this.#writeFrame(session, encodeHello(hello));
    session.helloSent = true;
    this.#announce(session);
  }

  async #allows(peerId: PeerId): Promise<boolean> {
    try {
      return (await this.#allowPeer(peerId)) === true;
    } catch (err) {
      this.#log.error("allowPeer threw for %s, refusing - %e", peerId, err);
      return false;
    }
  }

  /** Splits received bytes into frames for the inbox; a broken length prefix or an oversized frame ends the stream. */
  #onData(session: SyncSession, data: Uint8Array | Uint8ArrayList): void {
    if (session.ended) return;
    let waiting = 0;
    try {
      for (const frame of session.decoder.push(data)) {
        this.traffic.framesReceived++;
        this.traffic.bytesReceived += frame.byteLength + varintLength(frame.byteLength);
        waiting = this.#inbox.push(session, frame);
      }
    } catch (err) {
      this.#reject(session, err instanceof Error ? err : new InvalidFrameError(String(err)));
      return;
    }
    if (waiting > INBOX_PAUSE_BYTES) this.#pauseIfFull(session);
  }

  /** Pauses reading while too many received bytes wait; never inside `resume()`, which grants window after handing
   * over what it buffered and would leave the stream marked paused with its peer still sending. */
  #pauseIfFull(session: SyncSession): void {
    if (session.paused || session.resuming || session.ended || session.stream.readStatus !== "readable") return;
    const waiting = this.#inbox.bytes(session);
    if (waiting <= INBOX_PAUSE_BYTES) return;
    if (this.#inbox.isHeld(session)) {
      // A held stream keeps reading: two peers each holding the other, both streams paused, would wait for ever.
      if (waiting > this.#maxOutboxBytes) {
        this.#log.error(
          "closing the sync stream with %s: %d bytes it sent wait to be handled",
          session.peerId,
          waiting,
        );
        queueMicrotask(() => this.#end(session, new Error("Peer sends and does not read")));
      }
      return;
    }
    session.paused = true;
    session.stream.pause();
  }

  /** Reads a paused stream again, taking what it buffered meanwhile. */
  #resume(session: SyncSession): void {
    if (!session.paused) return;
    session.paused = false;
    session.resuming = true;
    try {
      // Resuming hands over what the stream buffered meanwhile, which may fill the inbox again.
      if (session.stream.readStatus === "paused") session.stream.resume();
    } finally {
      session.resuming = false;
    }
  }

  /** The inbox's turn for one frame: true when a message went to the Repo. A violation ends the stream. */
  #handleFrame(session: SyncSession, frame: Uint8Array): boolean {
    if (session.ended) return false;
    try {
      return this.#onFrame(session, frame);
    } catch (err) {
      this.#reject(session, err instanceof Error ? err : new InvalidFrameError(String(err)));
      return false;
    }
  }

  /**
   * Lets the changes-ahead hook take this turn; what it leaves reaches the Repo on a timer armed before the hook runs,
   * so before the Repo's own sync round, which changes the hook applies at once schedule on a timer too, and before
   * the first slice of changes it queues: that round must see the sender's heads and bloom filter from this message,
   * or it sends the sender back what it just sent.
   */
  #applyAhead(session: SyncSession, message: Message): boolean {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const apply = this.#changesAhead?.(message);
      if (apply === undefined) return false;
      timer = setTimeout(() => this.#deliverRest(session), 0);
      session.rest = apply();
      return true;
    } catch (err) {
      clearTimeout(timer);
      this.#log.error("could not apply a %s message's changes ahead - %e", message.type, err);
      return false;
    }
  }

  /** The `permits` hook's answer for `peer` and the message's document; one that throws permits nothing. */
  #permits(peer: PeerId, message: Message): boolean {
    if (message.documentId === undefined) return true;
    try {
      return this.#permit(peer, message.documentId);
    } catch (err) {
      this.#log.error("permits threw for a %s message, dropping it - %e", message.type, err);
      return false;
    }
  }

  /** Hands the Repo what the changes-ahead hook left of a message, unless it was handed over already. */
  #deliverRest(session: SyncSession): void {
    const rest = session.rest;
    if (rest === undefined) return;
    session.rest = undefined;
    if (session.ended) return;
    try {
      this.emit("message", rest);
    } catch (err) {
      this.#log.error("a message listener threw - %e", err);
    }
  }

  /** Every received frame of a session is handled: reading goes on, or the session ends if its peer closed. */
  #drained(session: SyncSession): void {
    if (session.ended) return;
    if (session.paused) {
      this.#resume(session);
      this.#pauseIfFull(session);
    }
    if (session.remoteEnded && !this.#inbox.has(session)) {
      this.#deliverRest(session);
      this.#onRemoteEnd(session);
    }
  }

  /**
   * Handles one frame, returning true when it passed a message to the Repo; throws (closing the stream) on anything a
   * well-behaved peer would not send.
   */
  #onFrame(session: SyncSession, frame: Uint8Array): boolean {
    if (session.remoteHello === undefined) {
      const hello = decodeHello(frame);
      if (hello.version.major !== SYNC_PROTOCOL_VERSION.major) {
        throw new IncompatibleVersionError(
          `Peer ${session.peerId} speaks sync protocol ${hello.version.major}.${hello.version.minor}, this node ${SYNC_PROTOCOL_VERSION.major}.${SYNC_PROTOCOL_VERSION.minor}`,
        );
      }
      if (hello.peerId !== session.peerId) {
        throw new PeerMismatchError(
          `Hello claims peer id ${hello.peerId} on a stream authenticated as ${session.peerId}`,
        );
      }
      session.remoteHello = hello;
      if (hello.compression?.includes(DEFLATE_RAW_WINDOW)) session.sendWindow = new DeflateWindow();
      this.#announce(session);
      return false;
    }
    // A well-behaved peer sends messages only after our hello, which we send only when ready to take them.
    if (!session.established) throw new InvalidFrameError("Message before the handshake completed");
    this.#deliverRest(session); // where the timer is late (a browser tab in the background), order still holds
    let message = decodeFrame(frame, this.#maxFrameSize, session.receiveWindow);
    if (isControl(message)) {
      this.#onControl(session, message.type);
      return false;
    }
    this.#crossed(session, message);
    if (!session.announced) {
      // Sent before the peer saw that this node stopped syncing with it: it goes nowhere, as the peer knows.
      if (session.awaitingHeld) return true;
      throw new InvalidFrameError("Message on a held stream before an activate frame");
    }
    if (message.targetId !== this.peerId) {
      throw new PeerMismatchError(`Message from ${session.peerId} is addressed to ${message.targetId}`);
    }
    if (message.senderId !== session.peerId) {
      if (message.type !== "ephemeral") {
        throw new PeerMismatchError(`Message on ${session.peerId}'s stream claims to come from ${message.senderId}`);
      }
      if (!this.#relayEphemeral) {
        this.#log.trace("dropping an ephemeral message relayed by %s from %s", session.peerId, message.senderId);
        return true; // decoding it (inflating, maybe) was this turn's work
      }
    }
    if (!REPO_MESSAGE_TYPES.has(message.type)) {
      // The Repo would only log it, stringifying the whole message first (seconds for a large one).
      this.#log.trace("dropping a message of unknown type %s from %s", message.type, session.peerId);
      return true;
    }
    if (message.type === "sync" || message.type === "request") {
      if (!(message.data instanceof Uint8Array)) throw new InvalidFrameError(`A ${message.type} message without data`);
      checkSyncMessageShape(message.data);
    }
    if (!this.#permits(session.peerId, message)) {
      this.#log.trace("dropping a %s message from %s: not permitted", message.type, session.peerId);
      return true;
    }
    // Kept only for a packChanges hook to read (see `PackTarget`).
    if (message.type === "sync" && message.documentId !== undefined && this.#packChanges !== undefined) {
      session.peerSaid.set(message.documentId, readSyncHeader(message.data as Uint8Array));
    }
    // Relayed gossip keeps its origin's session, which the Repo needs to drop the copies arriving by other paths.
    if (isEphemeral(message) && !this.#relayEphemeral) {
      const admitted = this.#ephemeral.admit(message);
      if (admitted === undefined) {
        this.#log.trace("dropping an ephemeral message from %s: a replay, or no session id and count", session.peerId);
        return true;
      }
      message = admitted;
    }
    if (this.#applyAhead(session, message)) return true;
    try {
      this.emit("message", message);
    } catch (err) {
      this.#log.error("a message listener threw - %e", err);
    }
    return true;
  }

  /**
   * Once both hellos are through, announces the peer to the Repo, or holds the stream when the sync tree is on and
   * the peer speaks 1.1: then the tree decides, or the peer's activate frame.
   */
  #announce(session: SyncSession): void {
    if (!session.established || session.announced || session.ended || session.remoteHello === undefined) return;
    if (session.heldSince !== undefined) return;
    clearTimeout(session.timer);
    this.#turnedAway.delete(session.peerId);
    if (session.remoteHello.version.minor < ACTIVATE_MINOR_VERSION) {
      this.#startSyncing(session, "protocol 1.0 peer");
      return;
    }
    if (this.#syncTree === undefined) {
      this.#activate(session, "no sync tree");
      return;
    }
    session.heldSince = Date.now();
    this.#log("sync stream %s with %s established", session.stream.id, session.peerId);
    this.#watchHeld();
    // A node with few peers keeps them all, so it starts at once (a new peer's first sync is immediate); in a mesh
    // the streams wait to settle.
    if (this.#view().length <= this.#syncTree.fanout + 1) this.#chooseTree();
    this.#scheduleTree();
  }

  /** Acts on a control frame: activate, or hold and held (see frames.ts). */
  #onControl(session: SyncSession, type: ControlType): void {
    const now = Date.now();
    if (now - session.controlWindowStart >= CONTROL_WINDOW_MS) {
      session.controlWindowStart = now;
      session.controls = 0;
    }
    if (++session.controls > MAX_CONTROL_FRAMES) {
      throw new InvalidFrameError(`More than ${MAX_CONTROL_FRAMES} control frames in ${CONTROL_WINDOW_MS / 1000} s`);
    }
    const minor = session.remoteHello?.version.minor ?? 0;
    if (minor < (type === "activate" ? ACTIVATE_MINOR_VERSION : HOLD_MINOR_VERSION)) {
      throw new InvalidFrameError(`A ${type} frame from a protocol 1.${minor} peer`);
    }
    if (type === "activate") {
      // Also the answer of a peer that keeps syncing to this node's hold frame: asked again later, its view may change.
      if (session.holdAsked && session.announced) this.#askAgainLater(session);
      session.awaitingHeld = false;
      session.holdAsked = false;
      this.#activate(session, "asked by the peer");
    } else if (type === "held") {
      session.holdAsked = false;
      if (session.awaitingHeld)
        session.awaitingHeld = false; // its last message before the hold is in
      else if (session.announced) this.#hold(session, "held by the peer");
    } else if (!session.announced) {
      // Held here already: the peer learns it from the held frame on its way.
    } else if (this.#spare(session.peerId, this.#tree()) && this.#firstRoundOver(session)) {
      this.#hold(session, "spare here too");
      session.awaitingHeld = true;
    } else {
      this.#writeFrame(session, encodeActivate()); // not spare here: syncing goes on
    }
  }

  /** After a refused hold, lays the tree again (and so asks again if the stream is still spare) 1 s on, doubling to 1 min. */
  #askAgainLater(session: SyncSession): void {
    const wait = Math.min(MAX_ASK_AGAIN_MS, ASK_AGAIN_MS * 2 ** session.refusals);
    session.refusals++;
    session.askAgainAt = Date.now() + wait;
    this.#askAt(session);
  }

  /** Lays the tree again when `session` may be asked to hold (a timer can fire a little before `Date.now()`). */
  #askAt(session: SyncSession, at = this.#askFrom(session)): void {
    clearTimeout(session.askTimer);
    session.askTimer = setTimeout(() => this.#chooseTree(), Math.max(1, at - Date.now()));
    (session.askTimer as { unref?: () => void }).unref?.();
  }

  /** When the peer of a spare stream may be asked to hold it: after a refusal's wait, and after its first round. */
  #askFrom(session: SyncSession): number {
    const firstRoundEnd = session.firstRound ? session.lastSyncAt + FIRST_ROUND_QUIET_MS : 0;
    return Math.max(session.askAgainAt, firstRoundEnd);
  }

  /** Whether a stream that was spare when it first synced has been quiet long enough since (any other: true). */
  #firstRoundOver(session: SyncSession): boolean {
    if (session.firstRound && Date.now() < session.lastSyncAt + FIRST_ROUND_QUIET_MS) return false;
    session.firstRound = false;
    return true;
  }

  /**
   * Stops syncing over a stream: the Repo is told the peer is gone, and the peer that this node sends nothing more
   * until an activate frame. The stream stays open and held, released again once traffic is quiet.
   */
  #hold(session: SyncSession, why: string): void {
    this.#deliverRest(session);
    session.announced = false;
    session.spareHeld = true;
    session.holdAsked = false;
    session.refusals = 0;
    session.heldSince = Date.now();
    this.#writeFrame(session, encodeControl("held"));
    this.#log("stopped syncing with %s over stream %s: %s", session.peerId, session.stream.id, why);
    try {
      this.emit("peer-disconnected", { peerId: session.peerId });
    } catch (err) {
      this.#log.error("a peer-disconnected listener threw - %e", err);
    }
    try {
      this.events.emit("peer:held", { peerId: session.peerId });
    } catch (err) {
      this.#log.error("a peer:held listener threw - %e", err);
    }
    this.#watchHeld();
  }

  /** Whether an established sync stream to `peer` is up, held or not. */
  #linkedTo(peer: string): boolean {
    const session = this.#sessions.get(peer);
    return session?.established === true && !session.ended;
  }

  /** The discovered tree, if the hook gives one; a hook that throws gives none. */
  #tree(): DiscoveredTree | undefined {
    try {
      return this.#discoveredTree?.();
    } catch (err) {
      this.#log.error("discoveredTree threw - %e", err);
      return undefined;
    }
  }

  /**
   * Whether a stream to `peer` is spare: `peer` is in the node's groups but no neighbour in their trees, and a stream
   * to each neighbour is up, so whatever `peer` needs reaches it through them.
   */
  #spare(peer: string, tree: DiscoveredTree | undefined): boolean {
    if (tree === undefined || tree.neighbours.size === 0) return false;
    if (!tree.members.has(peer) || tree.neighbours.has(peer)) return false;
    return [...tree.neighbours].every((neighbour) => this.#linkedTo(neighbour));
  }

  /** Starts syncing over a held stream, telling the peer to do the same unless the peer told us. */
  #activate(session: SyncSession, why: string): void {
    const tell = why !== "asked by the peer";
    if (session.announced || session.ended || !session.established) return;
    clearTimeout(session.timer);
    if (tell) this.#writeFrame(session, encodeActivate());
    this.#startSyncing(session, why);
  }

  #startSyncing(session: SyncSession, why: string): void {
    if (session.remoteHello === undefined) return;
    if (!session.everSynced) {
      session.everSynced = true;
      session.lastSyncAt = Date.now();
      session.firstRound = this.#spare(session.peerId, this.#tree());
      if (session.firstRound) this.#askAt(session);
    }
    session.announced = true;
    session.heldSince = undefined;
    session.spareHeld = false;
    session.holdAsked = false;
    this.#log("syncing with %s over stream %s: %s", session.peerId, session.stream.id, why);
    this.emit("peer-candidate", { peerId: session.peerId, peerMetadata: this.#pinned(session) });
  }

  /**
   * The peer's metadata with the first storage id it announced here: the Repo keeps sync state per storage id, so a
   * peer announcing a new one on every stream would have it store a copy per document each time. A peer whose storage
   * really changed syncs as well without (its sync state is then not kept) until this node restarts.
   */
  #pinned(session: SyncSession): PeerMetadata {
    const metadata = session.remoteHello?.peerMetadata ?? {};
    if (metadata.storageId === undefined) return metadata;
    const pinned = this.#storageIds.get(session.peerId);
    if (pinned === undefined) this.#storageIds.set(session.peerId, metadata.storageId);
    if (pinned === undefined || pinned === metadata.storageId) return metadata;
    this.#log(
      "%s announced storage id %s, not %s as before: its sync state is not kept",
      session.peerId,
      metadata.storageId,
      pinned,
    );
    const { storageId: _changed, ...rest } = metadata;
    return rest;
  }

  /** Chooses the tree once streams have stopped arriving and leaving for `settleMs`. */
  #scheduleTree(): void {
    if (this.#syncTree === undefined || this.#state !== "connected") return;
    clearTimeout(this.#treeTimer);
    this.#treeTimer = setTimeout(() => this.#chooseTree(), this.#syncTree.settleMs);
    (this.#treeTimer as { unref?: () => void }).unref?.();
  }

  /**
   * The peers the tree is laid over: every connected peer not known to lack the sync protocol (identify may not have
   * told yet: a peer counts until it does) and not turned away, streams in their handshake or being opened included.
   */
  #view(): string[] {
    const view = new Set<string>(this.#opening);
    for (const session of this.#sessions.values()) if (!session.ended) view.add(session.peerId);
    for (const connection of this.#libp2p.getConnections()) {
      const peer = connection.remotePeer.toString();
      const usable = connection.status === "open" && connection.limits == null;
      if (usable && !this.#notSync.has(peer) && !this.#turnedAway.has(peer)) view.add(peer);
    }
    return [...view];
  }

  /**
   * Activates every held stream to a tree neighbour, the tree taken over every established stream, or laid by
   * discovery; asks the peers of spare streams to hold them (see `discoveredTree`); watches the held ones.
   */
  #chooseTree(): void {
    if (this.#syncTree === undefined || this.#state !== "connected") return;
    const established = [...this.#sessions.values()].filter((s) => s.established && !s.ended);
    const neighbours = syncTreeNeighbours(this.peerId, this.#view(), this.#syncTree.fanout);
    const tree = this.#tree();
    // No stream to any neighbour in the trees: streams held as spare are the way left (a partial loss waits for the
    // trees to be laid again, or for traffic to be quiet, rather than undo every hold while a view changes).
    const cutOff =
      tree !== undefined && tree.neighbours.size > 0 && ![...tree.neighbours].some((n) => this.#linkedTo(n));
    let held = 0;
    for (const session of established) {
      const spare = this.#spare(session.peerId, tree);
      // A peer before 1.3 cannot be asked to hold a stream once it syncs: its streams wait for quiet, as they did.
      const holds = (session.remoteHello?.version.minor ?? 0) >= HOLD_MINOR_VERSION;
      if (session.heldSince === undefined) {
        if (spare && holds && !session.holdAsked) {
          const askFrom = this.#askFrom(session);
          if (Date.now() < askFrom) this.#askAt(session, askFrom);
          else {
            session.firstRound = false;
            session.holdAsked = true;
            this.#writeFrame(session, encodeControl("hold"));
          }
        }
      } else if (session.spareHeld && cutOff) {
        this.#activate(session, "the tree's streams are gone"); // it may be the way left
      } else if (spare && holds && !session.everSynced) {
        this.#activate(session, "a new stream's first round"); // it may be all that joins two parts of the tree
      } else if (!spare && (neighbours.has(session.peerId) || tree?.neighbours.has(session.peerId))) {
        this.#activate(session, "tree neighbour");
      } else held++;
    }
    if (held > 0) this.#watchHeld();
  }

  /** Checks held streams until none is left, so `maxDeferMs` bounds every hold whatever the tree timer does. */
  #watchHeld(): void {
    if (this.#syncTree === undefined || this.#heldTimer !== undefined || this.#state !== "connected") return;
    this.#quietChecks = 0;
    this.#heldTimer = setInterval(() => this.#releaseHeld(), checkInterval(this.#syncTree));
    // Node.js: an idle adapter must not keep the process alive.
    (this.#heldTimer as { unref?: () => void }).unref?.();
  }

  /** Releases held streams once no sync message has crossed for `quietMs`, or a stream was held `maxDeferMs`. */
  #releaseHeld(): void {
    if (this.#syncTree === undefined) return;
    const now = Date.now();
    this.#quietChecks = this.#frames === this.#framesAtCheck ? this.#quietChecks + 1 : 0;
    this.#framesAtCheck = this.#frames;
    const quiet = this.#quietChecks * checkInterval(this.#syncTree) >= this.#syncTree.quietMs;
    let held = 0;
    for (const session of [...this.#sessions.values()]) {
      if (session.heldSince === undefined || session.ended) continue;
      if (quiet) this.#activate(session, "traffic quiet");
      else if (now - session.heldSince >= this.#syncTree.maxDeferMs) this.#activate(session, "held too long");
      else held++;
    }
    if (held === 0) {
      clearInterval(this.#heldTimer);
      this.#heldTimer = undefined;
    }
  }

  /** No more data will come: a close between frames is fine, a close in the middle of one is a violation. */
  #onRemoteEnd(session: SyncSession): void {
    if (session.ended) return;
    // Only a deliberate close counts: a reset or a dropped connection may cut an honest peer's frame short.
    if (session.stream.status === "open") {
      try {
        session.decoder.end();
      } catch (err) {
        this.#reject(session, err as Error);
        return;
      }
    }
    this.#end(session);
  }

  /** Closes a session for something the peer did or is, and reports it. */
  #reject(session: SyncSession, error: Error): void {
    if (session.ended) return;
    this.#end(session, error);
    this.#rejected(session.peerId, error);
  }

  #rejected(peerId: PeerId, error: Error): void {
    this.#turnedAway.add(peerId);
    if (error instanceof PeerRefusedError) this.#log("refused sync peer %s", peerId);
    else this.#log.error("rejected sync peer %s - %e", peerId, error);
    try {
      this.events.emit("peer:rejected", { peerId, error });
    } catch (err) {
      this.#log.error("a peer:rejected listener threw - %e", err);
    }
  }

  /**
   * Ends a session: forgets it, tells the Repo the peer is gone if it was announced, and closes the stream (aborting
   * it when `abortWith` is given, gracefully otherwise).
   */
  #end(session: SyncSession, abortWith?: Error): void {
    if (session.ended) return;
    session.ended = true;
    clearTimeout(session.timer);
    clearTimeout(session.askTimer);
    this.#inbox.drop(session);
    if (this.#sessions.get(session.peerId) === session) this.#sessions.delete(session.peerId);
    if (session.stream.status === "open") {
      if (abortWith !== undefined) session.stream.abort(abortWith);
      else session.stream.close().catch((err) => session.stream.abort(err as Error));
    }
    if (session.announced) {
      this.#log("sync stream %s with %s closed", session.stream.id, session.peerId);
      try {
        this.emit("peer-disconnected", { peerId: session.peerId });
      } catch (err) {
        this.#log.error("a peer-disconnected listener threw - %e", err);
      }
    }
    session.heldSince = undefined;
    // The tree changes when an established stream goes (a held one may now be a tree edge); a refused one changes nothing.
    if (session.established && this.#state === "connected") this.#scheduleTree();
    // A dropped connection may leave another one to the same peer: carry on over it.
    if (abortWith === undefined && this.#state === "connected" && session.connection.status !== "open") {
      const other = this.#libp2p
        .getConnections(session.connection.remotePeer)
        .find((connection) => connection.status === "open" && connection.limits == null);
      if (other !== undefined) void this.#openTo(other.remotePeer, other);
    }
  }
}

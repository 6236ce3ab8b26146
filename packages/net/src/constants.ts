/** Protocol identifiers and the defaults of every tunable of the libp2p sync adapter and of the node. */

/** The libp2p protocol the adapter speaks: one stream per pair of peers carries every automerge-repo message. */
export const SYNC_PROTOCOL = "/federa/sync/1.0.0";

/** Version sent in the hello frame: peers must share the major version; a newer minor only adds optional fields. */
export const SYNC_PROTOCOL_VERSION = { major: 1, minor: 4 } as const;

/** The first minor version with held streams and the activate frame (1.0 peers sync on every stream at once). */
export const ACTIVATE_MINOR_VERSION = 1;

/** The first minor version with the hold and held frames, which stop syncing over a stream by agreement. */
export const HOLD_MINOR_VERSION = 3;

/** The first minor version that reads windowed deflate and changes sent as Automerge bundles. */
export const BUNDLE_MINOR_VERSION = 4;

/** Largest frame accepted or sent; a whole-document sync message of a large council must fit in one frame. */
export const DEFAULT_MAX_FRAME_SIZE = 64 * 1024 * 1024;

/** How long a new sync stream may take to exchange hellos (including waiting for the Repo to connect). */
export const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;

/** How long the peer with the higher id waits for the lower one to open the sync stream before opening it itself. */
export const DEFAULT_OPEN_DELAY = 250;

/** Sync streams per connection and direction: one in use, one losing a simultaneous open, spares for reconnects. */
export const DEFAULT_MAX_INBOUND_STREAMS = 4;

/** See DEFAULT_MAX_INBOUND_STREAMS. */
export const DEFAULT_MAX_OUTBOUND_STREAMS = 4;

/**
 * A mesh syncs first over a tree of its peers (parent and four children, chosen once streams settle for 1 s), the
 * other streams once traffic is quiet for 5 s or after 30 s: a 16-node LAN merges over a few dozen streams, not 120.
 */
export const DEFAULT_SYNC_TREE = { fanout: 4, settleMs: 1_000, quietMs: 5_000, maxDeferMs: 30_000 } as const;

/**
 * A node that sent or received a sync frame within this long is busy: its discovery dials wait to open more links into
 * a group it is already connected into (see `BUSY_DEFER_MS`).
 */
export const DIAL_QUIET_MS = 5_000;

/** Connections a node opens on its own to known peers it discovered (mDNS, bootstrap, DHT); inbound ones, and a DHT's to strangers, are not counted against it. */
export const DEFAULT_MAX_DIALS = 32;

/** Whether a node sends large rounds of changes to 1.4 peers as Automerge bundles (`FederaNodeInit.bundleChanges`). */
export const DEFAULT_BUNDLE_CHANGES = true;

/** How long a peer that broke the sync protocol is refused (hung up on, not dialled, its connections denied). */
export const DEFAULT_BAN_MS = 10 * 60_000;

/** The longest ban: each repeated violation doubles the last one, up to this. */
export const MAX_BAN_MS = 24 * 60 * 60_000;

/** How often a node dials again a peer it keeps dialling (its bootstrap list) while that peer is not connected. */
export const REDIAL_INTERVAL_MS = 5_000;

/** The DHT protocol of Federa nodes, apart from the public IPFS DHT (a browser's kad-dht client uses it too). */
export const FEDERA_DHT_PROTOCOL = "/federa/kad/1.0.0";

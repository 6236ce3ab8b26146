/** Protocol identifiers and the defaults of every tunable of the libp2p sync adapter. */

/** The libp2p protocol the adapter speaks: one stream per pair of peers carries every automerge-repo message. */
export const SYNC_PROTOCOL = "/federa/sync/1.0.0";

/** Version sent in the hello frame: peers must share the major version; a newer minor only adds optional fields. */
export const SYNC_PROTOCOL_VERSION = { major: 1, minor: 0 } as const;

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

/** Connections a node opens on its own to discovered peers (mDNS, bootstrap, DHT); inbound ones are not counted against it. */
export const DEFAULT_MAX_DIALS = 32;

/**
 * Federa net: syncs Federa's Automerge documents between nodes over libp2p, binding each automerge-repo peer to the
 * libp2p peer Noise authenticated.
 *
 * @example
 * ```ts
 * import { Repo } from "@automerge/automerge-repo";
 * import { noise } from "@chainsafe/libp2p-noise";
 * import { yamux } from "@chainsafe/libp2p-yamux";
 * import { identify } from "@libp2p/identify";
 * import { tcp } from "@libp2p/tcp";
 * import { createLibp2p } from "libp2p";
 * import { Libp2pNetworkAdapter } from "@federa/net";
 *
 * const libp2p = await createLibp2p({
 *   addresses: { listen: ["/ip4/127.0.0.1/tcp/0"] },
 *   transports: [tcp()],
 *   connectionEncrypters: [noise()],
 *   streamMuxers: [yamux()],
 *   services: { identify: identify() },
 * });
 * const adapter = new Libp2pNetworkAdapter({ libp2p });
 * const repo = new Repo({ network: [adapter], peerId: adapter.peerId });
 * // Dial other nodes with libp2p.dial(...): the adapter syncs with every connected peer that speaks the protocol.
 * ```
 *
 * Invitation tokens (`encodeInvitation`, `decodeInvitation`) and both sides of `/federa/apply/1.0.0` (the applicant's
 * `sendApplication`, the member's `node.acceptApplications()`) run in the browser as well as in Node.
 *
 * @packageDocumentation
 */

export { AccessPolicy, devicesOf } from "./access-policy.js";
export type { ApplicationTarget } from "./application.js";
export { acceptApplication, checkApplication } from "./application.js";
export type { ApplicationHandler, ApplyAnswerCode, ApplyRequest, ApplyResponse } from "./apply-protocol.js";
export {
  APPLY_MAX_MESSAGE,
  APPLY_PROTOCOL,
  APPLY_RATE_LIMIT,
  APPLY_READ_TIMEOUT_MS,
  APPLY_TIMEOUT_MS,
  applyRequest,
  isApplyRequest,
  readApplyMessage,
  requestBytes,
  sendApplication,
  serveApplications,
  writeApplyMessage,
} from "./apply-protocol.js";
export { type WarmUpOptions, warmUpAutomerge, warmUpAutomergeOnce } from "./automerge-warm-up.js";
export type { BanRecord } from "./ban-list.js";
export type { ChangesAhead } from "./changes-ahead.js";
export { CHANGES_AHEAD_BYTES, changesAhead } from "./changes-ahead.js";
export {
  DEFAULT_BAN_MS,
  DEFAULT_HANDSHAKE_TIMEOUT,
  DEFAULT_MAX_DIALS,
  DEFAULT_MAX_FRAME_SIZE,
  DEFAULT_MAX_INBOUND_STREAMS,
  DEFAULT_MAX_OUTBOUND_STREAMS,
  DEFAULT_OPEN_DELAY,
  DEFAULT_SYNC_TREE,
  DIAL_QUIET_MS,
  FEDERA_DHT_PROTOCOL,
  MAX_BAN_MS,
  REDIAL_INTERVAL_MS,
  SYNC_PROTOCOL,
  SYNC_PROTOCOL_VERSION,
} from "./constants.js";
export type { DiscoveryDialsInit } from "./discovery-dials.js";
export {
  BUSY_DEFER_MS,
  DIAL_BACK_MS,
  DiscoveryDials,
  MAX_KNOWN,
  SETTLE_MS,
  UNREACHABLE_MS,
} from "./discovery-dials.js";
export {
  ApplicationRefusedError,
  BadInvitationError,
  CouncilNotHeldError,
  DocumentDamagedError,
  DocumentUnavailableError,
  DuplicateStreamError,
  FederationLeftError,
  FrameTooLargeError,
  HandshakeTimeoutError,
  IncompatibleVersionError,
  InvalidFrameError,
  NodeStoppedError,
  PeerBannedError,
  PeerIdMismatchError,
  PeerMismatchError,
  PeerRefusedError,
  StreamChurnError,
  TruncatedFrameError,
} from "./errors.js";
export type {
  AcceptedApplication,
  FederaNodeEvents,
  FederaNodeInit,
  HeldCouncil,
  HeldFederation,
  PeerBannedPayload,
} from "./federa-node.js";
export { createNode, FederaNode } from "./federa-node.js";
export type { Hello, ProtocolVersion } from "./frames.js";
export type { FederationInvitation, Invitation, Inviter } from "./invitation.js";
export {
  decodeFederationInvitation,
  decodeInvitation,
  encodeFederationInvitation,
  encodeInvitation,
  inviterAddresses,
  webSocketAddresses,
} from "./invitation.js";
export type {
  Libp2pNetworkAdapterEvents,
  Libp2pNetworkAdapterInit,
  Libp2pTraffic,
  PackTarget,
  PeerRejectedPayload,
} from "./libp2p-adapter.js";
export { Libp2pNetworkAdapter, repoPeerId } from "./libp2p-adapter.js";
export type { PeerExchangeInit } from "./peer-exchange.js";
export { ASK_AGAIN_MS, MAX_ASK_AGAIN_MS, MAX_PEERS_TOLD, PEERS_PROTOCOL, PeerExchange } from "./peer-exchange.js";
export type { PeerLookupsInit } from "./peer-lookups.js";
export {
  LOOKUP_CONCURRENCY,
  LOOKUP_RETRY_MS,
  LOOKUP_TIMEOUT_MS,
  MAX_LOOKUP_RETRY_MS,
  PeerLookups,
} from "./peer-lookups.js";
export type { Admission, RateLimitInit } from "./rate-limit.js";
export { RateLimiter, rateLimitedMessage } from "./rate-limit.js";
export type { SlicedChangesInit } from "./sliced-changes.js";
export { MAX_QUEUED_BYTES, SLICE_MS, SlicedChanges, WHOLE_MS } from "./sliced-changes.js";
export type { DiscoveredTree, SyncTreeOptions } from "./sync-tree.js";

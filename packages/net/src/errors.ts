/**
 * Every error the sync adapter throws or reports when it closes a peer's stream, the node's reason for a ban, and the
 * error of an unreadable invitation token.
 */

/** Thrown when the Repo connects the adapter with a peer id other than the libp2p node's own. */
export class PeerIdMismatchError extends Error {
  constructor(message = "The Repo's peer id must be the libp2p node's peer id") {
    super(message);
    this.name = "PeerIdMismatchError";
  }
}

/** Thrown when a frame's length prefix exceeds the frame size limit. */
export class FrameTooLargeError extends Error {
  constructor(message = "Frame exceeds the size limit") {
    super(message);
    this.name = "FrameTooLargeError";
  }
}

/** Thrown when a stream ends in the middle of a frame. */
export class TruncatedFrameError extends Error {
  constructor(message = "Stream ended in the middle of a frame") {
    super(message);
    this.name = "TruncatedFrameError";
  }
}

/** Thrown when a frame is not valid CBOR, not the expected hello or message, or arrives out of order. */
export class InvalidFrameError extends Error {
  constructor(message = "Invalid frame") {
    super(message);
    this.name = "InvalidFrameError";
  }
}

/** Thrown when a peer opens sync streams faster than any honest peer reconnects: each costs a handshake and a hello. */
export class StreamChurnError extends Error {
  constructor(message = "Too many sync streams") {
    super(message);
    this.name = "StreamChurnError";
  }
}

/** Thrown when a peer's hello declares a sync protocol major version this adapter does not speak. */
export class IncompatibleVersionError extends Error {
  constructor(message = "Incompatible sync protocol version") {
    super(message);
    this.name = "IncompatibleVersionError";
  }
}

/** Thrown when a frame names a sender or target other than the two authenticated ends of its stream. */
export class PeerMismatchError extends Error {
  constructor(message = "Frame does not come from the authenticated peer or is not addressed to us") {
    super(message);
    this.name = "PeerMismatchError";
  }
}

/** Thrown when the `allowPeer` hook refuses a peer. */
export class PeerRefusedError extends Error {
  constructor(message = "Peer refused") {
    super(message);
    this.name = "PeerRefusedError";
  }
}

/** Thrown when a peer does not complete the hello exchange in time. */
export class HandshakeTimeoutError extends Error {
  constructor(message = "Sync handshake timed out") {
    super(message);
    this.name = "HandshakeTimeoutError";
  }
}

/** Thrown when a sync stream loses to another stream with the same peer (both peers opened one at once). */
export class DuplicateStreamError extends Error {
  constructor(message = "Another sync stream with this peer is kept") {
    super(message);
    this.name = "DuplicateStreamError";
  }
}

/** Thrown (as the reason its connections are aborted) when a peer is banned for breaking the sync protocol. */
export class PeerBannedError extends Error {
  constructor(message = "Peer banned for breaking the sync protocol") {
    super(message);
    this.name = "PeerBannedError";
  }
}

/** Thrown when an invitation token cannot be read; `reason` says what is wrong with it. */
export class BadInvitationError extends Error {
  readonly reason: string;
  constructor(reason = "it cannot be read") {
    super(`not a valid invitation token: ${reason}`);
    this.name = "BadInvitationError";
    this.reason = reason;
  }
}

/** Thrown by a node's operations, and by writes to the councils and federations it held, once `stop()` was called. */
export class NodeStoppedError extends Error {
  constructor(message = "The node has stopped: nothing more can be opened or written through it") {
    super(message);
    this.name = "NodeStoppedError";
  }
}

/** Thrown when a document cannot be opened: a malformed URL, or no peer served it before the wait ended. */
export class DocumentUnavailableError extends Error {
  readonly url: string;
  constructor(url: string, message: string) {
    super(message);
    this.name = "DocumentUnavailableError";
    this.url = url;
  }
}

/**
 * Thrown when a document's stored chunks cannot be loaded (a torn or altered file): waiting does not help, since the
 * Repo keeps the failed load; moving the document's files aside lets peers send it again.
 */
export class DocumentDamagedError extends Error {
  readonly url: string;
  /** `cause`: what loading it threw. */
  constructor(url: string, message: string, cause?: unknown) {
    super(message, { cause });
    this.name = "DocumentDamagedError";
    this.url = url;
  }
}

/** Thrown when a member's node refuses an application to join (the reason is the answer the applicant gets). */
export class ApplicationRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ApplicationRefusedError";
  }
}

/** Thrown when an application names a council this node does not hold (yet): answered as worth a retry, with a code. */
export class CouncilNotHeldError extends Error {
  constructor(message = "this node does not hold that council") {
    super(message);
    this.name = "CouncilNotHeldError";
  }
}

/** Thrown by an open of a federation that `leaveFederation` left while the open was under way. */
export class FederationLeftError extends Error {
  constructor(federation: string) {
    super(`federation ${federation} was left while it was being opened`);
    this.name = "FederationLeftError";
  }
}

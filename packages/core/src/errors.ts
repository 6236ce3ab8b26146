/** Every error core throws at a caller, each with a stable `code`; bad input from peers is never thrown but reported. */

export const ErrorCodes = {
  INVALID_INPUT: "INVALID_INPUT",
  NOT_A_MEMBER: "NOT_A_MEMBER",
  UNKNOWN_DOCUMENT: "UNKNOWN_DOCUMENT",
  NOT_FOUND: "NOT_FOUND",
  INVALID_KEY: "INVALID_KEY",
  REJECTED_ACT: "REJECTED_ACT",
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** Base of every error core throws. */
export class FederaError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = "FederaError";
    this.code = code;
  }
}

/** Thrown when a caller passes a value the record schema would reject (the record is never written). */
export class InvalidInputError extends FederaError {
  readonly issues: readonly string[];
  constructor(message: string, issues: readonly string[] = []) {
    super(ErrorCodes.INVALID_INPUT, issues.length > 0 ? `${message}: ${issues.join("; ")}` : message);
    this.name = "InvalidInputError";
    this.issues = issues;
  }
}

/** Thrown when an identity acts in a council it is not (or no longer) a member of. */
export class NotAMemberError extends FederaError {
  constructor(message: string) {
    super(ErrorCodes.NOT_A_MEMBER, message);
    this.name = "NotAMemberError";
  }
}

/** Thrown when a document is not a Federa document of the expected type. */
export class UnknownDocumentError extends FederaError {
  constructor(message: string) {
    super(ErrorCodes.UNKNOWN_DOCUMENT, message);
    this.name = "UnknownDocumentError";
  }
}

/** Thrown when a named proposal, fund, mandate or text does not exist in derived state. */
export class NotFoundError extends FederaError {
  constructor(message: string) {
    super(ErrorCodes.NOT_FOUND, message);
    this.name = "NotFoundError";
  }
}

/** Thrown when key material cannot be parsed. */
export class InvalidKeyError extends FederaError {
  constructor(message: string) {
    super(ErrorCodes.INVALID_KEY, message);
    this.name = "InvalidKeyError";
  }
}

/**
 * Thrown, with `checkActs` on, for an act the council's or federation's own derivation would exclude or not count as
 * it stands here (a vote on a closed proposal, a delegate's position outside the mandate): nothing is written.
 */
export class RejectedActError extends FederaError {
  readonly reason: string;
  readonly detail: string;
  constructor(kind: string, reason: string, detail: string) {
    const scope = kind.startsWith("federation.") ? "federation" : "council";
    super(ErrorCodes.REJECTED_ACT, `refused: ${detail} (the ${scope} would not count this ${kind}: ${reason})`);
    this.name = "RejectedActError";
    this.reason = reason;
    this.detail = detail;
  }
}

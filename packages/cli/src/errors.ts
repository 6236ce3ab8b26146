/** Every error the `federa` command reports, each with a stable `code`, and how any error maps to a message and exit code. */
import { FederaError } from "@federa/core";

/** Exit codes: 0 ok, 1 runtime failure, 2 usage error. */
export const ExitCodes = { OK: 0, FAILURE: 1, USAGE: 2 } as const;

export const CliErrorCodes = {
  USAGE: "USAGE",
  NO_IDENTITY: "NO_IDENTITY",
  IDENTITY_EXISTS: "IDENTITY_EXISTS",
  NO_COUNCIL: "NO_COUNCIL",
  UNKNOWN_COUNCIL: "UNKNOWN_COUNCIL",
  COUNCIL_UNAVAILABLE: "COUNCIL_UNAVAILABLE",
  NOT_A_MEMBER: "NOT_A_MEMBER",
  NOT_FOUND: "NOT_FOUND",
  BAD_TOKEN: "BAD_TOKEN",
  NODE_RUNNING: "NODE_RUNNING",
  NODE_UNREACHABLE: "NODE_UNREACHABLE",
  NODE_NOT_ANSWERING: "NODE_NOT_ANSWERING",
  BAD_DIR: "BAD_DIR",
  APPLICATION_REFUSED: "APPLICATION_REFUSED",
  UNSUPPORTED: "UNSUPPORTED",
  OWN_RECORDS_MISSING: "OWN_RECORDS_MISSING",
  NODE_START: "NODE_START",
  NODE_STOPPING: "NODE_STOPPING",
  DIRECTORY_BUSY: "DIRECTORY_BUSY",
  FOUNDING_UNCHECKED: "FOUNDING_UNCHECKED",
  OWN_CHAIN_BROKEN: "OWN_CHAIN_BROKEN",
  COUNCIL_NOT_HELD: "COUNCIL_NOT_HELD",
} as const;

export type CliErrorCode = (typeof CliErrorCodes)[keyof typeof CliErrorCodes];

/** Base of every error the command expects and reports without a stack trace. */
export class CliError extends Error {
  readonly code: CliErrorCode | string;
  readonly exitCode: number;
  constructor(code: CliErrorCode | string, message: string, exitCode: number = ExitCodes.FAILURE) {
    super(message);
    this.name = "CliError";
    this.code = code;
    this.exitCode = exitCode;
  }
}

/** Thrown when arguments or options are malformed (exit code 2). */
export class UsageError extends CliError {
  constructor(message: string) {
    super(CliErrorCodes.USAGE, message, ExitCodes.USAGE);
    this.name = "UsageError";
  }
}

/** Thrown when the node directory holds no identity yet. */
export class NoIdentityError extends CliError {
  constructor(dir: string) {
    super(CliErrorCodes.NO_IDENTITY, `no identity in ${dir}: run \`federa init --dir ${dir} --name NAME\` first`);
    this.name = "NoIdentityError";
  }
}

/** Thrown when `init` would overwrite an identity. */
export class IdentityExistsError extends CliError {
  constructor(path: string) {
    super(CliErrorCodes.IDENTITY_EXISTS, `${path} already exists: refusing to overwrite an identity`);
    this.name = "IdentityExistsError";
  }
}

/**
 * Thrown when a council named on the command line is not in the node directory: a usage error (exit code 2), as is
 * any id named that matches nothing.
 */
export class UnknownCouncilError extends CliError {
  constructor(message: string) {
    super(CliErrorCodes.UNKNOWN_COUNCIL, message, ExitCodes.USAGE);
    this.name = "UnknownCouncilError";
  }
}

/** Thrown when a command needs a council (or a federation) and the node directory holds none: nothing was named. */
export class NoCouncilError extends CliError {
  constructor(message: string) {
    super(CliErrorCodes.NO_COUNCIL, message);
    this.name = "NoCouncilError";
  }
}

/** Thrown when a council's documents are not on this device (not admitted yet, or not synced yet). */
export class CouncilUnavailableError extends CliError {
  constructor(council: string) {
    super(
      CliErrorCodes.COUNCIL_UNAVAILABLE,
      `the documents of council ${council} are not on this device: you are not a member yet, ` +
        "or your node has not synced them (run `federa node`)",
    );
    this.name = "CouncilUnavailableError";
  }
}

/** Thrown when a federation's document, or a member council's, is not on this device yet. */
export class FederationUnavailableError extends CliError {
  constructor(federation: string, what = "its document") {
    super(
      CliErrorCodes.COUNCIL_UNAVAILABLE,
      `federation ${federation}: ${what} not on this device yet (run \`federa node\` so it syncs from the other delegates)`,
    );
    this.name = "FederationUnavailableError";
  }
}

/** Thrown when this member acts in a council it does not belong to. */
export class NotMemberError extends CliError {
  constructor(member: string, council: string) {
    super(CliErrorCodes.NOT_A_MEMBER, `you (${member}) are not a member of council ${council}`);
    this.name = "NotMemberError";
  }
}

/** Thrown when this member acts in a federation for none of its member councils held here. */
export class NotDelegateError extends CliError {
  constructor(member: string, federation: string) {
    super(
      CliErrorCodes.NOT_A_MEMBER,
      `you (${member}) are not a member of any member council of federation ${federation} held on this device`,
    );
    this.name = "NotDelegateError";
  }
}

/** Thrown when a delegate acts in a federation whose founding record this device cannot check yet. */
export class FoundingUncheckedError extends CliError {
  constructor(federation: string) {
    super(
      CliErrorCodes.FOUNDING_UNCHECKED,
      `the founding record of federation ${federation} cannot be checked on this device yet: its founding council's ` +
        "documents are not here, or that council has not mandated a delegate for it. Run `federa node` until they " +
        "have synced (`federa federation status` then shows its name), then try again",
    );
    this.name = "FoundingUncheckedError";
  }
}

/**
 * Thrown when a proposal, mandate, member, device or federation named on the command line is not in the council (or
 * the federation, or the node directory): a usage error (exit code 2), as core's own NOT_FOUND for a fund is.
 */
export class NotFoundCliError extends CliError {
  constructor(message: string) {
    super(CliErrorCodes.NOT_FOUND, message, ExitCodes.USAGE);
    this.name = "NotFoundCliError";
  }
}

/** Thrown when an invitation token cannot be read. */
export class BadTokenError extends CliError {
  constructor(detail: string) {
    super(CliErrorCodes.BAD_TOKEN, `not a valid invitation token: ${detail}`, ExitCodes.USAGE);
    this.name = "BadTokenError";
  }
}

/** Thrown when a file of the node directory is not what federa writes there (hand-edited or damaged); it is left as is. */
export class DamagedFileError extends CliError {
  constructor(path: string, problem: string) {
    super(CliErrorCodes.BAD_DIR, `${path} is damaged: ${problem}`);
    this.name = "DamagedFileError";
  }
}

/**
 * Thrown when records this device signed are missing from its replica: its latest ones (the next record would reuse
 * their `seq`, a fork of its chain) or ones below records it holds (the next record would wait behind them, uncounted).
 */
export class OwnRecordsMissingError extends CliError {
  constructor(details: readonly string[], fork: boolean) {
    const then = fork ? "writing now would fork its chain" : "a record written now would wait for them and not count";
    super(
      CliErrorCodes.OWN_RECORDS_MISSING,
      `${fork ? "the latest " : ""}records this device signed are missing here (${details.join("; ")}): ${then}; ` +
        "run `federa node` until a peer has sent them back, then try again",
    );
    this.name = "OwnRecordsMissingError";
  }
}

/** Which of a member's keys signed a chain, and in which council or federation. */
export interface OwnChain {
  readonly signer: string;
  readonly key: "device" | "member";
  readonly member: string;
  readonly kind: "council" | "federation";
  readonly id: string;
}

/**
 * Thrown when a chain this device signs is broken with nothing missing from it: two different records carry one
 * `seq` (a node directory restored whole from a backup older than records it had shared, then written to). Every peer
 * excludes that key's records from there on for good: no sync mends it, only writing with another key does.
 */
export class OwnChainBrokenError extends CliError {
  constructor(chain: OwnChain, seq: number, why: string) {
    const whose = chain.key === "device" ? `this device (${chain.signer})` : `your member key (${chain.signer})`;
    const where = `${chain.kind} ${chain.id}`;
    const newDevice = `\`federa init --dir NEW_DIR --name NAME --device-of ${chain.member}\``;
    const advice =
      chain.key === "device"
        ? `write with a new device key instead: make one with ${newDevice}, authorise it with ` +
          "`federa device add NEW_DEVICE` (signed by your member key, whose chain still counts: run it on the " +
          "device holding the member key, this one if it does), give it a `federa invite` token to " +
          `\`federa join TOKEN --dir NEW_DIR\`, then revoke this one with \`federa device revoke ${chain.signer}\``
        : chain.kind === "federation"
          ? `act in it from a device without the member key, which signs with its own key: make one with ${newDevice}, ` +
            "authorise it in your council with `federa device add NEW_DEVICE`, and follow the federation there with " +
            "`federa federation join` and a `federa federation invite` token"
          : "your authorised devices still act there with their own keys, but adding or revoking a device in this " +
            "council would no longer count";
    super(
      CliErrorCodes.OWN_CHAIN_BROKEN,
      `the chain of records ${whose} signs in ${where} is broken at seq ${seq}: ${why}. That happens when a node ` +
        "directory is restored from a backup older than records it had already shared, and is written to again. " +
        `Every peer excludes what this key signs there from seq ${seq} on, and no sync can mend it (running ` +
        `\`federa node\` does not help): ${advice}`,
    );
    this.name = "OwnChainBrokenError";
  }
}

/**
 * Thrown when the inviter's node answers that it does not hold the council an application is for: the token names a
 * council that node does not have (made on another directory, or altered).
 */
export class CouncilNotHeldError extends CliError {
  constructor(council: string, inviter: string) {
    super(
      CliErrorCodes.COUNCIL_NOT_HELD,
      `the inviter's node (${inviter}) does not hold council ${council}, which the invitation names: ask for a new ` +
        "token, made with `federa invite` on the directory that holds the council while `federa node` runs there. " +
        "The application is kept: `federa node` on this directory offers it again, in case that node gets the council",
    );
    this.name = "CouncilNotHeldError";
  }
}

/** Answered for a request the node received while stopping: nothing of it was done. */
export class NodeStoppingError extends CliError {
  constructor() {
    super(CliErrorCodes.NODE_STOPPING, "the node is stopping and did not do this: run the command again");
    this.name = "NodeStoppingError";
  }
}

/** Thrown when the running node could not be reached or answered with an error of its own. */
export class NodeUnreachableError extends CliError {
  constructor(message: string) {
    super(CliErrorCodes.NODE_UNREACHABLE, message);
    this.name = "NodeUnreachableError";
  }
}

/** Thrown when something listens on a node directory's control socket but sends nothing for too long. */
export class NodeNotAnsweringError extends CliError {
  constructor(path: string, silentMs: number) {
    super(
      CliErrorCodes.NODE_NOT_ANSWERING,
      `the node at ${path} does not answer (nothing heard for ${silentMs / 1000} s): if \`federa node\` runs on this ` +
        "directory, stop it and start it again; if none does, remove the socket file",
    );
    this.name = "NodeNotAnsweringError";
  }
}

/** The message and exit code of any error; `expected` is false for bugs, whose stack is worth showing. */
export function describeError(error: unknown): { code: string; message: string; exitCode: number; expected: boolean } {
  if (error instanceof CliError) {
    return { code: error.code, message: error.message, exitCode: error.exitCode, expected: true };
  }
  if (error instanceof FederaError) {
    // Input core's schemas or the council's rules refuse, or a fund, proposal or mandate named that the council does
    // not hold, came from the command line: a usage error.
    const usage = error.code === "INVALID_INPUT" || error.code === "REJECTED_ACT" || error.code === "NOT_FOUND";
    const exitCode = usage ? ExitCodes.USAGE : ExitCodes.FAILURE;
    return { code: error.code, message: error.message, exitCode, expected: true };
  }
  const e = error as NodeJS.ErrnoException;
  if (e && typeof e.code === "string" && typeof e.syscall === "string") {
    // File system and socket failures: the message names the path and the reason.
    return { code: e.code, message: e.message, exitCode: ExitCodes.FAILURE, expected: true };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { code: "INTERNAL", message, exitCode: ExitCodes.FAILURE, expected: false };
}

/** Rebuilds an error a running node reported over the control socket, keeping its code and exit code. */
export function remoteError(code: string, message: string, exitCode: number): CliError {
  return new CliError(code, message, exitCode === ExitCodes.USAGE ? ExitCodes.USAGE : ExitCodes.FAILURE);
}

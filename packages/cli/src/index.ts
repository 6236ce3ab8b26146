/**
 * The `federa` command as a library: the program (for embedding or testing), invitation tokens, the node directory
 * layout and the control socket client.
 *
 * @example
 * ```ts
 * import { run } from "@federa/cli";
 *
 * const code = await run(["status", "--dir", "/tmp/alice", "--json"]);
 * ```
 *
 * @packageDocumentation
 */

export type { SealedApplication } from "./application.js";
export { APPLY_PROTOCOL } from "./apply-protocol.js";
export type { ControlRequest, ControlResponse } from "./control-socket.js";
export { ControlClient } from "./control-socket.js";
export type { CliErrorCode } from "./errors.js";
export { CliError, CliErrorCodes, ExitCodes, UsageError } from "./errors.js";
export type { Invitation } from "./invite-token.js";
export { decodeInvitation, encodeInvitation } from "./invite-token.js";
export type { Application, CouncilMap, NodeInfo, Profile } from "./node-dir.js";
export { NodeDir } from "./node-dir.js";
export type { CouncilSummary, Request } from "./operations.js";
export { buildProgram, run } from "./program.js";

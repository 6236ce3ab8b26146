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

export type { SealedApplication } from "@federa/core";
// Defined in @federa/net: the demo page reads the same tokens and speaks the same protocol.
export type { Invitation } from "@federa/net";
export { APPLY_PROTOCOL, decodeInvitation, encodeInvitation } from "@federa/net";
export type { ControlRequest, ControlResponse } from "./control-socket.js";
export { ControlClient } from "./control-socket.js";
export type { CliErrorCode } from "./errors.js";
export { CliError, CliErrorCodes, ExitCodes, UsageError } from "./errors.js";
export type { Application, CouncilMap, NodeInfo, Profile } from "./node-dir.js";
export { NodeDir } from "./node-dir.js";
export type { CouncilSummary, Request } from "./operations.js";
export { buildProgram, run } from "./program.js";

/** The `federa` program: every command, and the mapping of errors to messages on stderr and exit codes. */
import { Command, CommanderError } from "commander";
import { registerCouncil } from "./commands/council.js";
import { registerDevice } from "./commands/device.js";
import { registerExport } from "./commands/export.js";
import { registerFederation } from "./commands/federation.js";
import { registerInit } from "./commands/init.js";
import { registerInvite } from "./commands/invite.js";
import { registerLedger } from "./commands/ledger.js";
import { registerMandate } from "./commands/mandate.js";
import { registerNode } from "./commands/node.js";
import { registerProposals } from "./commands/proposals.js";
import { registerSim } from "./commands/sim.js";
import { registerStatus } from "./commands/status.js";
import { describeError, ExitCodes } from "./errors.js";

/** Builds the command tree; commander's own errors are thrown (not exited on) so `run` maps them. */
export function buildProgram(): Command {
  const program = new Command("federa")
    .description("Federa: councils, ledgers and mandates on your own devices, synced peer to peer")
    .version("0.1.0")
    .exitOverride()
    .showHelpAfterError("(run with --help for usage)")
    // Commander's own errors start as the command's do, so one pattern finds every error line.
    .configureOutput({ outputError: (text, write) => write(`federa: error: ${text.replace(/^error: /, "")}`) });
  registerInit(program);
  registerCouncil(program);
  registerInvite(program);
  registerNode(program);
  registerProposals(program);
  registerLedger(program);
  registerMandate(program);
  registerDevice(program);
  registerFederation(program);
  registerStatus(program);
  registerExport(program);
  registerSim(program);
  return program;
}

/** Runs the program on arguments (without the node and script paths); returns the exit code. */
export async function run(args: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...args], { from: "user" });
    return ExitCodes.OK;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit 0; commander has already printed what went wrong otherwise.
      return error.exitCode === 0 ? ExitCodes.OK : ExitCodes.USAGE;
    }
    return report(error);
  }
}

/** Prints an error on stderr as the command reports every failure; returns its exit code. */
export function report(error: unknown): number {
  const { message, exitCode, expected } = describeError(error);
  process.stderr.write(`federa: error: ${message}\n`);
  if (!expected) {
    if (process.env.FEDERA_DEBUG) process.stderr.write(`${(error as Error).stack ?? ""}\n`);
    else process.stderr.write("federa: this is a bug; run again with FEDERA_DEBUG=1 for details\n");
  }
  return exitCode;
}

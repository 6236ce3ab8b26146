/** What every command shares: the `--dir`, `--json` and `--quiet` options and running a request where it belongs. */
import type { Command } from "commander";
import { parseName, parseReference } from "../args.js";
import { UsageError } from "../errors.js";
import { defaultDir, NodeDir } from "../node-dir.js";
import type { Request } from "../operations.js";
import { Output } from "../output.js";
import { execute, type Via } from "../session.js";

/** The options every command takes. */
export interface CommonOptions {
  readonly dir?: string;
  readonly json?: boolean;
  readonly quiet?: boolean;
  /** The member's display name (`init --name`): checked here, before anything is written. */
  readonly name?: string;
}

/** Adds the shared options to a command. */
export function common(command: Command, options: { council?: boolean } = {}): Command {
  command
    .option("-d, --dir <dir>", "node directory (default: $FEDERA_DIR or ~/.federa)")
    .option("--json", "print the result as one JSON line")
    .option("-q, --quiet", "no progress on stderr");
  if (options.council)
    command.option("-c, --council <id>", "council id or a unique prefix (optional with one council)", (v: string) =>
      parseReference(v, "--council"),
    );
  return command;
}

/** The directory and printer a command works with. */
export function contextOf(options: CommonOptions): { dir: NodeDir; out: Output } {
  // An empty --dir would resolve to the working directory, and `init` would write private keys there.
  if (options.dir !== undefined && options.dir.trim() === "") throw new UsageError("--dir must name a directory");
  if (options.name !== undefined) parseName(options.name, "--name");
  return {
    dir: new NodeDir(options.dir ?? defaultDir()),
    out: new Output({ json: options.json === true, quiet: options.quiet === true }),
  };
}

/**
 * The council named by a command's `[council]` argument and its `--council` option: either alone, or both when they
 * can name the same council (references to one id are prefixes of it, so one is a prefix of the other; the longer is
 * kept). Two that differ are refused rather than one silently winning.
 */
export function oneCouncil(argument: string | undefined, option: string | undefined): string | undefined {
  if (argument === undefined || option === undefined) return argument ?? option;
  const [a, b] = [argument.toLowerCase(), option.toLowerCase()];
  if (a.startsWith(b)) return argument;
  if (b.startsWith(a)) return option;
  throw new UsageError(`two councils named: ${argument} and --council ${option}; name one`);
}

/** Request fields that name something by its id or a unique prefix. */
const REFERENCES = ["council", "federation", "proposal", "mandate", "device", "alert", "convergence"] as const;

/** Runs a request (through the running node or offline) and prints its result. */
export async function run(
  options: CommonOptions,
  request: Request,
  human: (result: Record<string, unknown>) => string | readonly string[],
): Promise<{ result: Record<string, unknown>; via: Via }> {
  const { dir, out } = contextOf(options);
  for (const field of REFERENCES) {
    const value = (request as { readonly [K in (typeof REFERENCES)[number]]?: unknown })[field];
    if (typeof value === "string") parseReference(value, field);
  }
  const done = await execute(dir, request, out.progress);
  // The human form is only built when printed: building it may also say things on stderr.
  out.result({ ...done.result, via: done.via }, out.json ? "" : human(done.result));
  return done;
}

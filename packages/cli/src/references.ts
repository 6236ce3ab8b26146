/**
 * How an id named on the command line (or in a control-socket request) picks one item: its whole id, or a unique
 * prefix of at least `MIN_PREFIX` characters, matched the same way for every kind of id.
 */
import { type CliError, NotFoundCliError, UsageError } from "./errors.js";

/** The shortest prefix taken: a shorter one names a single item only while there happen to be few of them. */
export const MIN_PREFIX = 4;

/**
 * The characters of an id. Record ids (councils, federations, proposals, mandates, convergences, alerts) are
 * lowercase hex, so a prefix is matched whatever its case; member and device ids are base58, where case tells
 * characters apart (`a` and `A` are different digits), so a prefix is matched as typed.
 */
export type IdAlphabet = "hex" | "base58";

/** What is looked for, for the messages, and how its ids are spelled. */
export interface Lookup {
  /** What the items are ("proposal", "council"). */
  readonly what: string;
  /** Where they were looked for ("in this council"). */
  readonly where: string;
  readonly alphabet: IdAlphabet;
  /** The error for a reference that matches nothing (by default `NotFoundCliError`: exit code 2). */
  readonly notFound?: (message: string) => CliError;
}

/**
 * The one item whose id is `ref` or starts with it. Throws a `UsageError` (exit code 2) for a prefix shorter than
 * `MIN_PREFIX` or one several ids start with, and `lookup.notFound`'s error (exit code 2 too) when none matches.
 */
export function findByReference<T>(items: readonly T[], idOf: (t: T) => string, ref: string, lookup: Lookup): T {
  const typed = lookup.alphabet === "hex" ? ref.trim().toLowerCase() : ref.trim();
  const exact = items.find((i) => idOf(i) === typed);
  if (exact !== undefined) return exact;
  if (typed.length < MIN_PREFIX)
    throw new UsageError(
      `${lookup.what} "${ref}" is too short: name it by its id or at least ${MIN_PREFIX} characters of it`,
    );
  const matches = items.filter((i) => idOf(i).startsWith(typed));
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) {
    const message = `no ${lookup.what} ${ref} ${lookup.where}`;
    throw lookup.notFound?.(message) ?? new NotFoundCliError(message);
  }
  throw new UsageError(`${lookup.what} ${ref} is ambiguous: ${matches.length} match; give more of its id`);
}

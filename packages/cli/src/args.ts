/** Parsers for command-line values (amounts, times, lists, maps, ratios); each throws a `UsageError` naming the option. */
import type { Positions, Quorum, Threshold } from "@federa/core";
import { now as clock } from "./clock.js";
import { UsageError } from "./errors.js";

/** A positive integer counted in `unit` (minor units, minutes), at most `Number.MAX_SAFE_INTEGER`. */
export function parseAmount(value: string, what = "amount", unit = "minor units"): number {
  if (!/^\d+$/.test(value.trim())) throw new UsageError(`${what} must be a positive integer (${unit}), got "${value}"`);
  const n = Number(value.trim());
  if (!Number.isSafeInteger(n) || n < 1)
    throw new UsageError(`${what} must be between 1 and 2^53 - 1 (${unit}), got "${value}"`);
  return n;
}

/** A non-negative integer. */
export function parseCount(value: string, what: string): number {
  if (!/^\d+$/.test(value.trim())) throw new UsageError(`${what} must be a non-negative integer, got "${value}"`);
  const n = Number(value.trim());
  if (!Number.isSafeInteger(n)) throw new UsageError(`${what} is too large: "${value}"`);
  return n;
}

/** A finite number above 0 and at most `max` (a factor). */
export function parseFactor(value: string, what: string, max: number): number {
  const n = value.trim() === "" ? Number.NaN : Number(value);
  if (!(n > 0 && n <= max)) throw new UsageError(`${what} must be a number above 0 and at most ${max}, got "${value}"`);
  return n;
}

const UNITS: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** The longest delay a timer takes (setTimeout's limit, about 24.8 days): the bound of a duration that is waited out. */
export const MAX_WAIT_MS = 2 ** 31 - 1;

/** The longest span of a charter's window or of a time counted from now: a century. */
export const MAX_SPAN_MS = 100 * 365 * UNITS.d!;

/** A duration such as `90s`, `15m`, `2h`, `3d`, `1w`, in ms, at most `max` (by default, one a timer can wait out). */
export function parseDuration(value: string, what = "duration", max = MAX_WAIT_MS): number {
  const m = /^(\d+)([smhdw])$/.exec(value.trim());
  if (m === null) throw new UsageError(`${what} must look like 30s, 15m, 2h, 3d or 1w, got "${value}"`);
  const ms = Number(m[1]) * UNITS[m[2]!]!;
  if (ms > max) throw new UsageError(`${what} must be at most ${Math.floor(max / UNITS.d!)} days, got "${value}"`);
  return ms;
}

/** A point in time: `+2d` (from now, at most a century) or an ISO 8601 date, in ms since the epoch. */
export function parseTime(value: string, what: string, now: number = clock()): number {
  const v = value.trim();
  if (v.startsWith("+")) return now + parseDuration(v.slice(1), what, MAX_SPAN_MS);
  if (!/^\d{4}-\d{2}-\d{2}/.test(v)) throw new UsageError(`${what} must be +DURATION (like +2d) or an ISO date`);
  const ms = Date.parse(v);
  if (Number.isNaN(ms)) throw new UsageError(`${what} is not a valid date: "${value}"`);
  return ms;
}

/** A comma-separated list, trimmed, empty items dropped. */
export function parseList(value: string): string[] {
  return value
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** `a=3,b=1` as a map of non-negative integers. */
export function parseWeights(value: string, what: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of parseList(value)) {
    const eq = item.lastIndexOf("=");
    if (eq <= 0) throw new UsageError(`${what} must look like a=3,b=1, got "${item}"`);
    out[item.slice(0, eq).trim()] = parseCount(item.slice(eq + 1), `${what} for ${item.slice(0, eq).trim()}`);
  }
  return out;
}

/** Repeated `topic=a|b` options as a mandate's positions. */
export function parsePositions(values: readonly string[]): Positions {
  const out: Record<string, string[]> = {};
  for (const value of values) {
    const eq = value.indexOf("=");
    if (eq <= 0) throw new UsageError(`--positions must look like topic=a|b, got "${value}"`);
    const topic = value.slice(0, eq).trim();
    const positions = value
      .slice(eq + 1)
      .split("|")
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
    if (positions.length === 0) throw new UsageError(`--positions ${topic} names no position`);
    out[topic] = [...(out[topic] ?? []), ...positions];
  }
  return out;
}

/** The `N/D` part of `value`, between 0 and 1; `form` says what `value` should look like. */
function ratioOf(ratio: string, value: string, what: string, form: string): Threshold["ratio"] {
  const m = /^(\d+)\/(\d+)$/.exec(ratio.trim());
  if (m === null) throw new UsageError(`${what} must look like ${form}, got "${value}"`);
  const num = Number(m[1]);
  const den = Number(m[2]);
  if (den === 0 || num > den) throw new UsageError(`${what} must be a ratio between 0 and 1, got "${ratio}"`);
  return { num, den };
}

/** `N/D[:cast|eligible][:>|>=]`, for example `1/2:eligible:>`; defaults: of eligible members, strictly more. */
export function parseThreshold(value: string, what: string): Threshold {
  const form = "1/2, 2/3:cast or 1/2:eligible:>=";
  const [ratio = "", of = "eligible", cmp = ">", ...rest] = value.split(":");
  if ((of !== "cast" && of !== "eligible") || (cmp !== ">" && cmp !== ">=") || rest.length > 0)
    throw new UsageError(`${what} must look like ${form}, got "${value}"`);
  return reachable({ ratio: ratioOf(ratio, value, what, form), of, cmp }, value, what);
}

/** A share no count can ever meet (more than all, or at least more than all) would leave every vote failing. */
function reachable<T extends { ratio: { num: number; den: number }; cmp: ">" | ">=" }>(
  t: T,
  value: string,
  what: string,
): T {
  const { num, den } = t.ratio;
  if (t.cmp === ">" ? num >= den : num > den)
    throw new UsageError(`${what} "${value}" can never be met: nothing could ever pass (use :>= for "all of them")`);
  return t;
}

/**
 * `N/D[:>|>=]`, for example `1/2:>=`: a quorum is a share of the electorate, so its base is left out (`eligible`,
 * as a threshold spells it, is accepted); default: strictly more.
 */
export function parseQuorum(value: string, what: string): Quorum {
  const form = "1/2 or 1/2:>= (a share of the electorate)";
  const [ratio = "", ...rest] = value.split(":");
  const [cmp = ">", ...extra] = rest[0] === "eligible" ? rest.slice(1) : rest;
  if ((cmp !== ">" && cmp !== ">=") || extra.length > 0)
    throw new UsageError(`${what} must look like ${form}, got "${value}"`);
  return reachable({ ratio: ratioOf(ratio, value, what, form), cmp }, value, what);
}

/** How long a name may be: as core's record schemas allow. */
export const MAX_NAME = 200;

/** A display name (a member's, a council's): some visible text, at most `MAX_NAME` characters. */
export function parseName(value: string, what: string): string {
  if (value.trim() === "") throw new UsageError(`${what} must not be empty`);
  if (value.length > MAX_NAME)
    throw new UsageError(`${what} must be at most ${MAX_NAME} characters, got ${value.length}`);
  return value;
}

/** An id or a unique prefix of one: an empty one would be a prefix of every id. */
export function parseReference(value: string, what: string): string {
  if (value.trim() === "") throw new UsageError(`${what} must be an id or a prefix of one, got an empty string`);
  return value;
}

/** A JSON value given on the command line. */
export function parseJson(value: string, what: string): unknown {
  try {
    return JSON.parse(value);
  } catch (e) {
    throw new UsageError(`${what} is not valid JSON: ${(e as Error).message}`);
  }
}

/** One of a fixed set of words. */
export function parseChoice<T extends string>(value: string, choices: readonly T[], what: string): T {
  if (!(choices as readonly string[]).includes(value)) {
    throw new UsageError(`${what} must be one of ${choices.join(", ")}, got "${value}"`);
  }
  return value as T;
}

/** Commander's accumulator for an option that may be repeated. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

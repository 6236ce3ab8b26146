/** Parsers for command-line values (amounts, times, lists, maps, ratios); each throws a `UsageError` naming the option. */
import type { Positions, Threshold } from "@federa/core";
import { now as clock } from "./clock.js";
import { UsageError } from "./errors.js";

/** A positive integer (minor units, minutes). */
export function parseAmount(value: string, what = "amount"): number {
  if (!/^\d+$/.test(value.trim()))
    throw new UsageError(`${what} must be a positive integer (minor units), got "${value}"`);
  const n = Number(value.trim());
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`${what} must be between 1 and 2^53, got "${value}"`);
  return n;
}

/** A non-negative integer. */
export function parseCount(value: string, what: string): number {
  if (!/^\d+$/.test(value.trim())) throw new UsageError(`${what} must be a non-negative integer, got "${value}"`);
  const n = Number(value.trim());
  if (!Number.isSafeInteger(n)) throw new UsageError(`${what} is too large: "${value}"`);
  return n;
}

const UNITS: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** A duration such as `90s`, `15m`, `2h`, `3d`, `1w`, in ms. */
export function parseDuration(value: string, what = "duration"): number {
  const m = /^(\d+)([smhdw])$/.exec(value.trim());
  if (m === null) throw new UsageError(`${what} must look like 30s, 15m, 2h, 3d or 1w, got "${value}"`);
  return Number(m[1]) * UNITS[m[2]!]!;
}

/** A point in time: `+2d` (from now) or an ISO 8601 date, in ms since the epoch. */
export function parseTime(value: string, what: string, now: number = clock()): number {
  const v = value.trim();
  if (v.startsWith("+")) return now + parseDuration(v.slice(1), what);
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

/** `N/D[:cast|eligible][:>|>=]`, for example `1/2:eligible:>`; defaults: of eligible members, strictly more. */
export function parseThreshold(value: string, what: string): Threshold {
  const [ratio = "", of = "eligible", cmp = ">"] = value.split(":");
  const m = /^(\d+)\/(\d+)$/.exec(ratio.trim());
  if (m === null || (of !== "cast" && of !== "eligible") || (cmp !== ">" && cmp !== ">=")) {
    throw new UsageError(`${what} must look like 1/2, 2/3:cast or 1/2:eligible:>=, got "${value}"`);
  }
  const num = Number(m[1]);
  const den = Number(m[2]);
  if (den === 0 || num > den) throw new UsageError(`${what} must be a ratio between 0 and 1, got "${ratio}"`);
  return { ratio: { num, den }, of, cmp };
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

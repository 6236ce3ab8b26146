/** Hybrid logical clocks: wall-clock milliseconds plus a counter, so a record is always later than all its author saw. */

/** A hybrid logical clock value: `ms` since the Unix epoch (from the author's wall clock) and a tie counter. */
export interface Hlc {
  readonly ms: number;
  readonly c: number;
}

export const HLC_ZERO: Hlc = { ms: 0, c: 0 };

/** Orders two clock values. */
export function compareHlc(a: Hlc, b: Hlc): number {
  return a.ms !== b.ms ? a.ms - b.ms : a.c - b.c;
}

/** The next clock value after `latest` (the largest the writer has seen), read at wall time `wallMs`. */
export function nextHlc(latest: Hlc, wallMs: number): Hlc {
  const wall = Math.floor(wallMs);
  return wall > latest.ms ? { ms: wall, c: 0 } : { ms: latest.ms, c: latest.c + 1 };
}

/** The larger of two clock values. */
export function maxHlc(a: Hlc, b: Hlc): Hlc {
  return compareHlc(a, b) >= 0 ? a : b;
}

/** True when the value is a well-formed clock (non-negative safe integers). */
export function isHlc(value: unknown): value is Hlc {
  if (typeof value !== "object" || value === null) return false;
  const { ms, c } = value as { ms?: unknown; c?: unknown };
  return Number.isSafeInteger(ms) && Number.isSafeInteger(c) && (ms as number) >= 0 && (c as number) >= 0;
}

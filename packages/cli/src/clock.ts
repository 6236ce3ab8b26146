/**
 * The wall clock that stamps records and reads `+2d`-style times: the system's, shifted by `FEDERA_CLOCK_OFFSET_MS`
 * when set (to rehearse what happens after a deadline without waiting for it; derivation never reads this clock).
 */
import { UsageError } from "./errors.js";

/** The furthest the clock may be shifted either way: a century, as far as a `+2d`-style time reaches. */
const MAX_OFFSET_MS = 100 * 365 * 86_400_000;

function offset(): number {
  const raw = process.env.FEDERA_CLOCK_OFFSET_MS;
  if (raw === undefined || raw === "") return 0;
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw new UsageError(`FEDERA_CLOCK_OFFSET_MS must be an integer, got "${raw}"`);
  // Every record stamped moves the council's time: one stamped millennia ahead would close every vote at once, for good.
  if (Math.abs(n) > MAX_OFFSET_MS)
    throw new UsageError(`FEDERA_CLOCK_OFFSET_MS must be within a century (±${MAX_OFFSET_MS} ms), got "${raw}"`);
  return n;
}

/** Milliseconds since the epoch, as this process stamps records. */
export function now(): number {
  return Date.now() + offset();
}

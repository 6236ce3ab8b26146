/** Polling with a deadline, for conditions that other processes make true in their own time. */

/**
 * Calls `probe` every `everyMs` until it returns something other than undefined or false, and returns that; throws
 * after `ms`, naming what was awaited and what the probe last saw.
 */
export async function waitFor<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  what: string,
  ms = 30_000,
  everyMs = 200,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const seen = await probe();
      if (seen !== undefined && seen !== false) return seen;
      last = seen;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${ms} ms waiting for ${what} (last: ${detail})`);
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** SIGINT and SIGTERM taken as a request to stop: recorded from the moment a long-running command starts. */

/** A stop request that may come at any time. */
export interface StopRequest {
  /** The signal received, once one has been. */
  readonly signal: string | undefined;
  /** Resolves with the first signal received. */
  readonly stopped: Promise<string>;
}

let caught: StopRequest | undefined;

/** Catches SIGINT and SIGTERM from now on (instead of dying on them) and reports the first; idempotent. */
export function catchStopSignals(): StopRequest {
  if (caught !== undefined) return caught;
  let signal: string | undefined;
  const stopped = new Promise<string>((resolve) => {
    for (const name of ["SIGINT", "SIGTERM"] as const) {
      process.on(name, () => {
        signal ??= name;
        resolve(signal);
      });
    }
  });
  caught = {
    get signal() {
      return signal;
    },
    stopped,
  };
  return caught;
}

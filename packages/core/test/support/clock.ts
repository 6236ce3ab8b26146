/** A deterministic wall clock for tests, shared by every simulated device: each reading is one second later. */
export const START = 1_700_000_000_000;

export class Clock {
  t = START;
  readonly now = (): number => {
    this.t += 1000;
    return this.t;
  };
  /** Skips ahead to just after `ms` (never back). */
  jumpPast(ms: number): void {
    this.t = Math.max(this.t, ms + 1);
  }
}

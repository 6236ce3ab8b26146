/** The demo's wall clock: virtual time that starts on a fixed morning, ticks a second per reading and jumps on demand. */

/** Saturday 1 March 2025, 09:00 UTC. */
export const DEMO_START = Date.UTC(2025, 2, 1, 9, 0, 0);

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;

/** Virtual time shared by every node of the page, so deadlines pass when a story says so rather than in a week. */
export class DemoClock {
  #ms: number;
  #listeners = new Set<() => void>();

  constructor(start: number = DEMO_START) {
    this.#ms = start;
  }

  /** Reads the time, moving it one second on: two acts never share a stamp. */
  readonly now = (): number => {
    const ms = this.#ms;
    this.#ms += 1000;
    this.#notify();
    return ms;
  };

  /** The time without moving it. */
  peek(): number {
    return this.#ms;
  }

  /** Moves forward by `ms`. */
  advance(ms: number): void {
    this.#ms += ms;
    this.#notify();
  }

  /** Moves forward to `ms` (never backwards). */
  to(ms: number): void {
    this.#ms = Math.max(this.#ms, ms);
    this.#notify();
  }

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #notify(): void {
    for (const l of this.#listeners) l();
  }
}

/** Printing: results on stdout (human lines, or one JSON line with `--json`), progress and logs on stderr. */

/** Options every command shares for printing. */
export interface OutputOptions {
  readonly json?: boolean;
  readonly quiet?: boolean;
}

/** Says what slow work is under way, on stderr, only when it is slow enough to wonder about. */
export class Progress {
  readonly #quiet: boolean;
  readonly #after: number;

  constructor(quiet: boolean, afterMs = 700) {
    this.#quiet = quiet;
    this.#after = afterMs;
  }

  /** Runs `fn`; if it takes longer than the threshold, reports the step and how long it took. */
  async during<T>(label: string, fn: () => Promise<T>): Promise<T> {
    if (this.#quiet) return fn();
    const started = performance.now();
    let shown = false;
    const timer = setTimeout(() => {
      shown = true;
      process.stderr.write(`federa: ${label}…\n`);
    }, this.#after);
    try {
      return await fn();
    } finally {
      clearTimeout(timer);
      if (shown)
        process.stderr.write(`federa: ${label}: done in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
    }
  }

  /** A step worth reporting whatever its length (network work). */
  note(message: string): void {
    if (!this.#quiet) process.stderr.write(`federa: ${message}\n`);
  }
}

/** Prints a command's result. */
export class Output {
  readonly json: boolean;
  readonly progress: Progress;

  constructor(options: OutputOptions) {
    this.json = options.json === true;
    this.progress = new Progress(options.quiet === true);
  }

  /** Prints `data` as one JSON line with `--json`, else the human lines. */
  result(data: unknown, human: string | readonly string[]): void {
    if (this.json) process.stdout.write(`${JSON.stringify(data)}\n`);
    else {
      const text = typeof human === "string" ? human : human.join("\n");
      if (text.length > 0) process.stdout.write(`${text}\n`);
    }
  }

  /** Prints text exactly as given (exports). */
  raw(text: string): void {
    process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
  }

  /** A warning on stderr (never on stdout, which scripts parse). */
  warn(message: string): void {
    process.stderr.write(`federa: warning: ${message}\n`);
  }
}

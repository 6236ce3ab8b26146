/** Printing: results on stdout (human lines, or one JSON line with `--json`), progress and logs on stderr. */

/** C0 and C1 control characters and DEL: a terminal acts on them rather than showing them. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/**
 * `text` with every control character shown as `\xHH`: names and titles come from other members' records, and one
 * holding a newline or an escape sequence must not forge lines or drive the reader's terminal.
 */
export function printable(text: string): string {
  return text.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/** Options every command shares for printing. */
export interface OutputOptions {
  readonly json?: boolean;
  readonly quiet?: boolean;
}

/** Says on stderr what slow work is under way (only when it is slow enough to wonder about), and what went wrong. */
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
    let done = false;
    const timer = setTimeout(() => {
      shown = true;
      process.stderr.write(`federa: ${label}…\n`);
    }, this.#after);
    try {
      const result = await fn();
      done = true;
      return result;
    } finally {
      clearTimeout(timer);
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      if (shown) process.stderr.write(`federa: ${label}: ${done ? "done" : "failed"} in ${seconds} s\n`);
    }
  }

  /** A step worth reporting whatever its length (network work). */
  note(message: string): void {
    if (!this.#quiet) process.stderr.write(`federa: ${message}\n`);
  }

  /** A warning on stderr, even with `--quiet`: what went wrong on the way is not progress. */
  warn(message: string): void {
    process.stderr.write(`federa: warning: ${printable(message)}\n`);
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

  /** Prints `data` as one JSON line with `--json` (exact: JSON escapes control characters), else the human lines. */
  result(data: unknown, human: string | readonly string[]): void {
    if (this.json) process.stdout.write(`${JSON.stringify(data)}\n`);
    else {
      const text = (typeof human === "string" ? [human] : human).map(printable).join("\n");
      if (text.length > 0) process.stdout.write(`${text}\n`);
    }
  }

  /** Prints text exactly as given (exports). */
  raw(text: string): void {
    process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
  }

  /** A warning on stderr (never on stdout, which scripts parse). */
  warn(message: string): void {
    this.progress.warn(message);
  }
}

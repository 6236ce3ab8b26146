/** `federa sim`: runs a simulator scenario with a progress bar and writes its metrics, tables and charts. */
import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import type { Progress, SimResult } from "@federa/sim";
import type { Command } from "commander";
import { parseCount, parseFactor } from "../args.js";
import { UsageError } from "../errors.js";
import { Output } from "../output.js";

/** The largest `--scale`: enough to grow a small scenario to thousands of councils; larger ones are written out. */
const MAX_SCALE = 1_000;

interface SimOptions {
  readonly seed?: string;
  readonly out?: string;
  readonly scale?: string;
  readonly json?: boolean;
  readonly quiet?: boolean;
}

/** A one-line bar on stderr, redrawn in place on a terminal and every tenth otherwise. */
function progressBar(quiet: boolean): (p: Progress) => void {
  if (quiet) return () => {};
  const tty = process.stderr.isTTY === true;
  let lastTenth = -1;
  let lastPhase = "";
  return (p) => {
    const share = p.total > 0 ? Math.min(1, p.done / p.total) : 1;
    const label = p.phase === "setup" ? "setting up" : p.variant === "main" ? p.phase : `${p.variant}: ${p.phase}`;
    const width = 30;
    const filled = Math.round(share * width);
    const line = `federa sim: [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${String(Math.round(share * 100)).padStart(3)}% ${label}`;
    if (tty) process.stderr.write(`\r${line}\x1b[K`);
    else if (Math.floor(share * 10) !== lastTenth || label !== lastPhase) process.stderr.write(`${line}\n`);
    lastTenth = Math.floor(share * 10);
    lastPhase = label;
  };
}

function summary(result: SimResult, dir: string, seconds: number): string[] {
  const lines = [
    `${result.scenario}, seed ${result.seed}: ${result.councils} councils of ${result.members}, ${seconds.toFixed(1)} s`,
  ];
  for (const run of result.runs) {
    const c = run.convergence;
    lines.push(
      `${result.runs.length > 1 ? `[${run.variant}] ` : ""}${run.nodes} nodes, ${run.traffic.messages} messages, ` +
        `${run.traffic.bytes} bytes; converged after ${c.converged}/${c.heals} heals` +
        (c.meanMs === null ? "" : ` (mean ${c.meanMs} ms, max ${c.maxRounds} rounds)`) +
        `; outcomes flipped ${run.outcomesFlipped.total}, expenses held ${run.expensesHeld.total}, ` +
        `out of mandate ${run.outOfMandate.federation}` +
        (run.pledges.alerts > 0
          ? `, pledges met ${run.pledges.met}/late ${run.pledges.late}/missed ${run.pledges.missed}`
          : "") +
        (c.consistent ? "" : "; REPLICAS DISAGREE"),
    );
  }
  lines.push(`written to ${dir}`);
  return lines;
}

export function registerSim(program: Command): void {
  program
    .command("sim")
    .description("run a simulator scenario (JSON or YAML) and write metrics.json, CSV tables and SVG charts")
    .argument("<scenario>", "a scenario file (see packages/sim/scenarios/ and docs/research.md)")
    .option("--seed <seed>", "the seed (default: the scenario's)")
    .option("--out <dir>", "output directory (default: ./sim-out/SCENARIO-SEED)")
    .option(
      "--scale <factor>",
      `multiply the number of councils, up to ${MAX_SCALE} (for quick trials of large scenarios)`,
    )
    .option("--json", "print the result as one JSON line")
    .option("-q, --quiet", "no progress on stderr")
    .action(async (file: string, options: SimOptions) => {
      const out = new Output({ json: options.json === true, quiet: options.quiet === true });
      const seed = options.seed === undefined ? undefined : parseCount(options.seed, "--seed");
      if (seed !== undefined && seed > 0xffff_ffff) throw new UsageError("--seed must be below 2^32");
      const scale = options.scale === undefined ? undefined : parseFactor(options.scale, "--scale", MAX_SCALE);
      // Before the run, which may take minutes: a directory that cannot be made is said now, not after it.
      if (options.out !== undefined) {
        const dir = resolve(options.out);
        await mkdir(dir, { recursive: true }).catch((e: Error) => {
          throw new UsageError(`--out ${dir} cannot be made a directory: ${e.message}`);
        });
      }
      // Loaded here, not at startup: other commands need none of the simulator.
      const { loadScenario, runScenario, ScenarioError, ScenarioNotFoundError, writeReport } = await import(
        "@federa/sim"
      );
      let result: SimResult;
      const started = performance.now();
      try {
        const scenario = await loadScenario(file);
        result = await runScenario(scenario, {
          ...(seed !== undefined ? { seed } : {}),
          ...(scale !== undefined ? { scale } : {}),
          onProgress: progressBar(options.quiet === true || options.json === true),
        });
      } catch (error) {
        // A scenario the schema refuses is the user's input: a usage error listing every problem.
        if (error instanceof ScenarioError || error instanceof ScenarioNotFoundError)
          throw new UsageError(error.message);
        throw error;
      }
      if (process.stderr.isTTY && options.quiet !== true && options.json !== true) process.stderr.write("\n");
      const seconds = (performance.now() - started) / 1000;
      const dir = resolve(options.out ?? `sim-out/${result.scenario}-${result.seed}`);
      const files = await writeReport(result, dir);
      out.result(
        {
          scenario: result.scenario,
          seed: result.seed,
          dir,
          files,
          seconds: Number(seconds.toFixed(2)),
          runs: result.runs.map((r) => ({
            variant: r.variant,
            messages: r.traffic.messages,
            bytes: r.traffic.bytes,
            convergence: r.convergence,
            outcomesFlipped: r.outcomesFlipped.total,
            expensesHeld: r.expensesHeld.total,
            outOfMandate: r.outOfMandate.federation,
            pledges: { met: r.pledges.met, late: r.pledges.late, missed: r.pledges.missed },
          })),
        },
        summary(result, dir, seconds),
      );
    });
}

/**
 * Federa's simulator: many councils and members acting on the real core, syncing with Automerge's sync protocol (as
 * automerge-repo runs it) over a simulated network with partitions, latency, loss and churn, on a virtual clock with
 * seeded randomness, so the same scenario and seed give the same metrics byte for byte.
 *
 * @example
 * ```ts
 * import { loadScenario, runScenario, writeReport } from "@federa/sim";
 *
 * const scenario = await loadScenario("packages/sim/scenarios/strike-fund-partition.json");
 * const result = await runScenario(scenario, { seed: 7 });
 * result.runs[0]?.expensesHeld.total; // overdrafts held across the partition
 * await writeReport(result, "sim-out/strike-fund-partition-7");
 * ```
 *
 * @packageDocumentation
 */

export type { SimErrorCode } from "./errors.js";
export { ScenarioError, ScenarioNotFoundError, SimError, SimErrorCodes } from "./errors.js";
export type { HealMetrics, Series, Traffic } from "./metrics.js";
export { charts, csvTables, writeReport } from "./report.js";
export type { Progress, RunMetrics, RunOptions, SimResult, Tally } from "./run.js";
export { runScenario } from "./run.js";
export type { Network, Scenario, ScenarioInput, Step, Topology, Variant } from "./scenario.js";
export {
  loadScenario,
  parseDuration,
  parseScenario,
  parseScenarioText,
  ScenarioSchema,
  SELECTOR,
  scaleScenario,
} from "./scenario.js";

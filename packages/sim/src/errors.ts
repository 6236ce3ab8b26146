/** Every error the simulator throws on purpose, each with a stable `code`. */

export const SimErrorCodes = {
  INVALID_SCENARIO: "INVALID_SCENARIO",
  SCENARIO_NOT_FOUND: "SCENARIO_NOT_FOUND",
} as const;

export type SimErrorCode = (typeof SimErrorCodes)[keyof typeof SimErrorCodes];

/** Base of the simulator's errors. */
export class SimError extends Error {
  readonly code: SimErrorCode;
  constructor(code: SimErrorCode, message: string) {
    super(message);
    this.name = "SimError";
    this.code = code;
  }
}

/** Thrown when a scenario file does not parse or breaks the schema; `issues` lists each problem with its path. */
export class ScenarioError extends SimError {
  readonly issues: readonly string[];
  constructor(source: string, issues: readonly string[]) {
    super(SimErrorCodes.INVALID_SCENARIO, `invalid scenario ${source}:\n${issues.map((i) => `  - ${i}`).join("\n")}`);
    this.name = "ScenarioError";
    this.issues = issues;
  }
}

/** Thrown when a scenario file cannot be read. */
export class ScenarioNotFoundError extends SimError {
  constructor(path: string) {
    super(SimErrorCodes.SCENARIO_NOT_FOUND, `no scenario at ${path}`);
    this.name = "ScenarioNotFoundError";
  }
}

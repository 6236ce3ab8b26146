/** Closing a vote at its deadline, the same for a council's proposals and a federation's: final count, history, effect. */
import type { OutcomeStep } from "../derive/model.js";
import type { Hlc } from "../hlc.js";
import type { TallyResult } from "./tally-types.js";

/** What closing needs of a proposal, a council's or a federation's. */
export interface Closable {
  readonly closesAt: number;
  status: "open" | "passed" | "failed";
  result: TallyResult | null;
  history: OutcomeStep[];
  effectOutcome: { applied: boolean; detail: string } | null;
}

/** Closes an open proposal at its deadline: the final count, a "close" step in its history, its effect if it passed. */
export function closeAtDeadline<P extends Closable>(
  p: P | undefined,
  count: (p: P) => TallyResult,
  applyEffect: (p: P, at: Hlc) => { applied: boolean; detail: string },
): void {
  if (p === undefined || p.status !== "open") return;
  const result = count(p);
  p.result = result;
  p.status = result.passed ? "passed" : "failed";
  const at: Hlc = { ms: p.closesAt, c: 0 };
  p.history.push({ at, record: null, passed: result.passed, event: "close" });
  if (result.passed) p.effectOutcome = applyEffect(p, at);
}

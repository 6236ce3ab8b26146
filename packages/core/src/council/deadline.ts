/**
 * A vote's life between opening and its deadline, the same for a council's proposals and a federation's: what it opens
 * with, its close scheduled, and closing it: final count, history, effect.
 */
import type { OutcomeStep, Timer } from "../derive/model.js";
import { schedule } from "../derive/model.js";
import type { Hlc } from "../hlc.js";
import type { ProposalId } from "../ids.js";
import type { TallyResult } from "./tally-types.js";

/** What closing needs of a proposal, a council's or a federation's. */
export interface Closable {
  readonly closesAt: number;
  status: "open" | "passed" | "failed";
  result: TallyResult | null;
  history: OutcomeStep[];
  effectOutcome: { applied: boolean; detail: string } | null;
}

/** The fields every proposal opens with: no votes, no count, no history yet. */
export function opening() {
  return { votes: new Map(), status: "open" as const, result: null, history: [] as OutcomeStep[], effectOutcome: null };
}

/** Adds an opened proposal to its model and schedules its close at its deadline. */
export function openUntilDeadline<P extends Closable & { readonly id: ProposalId }>(
  model: { proposals: Map<ProposalId, P>; timers: Timer[] },
  proposal: P,
): void {
  model.proposals.set(proposal.id, proposal);
  schedule(model, { ms: proposal.closesAt, key: proposal.id, kind: "close-proposal" });
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

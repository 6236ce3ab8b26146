/** Which vouched delegates' councils a federation refused: their vouch has nothing left to bootstrap. */
import type { FederationState } from "@federa/core";
import type { Delegate } from "./node-dir.js";

/**
 * The delegates whose council the federation refused: it is not a member, and every proposal to admit it has failed
 * (none open, none passed). A delegate with no council, or whose admission is not known here yet, is kept.
 */
export function refusedCandidates(state: FederationState, delegates: readonly Delegate[]): Delegate[] {
  return delegates.filter((d) => {
    const council = d.council;
    if (council === undefined || state.councils.some((c) => c.id === council)) return false;
    const admissions = state.proposals.filter((p) => p.effect.type === "admit-council" && p.effect.council === council);
    return admissions.length > 0 && admissions.every((p) => p.status === "failed");
  });
}

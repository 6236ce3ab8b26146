/**
 * What a merge changed at each place: core's `compareStates` for each council, and for the federation the votes and
 * acts that stopped counting and the outcomes that flipped.
 */
import type { FederationState, MergeChange } from "@federa/core";
import { compareStates } from "@federa/core";
import type { CouncilKey, PlaceId } from "./cast.js";
import { COUNCIL_KEYS } from "./cast.js";
import type { PlaceView } from "./place-node.js";

/** One change the federation's derived state shows after a merge. */
export interface FederationChange {
  readonly type: "outcome-changed" | "out-of-mandate" | "late-vote" | "outside-window" | "effect-failed";
  /** The proposal (for an outcome) or the record (for an act) it concerns. */
  readonly ref: string;
  readonly detail: string;
}

/** What one merge changed, place by place. */
export interface MergeReport {
  readonly id: number;
  /** The places that came together. */
  readonly places: readonly PlaceId[];
  /** Virtual time when the links came back. */
  readonly at: number;
  readonly status: "syncing" | "merged" | "timed-out";
  readonly changes: readonly PlaceChanges[];
}

export interface PlaceChanges {
  readonly place: PlaceId;
  readonly councils: Readonly<Record<CouncilKey, readonly MergeChange[]>>;
  readonly federation: readonly FederationChange[];
}

/** The federation's changes between two of its states. */
export function compareFederation(before: FederationState, after: FederationState): FederationChange[] {
  const changes: FederationChange[] = [];
  const old = new Map(before.proposals.map((p) => [p.id, p]));
  for (const p of after.proposals) {
    const was = old.get(p.id)?.result?.passed;
    const now = p.result?.passed;
    if (was !== undefined && now !== undefined && was !== now)
      changes.push({
        type: "outcome-changed",
        ref: p.id,
        detail: `"${p.title}": ${was ? "passing" : "failing"} → ${now ? "passing" : "failing"}${p.status === "open" ? " (still open)" : ""}`,
      });
  }
  const seen = new Set(before.conflicts.map((c) => `${c.type}:${c.record}`));
  for (const c of after.conflicts)
    if (!seen.has(`${c.type}:${c.record}`)) changes.push({ type: c.type, ref: c.record, detail: c.detail });
  return changes;
}

/** What changed at one place between its view before the links came back and after the merge settled. */
export function placeChanges(place: PlaceId, before: PlaceView, after: PlaceView): PlaceChanges {
  const councils = {} as Record<CouncilKey, MergeChange[]>;
  for (const key of COUNCIL_KEYS) councils[key] = compareStates(before.councils[key], after.councils[key]);
  return { place, councils, federation: compareFederation(before.federation, after.federation) };
}

/** Every ref (record, proposal or fund id) a place's latest merge touched: what the panels highlight. */
export function highlightedRefs(reports: readonly MergeReport[], place: PlaceId): Set<string> {
  const latest = [...reports].reverse().find((r) => r.status !== "syncing" && r.places.includes(place));
  const refs = new Set<string>();
  const mine = latest?.changes.find((c) => c.place === place);
  if (mine === undefined) return refs;
  for (const key of COUNCIL_KEYS) for (const c of mine.councils[key]) refs.add(c.ref);
  for (const c of mine.federation) refs.add(c.ref);
  return refs;
}

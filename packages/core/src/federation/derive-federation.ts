/** Deriving a federation's state from scratch, as a pure function of its valid records and its councils' states. */
import { Fold } from "../derive/fold.js";
import type { CouncilState } from "../derive/view.js";
import type { CouncilId } from "../ids.js";
import type { Exclusion } from "../records/integrity.js";
import type { FederaRecord } from "../records/record.js";
import { federationReducer } from "./federation-reducer.js";
import type { FederationState } from "./federation-view.js";
import { federationViewOf } from "./federation-view.js";
import { factsOf } from "./member-councils.js";

/**
 * The federation state that `records` (authentic records of one federation, in any order) and the member councils'
 * derived states imply; `structural` lists the records the integrity index excluded. `Federation` keeps the same
 * fold incrementally; this is the one-shot form, for tools and tests.
 */
export function deriveFederation(
  records: readonly FederaRecord[],
  councils: ReadonlyMap<CouncilId, CouncilState>,
  structural: readonly Exclusion[] = [],
): FederationState {
  const facts = new Map([...councils].map(([id, state]) => [id, factsOf(state, id)] as const));
  const fold = new Fold(federationReducer(facts));
  fold.update(records);
  return federationViewOf(fold.state, fold.records.length, structural, councils);
}

/**
 * The councils a federation's genesis names, read before anything can be vouched for: a node that does not yet hold
 * the founder's council cannot check the genesis's author, but the federation's id is the hash of that record, so
 * the list it names is the founders' own. The document's council links are a hint anyone with it can edit, never this.
 */
import type { FederationDoc } from "../documents/layout.js";
import { storageKeyOf, storedValue } from "../documents/layout.js";
import type { CouncilId, FederationId } from "../ids.js";
import { decodeRecord } from "../records/record.js";

/** The founding councils of federation `id` from its document; empty when its genesis record is missing or altered. */
export function foundingCouncils(doc: FederationDoc, id: FederationId): CouncilId[] {
  const decoded = decodeRecord(storageKeyOf(id), storedValue(doc, id));
  if (!("record" in decoded) || decoded.problem !== undefined || decoded.record.kind !== "federation.genesis")
    return [];
  const body = decoded.record.body as { readonly councils: readonly string[] };
  return [...new Set(body.councils)] as CouncilId[];
}

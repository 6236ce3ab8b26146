/**
 * A council's consent to a federation: its own decision to send a delegate there. A federation's genesis may name any
 * council; only a council that has mandated a delegate for that federation shares its documents with the others.
 */
import type { Hlc } from "../hlc.js";
import { compareHlc } from "../hlc.js";
import { isRecordId } from "../ids.js";
import type { Mandate } from "../mandate/mandate.js";

/** A federation as a mandate may name it: by its id or by its name. */
export interface FederationName {
  readonly id: string;
  readonly name: string;
}

/**
 * The bodies a council has mandated delegates for and not recalled: the federations it consents to. An expired
 * mandate still counts (a council stays federated between two delegates); recalling every mandate for a body withdraws.
 */
export function mandatedBodies(mandates: readonly Mandate[]): ReadonlySet<string> {
  const bodies = new Set<string>();
  for (const m of mandates) if (m.recalledAt === null) bodies.add(m.body);
  return bodies;
}

/**
 * Whether a mandate's `body` names `federation`: its id, or its name. A name written like a record id never counts as
 * a name, or a stranger's federation named after another's id would match mandates bound to that one by id.
 */
export function namesFederation(body: string, federation: FederationName): boolean {
  return body === federation.id || (body === federation.name && federation.name !== "" && !isRecordId(body));
}

/** Whether a council whose mandated bodies are `bodies` consents to `federation`. */
export function consentsTo(bodies: ReadonlySet<string>, federation: FederationName): boolean {
  for (const body of bodies) if (namesFederation(body, federation)) return true;
  return false;
}

/**
 * Whether a council whose latest announced withdrawal is `withdrawal` (a `federation.withdraw` record, which every
 * member council holds, unlike the recall in the council's own documents) is still out: at `at` when given (acts
 * before the announcement are judged without it), else now. It is back once it has mandated a delegate for the
 * federation after the recall announced, so a late announcement of an old recall cannot push it out again.
 */
export function stillWithdrawn(
  withdrawal: { readonly at: Hlc; readonly since: number } | undefined,
  mandates: Iterable<Mandate>,
  federation: FederationName,
  at?: Hlc,
): boolean {
  if (withdrawal === undefined || (at !== undefined && compareHlc(at, withdrawal.at) <= 0)) return false;
  for (const m of mandates) {
    if (!namesFederation(m.body, federation) || m.issuedAt.ms <= withdrawal.since) continue;
    if (at === undefined || compareHlc(m.issuedAt, at) <= 0) return false;
  }
  return true;
}

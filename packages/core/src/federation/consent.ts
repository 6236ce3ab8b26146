/**
 * A council's consent to a federation: its own decision to send a delegate there. A federation's genesis may name any
 * council; only a council that has mandated a delegate for that federation shares its documents with the others.
 */
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

/** Whether a council whose mandated bodies are `bodies` consents to `federation`. */
export function consentsTo(bodies: ReadonlySet<string>, federation: FederationName): boolean {
  return bodies.has(federation.id) || (federation.name !== "" && bodies.has(federation.name));
}

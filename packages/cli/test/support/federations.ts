/** Councils federating from the command line in tests: a council with its delegate mandated, and what status says. */
import { join } from "node:path";
import { federaJson, federaOk } from "./cli.js";
import { askNode } from "./node-process.js";

const HOUR = 3_600_000;

/** The federation every test council mandates its delegate for (by name). */
export const FEDERATION_NAME = "Northern Federation";

export interface FederationStatus {
  readonly federation: string;
  readonly name: string;
  readonly councils: {
    id: string;
    name: string | null;
    here: boolean;
    consents: boolean | null;
    withdrawn: boolean;
  }[];
  readonly proposals: { id: string; title: string; status: string; votes: Record<string, string> }[];
  readonly conflicts: { type: string; reason: string | null }[];
  readonly alerts: { id: string; what: string; responses: number; pledges: Record<string, string> }[];
}

export interface Voted {
  readonly record: string;
  readonly counted: boolean;
  readonly refused?: { type: string; reason: string | null };
  readonly via: "node" | "offline";
}

/**
 * A member founding a council (in `root/name`) whose members give them a mandate for the federation, voted and
 * issued offline; its records are stamped up to two hours on, so nodes that act on it run three hours on.
 */
export async function mandatedCouncil(
  root: string,
  name: string,
  council: string,
): Promise<{ dir: string; council: string; mandate: string }> {
  const dir = join(root, name.toLowerCase());
  await federaJson(["init", "--dir", dir, "--name", name]);
  const id = await federaOk(["council", "create", council, "--dir", dir]);
  const proposal = await federaOk([
    ...["mandate", "issue", "--delegate", "me", "--body", FEDERATION_NAME],
    ...["--positions", "*=yes|no", "--expires", "+30d", "--closes", "+1h", "--dir", dir],
  ]);
  await federaOk(["vote", proposal, "--choice", "yes", "--dir", dir]);
  // The issuing vote takes effect at the first record after its deadline: one stamped two hours on.
  await federaOk(["tick", "--dir", dir], { FEDERA_CLOCK_OFFSET_MS: String(2 * HOUR) });
  return { dir, council: id, mandate: proposal };
}

/** `federation status` asked of the node running on `dir`. */
export async function federationStatus(dir: string): Promise<FederationStatus> {
  return (await askNode(dir, { op: "federation.status" })) as unknown as FederationStatus;
}

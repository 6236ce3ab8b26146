/** The access policy's rules for federations, on the policy alone: vouches stand only until membership can decide. */
import type { DocumentId } from "@automerge/automerge-repo/slim";
import type { CouncilId, CouncilState, FederationId } from "@federa/core";
import { describe, expect, it } from "vitest";
import { AccessPolicy } from "../src/access-policy.js";

const FEDERATION = "f0".repeat(32) as FederationId;
const OURS = "a1".repeat(32) as CouncilId;
const THEIRS = "b2".repeat(32) as CouncilId;
const doc = (name: string) => name as DocumentId;

/** A council state with one member holding these devices (all the policy reads). */
function withDevices(...devices: string[]): CouncilState {
  return { members: [{ devices }] } as unknown as CouncilState;
}

describe("AccessPolicy in a federation", () => {
  it("lets a vouched delegate's device in until the member councils are here, then only if its council lists it", () => {
    const policy = new AccessPolicy("self");
    let changes = 0;
    policy.onChange = () => changes++;
    policy.register(OURS, [doc("ours-council"), doc("ours-ledger")]);
    policy.update(OURS, withDevices("ada"));
    policy.registerFederation(FEDERATION, doc("federation"));
    policy.updateFederation(FEDERATION, [OURS, THEIRS]);
    policy.trustFor(FEDERATION, "tia");
    expect(changes).toBeGreaterThan(0);

    // Their council's documents are not here yet: the vouch lets Tia's device fetch and be served.
    expect(policy.knows("tia")).toBe(true);
    expect(policy.allows("tia", doc("federation"))).toBe(true);
    expect(policy.allows("tia", doc("ours-council"))).toBe(true);

    // Their council arrives and lists Tia's device: membership decides, and says yes.
    policy.register(THEIRS, [doc("theirs-council"), doc("theirs-ledger")]);
    policy.update(THEIRS, withDevices("tia"));
    expect(policy.allows("tia", doc("ours-council"))).toBe(true);

    // Tia's council revokes that device: the old vouch does not keep it in.
    policy.update(THEIRS, withDevices("tia-laptop"));
    expect(policy.allows("tia", doc("federation"))).toBe(false);
    expect(policy.allows("tia", doc("ours-council"))).toBe(false);
    expect(policy.knows("tia")).toBe(false);
    expect(policy.allows("tia-laptop", doc("ours-council"))).toBe(true);
  });

  it("never lets a vouch reach a council outside the federation", () => {
    const policy = new AccessPolicy("self");
    const outside = "c3".repeat(32) as CouncilId;
    policy.register(outside, [doc("outside-council")]);
    policy.update(outside, withDevices("ada"));
    policy.registerFederation(FEDERATION, doc("federation"));
    policy.updateFederation(FEDERATION, [OURS, THEIRS]);
    policy.trustFor(FEDERATION, "tia");
    expect(policy.allows("tia", doc("outside-council"))).toBe(false);
  });
});

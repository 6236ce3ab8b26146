/** The access policy's rules for federations, on the policy alone: vouches stand only until membership can decide. */
import type { DocumentId } from "@automerge/automerge-repo/slim";
import type { CouncilId, CouncilState, FederationId } from "@federa/core";
import { describe, expect, it, vi } from "vitest";
import { AccessPolicy } from "../src/access-policy.js";

const FEDERATION = "f0".repeat(32) as FederationId;
const OURS = "a1".repeat(32) as CouncilId;
const THEIRS = "b2".repeat(32) as CouncilId;
const doc = (name: string) => name as DocumentId;

/** A council state with one member holding these devices and a mandate for the federation (all the policy reads). */
function withDevices(...devices: string[]): CouncilState {
  return councilState(devices, [{ body: FEDERATION, recalled: false }]);
}

/** A council state with one member holding `devices`, and mandates for these bodies. */
function councilState(devices: string[], mandates: { body: string; recalled: boolean }[]): CouncilState {
  const recalledAt = { ms: 1, c: 0 };
  return {
    members: [{ devices }],
    mandates: mandates.map((m) => ({ body: m.body, recalledAt: m.recalled ? recalledAt : null })),
  } as unknown as CouncilState;
}

/** A policy holding two councils, both named in the federation "City federation". */
function cityFederation(): AccessPolicy {
  const policy = new AccessPolicy("self");
  policy.register(OURS, [doc("ours-council")]);
  policy.register(THEIRS, [doc("theirs-council")]);
  policy.registerFederation(FEDERATION, doc("federation"));
  policy.updateFederation(FEDERATION, [OURS, THEIRS], "City federation");
  return policy;
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

  it("shares a council's documents with a federation only while the council has a delegate mandated to it", () => {
    const policy = cityFederation();
    policy.update(THEIRS, withDevices("tia"));
    let changes = 0;
    policy.onChange = () => changes++;

    // Named in the genesis, but our council never decided to join: Tia reads the federation, not our council.
    policy.update(OURS, councilState(["ada"], []));
    expect(policy.allows("tia", doc("federation"))).toBe(true);
    expect(policy.allows("tia", doc("ours-council"))).toBe(false);
    // A mandate for another body is no consent either.
    policy.update(OURS, councilState(["ada"], [{ body: "Regional assembly", recalled: false }]));
    expect(policy.allows("tia", doc("ours-council"))).toBe(false);

    // Our council mandates a delegate for the federation, by its name: Tia now reads our council.
    changes = 0;
    policy.update(OURS, councilState(["ada"], [{ body: "City federation", recalled: false }]));
    expect(changes).toBe(1);
    expect(policy.allows("tia", doc("ours-council"))).toBe(true);
    // And by its id, the same.
    policy.update(OURS, councilState(["ada"], [{ body: FEDERATION, recalled: false }]));
    expect(policy.allows("tia", doc("ours-council"))).toBe(true);
    // Recalling that mandate withdraws; the council's own members keep their access.
    policy.update(OURS, councilState(["ada"], [{ body: FEDERATION, recalled: true }]));
    expect(policy.allows("tia", doc("ours-council"))).toBe(false);
    expect(policy.allows("ada", doc("ours-council"))).toBe(true);
  });

  it("lets only the members of consenting councils read the others' documents", () => {
    const policy = cityFederation();
    policy.update(OURS, withDevices("ada"));
    // Their council is named, and held here, but has mandated nobody: its members get our documents no more than
    // it shares its own.
    policy.update(THEIRS, councilState(["tia"], []));
    expect(policy.allows("tia", doc("ours-council"))).toBe(false);
    expect(policy.allows("ada", doc("theirs-council"))).toBe(false);
    expect(policy.allows("tia", doc("federation"))).toBe(true);

    policy.update(THEIRS, councilState(["tia"], [{ body: "City federation", recalled: false }]));
    expect(policy.allows("tia", doc("ours-council"))).toBe(true);
    expect(policy.allows("ada", doc("theirs-council"))).toBe(true);
  });

  it("lets a council proposed for admission read the federation, and the members' documents only once admitted", () => {
    const policy = cityFederation();
    const CAL = "d4".repeat(32) as CouncilId;
    policy.update(OURS, withDevices("ada"));
    policy.update(THEIRS, withDevices("tia"));
    // Every member council is here, so an unnamed vouch would have lapsed; one for Cal's council stands.
    policy.trustFor(FEDERATION, "cal", CAL);
    expect(policy.knows("cal")).toBe(true);
    expect(policy.allows("cal", doc("federation"))).toBe(true);
    expect(policy.allows("cal", doc("ours-council"))).toBe(false);

    // The admission passes: Cal reads the members' documents while its council's documents are on their way.
    policy.updateFederation(FEDERATION, [OURS, THEIRS, CAL], "City federation");
    expect(policy.allows("cal", doc("ours-council"))).toBe(true);

    // Its council arrives: membership decides, for its devices and against a revoked one.
    policy.register(CAL, [doc("cal-council")]);
    policy.update(CAL, withDevices("cal"));
    expect(policy.allows("cal", doc("ours-council"))).toBe(true);
    expect(policy.allows("ada", doc("cal-council"))).toBe(true);
    policy.update(CAL, withDevices("cal-laptop"));
    expect(policy.allows("cal", doc("ours-council"))).toBe(false);
    expect(policy.allows("cal", doc("federation"))).toBe(false);
  });

  it("ends a vouch at its term, even for a council whose documents never come", () => {
    let t = 1_000;
    const policy = new AccessPolicy("self", () => t);
    policy.register(OURS, [doc("ours-council")]);
    policy.update(OURS, withDevices("ada"));
    policy.registerFederation(FEDERATION, doc("federation"));
    policy.updateFederation(FEDERATION, [OURS, THEIRS], "City federation");
    // Their council never consents, so its documents never reach this node: only the term ends Tia's vouch.
    policy.trustFor(FEDERATION, "tia", THEIRS, 5_000);
    expect(policy.allows("tia", doc("ours-council"))).toBe(true);
    t = 5_000;
    expect(policy.allows("tia", doc("ours-council"))).toBe(false);
    expect(policy.allows("tia", doc("federation"))).toBe(false);
    expect(policy.knows("tia")).toBe(false);
  });

  it("re-checks a 30-day vouch when it ends, not at once (past what one timer can hold)", () => {
    vi.useFakeTimers();
    try {
      const DAY = 86_400_000;
      const policy = cityFederation();
      let changes = 0;
      policy.onChange = () => changes++;
      policy.trustFor(FEDERATION, "cal", undefined, Date.now() + 30 * DAY);
      expect(changes).toBe(1); // the vouch itself
      vi.advanceTimersByTime(29 * DAY);
      expect(changes).toBe(1);
      vi.advanceTimersByTime(DAY + 10);
      expect(changes).toBe(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it("withdraws a vouch: a refused candidate reads nothing more", () => {
    const policy = cityFederation();
    const CAL = "d4".repeat(32) as CouncilId;
    policy.trustFor(FEDERATION, "cal", CAL);
    expect(policy.allows("cal", doc("federation"))).toBe(true);
    let changes = 0;
    policy.onChange = () => changes++;
    policy.distrustFor(FEDERATION, "cal");
    expect(changes).toBe(1);
    expect(policy.allows("cal", doc("federation"))).toBe(false);
    expect(policy.knows("cal")).toBe(false);
    policy.distrustFor(FEDERATION, "cal");
    expect(changes).toBe(1);
  });
});

describe("AccessPolicy.sharing", () => {
  it("groups peers by the documents they share with this node: one group per council, strangers in none", () => {
    const policy = new AccessPolicy("self");
    policy.register(OURS, [doc("ours-council"), doc("ours-ledger")]);
    policy.update(OURS, councilState(["self", "ada", "ben"], []));
    policy.register(THEIRS, [doc("theirs-council")]);
    policy.update(THEIRS, councilState(["self", "cai"], []));
    policy.trust("inviter");
    const groups = policy.sharing(["ada", "ben", "cai", "inviter", "stranger", "self"]).map((g) => [...g].sort());
    // Both documents of our council go to the same devices: one group, not two.
    expect(groups.sort()).toEqual([["ada", "ben"], ["cai"], ["inviter"]]);
  });

  it("puts a federation's document in a group of its own, over the member councils' devices", () => {
    const policy = cityFederation();
    policy.update(OURS, councilState(["ada"], [{ body: FEDERATION, recalled: false }]));
    policy.update(THEIRS, councilState(["tia"], [{ body: FEDERATION, recalled: false }]));
    const groups = policy.sharing(["ada", "tia"]).map((g) => [...g].sort());
    expect(groups).toContainEqual(["ada", "tia"]);
  });
});

describe("AccessPolicy.peers", () => {
  it("lists the devices to look for: members' devices of every council held, trusted and vouched peers, not strangers", () => {
    const policy = new AccessPolicy("self");
    policy.register(OURS, [doc("ours-council")]);
    policy.registerFederation(FEDERATION, doc("federation"));
    policy.updateFederation(FEDERATION, [OURS, THEIRS], "City federation");
    policy.update(OURS, councilState(["self", "ada", "ben"], []));
    policy.trust("inviter");
    // Vouched for while the other council's documents are not here yet.
    policy.trustFor(FEDERATION, "delegate");
    expect([...policy.peers()].sort()).toEqual(["ada", "ben", "delegate", "inviter"]);
    // Once they are, its members' devices are looked for, and membership alone decides.
    policy.register(THEIRS, [doc("theirs-council")]);
    policy.update(THEIRS, councilState(["cai"], []));
    expect([...policy.peers()].sort()).toEqual(["ada", "ben", "cai", "inviter"]);
    // A member who leaves: their device is looked for no more.
    policy.update(OURS, councilState(["self", "ada"], []));
    expect(policy.peers().has("ben")).toBe(false);
  });
});

describe("AccessPolicy.untrust", () => {
  it("ends trust: the peer is known again only as a member's device, and the Repo is told to re-check", () => {
    const policy = new AccessPolicy("self");
    policy.register(OURS, [doc("ours-council")]);
    policy.update(OURS, councilState(["self", "ada"], []));
    const changes = vi.fn();
    policy.onChange = changes;
    policy.trust("inviter");
    policy.trust("ada");
    expect(policy.knows("inviter")).toBe(true);
    policy.untrust("inviter");
    policy.untrust("ada");
    expect(policy.knows("inviter")).toBe(false);
    expect(policy.peers().has("inviter")).toBe(false);
    expect(policy.knows("ada")).toBe(true);
    expect(changes).toHaveBeenCalledTimes(4);
    policy.untrust("inviter"); // not trusted: nothing changes
    expect(changes).toHaveBeenCalledTimes(4);
  });
});

describe("AccessPolicy and a document being fetched", () => {
  it("lets known peers exchange it only while this node holds nothing of it, then only its council's devices", () => {
    const policy = new AccessPolicy("self");
    policy.register(OURS, [doc("ours-council")]);
    policy.update(OURS, councilState(["self", "ada"], []));
    policy.trust("inviter");
    let holdsNothing = true;
    policy.fetchable = () => holdsNothing;
    const changes = vi.fn();
    policy.onChange = changes;
    policy.want(doc("new-council"));
    expect(policy.allows("inviter", doc("new-council"))).toBe(true);
    expect(policy.allows("ada", doc("new-council"))).toBe(true);
    expect(policy.allows("stranger", doc("new-council"))).toBe(false);
    // Its content arrives: the Repo must re-check, and nobody gets it until its council is known.
    holdsNothing = false;
    policy.reconsiderWanted(doc("new-council"));
    expect(changes).toHaveBeenCalledTimes(1);
    expect(policy.allows("inviter", doc("new-council"))).toBe(false);
    expect(policy.allows("ada", doc("new-council"))).toBe(false);
    // Held: the Repo must re-check (the peers it stopped syncing it with may be members), and again once derived.
    policy.register(THEIRS, [doc("new-council")]);
    expect(changes).toHaveBeenCalledTimes(2);
    policy.update(THEIRS, councilState(["inviter"], []));
    expect(changes).toHaveBeenCalledTimes(3);
    expect(policy.allows("inviter", doc("new-council"))).toBe(true);
    expect(policy.allows("ada", doc("new-council"))).toBe(false);
    // Once registered, what `fetchable` says of it no longer matters, and re-checks are not asked for.
    policy.reconsiderWanted(doc("new-council"));
    expect(changes).toHaveBeenCalledTimes(3);
  });

  it("goes on fetching for an open still waiting when another open of the same document gives up", () => {
    const policy = new AccessPolicy("self");
    policy.trust("inviter");
    policy.want(doc("council"));
    policy.want(doc("council"));
    policy.unwant(doc("council"));
    expect(policy.allows("inviter", doc("council"))).toBe(true);
    policy.unwant(doc("council"));
    expect(policy.allows("inviter", doc("council"))).toBe(false);
  });

  it("serves a document whose open failed to no one, whatever it holds", () => {
    const policy = new AccessPolicy("self");
    policy.trust("inviter");
    policy.want(doc("wrong"));
    expect(policy.allows("inviter", doc("wrong"))).toBe(true);
    policy.unwant(doc("wrong"));
    expect(policy.allows("inviter", doc("wrong"))).toBe(false);
  });
});

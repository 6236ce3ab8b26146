/** Applications to join: sealed by a non-member without the council's documents, checked and written by a member. */
import { type CouncilId, createIdentity, sealApplication } from "@federa/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { acceptApplication, checkApplication, type FederaNode, type HeldCouncil } from "../src/index.js";
import { startFederaNode, stopFederaNodes } from "./support/federa-nodes.js";

let node: FederaNode;
let held: HeldCouncil;

beforeAll(async () => {
  node = await startFederaNode(await createIdentity());
  held = await node.foundCouncil({ name: "Allotment" });
});
afterAll(stopFederaNodes);

describe("applications", () => {
  it("opens an admission proposal naming the applicant's device, once however often it is delivered", async () => {
    const bob = await createIdentity();
    const sealed = await sealApplication(bob, held.council.id, "I grow beans");
    const proposal = await acceptApplication(held, sealed, bob.device.id);
    expect(proposal).toBe(sealed.record);
    const state = await held.council.state();
    const admission = state.proposals.find((p) => p.id === proposal);
    expect(admission).toMatchObject({
      status: "open",
      text: "I grow beans",
      effect: { type: "admit", member: bob.member, devices: [bob.device.id] },
    });
    const records = state.records;
    expect(await acceptApplication(held, sealed, bob.device.id)).toBe(proposal);
    expect((await held.council.state()).records).toBe(records);
  });

  it("a second application continues the applicant's chain instead of forking it", async () => {
    const carol = await createIdentity();
    const first = await sealApplication(carol, held.council.id, "first");
    const second = await sealApplication(carol, held.council.id, "second", { earlier: [first] });
    await acceptApplication(held, first, carol.device.id);
    await acceptApplication(held, second, carol.device.id);
    const state = await held.council.state();
    expect(state.excluded.filter((e) => e.id === first.record || e.id === second.record)).toEqual([]);
  });

  it("refuses forged, misdirected and misdelivered applications without writing them", async () => {
    const dave = await createIdentity();
    const sealed = await sealApplication(dave, held.council.id, "hello");
    const before = (await held.council.state()).records;

    const forged = { record: sealed.record, bytes: sealed.bytes.slice() };
    forged.bytes[5] = (forged.bytes[5]! + 1) % 256; // inside the signature
    await expect(checkApplication(held, forged, dave.device.id)).rejects.toThrow(/bad-signature/);

    const elsewhere = await sealApplication(dave, "ab".repeat(32) as CouncilId, "wrong council");
    await expect(checkApplication(held, elsewhere, dave.device.id)).rejects.toThrow(/wrong-council/);

    // Only a device the application lists may deliver it.
    const eve = await createIdentity();
    await expect(acceptApplication(held, sealed, eve.device.id)).rejects.toThrow(/not listed/);

    // A member's own application is refused, not written.
    const alice = node.identity;
    const own = await sealApplication(alice, held.council.id, "me again");
    await expect(checkApplication(held, own, alice.device.id)).rejects.toThrow(/already a member/);

    expect((await held.council.state()).records).toBe(before);
  });
});

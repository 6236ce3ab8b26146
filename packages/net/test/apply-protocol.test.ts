/** `/federa/apply/1.0.0` between two real nodes: applications are accepted until the applicant's rate limit is hit. */
import { createIdentity, type Identity, sealApplication } from "@federa/core";
import { tcp } from "@libp2p/tcp";
import { afterAll, describe, expect, it } from "vitest";
import { APPLY_MAX_MESSAGE, APPLY_PROTOCOL, readApplyMessage } from "../src/apply-protocol.js";
import {
  acceptApplication,
  applyRequest,
  createNode,
  type FederaNode,
  RateLimiter,
  requestBytes,
  sendApplication,
  serveApplications,
} from "../src/index.js";

const nodes: FederaNode[] = [];

async function start(identity: Identity, listen: string[]): Promise<FederaNode> {
  const node = await createNode({ identity, libp2p: { addresses: { listen }, transports: [tcp()] } });
  nodes.push(node);
  return node;
}

afterAll(async () => {
  await Promise.allSettled(nodes.map((n) => n.stop()));
});

describe("the apply protocol's rate limit", () => {
  it("answers an applicant over its limit 'rate limited' without handing its request on, until time passes", async () => {
    const alice = await start(await createIdentity(), ["/ip4/127.0.0.1/tcp/0"]);
    const held = await alice.foundCouncil({ name: "Orchard" });
    const clock = { t: Date.now() };
    const handled: string[] = [];
    await serveApplications(
      alice.libp2p,
      (request, from) => {
        handled.push(request.record);
        return acceptApplication(held, { record: request.record as never, bytes: requestBytes(request) }, from);
      },
      { limiter: new RateLimiter({ perPeer: 2, windowMs: 60_000, concurrent: 8, now: () => clock.t }) },
    );

    const bob = await createIdentity();
    const bobNode = await start(bob, []);
    const inviter = { peer: alice.libp2p.peerId.toString(), addresses: alice.addresses() };
    const first = await sealApplication(bob, held.council.id, "first");
    const second = await sealApplication(bob, held.council.id, "second", { earlier: [first] });
    const send = (sealed: typeof first) =>
      sendApplication(bobNode.libp2p, inviter, applyRequest(held.council.id, sealed));

    expect(await send(first)).toEqual({ ok: true, proposal: first.record });
    expect(await send(first)).toEqual({ ok: true, proposal: first.record }); // a retry counts too
    const records = (await held.council.state()).records;

    expect(await send(second)).toEqual({ ok: false, error: "rate limited, try again in 30 s", retry: true });
    expect(handled).toEqual([first.record, first.record]);
    const state = await held.council.state();
    expect(state.records).toBe(records);
    expect(state.proposals.map((p) => p.id)).toEqual([first.record]);

    clock.t += 30_000;
    expect(await send(second)).toEqual({ ok: true, proposal: second.record });
    expect((await held.council.state()).proposals.map((p) => p.id).sort()).toEqual(
      [first.record, second.record].sort(),
    );
  });
});

describe("a request that can never be an application", () => {
  it("is refused for good, not answered as worth sending again: not JSON, or too large", async () => {
    const alice = await start(await createIdentity(), ["/ip4/127.0.0.1/tcp/0"]);
    const handled: string[] = [];
    await serveApplications(alice.libp2p, async (request) => {
      handled.push(request.record);
      return request.record;
    });
    const other = await start(await createIdentity(), []);
    for (const body of [new TextEncoder().encode('{ "v": 1, torn'), new Uint8Array(APPLY_MAX_MESSAGE + 1).fill(32)]) {
      const stream = await other.libp2p.dialProtocol(alice.libp2p.getMultiaddrs(), APPLY_PROTOCOL);
      const answer = readApplyMessage(stream, AbortSignal.timeout(10_000));
      if (!stream.send(body)) await stream.onDrain();
      await stream.close().catch(() => {}); // the node may stop reading a message too large
      const got = (await answer) as { ok: boolean; retry?: boolean };
      expect(got.ok).toBe(false);
      expect(got.retry).toBeUndefined();
    }
    expect(handled).toEqual([]);
  });
});

describe("a member's node accepting applications", () => {
  it("writes a delivered application as an admission proposal, flushed and reported; refuses one for a council it lacks", async () => {
    const alice = await start(await createIdentity(), ["/ip4/127.0.0.1/tcp/0"]);
    const held = await alice.foundCouncil({ name: "Bike kitchen" });
    const accepted: unknown[] = [];
    alice.events.on("application:accepted", (a) => accepted.push(a));
    await alice.acceptApplications();

    const bob = await createIdentity();
    const bobNode = await start(bob, []);
    const inviter = { peer: alice.libp2p.peerId.toString(), addresses: alice.addresses() };
    const sealed = await sealApplication(bob, held.council.id, "I fix brakes");
    expect(await sendApplication(bobNode.libp2p, inviter, applyRequest(held.council.id, sealed))).toEqual({
      ok: true,
      proposal: sealed.record,
    });
    expect(accepted).toEqual([{ council: held.council.id, record: sealed.record, from: bob.device.id }]);
    const admission = (await held.council.state()).proposals.find((p) => p.id === sealed.record);
    expect(admission).toMatchObject({ status: "open", effect: { type: "admit", member: bob.member } });

    const elsewhere = await sealApplication(bob, "cd".repeat(32) as never, "wrong place");
    // Not a refusal: the council may yet come to this node, so the applicant is told to try again, with a code that
    // tells this from a busy node (a token for another council is the likelier cause).
    expect(await sendApplication(bobNode.libp2p, inviter, applyRequest("cd".repeat(32), elsewhere))).toEqual({
      ok: false,
      error: "this node does not hold that council",
      retry: true,
      code: "council-not-held",
    });
    // A refusal of the application itself is final: no retry.
    const carols = await sealApplication(await createIdentity(), held.council.id, "Bob brings it for me");
    const answer = await sendApplication(bobNode.libp2p, inviter, applyRequest(held.council.id, carols));
    expect(answer).toEqual({ ok: false, error: expect.stringMatching(/not listed/) });
    expect(accepted).toHaveLength(1);
  });
});

/**
 * The running node's workspace and the inviter it trusts: trusted while the council it invited to is being fetched,
 * not once the council is here, so an inviter whose device later leaves the council is a stranger again.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { addDevice, type CouncilId, createIdentity, type Identity } from "@federa/core";
import { createNode, type FederaNode } from "@federa/net";
import { tcp } from "@libp2p/tcp";
import { afterEach, describe, expect, it } from "vitest";
import { NodeDir } from "../src/node-dir.js";
import { NodeWorkspace } from "../src/node-workspace.js";
import { waitFor } from "./support/wait.js";

const nodes: FederaNode[] = [];
const dirs: string[] = [];

afterEach(async () => {
  await Promise.allSettled(nodes.splice(0).map((n) => n.stop()));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function start(identity: Identity): Promise<FederaNode> {
  const node = await createNode({
    identity,
    libp2p: { addresses: { listen: ["/ip4/127.0.0.1/tcp/0"] }, transports: [tcp()] },
  });
  nodes.push(node);
  return node;
}

describe("NodeWorkspace and the inviter", () => {
  it("trusts the inviter until the council is here, then membership alone decides", async () => {
    const ana = await createIdentity();
    const phone = await addDevice(ana); // Ana's second device, joining with a token from her first
    const desk = await start(ana);
    const held = await desk.foundCouncil({ name: "Bike co-op" });
    await held.council.authorizeDevice(phone.device.id);
    const councilId = held.council.id as CouncilId;

    const dir = await mkdtemp(join(tmpdir(), "federa-workspace-"));
    dirs.push(dir);
    const nodeDir = new NodeDir(dir);
    const inviter = desk.libp2p.peerId.toString();
    await nodeDir.saveJoin({ council: councilId, url: held.councilHandle.url, inviter, addresses: [] });
    const phoneNode = await start(phone);
    const workspace = new NodeWorkspace(nodeDir, phoneNode, 20_000);

    const opening = workspace.open(councilId, held.councilHandle.url);
    await phoneNode.libp2p.dial(desk.libp2p.getMultiaddrs()[0]!);
    const opened = await opening;
    expect(phoneNode.access.knows(inviter)).toBe(true); // a member's device now

    // Ana retires her first device: her phone's node learns it, and knows that device no more.
    await held.council.revokeDevice(ana.device.id);
    await waitFor(
      async () => !(await opened.council.state()).members.some((m) => m.devices.includes(ana.device.id as never)),
      "the revocation to reach the phone",
    );
    await waitFor(() => !phoneNode.access.knows(inviter), "the phone to stop knowing the retired device");
    expect(phoneNode.access.peers().has(inviter)).toBe(false);
  });

  it("opens the council even when its inviters cannot be read again once it is here", async () => {
    const ana = await createIdentity();
    const phone = await addDevice(ana);
    const desk = await start(ana);
    const held = await desk.foundCouncil({ name: "Food bank" });
    await held.council.authorizeDevice(phone.device.id);
    const dir = await mkdtemp(join(tmpdir(), "federa-workspace-"));
    dirs.push(dir);
    const nodeDir = new NodeDir(dir);
    const inviter = desk.libp2p.peerId.toString();
    await nodeDir.saveJoin({ council: held.council.id, url: held.councilHandle.url, inviter, addresses: [] });
    const readInviters = nodeDir.inviters.bind(nodeDir);
    let reads = 0;
    nodeDir.inviters = () => (++reads === 1 ? readInviters() : Promise.reject(new Error("EIO: disk gone")));
    const phoneNode = await start(phone);
    const workspace = new NodeWorkspace(nodeDir, phoneNode, 20_000);
    const opening = workspace.open(held.council.id as CouncilId, held.councilHandle.url);
    await phoneNode.libp2p.dial(desk.libp2p.getMultiaddrs()[0]!);
    const opened = await opening;
    expect(opened.council.id).toBe(held.council.id);
    expect(workspace.pending).toEqual([]);
    expect(reads).toBe(2);
  });
});

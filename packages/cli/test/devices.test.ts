/**
 * A member's second device, as separate `federa node` processes on loopback: authorised from the device holding the
 * member key, it fetches the council and writes for its member; once revoked, it receives nothing more.
 */
import { join } from "node:path";
import type { CouncilState } from "@federa/core";
import { describe, expect, it } from "vitest";
import { federa, federaJson } from "./support/cli.js";
import { askNode, nodeScratchDir, nodeStatus, startNode } from "./support/node-process.js";
import { waitFor } from "./support/wait.js";

const scratch = nodeScratchDir();

interface Initialised {
  readonly member: string;
  readonly device: string;
  readonly memberKey: boolean;
}

interface DeviceList {
  readonly member: string;
  readonly memberKey: boolean;
  readonly authorised: boolean;
  readonly devices: { device: string; thisDevice: boolean }[];
  readonly via: "node" | "offline";
}

async function proposals(dir: string): Promise<Set<string>> {
  const { state } = (await askNode(dir, { op: "state" })) as { state: CouncilState };
  return new Set(state.proposals.map((p) => p.id));
}

describe("a member's second device", { timeout: 180_000 }, () => {
  it("is authorised from the first, fetches the council and writes for its member; once revoked, it gets nothing more", async () => {
    const laptop = join(scratch.path, "laptop");
    const phone = join(scratch.path, "phone");
    const ada = await federaJson<Initialised>(["init", "--dir", laptop, "--name", "Ada"]);
    expect(ada.memberKey).toBe(true);
    await federaJson(["council", "create", "Bakery", "--dir", laptop]);
    const l = await startNode(laptop);

    // The phone gets a device key of its own for Ada, and no member key.
    const p = await federaJson<Initialised>(["init", "--dir", phone, "--name", "Ada", "--device-of", ada.member]);
    expect(p).toMatchObject({ member: ada.member, memberKey: false });
    expect(p.device).not.toBe(ada.device);

    const { token } = await federaJson<{ token: string }>(["invite", "--dir", laptop]);
    const added = await federaJson<{ record: string; via: string }>([
      ...["device", "add", p.device, "--label", "phone", "--dir", laptop],
    ]);
    expect(added.via).toBe("node");
    expect(added.record).toMatch(/^[0-9a-f]{64}$/);
    const again = await federaJson<{ record: string | null }>(["device", "add", p.device, "--dir", laptop]);
    expect(again.record).toBeNull();

    // The phone follows the token as a device: no application, the documents come from the inviter's node.
    const joined = await federaJson<{ device: boolean; available: boolean }>(["join", token, "--dir", phone]);
    expect(joined).toMatchObject({ device: true, available: false });
    await startNode(phone);
    await waitFor(async () => (await nodeStatus(phone)).councils[0]?.available === true, "the council on the phone");

    const list = await federaJson<DeviceList>(["device", "list", "--dir", phone]);
    expect(list).toMatchObject({ member: ada.member, memberKey: false, authorised: true, via: "node" });
    expect(list.devices.map((d) => d.device).sort()).toEqual([ada.device, p.device].sort());
    expect(list.devices.find((d) => d.thisDevice)?.device).toBe(p.device);

    // The phone writes for Ada, and the laptop counts it; it cannot sign device records, though.
    const fromPhone = await federaJson<{ proposal: string }>(["propose", "--title", "Buy flour", "--dir", phone]);
    await waitFor(async () => (await proposals(laptop)).has(fromPhone.proposal), "the phone's proposal on the laptop");
    const denied = await federa(["device", "revoke", ada.device, "--dir", phone]);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/needs the member key/);

    // Revoked from the laptop (by a prefix of its id): the laptop's node stops sending it anything.
    const revoked = await federaJson<{ device: string; thisDevice: boolean }>([
      ...["device", "revoke", p.device.slice(0, 20), "--dir", laptop],
    ]);
    expect(revoked).toMatchObject({ device: p.device, thisDevice: false });
    const mine = await federaJson<DeviceList>(["device", "list", "--dir", laptop]);
    expect(mine.devices.map((d) => d.device)).toEqual([ada.device]);
    const afterRevoke = await federaJson<{ proposal: string }>(["propose", "--title", "New oven", "--dir", laptop]);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(await proposals(phone)).not.toContain(afterRevoke.proposal);
    // Not told of its revocation either, the phone still writes; nothing it writes reaches the laptop.
    const late = await federaJson<{ proposal: string }>(["propose", "--title", "Late", "--dir", phone]);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(await proposals(laptop)).not.toContain(late.proposal);
    // Both nodes still run, and the laptop still holds everything it had.
    expect(await proposals(laptop)).toContain(fromPhone.proposal);
    expect(l.child.exitCode).toBeNull();
  });

  it("refuses what a device cannot do, with a reason", async () => {
    const dir = join(scratch.path, "tablet");
    const bad = await federa(["init", "--dir", dir, "--name", "Ada", "--device-of", "not-a-member"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/not a member id/);
    const ada = await federaJson<Initialised>(["init", "--dir", join(scratch.path, "desk"), "--name", "Ada"]);
    await federaJson(["council", "create", "Choir", "--dir", join(scratch.path, "desk")]);
    const own = await federa(["device", "add", ada.member, "--dir", join(scratch.path, "desk")]);
    expect(own.code).toBe(2);
    expect(own.stderr).toMatch(/is a member id, not a device id/);
    const notId = await federa(["device", "add", "phone", "--dir", join(scratch.path, "desk")]);
    expect(notId.code).toBe(2);
    expect(notId.stderr).toMatch(/not a device id/);
    const last = await federa(["device", "revoke", ada.device, "--dir", join(scratch.path, "desk")]);
    expect(last.code).toBe(2);
    expect(last.stderr).toMatch(/your last device in this council: pass --force/);
    const unknown = await federa(["device", "revoke", "12D3KooWxyz", "--dir", join(scratch.path, "desk")]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no device of yours 12D3KooWxyz/);
    // A device of a member outside the council cannot join it: it has no key to apply with.
    const { token } = await federaJson<{ token: string }>(["invite", "--dir", join(scratch.path, "desk")]);
    const other = await federaJson<Initialised>(["init", "--dir", join(scratch.path, "other"), "--name", "Eve"]);
    const eveDevice = join(scratch.path, "eve-phone");
    await federaJson(["init", "--dir", eveDevice, "--name", "Eve", "--device-of", other.member]);
    const refused = await federa(["join", token, "--dir", eveDevice]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/member key/);
    expect(ada.member).not.toBe(other.member);
  });
});

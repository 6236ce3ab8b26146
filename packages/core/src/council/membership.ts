/** Membership: the founders, admission and departure, and which devices may sign for which member. */
import { conflict, reject } from "../derive/context.js";
import type { CouncilModel } from "../derive/model.js";
import type { CouncilId, DeviceId, MemberId, ProposalId } from "../ids.js";
import type { FederaRecord } from "../records/record.js";

export function applyGenesis(model: CouncilModel, r: FederaRecord<"council.genesis">): void {
  if (model.council !== null) return reject(model, r, "invalid-act", "the council already has a genesis");
  if (!r.body.founders.includes(r.author))
    return reject(model, r, "invalid-act", "the founder must be among the founders");
  if (r.signer !== r.author)
    return reject(model, r, "device-not-authorised", "a genesis is signed by the founder's own key");
  model.council = r.id as CouncilId;
  model.name = r.body.name;
  model.charter = r.body.charter;
  model.genesisAt = r.at;
  for (const id of [...new Set(r.body.founders)].sort()) {
    model.members.set(id as MemberId, { id: id as MemberId, since: r.at, admittedBy: "genesis", devices: [] });
  }
}

function addDevice(model: CouncilModel, member: MemberId, device: DeviceId): boolean {
  const owner = model.deviceOwner.get(device);
  const m = model.members.get(member);
  if (m === undefined || (owner !== undefined && owner !== member) || (device as string) === member) return false;
  if (owner === member) return true;
  model.deviceOwner.set(device, member);
  m.devices = [...m.devices, device].sort();
  return true;
}

export function applyDeviceAuthorize(model: CouncilModel, r: FederaRecord<"device.authorize">): void {
  if (r.signer !== r.author)
    return reject(model, r, "device-not-authorised", "devices are authorised by the member's own key");
  if (!addDevice(model, r.author, r.body.device as DeviceId)) {
    reject(model, r, "invalid-act", "the device already acts for another member");
  }
}

export function applyDeviceRevoke(model: CouncilModel, r: FederaRecord<"device.revoke">): void {
  if (r.signer !== r.author)
    return reject(model, r, "device-not-authorised", "devices are revoked by the member's own key");
  const device = r.body.device as DeviceId;
  if (model.deviceOwner.get(device) !== r.author) return reject(model, r, "invalid-act", "not a device of this member");
  model.deviceOwner.delete(device);
  const m = model.members.get(r.author)!;
  m.devices = m.devices.filter((d) => d !== device);
}

/** Admits a member (effect of a passed admission); false with a reason when it cannot. */
export function admit(
  model: CouncilModel,
  proposal: ProposalId,
  member: MemberId,
  devices: readonly string[],
  at: FederaRecord["at"],
): string | null {
  if (model.members.has(member)) return "already a member";
  model.members.set(member, { id: member, since: at, admittedBy: proposal, devices: [] });
  model.former.delete(member);
  for (const d of devices) addDevice(model, member, d as DeviceId);
  return null;
}

/** Ends a membership and unbinds its devices. */
export function removeMember(
  model: CouncilModel,
  member: MemberId,
  at: FederaRecord["at"],
  how: "left" | ProposalId,
): string | null {
  const m = model.members.get(member);
  if (m === undefined) return "not a member";
  if (model.members.size === 1) return "the last member cannot leave";
  for (const d of m.devices) model.deviceOwner.delete(d);
  model.members.delete(member);
  model.former.set(member, { left: at, how });
  return null;
}

export function applyLeave(model: CouncilModel, r: FederaRecord<"member.leave">): void {
  const problem = removeMember(model, r.author, r.at, "left");
  if (problem !== null) conflict(model, "effect-failed", r, problem);
}

/**
 * Roles and rotation: nobody holds a role twice until every eligible member has held it once. Breaches are applied
 * but flagged, a second holder for the same meeting is a rotation conflict, and a role stuck with one person raises an alert.
 */
import { conflict, isMember, reject } from "../derive/context.js";
import type { CouncilModel, RoleModel } from "../derive/model.js";
import type { MemberId } from "../ids.js";
import type { FederaRecord } from "../records/record.js";

function roleOf(model: CouncilModel, role: string): RoleModel {
  let m = model.roles.get(role);
  if (m === undefined) {
    m = { role, cycle: [], lastHolder: null, streak: 0, meetings: new Map() };
    model.roles.set(role, m);
  }
  return m;
}

/** Members who may take the role next without breaching rotation, sorted. */
export function nextEligible(model: CouncilModel, role: RoleModel): MemberId[] {
  const held = new Set(role.cycle);
  const members = [...model.members.keys()].sort();
  const fresh = members.filter((m) => !held.has(m));
  return fresh.length > 0 ? fresh : members;
}

export function applyRoleAssign(model: CouncilModel, r: FederaRecord<"role.assign">): void {
  const { meeting, role: name, holder } = r.body;
  if (!model.charter!.roles.includes(name)) return reject(model, r, "invalid-act", `the charter names no role ${name}`);
  if (!isMember(model, holder)) return reject(model, r, "invalid-act", "the holder is not a member");
  const role = roleOf(model, name);
  const existing = role.meetings.get(meeting);
  if (existing !== undefined) {
    // First in (at, id) order keeps the role; the concurrent one is shown, not applied.
    conflict(
      model,
      "rotation-conflict",
      r,
      `${name} of "${meeting}" is already held by ${existing}; ${holder} not applied`,
    );
    return;
  }
  const eligible = new Set(nextEligible(model, role));
  const violation = !eligible.has(holder);
  if (violation)
    conflict(model, "rotation-violation", r, `${holder} holds ${name} again before every member has held it`);
  role.meetings.set(meeting, holder);
  const members = new Set(model.members.keys());
  role.cycle = [...role.cycle.filter((m) => members.has(m) && m !== holder), holder];
  if ([...members].every((m) => role.cycle.includes(m))) role.cycle = [];
  role.streak = role.lastHolder === holder ? role.streak + 1 : 1;
  role.lastHolder = holder;
  model.logs.roleHistory.push({ role: name, meeting, holder, at: r.at, record: r.id, violation });
  if (role.streak >= model.charter!.rotationStallAfter) {
    model.logs.alerts.push({
      type: "rotation-stalled",
      at: r.at,
      detail: `${holder} has held ${name} for ${role.streak} meetings in a row`,
    });
  }
}

/**
 * Convergences: time boxes called by a passed federation proposal, in which delegates ratify coordinated actions
 * through their mandates; ratifications stamped outside the box do not count, and after its end it is dissolved.
 */
import { reject } from "../derive/context.js";
import type { MandateId, ProposalId } from "../ids.js";
import type { FederaRecord } from "../records/record.js";
import { flag } from "./federation-model.js";
import type { Step } from "./member-councils.js";
import { actingFor, countsUnderMandate } from "./member-councils.js";

export function applyRatify(step: Step, r: FederaRecord<"federation.ratify">): void {
  const { model } = step;
  const p = model.proposals.get(r.body.convergence as ProposalId);
  if (p === undefined || p.effect.type !== "convergence")
    return reject(model, r, "invalid-act", "no convergence was proposed under that id");
  const council = actingFor(step, r, r.body.council);
  if (council === null) return;
  const { action } = r.body;
  const effect = p.effect;
  if (!effect.actions.includes(action))
    return reject(model, r, "invalid-act", `"${action}" is not an action of this convergence`);
  if (p.status === "failed") return reject(model, r, "invalid-act", "the convergence was not called");
  if (r.at.ms < effect.startsAt || r.at.ms > effect.endsAt) {
    const when = r.at.ms < effect.startsAt ? "before the convergence opens" : "after the convergence was dissolved";
    flag(model, {
      type: "outside-window",
      record: r.id,
      at: r.at,
      council,
      target: p.id,
      reason: null,
      detail: `ratification of "${action}" by ${council} ${when}; not counted`,
    });
    return;
  }
  // The window starts after the calling vote closes, and this record moved time past it: the convergence exists.
  const convergence = model.convergences.get(p.id);
  if (convergence === undefined) return reject(model, r, "invalid-act", "the convergence was not called");
  const what = `ratification of "${action}" by ${council}`;
  if (!countsUnderMandate(step, r, council, { target: p.id, topic: convergence.topic, position: action, what })) return;
  let byCouncil = convergence.ratifications.get(action);
  if (byCouncil === undefined) {
    byCouncil = new Map();
    convergence.ratifications.set(action, byCouncil);
  }
  // A council ratifies an action once; a repeat changes nothing.
  if (!byCouncil.has(council))
    byCouncil.set(council, {
      council,
      delegate: r.author,
      mandate: r.body.mandate as MandateId,
      record: r.id,
      at: r.at,
    });
}

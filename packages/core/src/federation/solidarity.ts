/** The solidarity pledge: a member council raises an alert (what happened, what it needs) and the others respond. */
import { reject } from "../derive/context.js";
import type { RecordId } from "../ids.js";
import type { FederaRecord } from "../records/record.js";
import type { Step } from "./member-councils.js";
import { actingFor } from "./member-councils.js";

export function applyAlert(step: Step, r: FederaRecord<"federation.alert">): void {
  const { model } = step;
  const council = actingFor(step, r, r.body.council);
  if (council === null) return;
  model.alerts.set(r.id, {
    id: r.id,
    council,
    author: r.author,
    what: r.body.what,
    needs: r.body.needs,
    at: r.at,
    pledgeWindowMs: model.charter!.pledgeWindowMs,
    expected: [...model.councils.keys()].filter((c) => c !== council).sort(),
    responses: [],
  });
}

export function applyResponse(step: Step, r: FederaRecord<"federation.response">): void {
  const { model } = step;
  const alert = model.alerts.get(r.body.alert as RecordId);
  if (alert === undefined) return reject(model, r, "invalid-act", "response to an unknown alert");
  const council = actingFor(step, r, r.body.council);
  if (council === null) return;
  if (council === alert.council) return reject(model, r, "invalid-act", "a council does not answer its own alert");
  // Fold order puts every response after its alert, so its delay is never negative.
  alert.responses.push({ record: r.id, council, author: r.author, offer: r.body.offer, at: r.at });
}

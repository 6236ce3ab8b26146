/**
 * Federation proposals: opened by a member of a member council, voted by delegates (one vote per member council, the
 * latest within a mandate), closed at the deadline by record clocks, and their effect applied when they pass.
 */
import { closeAtDeadline, opening, openUntilDeadline } from "../council/deadline.js";
import { tally } from "../council/tally.js";
import type { Ballot } from "../council/tally-types.js";
import { reject } from "../derive/context.js";
import type { Hlc } from "../hlc.js";
import type { CouncilId, MandateId, ProposalId } from "../ids.js";
import type { FederaRecord } from "../records/record.js";
import type { FederationMethod } from "../records/schemas.js";
import type { FederationModel, FederationProposalModel, ResolvedEffect } from "./federation-model.js";
import { flag } from "./federation-model.js";
import type { Step } from "./member-councils.js";
import { actingFor, countsUnderMandate, withdrawnAt } from "./member-councils.js";

/** The positions a delegate may state under each method: the choices of its ballot. */
export const FEDERATION_POSITIONS: { readonly [M in FederationMethod]: readonly string[] } = {
  majority: ["yes", "no", "abstain"],
  supermajority: ["yes", "no", "abstain"],
  consent: ["consent", "object", "stand-aside"],
  consensus: ["agree", "abstain", "disagree", "block"],
};

/** Fills in a convergence's end and topic; a reason when its window does not follow the vote that calls it. */
function resolveEffect(
  model: FederationModel,
  r: FederaRecord<"federation.proposal">,
  closesAt: number,
): ResolvedEffect | string {
  const effect = r.body.effect ?? { type: "none" };
  if (effect.type !== "convergence") return effect;
  const endsAt = effect.endsAt ?? effect.startsAt + model.charter!.convergenceMs;
  if (effect.startsAt <= closesAt) return "a convergence must start after the vote that calls it closes";
  if (endsAt <= effect.startsAt) return "a convergence must end after it starts";
  return { ...effect, endsAt, topic: effect.topic ?? r.id };
}

export function applyFederationProposal(step: Step, r: FederaRecord<"federation.proposal">): void {
  const { model } = step;
  const council = actingFor(step, r, r.body.council);
  if (council === null) return;
  const charter = model.charter!;
  const closesAt = r.body.closesAt ?? r.at.ms + charter.votingWindowMs;
  if (closesAt < r.at.ms) return reject(model, r, "invalid-act", "closes before it opens");
  const effect = resolveEffect(model, r, closesAt);
  if (typeof effect === "string") return reject(model, r, "invalid-act", effect);
  const proposal: FederationProposalModel = {
    id: r.id as ProposalId,
    author: r.author,
    council,
    title: r.body.title,
    text: r.body.text ?? "",
    topic: r.body.topic ?? r.id,
    method: r.body.method ?? charter.method,
    threshold: r.body.threshold ?? charter.threshold,
    quorum: r.body.quorum ?? charter.quorum,
    openedAt: r.at,
    closesAt,
    // Frozen at opening, as a council's electorate is; a council withdrawn by then has no delegate to vote.
    electorate: [...model.councils.keys()].filter((c) => !withdrawnAt(step, c, r.at)).sort(),
    effect,
    ...opening(),
  };
  openUntilDeadline(model, proposal);
}

function count(p: FederationProposalModel) {
  const ballots = new Map<string, Ballot>();
  for (const [council, v] of p.votes) ballots.set(council, { method: p.method, choice: v.position } as Ballot);
  return tally({
    method: p.method,
    options: [],
    threshold: p.threshold,
    quorum: p.quorum,
    electorate: p.electorate,
    ballots,
  });
}

export function applyFederationVote(step: Step, r: FederaRecord<"federation.vote">): void {
  const { model } = step;
  const p = model.proposals.get(r.body.proposal as ProposalId);
  if (p === undefined) return reject(model, r, "invalid-act", "vote on an unknown federation proposal");
  const council = actingFor(step, r, r.body.council);
  if (council === null) return;
  if (!p.electorate.includes(council))
    return reject(
      model,
      r,
      "invalid-act",
      "the council was not in the proposal's electorate: not a member council, or withdrawn, when it opened",
    );
  if (p.status !== "open") {
    flag(model, {
      type: "late-vote",
      record: r.id,
      at: r.at,
      council,
      target: p.id,
      reason: null,
      detail: `vote of ${council} after "${p.title}" closed; not counted`,
    });
    return reject(model, r, "invalid-act", "vote after the closing time");
  }
  const position = r.body.position;
  if (!FEDERATION_POSITIONS[p.method].includes(position))
    return reject(model, r, "invalid-act", `"${position}" is not a position of a ${p.method} vote`);
  const what = `${position} of ${council} on "${p.title}"`;
  if (!countsUnderMandate(step, r, council, { target: p.id, topic: p.topic, position, what })) return;
  p.votes.set(council, {
    council,
    delegate: r.author,
    mandate: r.body.mandate as MandateId,
    position,
    record: r.id,
    at: r.at,
  });
  const result = count(p);
  p.result = result;
  const last = p.history[p.history.length - 1];
  if (last === undefined || last.passed !== result.passed)
    p.history.push({ at: r.at, record: r.id, passed: result.passed, event: "vote" });
}

/** Closes a federation proposal at its deadline: final count, outcome history, and the effect when it passed. */
export function closeFederationProposal(model: FederationModel, id: ProposalId): void {
  closeAtDeadline(model.proposals.get(id), count, (p, at) => applyEffect(model, p, at));
}

function applyEffect(
  model: FederationModel,
  p: FederationProposalModel,
  at: Hlc,
): { applied: boolean; detail: string } {
  const e = p.effect;
  switch (e.type) {
    case "none":
      return { applied: true, detail: "resolution adopted" };
    case "admit-council": {
      const council = e.council as CouncilId;
      if (model.councils.has(council)) {
        const detail = `${council} is already a member council`;
        flag(model, { type: "effect-failed", record: p.id, at, council: null, target: p.id, reason: null, detail });
        return { applied: false, detail };
      }
      model.councils.set(council, { id: council, since: at, admittedBy: p.id });
      return { applied: true, detail: `admitted council ${council}` };
    }
    case "convergence":
      model.convergences.set(p.id, {
        id: p.id,
        title: e.title,
        topic: e.topic,
        startsAt: e.startsAt,
        endsAt: e.endsAt,
        actions: [...new Set(e.actions)],
        calledAt: at,
        ratifications: new Map(),
      });
      return { applied: true, detail: `convergence "${e.title}" called` };
  }
}

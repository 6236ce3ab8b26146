/** Proposals: opening with a frozen electorate, each member's latest vote, closing at the deadline and applying the effect. */
import { conflict, isMember, memberList, reject } from "../derive/context.js";
import type { CouncilModel, ProposalModel } from "../derive/model.js";
import type { Hlc } from "../hlc.js";
import type { FundId, MandateId, MemberId, ProposalId } from "../ids.js";
import { applyEffectBudget, applyEffectExpense, applyEffectSplit, openJarRound } from "../ledger/ledger.js";
import { issueMandate, recallMandate } from "../mandate/mandate.js";
import type { FederaRecord } from "../records/record.js";
import type { Charter, Effect } from "../records/schemas.js";
import { closeAtDeadline, opening, openUntilDeadline } from "./deadline.js";
import { admit, removeMember } from "./membership.js";
import { tally } from "./tally.js";
import type { Ballot, VoteMethod } from "./tally-types.js";

const OPTION_METHODS: ReadonlySet<VoteMethod> = new Set(["ranked", "score", "dot"]);

function openProposal(
  model: CouncilModel,
  r: FederaRecord,
  body: FederaRecord<"proposal.open">["body"],
  charter: Charter,
): ProposalModel | string {
  const method = body.method ?? charter.method;
  const options = body.options ?? [];
  if (OPTION_METHODS.has(method) && new Set(options).size < 2) return `${method} needs at least two distinct options`;
  const closesAt = body.closesAt ?? r.at.ms + charter.votingWindowMs;
  if (closesAt < r.at.ms) return "closes before it opens";
  const effect: Effect = body.effect ?? { type: "none" };
  let threshold = body.threshold ?? charter.threshold;
  if (effect.type === "recall") {
    const mandate = model.mandates.get(effect.mandate as MandateId);
    if (mandate === undefined) return "recall of an unknown mandate";
    threshold = mandate.recall; // the mandate fixed its own recall threshold when it was issued
  }
  const proposal: ProposalModel = {
    id: r.id as ProposalId,
    author: r.author,
    title: body.title,
    text: body.text ?? "",
    method,
    options,
    threshold,
    quorum: body.quorum ?? charter.quorum,
    openedAt: r.at,
    closesAt,
    electorate: memberList(model),
    effect,
    maxScore: body.maxScore ?? 5,
    dotsPerVoter: body.dotsPerVoter ?? 3,
    ...opening(),
  };
  openUntilDeadline(model, proposal);
  return proposal;
}

export function applyProposalOpen(model: CouncilModel, r: FederaRecord<"proposal.open">): void {
  const opened = openProposal(model, r, r.body, model.charter!);
  if (typeof opened === "string") reject(model, r, "invalid-act", opened);
}

/** An applicant's request to join opens an admission proposal under the charter's defaults. */
export function applyMemberApply(model: CouncilModel, r: FederaRecord<"member.apply">): void {
  if (r.signer !== r.author)
    return reject(model, r, "device-not-authorised", "an application is signed by the applicant's own key");
  if (isMember(model, r.author)) return reject(model, r, "invalid-act", "already a member");
  const opened = openProposal(
    model,
    r,
    {
      title: `Admit ${r.author}`,
      text: r.body.note,
      effect: { type: "admit", member: r.author, devices: r.body.devices },
    },
    model.charter!,
  );
  if (typeof opened === "string") reject(model, r, "invalid-act", opened);
}

function sameMethod(proposal: VoteMethod, ballot: Ballot["method"]): boolean {
  const yesNo = (m: string) => m === "majority" || m === "supermajority";
  return proposal === ballot || (yesNo(proposal) && yesNo(ballot));
}

function count(p: ProposalModel) {
  const ballots = new Map<string, Ballot>();
  for (const [voter, v] of p.votes) ballots.set(voter, { ...v.ballot, method: p.method } as Ballot);
  return tally({
    method: p.method,
    options: p.options,
    threshold: p.threshold,
    quorum: p.quorum,
    electorate: p.electorate,
    ballots,
    maxScore: p.maxScore,
    dotsPerVoter: p.dotsPerVoter,
  });
}

export function applyVote(model: CouncilModel, r: FederaRecord<"proposal.vote">): void {
  const p = model.proposals.get(r.body.proposal as ProposalId);
  if (p === undefined) return reject(model, r, "invalid-act", "vote on an unknown proposal");
  if (!p.electorate.includes(r.author))
    return reject(model, r, "invalid-act", "not in the electorate frozen at opening");
  if (p.status !== "open") {
    conflict(model, "late-vote", r, `vote after "${p.title}" closed; not counted`);
    return reject(model, r, "invalid-act", "vote after the closing time");
  }
  if (!sameMethod(p.method, r.body.ballot.method))
    return reject(model, r, "invalid-act", `ballot is not a ${p.method} ballot`);
  p.votes.set(r.author, { ballot: r.body.ballot, record: r.id, at: r.at });
  const result = count(p);
  p.result = result; // the provisional count while open, as ProposalState promises and compareStates reads
  const last = p.history[p.history.length - 1];
  if (last === undefined || last.passed !== result.passed)
    p.history.push({ at: r.at, record: r.id, passed: result.passed, event: "vote" });
  // A recall ends the mandate the moment it reaches its threshold, not at the deadline.
  if (p.effect.type === "recall" && result.passed) {
    const mandate = model.mandates.get(p.effect.mandate as MandateId);
    if (mandate !== undefined && mandate.recalledAt === null) {
      p.status = "passed";
      p.result = result;
      p.effectOutcome = recallMandate(mandate, p.id, r.at);
      p.history.push({ at: r.at, record: r.id, passed: true, event: "close" });
    }
  }
}

/** Closes a proposal at its deadline: final count, outcome history, and the effect when it passed. */
export function closeProposal(model: CouncilModel, id: ProposalId): void {
  closeAtDeadline(model.proposals.get(id), count, (p, at) => applyEffect(model, p, at));
}

function applyEffect(model: CouncilModel, p: ProposalModel, at: Hlc): { applied: boolean; detail: string } {
  const e = p.effect;
  const fail = (detail: string) => {
    model.logs.conflicts.push({ type: "effect-failed", record: p.id, at, detail: `"${p.title}": ${detail}` });
    return { applied: false, detail };
  };
  const done = (problem: string | null, ok: string) =>
    problem === null ? { applied: true, detail: ok } : fail(problem);
  switch (e.type) {
    case "none":
      return { applied: true, detail: "resolution adopted" };
    case "admit":
      return done(admit(model, p.id, e.member as MemberId, e.devices ?? [], at), `admitted ${e.member}`);
    case "remove":
      return done(removeMember(model, e.member as MemberId, at, p.id), `removed ${e.member}`);
    case "amend": {
      model.charter = { ...model.charter!, ...e.charter };
      return { applied: true, detail: `charter amended: ${Object.keys(e.charter).sort().join(", ")}` };
    }
    case "expense": {
      const problem = applyEffectExpense(model, p, at);
      if (problem !== null) return fail(problem);
      const line = model.logs.entries[model.logs.entries.length - 1];
      return line?.record === p.id && line.status === "held"
        ? { applied: false, detail: `expense held: ${line.reason}` }
        : { applied: true, detail: `paid ${e.amount} from ${e.fund} to ${e.payee}` };
    }
    case "budget":
      return done(applyEffectBudget(model, p, e.fund as FundId, e.amount), `budget of ${e.amount} on ${e.fund}`);
    case "mandate":
      return done(issueMandate(model, p, e, at), `mandate issued to ${e.delegate}`);
    case "recall": {
      const mandate = model.mandates.get(e.mandate as MandateId);
      if (mandate === undefined) return fail("unknown mandate");
      return recallMandate(mandate, p.id, at);
    }
    case "split":
      return done(
        applyEffectSplit(model, p, e, at),
        `split ${e.fund} into ${e.daughters.map((d) => d.fund).join(", ")}`,
      );
    case "jar-round":
      return done(openJarRound(model, p, e, at), `jar round opened on ${e.jar}`);
  }
}

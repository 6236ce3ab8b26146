/**
 * The ledger: cash funds whose balance never goes below zero (an overdrawing expense is held), time-swap mutual
 * credit that always sums to zero, commons-jar rounds emptied to exactly zero, and daughter funds split off a fund.
 */
import { conflict, isMember, reject } from "../derive/context.js";
import type { CouncilModel, FundModel, LedgerEntry, ProposalModel } from "../derive/model.js";
import { schedule } from "../derive/model.js";
import type { Hlc } from "../hlc.js";
import type { FundId, MandateId, MemberId, ProposalId, RecordId } from "../ids.js";
import { mandateAllows, mandateView } from "../mandate/mandate.js";
import type { FederaRecord } from "../records/record.js";
import type { Approval, Effect } from "../records/schemas.js";

/** Dots each member may place in a jar round. */
export const JAR_DOTS_PER_MEMBER = 10;

function entry(
  model: CouncilModel,
  e: Omit<LedgerEntry, "status" | "reason"> & Partial<Pick<LedgerEntry, "status" | "reason">>,
): void {
  model.logs.entries.push({ status: "applied", reason: "", ...e });
}

function newFund(
  model: CouncilModel,
  id: FundId,
  type: FundModel["type"],
  at: Hlc,
  parent: FundId | null,
  circle: MemberId[],
): FundModel {
  const fund: FundModel = {
    id,
    type,
    createdAt: at,
    parent,
    circle,
    balance: 0,
    accounts: new Map(),
    round: null,
    roundsClosed: 0,
  };
  model.funds.set(id, fund);
  return fund;
}

export function applyFundCreate(model: CouncilModel, r: FederaRecord<"fund.create">): void {
  if (model.funds.has(r.body.fund as FundId))
    return reject(model, r, "invalid-act", `fund ${r.body.fund} already exists`);
  newFund(model, r.body.fund as FundId, r.body.type, r.at, null, []);
}

function fundOf(model: CouncilModel, r: FederaRecord, id: string, type: FundModel["type"] | "money"): FundModel | null {
  const fund = model.funds.get(id as FundId);
  const ok = fund !== undefined && (type === "money" ? fund.type !== "time" : fund.type === type);
  if (!ok) {
    reject(model, r, "invalid-act", fund === undefined ? `no fund ${id}` : `fund ${id} is a ${fund.type} fund`);
    return null;
  }
  return fund;
}

/** Past this a balance stops being an exact integer: a credit that would pass it is refused, on every peer alike. */
const MAX_BALANCE = Number.MAX_SAFE_INTEGER;

function overflows(
  model: CouncilModel,
  r: FederaRecord,
  fund: { id: string; balance: number },
  amount: number,
): boolean {
  if (fund.balance + amount <= MAX_BALANCE) return false;
  reject(model, r, "invalid-act", `fund ${fund.id} would hold more than ${MAX_BALANCE}, past exact whole numbers`);
  return true;
}

export function applyDonate(model: CouncilModel, r: FederaRecord<"ledger.donate">): void {
  const fund = fundOf(model, r, r.body.fund, "cash");
  if (fund === null || overflows(model, r, fund, r.body.amount)) return;
  fund.balance += r.body.amount;
  entry(model, {
    record: r.id,
    at: r.at,
    fund: fund.id,
    type: "donation",
    amount: r.body.amount,
    by: r.author,
    counterparty: r.body.from ?? "",
    memo: "",
  });
}

/** Checks an approval; returns a commit step (drawing down a budget or allowance) or why it fails. */
function approve(
  model: CouncilModel,
  r: FederaRecord,
  fund: FundId,
  amount: number,
  approval: Approval,
): { commit: () => void } | string {
  const charter = model.charter!;
  switch (approval.kind) {
    case "petty":
      return amount <= charter.pettyCashLimit
        ? { commit: () => {} }
        : `over the petty-cash limit of ${charter.pettyCashLimit}`;
    case "budget": {
      const budget = model.budgets.get(approval.proposal as ProposalId);
      if (budget === undefined) return "no passed budget with that id";
      if (budget.fund !== fund) return `the budget is for ${budget.fund}`;
      if (budget.remaining < amount) return `over budget (${budget.remaining} left)`;
      return {
        commit: () => {
          budget.remaining -= amount;
        },
      };
    }
    case "mandate": {
      const mandate = model.mandates.get(approval.mandate as MandateId);
      if (mandate === undefined) return "no such mandate";
      if (mandate.delegate !== r.author) return "only the delegate spends under a mandate";
      const verdict = mandateAllows(mandateView(mandate), { type: "spend", fund, amount, at: r.at });
      if (!verdict.ok) {
        conflict(model, "out-of-mandate", r, `spend of ${amount} from ${fund}: ${verdict.reason}`);
        return `out of mandate: ${verdict.reason}`;
      }
      return {
        commit: () => {
          mandate.spent += amount;
        },
      };
    }
  }
}

function spendFrom(
  model: CouncilModel,
  r: FederaRecord,
  fund: FundModel,
  amount: number,
  approval: Approval | null,
  line: Omit<LedgerEntry, "status" | "reason" | "fund" | "amount" | "record" | "at">,
): boolean {
  const approved = approval === null ? { commit: () => {} } : approve(model, r, fund.id, amount, approval);
  const base = { record: r.id, at: r.at, fund: fund.id, amount, ...line };
  if (typeof approved === "string") {
    entry(model, { ...base, status: "held", reason: approved });
    conflict(model, "unapproved-held", r, `${line.type} of ${amount} from ${fund.id} held: ${approved}`);
    return false;
  }
  if (fund.balance < amount) {
    const reason = `would overdraw ${fund.id} (balance ${fund.balance})`;
    entry(model, { ...base, status: "held", reason });
    conflict(model, "overdraft-held", r, `${line.type} of ${amount} to ${line.counterparty} held: ${reason}`);
    return false;
  }
  approved.commit();
  fund.balance -= amount;
  entry(model, base);
  return true;
}

export function applySpend(model: CouncilModel, r: FederaRecord<"ledger.spend">): void {
  const fund = fundOf(model, r, r.body.fund, "cash");
  if (fund === null) return;
  spendFrom(model, r, fund, r.body.amount, r.body.approval, {
    type: "expense",
    by: r.author,
    counterparty: r.body.payee,
    memo: r.body.memo ?? "",
  });
}

export function applyTransfer(model: CouncilModel, r: FederaRecord<"ledger.transfer">): void {
  const from = fundOf(model, r, r.body.from, "cash");
  const to = from && fundOf(model, r, r.body.to, "money");
  if (from === null || to === null) return;
  if (from === to) return reject(model, r, "invalid-act", "a transfer needs two funds");
  if (overflows(model, r, to, r.body.amount)) return;
  if (
    spendFrom(model, r, from, r.body.amount, r.body.approval, {
      type: "transfer-out",
      by: r.author,
      counterparty: to.id,
      memo: "",
    })
  ) {
    to.balance += r.body.amount;
    entry(model, {
      record: r.id,
      at: r.at,
      fund: to.id,
      type: "transfer-in",
      amount: r.body.amount,
      by: r.author,
      counterparty: from.id,
      memo: "",
    });
  }
}

/** The receiver of the work records the swap: it is their balance that goes down. */
export function applySwap(model: CouncilModel, r: FederaRecord<"swap.record">): void {
  const fund = fundOf(model, r, r.body.fund, "time");
  if (fund === null) return;
  const provider = r.body.provider as MemberId;
  if (provider === r.author) return reject(model, r, "invalid-act", "nobody swaps time with themselves");
  if (!isMember(model, provider)) return reject(model, r, "invalid-act", "the provider is not a member");
  const limit = model.charter!.timeDebtLimitMinutes;
  const receiverBalance = fund.accounts.get(r.author) ?? 0;
  const base = {
    record: r.id,
    at: r.at,
    fund: fund.id,
    type: "swap" as const,
    amount: r.body.minutes,
    by: r.author,
    counterparty: provider,
    memo: r.body.note ?? "",
  };
  if (receiverBalance - r.body.minutes < -limit) {
    const reason = `would take ${r.author} below the debt limit of ${limit} minutes`;
    entry(model, { ...base, status: "held", reason });
    conflict(model, "debt-limit-held", r, reason);
    return;
  }
  fund.accounts.set(r.author, receiverBalance - r.body.minutes);
  fund.accounts.set(provider, (fund.accounts.get(provider) ?? 0) + r.body.minutes);
  entry(model, base);
}

export function applyJarContribute(model: CouncilModel, r: FederaRecord<"jar.contribute">): void {
  const jar = fundOf(model, r, r.body.jar, "jar");
  if (jar === null) return;
  jar.balance += r.body.amount;
  entry(model, {
    record: r.id,
    at: r.at,
    fund: jar.id,
    type: "jar-contribution",
    amount: r.body.amount,
    by: r.author,
    counterparty: "",
    memo: "",
  });
}

export function applyJarRequest(model: CouncilModel, r: FederaRecord<"jar.request">): void {
  const jar = fundOf(model, r, r.body.jar, "jar");
  if (jar === null) return;
  if (jar.round === null) return reject(model, r, "invalid-act", "no round is open on this jar");
  jar.round.requests.push({ id: r.id, by: r.author, amount: r.body.amount, purpose: r.body.purpose, at: r.at });
}

export function applyJarDots(model: CouncilModel, r: FederaRecord<"jar.dots">): void {
  const jar = fundOf(model, r, r.body.jar, "jar");
  if (jar === null) return;
  if (jar.round === null) return reject(model, r, "invalid-act", "no round is open on this jar");
  const known = new Set(jar.round.requests.map((q) => q.id as string));
  let total = 0;
  for (const [request, n] of Object.entries(r.body.dots)) {
    if (!known.has(request)) return reject(model, r, "invalid-act", "dots on an unknown request");
    total += n;
  }
  if (total > JAR_DOTS_PER_MEMBER) return reject(model, r, "invalid-act", `more than ${JAR_DOTS_PER_MEMBER} dots`);
  jar.round.dots.set(r.author, r.body.dots); // a member's latest dots replace the earlier ones
}

export function openJarRound(
  model: CouncilModel,
  p: ProposalModel,
  e: Extract<Effect, { type: "jar-round" }>,
  at: Hlc,
): string | null {
  const jar = model.funds.get(e.jar as FundId);
  if (jar === undefined || jar.type !== "jar") return `no jar ${e.jar}`;
  if (jar.round !== null) return "a round is already open";
  if (e.closesAt <= at.ms) return "the round would close before it opens";
  const remainder = model.funds.get(e.remainderTo as FundId);
  if (remainder === undefined || remainder.type !== "cash") return `no cash fund ${e.remainderTo} for the remainder`;
  jar.round = { proposal: p.id, closesAt: e.closesAt, remainderTo: remainder.id, requests: [], dots: new Map() };
  schedule(model, { ms: e.closesAt, key: jar.id, kind: "close-jar" });
  return null;
}

/**
 * Closes a jar round: requests are funded in order of dots (most first; ties by clock, then id), each up to its ask;
 * whatever is left goes to the round's remainder fund, so the jar ends at exactly zero.
 */
export function closeJarRound(model: CouncilModel, jarId: FundId): void {
  const jar = model.funds.get(jarId);
  const round = jar?.round;
  if (jar === undefined || round === null || round === undefined) return;
  const dots = new Map<string, number>();
  for (const allocation of round.dots.values())
    for (const [q, n] of Object.entries(allocation)) dots.set(q, (dots.get(q) ?? 0) + n);
  const ranked = round.requests
    .filter((q) => (dots.get(q.id) ?? 0) > 0)
    .sort(
      (a, b) =>
        (dots.get(b.id) ?? 0) - (dots.get(a.id) ?? 0) || a.at.ms - b.at.ms || a.at.c - b.at.c || (a.id < b.id ? -1 : 1),
    );
  const at: Hlc = { ms: round.closesAt, c: 0 };
  for (const q of ranked) {
    const paid = Math.min(q.amount, jar.balance);
    if (paid === 0) break;
    jar.balance -= paid;
    entry(model, {
      record: q.id,
      at,
      fund: jar.id,
      type: "jar-payout",
      amount: paid,
      by: q.by,
      counterparty: q.purpose,
      memo: `${dots.get(q.id)} dots`,
    });
  }
  if (jar.balance > 0) {
    const to = model.funds.get(round.remainderTo)!;
    to.balance += jar.balance;
    entry(model, {
      record: round.proposal as string as RecordId,
      at,
      fund: jar.id,
      type: "jar-remainder",
      amount: jar.balance,
      by: "" as MemberId,
      counterparty: to.id,
      memo: "remainder",
    });
    // The receiving fund shows the credit too, so every fund's balance is the sum of its own applied entries.
    entry(model, {
      record: round.proposal as string as RecordId,
      at,
      fund: to.id,
      type: "transfer-in",
      amount: jar.balance,
      by: "" as MemberId,
      counterparty: jar.id,
      memo: "jar remainder",
    });
    jar.balance = 0;
  }
  jar.round = null;
  jar.roundsClosed++;
}

export function applyEffectExpense(model: CouncilModel, p: ProposalModel, at: Hlc): string | null {
  const e = p.effect as Extract<Effect, { type: "expense" }>;
  const fund = model.funds.get(e.fund as FundId);
  if (fund === undefined || fund.type !== "cash") return `no cash fund ${e.fund}`;
  const pseudo = { id: p.id, at, author: p.author } as unknown as FederaRecord;
  spendFrom(model, pseudo, fund, e.amount, null, {
    type: "expense",
    by: p.author,
    counterparty: e.payee,
    memo: e.memo ?? p.title,
  });
  return null;
}

export function applyEffectBudget(model: CouncilModel, p: ProposalModel, fund: FundId, amount: number): string | null {
  const f = model.funds.get(fund);
  if (f === undefined || f.type !== "cash") return `no cash fund ${fund}`;
  model.budgets.set(p.id, { fund, remaining: amount });
  return null;
}

export function applyEffectSplit(
  model: CouncilModel,
  p: ProposalModel,
  e: Extract<Effect, { type: "split" }>,
  at: Hlc,
): string | null {
  const parent = model.funds.get(e.fund as FundId);
  if (parent === undefined || parent.type !== "cash") return `no cash fund ${e.fund}`;
  const threshold = model.charter!.splitThreshold;
  if (parent.balance <= threshold)
    return `${e.fund} holds ${parent.balance}, not more than the split threshold ${threshold}`;
  const total = e.daughters.reduce((s, d) => s + d.amount, 0);
  if (total > parent.balance) return `daughters need ${total}, the fund holds ${parent.balance}`;
  const names = new Set(e.daughters.map((d) => d.fund));
  if (names.size !== e.daughters.length || e.daughters.some((d) => model.funds.has(d.fund as FundId)))
    return "daughter fund names must be new and distinct";
  for (const d of e.daughters) {
    const daughter = newFund(
      model,
      d.fund as FundId,
      "cash",
      at,
      parent.id,
      [...new Set(d.circle)].sort() as MemberId[],
    );
    parent.balance -= d.amount;
    daughter.balance += d.amount;
    const line = { record: p.id, at, amount: d.amount, by: p.author, memo: p.title };
    entry(model, { ...line, fund: parent.id, type: "split-out", counterparty: daughter.id });
    entry(model, { ...line, fund: daughter.id, type: "split-in", counterparty: parent.id });
  }
  return null;
}

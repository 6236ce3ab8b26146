/** The ledger side of the API: funds, donations, expenses, transfers, time swaps and commons-jar rounds. */
import { InvalidInputError } from "../errors.js";
import type { FundId, MandateId, MemberId, ProposalId, RecordId } from "../ids.js";
import type { Approval, BodyOf } from "../records/schemas.js";
import type { Council } from "./council.js";

/** How an expense is approved: petty cash, a passed budget, or a mandate's allowance. */
export type SpendApproval = "petty" | { budget: ProposalId } | { mandate: MandateId };

function approvalOf(a: SpendApproval): Approval {
  if (a === "petty") return { kind: "petty" };
  if (typeof a === "object" && a !== null) {
    if ("budget" in a) return { kind: "budget", proposal: a.budget };
    if ("mandate" in a) return { kind: "mandate", mandate: a.mandate };
  }
  throw new InvalidInputError('approval must be "petty", { budget: proposalId } or { mandate: mandateId }');
}

/** Writes ledger records for a council. */
export class Ledger {
  readonly #council: Council;

  constructor(council: Council) {
    this.#council = council;
  }

  async #one<
    K extends
      | "fund.create"
      | "ledger.donate"
      | "ledger.spend"
      | "ledger.transfer"
      | "swap.record"
      | "jar.contribute"
      | "jar.request"
      | "jar.dots",
  >(kind: K, body: BodyOf<K>): Promise<RecordId> {
    const [id] = await this.#council.write([{ kind, body }]);
    return id!;
  }

  createFund(fund: string, type: "cash" | "time" | "jar", description?: string): Promise<RecordId> {
    return this.#one("fund.create", description ? { fund, type, description } : { fund, type });
  }

  /** Money in, in integer minor units. */
  donate(fund: FundId | string, amount: number, from?: string): Promise<RecordId> {
    return this.#one("ledger.donate", from ? { fund, amount, from } : { fund, amount });
  }

  /** An expense; held in derived state if unapproved or if it would overdraw the fund. */
  async spend(
    fund: FundId | string,
    amount: number,
    payee: string,
    approval: SpendApproval,
    memo?: string,
  ): Promise<RecordId> {
    return this.#one("ledger.spend", {
      fund,
      amount,
      payee,
      approval: approvalOf(approval),
      ...(memo ? { memo } : {}),
    });
  }

  async transfer(
    from: FundId | string,
    to: FundId | string,
    amount: number,
    approval: SpendApproval,
  ): Promise<RecordId> {
    return this.#one("ledger.transfer", { from, to, amount, approval: approvalOf(approval) });
  }

  /** Records that `provider` worked `minutes` for this member (the receiver, whose balance goes down). */
  swap(fund: FundId | string, provider: MemberId, minutes: number, note?: string): Promise<RecordId> {
    return this.#one("swap.record", { fund, provider, minutes, ...(note ? { note } : {}) });
  }

  contribute(jar: FundId | string, amount: number): Promise<RecordId> {
    return this.#one("jar.contribute", { jar, amount });
  }

  /** Asks the jar's current round for money; returns the request id to place dots on. */
  request(jar: FundId | string, amount: number, purpose: string): Promise<RecordId> {
    return this.#one("jar.request", { jar, amount, purpose });
  }

  /** Places this member's dots on requests of the jar's current round (replacing earlier dots). */
  dots(jar: FundId | string, dots: Readonly<Record<string, number>>): Promise<RecordId> {
    return this.#one("jar.dots", { jar, dots: { ...dots } });
  }
}

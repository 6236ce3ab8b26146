/** The baseline: the same ledger payloads written the way an automerge-repo application does today. */
import * as A from "@automerge/automerge";
import { type Spent, stopwatch } from "./stopwatch.js";
import { type Cast, type Payload, rng, uuidLike } from "./workload.js";

/** One record as a structured map: no signature, no chain, no derivation. */
export type NaiveRecord =
  | { kind: "donation"; fund: string; amount: number; from: string; author: string; at: number }
  | {
      kind: "expense";
      fund: string;
      amount: number;
      payee: string;
      memo: string;
      approval: "petty";
      author: string;
      at: number;
    }
  | { kind: "swap"; fund: string; provider: string; minutes: number; author: string; at: number };

/** Every record in one map keyed by a UUID. */
export type NaiveDoc = {
  records: { [id: string]: NaiveRecord };
};

/** The structured record of a payload. */
export function naiveRecord(p: Payload, cast: Cast): NaiveRecord {
  const author = cast.writers[p.writer]!.identity.member as string;
  switch (p.kind) {
    case "donation":
      return { kind: "donation", fund: p.fund, amount: p.amount, from: p.from, author, at: p.at };
    case "expense":
      return {
        kind: "expense",
        fund: p.fund,
        amount: p.amount,
        payee: p.payee,
        memo: p.memo,
        approval: "petty",
        author,
        at: p.at,
      };
    case "swap":
      return {
        kind: "swap",
        fund: p.fund,
        provider: cast.members[p.provider]!.member,
        minutes: p.minutes,
        author,
        at: p.at,
      };
  }
}

/** What a user derives at minimum: fund balances and time accounts, summed in one walk. */
export interface NaiveState {
  readonly records: number;
  readonly funds: Map<string, number>;
  readonly accounts: Map<string, number>;
}

/** Sums balances over every record of a loaded document. */
export function naiveDerive(doc: A.Doc<NaiveDoc>): NaiveState {
  const funds = new Map<string, number>();
  const accounts = new Map<string, number>();
  let records = 0;
  for (const r of Object.values(doc.records)) {
    records++;
    if (r.kind === "donation") funds.set(r.fund, (funds.get(r.fund) ?? 0) + r.amount);
    else if (r.kind === "expense") funds.set(r.fund, (funds.get(r.fund) ?? 0) - r.amount);
    else {
      accounts.set(r.author, (accounts.get(r.author) ?? 0) - r.minutes);
      accounts.set(r.provider, (accounts.get(r.provider) ?? 0) + r.minutes);
    }
  }
  return { records, funds, accounts };
}

/** A writer of naive records: one `A.change` per record, ids from a deterministic stream. */
export class NaiveWriter {
  #doc: A.Doc<NaiveDoc>;
  readonly #ids: () => number;

  constructor(doc: A.Doc<NaiveDoc> = A.from<NaiveDoc>({ records: {} }), idSeed = 3) {
    this.#doc = doc;
    this.#ids = rng(idSeed);
  }

  /** A loaded document; its ids come from another stream so new records never collide with stored ones. */
  static load(bytes: Uint8Array): NaiveWriter {
    return new NaiveWriter(A.load<NaiveDoc>(bytes), 4);
  }

  get doc(): A.Doc<NaiveDoc> {
    return this.#doc;
  }

  /** Writes one record in its own change; returns the time the change took. */
  write(record: NaiveRecord): Spent {
    const id = uuidLike(this.#ids);
    const stop = stopwatch();
    this.#doc = A.change(this.#doc, (d) => {
      d.records[id] = record;
    });
    return stop();
  }

  save(): Uint8Array {
    return A.save(this.#doc);
  }
}

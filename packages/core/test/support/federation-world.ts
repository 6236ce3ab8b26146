/** Councils with delegates mandated to one federation, in memory on a shared deterministic clock, for federation tests. */
import type { CouncilDoc, CouncilId, LedgerDoc, MandateId, Positions } from "../../src/index.js";
import { Council, createIdentity, foundCouncil, PlainDocument } from "../../src/index.js";
import type { Clock } from "./clock.js";

export { Clock } from "./clock.js";

export const MINUTE = 60 * 1000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
export const FEDERATION = "Northern Solidarity Federation";

export interface Assembly {
  readonly id: CouncilId;
  /** The council's documents, as its members' devices hold them. */
  readonly docs: { readonly council: PlainDocument<CouncilDoc>; readonly ledger: PlainDocument<LedgerDoc> };
  readonly reader: Council;
  readonly people: Council[];
}

export async function assembly(clock: Clock, name: string): Promise<Assembly> {
  const people = await Promise.all([createIdentity(), createIdentity()]);
  const founded = await foundCouncil(people[0]!, { name, founders: [people[1]!.member], now: clock.now });
  const docs = {
    council: new PlainDocument<CouncilDoc>(founded.council),
    ledger: new PlainDocument<LedgerDoc>(founded.ledger),
  };
  const councils = await Promise.all(people.map((identity) => Council.open(docs, { identity, now: clock.now })));
  return { id: founded.id, docs, reader: await Council.open(docs), people: councils };
}

/** Council `at` mandates `delegate` to the federation by a decision every member votes for. */
export async function mandate(clock: Clock, at: Assembly, delegate: Council, positions: Positions): Promise<MandateId> {
  const closesAt = clock.t + MINUTE;
  const id = await at.people[0]!.proposeMandate({
    delegate: delegate.identity!.member,
    body: FEDERATION,
    instructions: "Carry the assembly's line",
    positions,
    startsAt: closesAt,
    expiresAt: closesAt + 30 * DAY,
    recall: { ratio: { num: 1, den: 2 }, of: "eligible", cmp: ">" },
    closesAt,
  });
  for (const p of at.people) await p.vote(id, { method: "majority", choice: "yes" });
  clock.jumpPast(closesAt);
  await at.people[0]!.tick();
  return id as string as MandateId;
}

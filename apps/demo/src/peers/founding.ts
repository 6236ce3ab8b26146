/**
 * How the demo's world begins, on the north shop's node while every place is connected: both councils founded with
 * their people's devices, funds and donations, the federation, and each council's delegate mandated by a vote.
 */
import * as A from "@automerge/automerge";
import type { AutomergeUrl } from "@automerge/automerge-repo";
import type { Act, Charter, CouncilDoc, DeviceId, LedgerDoc, MandateId, MemberId } from "@federa/core";
import { foundCouncil, foundFederation } from "@federa/core";
import type { CouncilKey, Keys } from "./cast.js";
import { COUNCIL_KEYS, COUNCILS, devicesOf, FEDERATION_NAME } from "./cast.js";
import type { DemoClock } from "./clock.js";
import { HOUR, MINUTE } from "./clock.js";
import type { PlaceNode } from "./place-node.js";

const DAY = 24 * HOUR;

/** Each council's charter: petty cash for small spends, proposals open two hours unless they say otherwise. */
export const CHARTERS: Readonly<Record<CouncilKey, Partial<Charter>>> = {
  bakery: { pettyCashLimit: 25_000, votingWindowMs: 2 * HOUR },
  tenants: { pettyCashLimit: 10_000, votingWindowMs: 2 * HOUR },
};

/** Positions every delegate may take on any federation proposal (the `*` topic). */
export const DELEGATE_POSITIONS = { "*": ["yes", "no", "abstain"] };

/** What the founding left for the other places to open. */
export interface Founded {
  readonly urls: Readonly<Record<CouncilKey, AutomergeUrl>>;
  readonly federation: AutomergeUrl;
  readonly mandates: Readonly<Record<CouncilKey, MandateId>>;
}

async function foundOne(north: PlaceNode, keys: Keys, clock: DemoClock, key: CouncilKey): Promise<AutomergeUrl> {
  const cast = COUNCILS[key];
  const founder = keys.identity(cast.people[0]!, "north");
  const founded = await foundCouncil(founder, {
    name: cast.name,
    founders: cast.people.map((p) => keys.members.get(p)!),
    charter: CHARTERS[key],
    now: clock.now,
  });
  const repo = north.node.repo;
  const councilHandle = repo.import<CouncilDoc>(A.save(founded.council));
  const ledgerHandle = repo.import<LedgerDoc>(A.save(founded.ledger));
  councilHandle.change((d) => {
    d.federa.ledger = ledgerHandle.url;
  });
  await north.openCouncil(key, councilHandle.url);
  // Every person registers a key on each place's computer (and hosts register the computers themselves).
  for (const person of cast.people) {
    const actor = await north.actor(key, person);
    const acts: Act[] = devicesOf(keys, person)
      .filter((d) => d.device !== (founder.device.id as DeviceId))
      .map((d) => ({ kind: "device.authorize", body: { device: d.device, label: d.label } }));
    await actor.write(acts, { signer: "member" });
  }
  return councilHandle.url;
}

/** Founds everything on the north shop's node. */
export async function foundWorld(north: PlaceNode, keys: Keys, clock: DemoClock): Promise<Founded> {
  const urls = {} as Record<CouncilKey, AutomergeUrl>;
  for (const key of COUNCIL_KEYS) urls[key] = await foundOne(north, keys, clock, key);

  const bakery = (person: string) => north.actor("bakery", person);
  const tenants = (person: string) => north.actor("tenants", person);
  const amara = await bakery("Amara");
  await amara.ledger.createFund("strike-fund", "cash", "Wages for bakers on strike");
  await amara.ledger.createFund("time-bank", "time", "An hour of any work is an hour");
  await amara.ledger.createFund("commons-jar", "jar", "Small needs, shared out by dots");
  await (await bakery("Bruno")).ledger.donate("strike-fund", 30_000, "Bakers' Union Local 12");
  await (await bakery("Chen")).ledger.donate("strike-fund", 15_000, "Saturday market tip jar");
  await (await bakery("Emeka")).ledger.contribute("commons-jar", 6_000);
  const farah = await tenants("Farah");
  await farah.ledger.createFund("rent-defence", "cash", "Legal costs and emergency rent");
  await (await tenants("Gus")).ledger.donate("rent-defence", 20_000, "Members' dues");

  const federation = await foundFederation(keys.identity("Amara", "north"), {
    name: FEDERATION_NAME,
    councils: COUNCIL_KEYS.map((k) => north.council(k).council.id),
    now: clock.now,
  });
  await north.openFederation({ doc: federation.federation });

  // Each council mandates its delegate by a vote that closes ten minutes on.
  const closesAt = clock.peek() + 10 * MINUTE;
  const mandates = {} as Record<CouncilKey, MandateId>;
  for (const key of COUNCIL_KEYS) {
    const cast = COUNCILS[key];
    const proposer = await north.actor(key, cast.people[0]!);
    const proposal = await proposer.proposeMandate({
      title: `${cast.delegate} speaks for us in the ${FEDERATION_NAME}`,
      delegate: keys.members.get(cast.delegate)! as MemberId,
      body: FEDERATION_NAME,
      instructions: "Vote as the assembly decided; report back after every meeting.",
      positions: DELEGATE_POSITIONS,
      startsAt: closesAt,
      expiresAt: closesAt + 60 * DAY,
      recall: { ratio: { num: 1, den: 2 }, of: "eligible", cmp: ">" },
      closesAt,
    });
    for (const person of cast.people)
      await (await north.actor(key, person)).vote(proposal, { method: "majority", choice: "yes" });
    mandates[key] = proposal as string as MandateId;
  }
  clock.to(closesAt + MINUTE);
  for (const key of COUNCIL_KEYS) await (await north.actor(key, COUNCILS[key].people[0]!)).tick();
  return { urls, federation: north.federationHandle.url, mandates };
}

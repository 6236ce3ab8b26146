/** The demo's cast: two councils, their people, the three places whose computers run a Federa node, and their keys. */
import type { DeviceId, Identity, Keypair, MemberId } from "@federa/core";
import { keypairFromSeed } from "@federa/core";

/** The two councils of the demo, by key. */
export type CouncilKey = "bakery" | "tenants";
export const COUNCIL_KEYS: readonly CouncilKey[] = ["bakery", "tenants"];

/** The places whose computers run a node: the demo's peers. */
export type PlaceId = "north" | "south" | "hall";
export const PLACE_IDS: readonly PlaceId[] = ["north", "south", "hall"];

export interface CouncilCast {
  readonly key: CouncilKey;
  readonly name: string;
  /** A word for tight spaces. */
  readonly short: string;
  /** Members by display name; the first founds the council. */
  readonly people: readonly string[];
  /** Who elected the council's delegate to the federation. */
  readonly delegate: string;
  /** Which member registered each place's computer as one of their devices (it needs one to receive the documents). */
  readonly hosts: Readonly<Record<PlaceId, string>>;
}

export const COUNCILS: Readonly<Record<CouncilKey, CouncilCast>> = {
  bakery: {
    key: "bakery",
    name: "Riverside Bakery Co-op",
    short: "Bakery",
    people: ["Amara", "Bruno", "Chen", "Dara", "Emeka"],
    delegate: "Bruno",
    hosts: { north: "Amara", south: "Dara", hall: "Chen" },
  },
  tenants: {
    key: "tenants",
    name: "Mill Street Tenants' Union",
    short: "Tenants",
    people: ["Farah", "Gus", "Hana"],
    delegate: "Farah",
    hosts: { north: "Gus", south: "Hana", hall: "Farah" },
  },
};

export const FEDERATION_NAME = "Riverside Solidarity Network";

export interface Place {
  readonly id: PlaceId;
  readonly name: string;
  readonly blurb: string;
}

export const PLACES: Readonly<Record<PlaceId, Place>> = {
  north: { id: "north", name: "North shop", blurb: "the bakery's north shop" },
  south: { id: "south", name: "South shop", blurb: "the bakery's south shop" },
  hall: { id: "hall", name: "Union hall", blurb: "the tenants' meeting hall" },
};

/** Everybody in the demo, in display order. */
export const PEOPLE: readonly string[] = [...COUNCILS.bakery.people, ...COUNCILS.tenants.people];

/** The council a person belongs to. */
export function councilOf(person: string): CouncilKey {
  return COUNCILS.bakery.people.includes(person) ? "bakery" : "tenants";
}

/** Every key of the demo: a member key per person, a key per person on each place's computer, and each computer's own. */
export interface Keys {
  /** Member id → display name. */
  readonly names: ReadonlyMap<string, string>;
  /** Display name → member id. */
  readonly members: ReadonlyMap<string, MemberId>;
  /** The identity a person acts with on a place's computer (its own device key, so chains never fork across places). */
  identity(person: string, place: PlaceId): Identity;
  /** The node key of a place: its libp2p peer id. */
  node(place: PlaceId): Identity;
  /** Which place a libp2p peer id belongs to. */
  placeOf(peer: string): PlaceId | undefined;
  /** Display name of a member or device id (a device reads as "Name @ Place"). */
  nameOf(id: string): string;
}

async function seeded(label: string): Promise<Keypair> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`federa demo / ${label}`));
  return keypairFromSeed(new Uint8Array(digest));
}

/** Builds the demo's keys; the same on every run, so record ids and screenshots repeat. */
export async function createKeys(): Promise<Keys> {
  const memberKeys = new Map<string, Keypair>();
  for (const person of PEOPLE) memberKeys.set(person, await seeded(`${person} / member`));
  const devices = new Map<string, Keypair>();
  for (const person of PEOPLE)
    for (const place of PLACE_IDS) devices.set(`${person}@${place}`, await seeded(`${person} / ${place}`));
  const nodeKeys = new Map<PlaceId, Keypair>();
  for (const place of PLACE_IDS) nodeKeys.set(place, await seeded(`${place} computer`));

  const members = new Map(PEOPLE.map((p) => [p, memberKeys.get(p)!.id as MemberId]));
  const names = new Map<string, string>(PEOPLE.map((p) => [memberKeys.get(p)!.id, p]));
  const deviceNames = new Map<string, string>();
  for (const person of PEOPLE)
    for (const place of PLACE_IDS)
      deviceNames.set(devices.get(`${person}@${place}`)!.id, `${person} @ ${PLACES[place].name}`);
  const places = new Map<string, PlaceId>();
  for (const place of PLACE_IDS) {
    places.set(nodeKeys.get(place)!.id, place);
    deviceNames.set(nodeKeys.get(place)!.id, `${PLACES[place].name} computer`);
  }
  return {
    names,
    members,
    identity: (person, place) => ({
      member: members.get(person)!,
      device: devices.get(`${person}@${place}`)!,
      memberKey: memberKeys.get(person)!,
    }),
    // The node acts for the bakery's host of the place; it never writes, it only syncs and derives.
    node: (place) => ({ member: members.get(COUNCILS.bakery.hosts[place])!, device: nodeKeys.get(place)! }),
    placeOf: (peer) => places.get(peer),
    nameOf: (id) => names.get(id) ?? deviceNames.get(id) ?? `${id.slice(0, 10)}…`,
  };
}

/** The device ids a person registers in their council: one per place, and the computers they host. */
export function devicesOf(keys: Keys, person: string): { device: DeviceId; label: string }[] {
  const council = COUNCILS[councilOf(person)];
  const own = PLACE_IDS.map((place) => ({
    device: keys.identity(person, place).device.id as DeviceId,
    label: `${person} at ${PLACES[place].name}`,
  }));
  const hosted = PLACE_IDS.filter((place) => council.hosts[place] === person).map((place) => ({
    device: keys.node(place).device.id as DeviceId,
    label: `${PLACES[place].name} computer`,
  }));
  return [...own, ...hosted];
}

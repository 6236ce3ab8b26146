/** The benchmark's workload: a council of members with devices, and a deterministic stream of ledger payloads. */
import type { Identity, Keypair, MemberId } from "../src/index.js";
import { keypairFromSeed } from "../src/index.js";

/** A small deterministic generator (mulberry32), so every run writes the same payloads. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One ledger payload, independent of how it is stored. */
export type Payload =
  | { kind: "donation"; writer: number; fund: "general"; amount: number; from: string; at: number }
  | { kind: "expense"; writer: number; fund: "general"; amount: number; payee: string; memo: string; at: number }
  | { kind: "swap"; writer: number; fund: "time-bank"; provider: number; minutes: number; at: number };

/** A device that writes: its identity and the member (index) it acts for. */
export interface Writer {
  readonly member: number;
  readonly identity: Identity;
}

/** The council's people: members, each with one device, and some with a second one. */
export interface Cast {
  readonly founder: Identity;
  readonly members: readonly Identity[];
  readonly writers: readonly Writer[];
}

export const PETTY_CASH_LIMIT = 5_000;
const DONORS = ["market stall", "bake sale", "member dues", "solidarity concert", "anonymous", "neighbourhood fund"];
const PAYEES = ["print shop", "hardware store", "bakery", "bus company", "hall rental", "post office"];
const MEMOS = ["leaflets", "paint and brushes", "food for the meeting", "tickets", "room for the assembly", "stamps"];

async function keypair(next: () => number): Promise<Keypair> {
  const seed = new Uint8Array(32);
  for (let i = 0; i < seed.length; i++) seed[i] = Math.floor(next() * 256);
  return keypairFromSeed(seed);
}

/** Makes `members` members (each with a member key and a device) and a second device for the first `twoDevices`. */
export async function makeCast(members: number, twoDevices: number, seed = 1): Promise<Cast> {
  const next = rng(seed);
  const people: Identity[] = [];
  const writers: Writer[] = [];
  for (let m = 0; m < members; m++) {
    const memberKey = await keypair(next);
    const identity: Identity = { member: memberKey.id as MemberId, device: await keypair(next), memberKey };
    people.push(identity);
    writers.push({ member: m, identity });
  }
  for (let m = 0; m < twoDevices && m < members; m++) {
    writers.push({ member: m, identity: { member: people[m]!.member, device: await keypair(next) } });
  }
  return { founder: people[0]!, members: people, writers };
}

/**
 * The ledger stream: about 55% donations, 30% petty expenses, 15% time swaps, clocks one minute apart, entered in
 * sittings of 1 to 10 records, each sitting on a device chosen at random.
 */
export function payloads(count: number, cast: Cast, startMs: number, seed = 2): Payload[] {
  const next = rng(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  const out: Payload[] = [];
  const memberCount = cast.members.length;
  let writer = 0;
  let sitting = 0;
  for (let i = 0; i < count; i++) {
    if (sitting-- === 0) {
      writer = Math.floor(next() * cast.writers.length);
      sitting = Math.floor(next() * 10);
    }
    const at = startMs + i * 60_000;
    const roll = next();
    if (roll < 0.55) {
      out.push({
        kind: "donation",
        writer,
        fund: "general",
        amount: 500 + Math.floor(next() * 9_500),
        from: pick(DONORS),
        at,
      });
    } else if (roll < 0.85) {
      const amount = 100 + Math.floor(next() * (PETTY_CASH_LIMIT - 100));
      out.push({ kind: "expense", writer, fund: "general", amount, payee: pick(PAYEES), memo: pick(MEMOS), at });
    } else {
      const member = cast.writers[writer]!.member;
      const provider = (member + 1 + Math.floor(next() * (memberCount - 1))) % memberCount;
      out.push({ kind: "swap", writer, fund: "time-bank", provider, minutes: 15 + Math.floor(next() * 226), at });
    }
  }
  return out;
}

/** A deterministic UUID-shaped id, as an automerge-repo application would key its records. */
export function uuidLike(next: () => number): string {
  const hex = (n: number) => {
    let s = "";
    for (let i = 0; i < n; i++) s += Math.floor(next() * 16).toString(16);
    return s;
  };
  return `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`;
}

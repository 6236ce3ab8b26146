/** The integrity index on its own: valid prefixes, tips, high-water marks and every exclusion, as records arrive. */
import { describe, expect, it } from "vitest";
import { storageKeyOf } from "../src/documents/layout.js";
import type { CouncilId, Exclusion, Hlc, Keypair, RecordId } from "../src/index.js";
import { generateKeypair, MemoryVerifiedCache } from "../src/index.js";
import { IntegrityIndex } from "../src/records/integrity.js";
import { type Forged, forge, type Signing } from "./support/forge.js";

const council = "c0".repeat(32) as CouncilId;
const at = (n: number): Hlc => ({ ms: 1_700_000_000_000 + n * 1000, c: 0 });

/** A donation on `signer`'s chain (or a record of another kind or council). */
function record(
  signer: Keypair,
  seq: number,
  prev: Forged | null,
  time: number,
  signing: Signing = "sign",
  extra: { kind?: string; council?: string; amount?: number } = {},
): Promise<Forged> {
  return forge(
    signer,
    {
      kind: extra.kind ?? "ledger.donate",
      body: extra.kind === undefined ? { fund: "common", amount: extra.amount ?? 100 + seq } : {},
      council: extra.council ?? council,
      seq,
      prev: prev?.id ?? null,
      at: at(time),
    },
    signing,
  );
}

const entry = (f: Forged): [string, Uint8Array] => [storageKeyOf(f.id), f.bytes];
const ids = (records: readonly { id: RecordId }[]) => records.map((r) => r.id);
const sorted = (list: Exclusion[]) => [...list].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

describe("IntegrityIndex", () => {
  it("keeps each signer's authentic prefix and every other record's reason, as records arrive", async () => {
    const [alice, bob, carol, dave, mallory] = await Promise.all([
      generateKeypair(),
      generateKeypair(),
      generateKeypair(),
      generateKeypair(),
      generateKeypair(),
    ]);
    const a0 = await record(alice, 0, null, 1);
    const a1 = await record(alice, 1, a0, 2, "unsigned");
    const a2 = await record(alice, 2, a1, 3);
    const a3 = await record(alice, 3, a2, 4, "unsigned");
    const a4forged = await record(alice, 4, a3, 5, { by: mallory });
    const b0 = await record(bob, 0, null, 1);
    const b1 = await record(bob, 1, b0, 6);
    const c0 = await record(carol, 0, null, 7);
    const c1 = await record(carol, 1, c0, 2);
    const c2 = await record(carol, 2, c1, 8);
    const d0 = await record(dave, 0, null, 2, "sign", { kind: "future.kind" });
    const d1 = await record(dave, 1, d0, 9);
    const elsewhere = await record(alice, 0, null, 10, "sign", { council: "e1".repeat(32) });
    const garbageKey = "ff".repeat(16);
    const wrongKey = "00".repeat(16);

    const verified = new MemoryVerifiedCache();
    const index = new IntegrityIndex({ council, verified });
    const first = await index.add(
      [
        entry(a0),
        [a0.id, a0.bytes], // the same record under its whole id
        [a2.id, new Uint8Array([1, 2])], // garbage under a key the genuine record later covers
        entry(a1),
        entry(b0),
        [garbageKey, new Uint8Array([7, 7, 7])],
        [wrongKey, b0.bytes],
        entry(elsewhere),
      ],
      { defer: true },
    );
    expect(first).toEqual({ added: [], removed: [] });
    expect(index.highWater()).toEqual(new Map());
    const second = await index.add([
      entry(a2),
      entry(a3),
      entry(a4forged),
      entry(b1),
      entry(c2),
      entry(c0),
      entry(c1),
      entry(d1),
      entry(d0),
    ]);
    // Per signer in the order they were first read; each chain in seq order; a record of unknown kind set aside.
    expect(ids(second.added)).toEqual([a0, a1, a2, b0, b1, c0, d1].map((f) => f.id));
    expect(second.removed).toEqual([]);
    expect(index.highWater()).toEqual(
      new Map([
        [alice.id, 2],
        [bob.id, 1],
        [carol.id, 0],
        [dave.id, 1],
      ]),
    );
    expect(index.tip(alice.id)?.id).toBe(a2.id); // the forged and the unsigned record above it are not followed
    expect(index.tip(bob.id)?.id).toBe(b1.id);
    expect(index.tip(carol.id)?.id).toBe(c2.id); // the highest authentic record, even beyond the valid prefix
    expect(index.tip(mallory.id)).toBeNull();
    expect(index.latestAt).toEqual(at(9));
    expect(verified.size).toBe(9); // every good signature read, none of the unsigned or forged records
    const unsigned = "no signed record of the chain covers it yet";
    expect(index.exclusions()).toEqual(
      sorted([
        { id: a3.id, reason: "unsigned", detail: unsigned, signer: alice.id, seq: 3 },
        {
          id: a4forged.id,
          reason: "bad-signature",
          detail: "signature does not verify against the signer's key",
          signer: alice.id,
          seq: 4,
        },
        {
          id: c1.id,
          reason: "clock-backwards",
          detail: "clock of record 1 is not after record 0",
          signer: carol.id,
          seq: 1,
        },
        {
          id: c2.id,
          reason: "broken-chain",
          detail: "follows record 1 whose clock goes backwards",
          signer: carol.id,
          seq: 2,
        },
        { id: d0.id, reason: "unknown-kind", detail: 'unknown kind "future.kind"', signer: dave.id, seq: 0 },
        {
          id: elsewhere.id,
          reason: "wrong-council",
          detail: "a record of another council",
          signer: alice.id,
          seq: 0,
        },
        { id: garbageKey, reason: "bad-shape", detail: "stored value is not a framed record" },
        {
          id: wrongKey,
          reason: "bad-id",
          detail: "stored under a key that is not the hash of its content (altered?)",
        },
      ]),
    );

    // A genuine next record covers the unsigned one; a second record at bob's seq 1 forks his chain.
    const a4 = await record(alice, 4, a3, 11);
    const b1fork = await record(bob, 1, b0, 12, "sign", { amount: 1 });
    const third = await index.add([entry(a4), entry(b1fork), entry(a3), [a1.id, a1.bytes]]);
    expect(ids(third.added)).toEqual([a3.id, a4.id]);
    expect(ids(third.removed)).toEqual([b1.id]);
    expect(index.highWater().get(alice.id)).toBe(4);
    expect(index.highWater().get(bob.id)).toBe(0);
    expect(index.tip(alice.id)?.id).toBe(a4.id);
    expect(index.tip(bob.id)?.id).toBe(b1.id); // the first record read at the highest seq with a good signature

    // A record after the fork is excluded for it too; a trusted record is not checked again.
    const b2 = await record(bob, 2, b1, 13);
    const d2 = await record(dave, 2, d1, 14, { by: mallory });
    index.trust([d2.id]);
    const fourth = await index.add([entry(b2), entry(d2)]);
    expect(ids(fourth.added)).toEqual([d2.id]);
    expect(fourth.removed).toEqual([]);
    expect(index.tip(bob.id)?.id).toBe(b2.id);
    const fork = "signer wrote 2 different records with seq 1";
    const byId = new Map(index.exclusions().map((e) => [e.id, e]));
    expect(byId.get(b1.id)).toEqual({ id: b1.id, reason: "equivocation", detail: fork, signer: bob.id, seq: 1 });
    expect(byId.get(b1fork.id)).toEqual({
      id: b1fork.id,
      reason: "equivocation",
      detail: fork,
      signer: bob.id,
      seq: 1,
    });
    expect(byId.get(b2.id)).toEqual({ id: b2.id, reason: "equivocation", detail: fork, signer: bob.id, seq: 2 });
    expect(byId.has(a3.id)).toBe(false);
    expect(byId.get(a4forged.id)?.reason).toBe("bad-signature");
    expect(index.exclusions().map((e) => e.id)).toEqual(sorted(index.exclusions()).map((e) => e.id));
    expect(index.exclusions()).toHaveLength(10);
    expect(index.latestAt).toEqual(at(14));
  });

  it("follows a record trusted after its check failed; reads a record added under its whole id once", async () => {
    const [erin, mallory] = await Promise.all([generateKeypair(), generateKeypair()]);
    const index = new IntegrityIndex({ council });
    const e0 = await record(erin, 0, null, 1, { by: mallory });
    await index.add([entry(e0)]);
    expect(index.tip(erin.id)).toBeNull();
    expect(index.exclusions().map((e) => e.reason)).toEqual(["bad-signature"]);
    index.trust([e0.id]);
    expect(index.tip(erin.id)?.id).toBe(e0.id);
    // As a writer adds what it signed: under the whole id, then found again under the storage key.
    const e1 = await record(erin, 1, e0, 2, "unsigned");
    const e2 = await record(erin, 2, e1, 3);
    index.trust([e2.id]);
    const written = await index.add([
      [e1.id, e1.bytes],
      [e2.id, e2.bytes],
    ]);
    expect(ids(written.added)).toEqual([e0.id, e1.id, e2.id]);
    expect(index.exclusions()).toEqual([]);
    const again = await index.add([
      entry(e2),
      [storageKeyOf(e1.id), new Uint8Array([9])],
      entry(e1),
      [e0.id, e0.bytes],
    ]);
    expect(again).toEqual({ added: [], removed: [] });
    expect(index.exclusions()).toEqual([]);
    expect(index.highWater()).toEqual(new Map([[erin.id, 2]]));
    expect(index.tip(erin.id)?.id).toBe(e2.id);
  });
});

describe("IntegrityIndex and a seq far beyond the chain", () => {
  it("answers in work proportional to the records held, not to the seq they claim", async () => {
    const [alice, mallory] = await Promise.all([generateKeypair(), generateKeypair()]);
    const a0 = await record(alice, 0, null, 1);
    const a1 = await record(alice, 1, a0, 2);
    // Signed by its own signer and well formed: only its place in the chain is wrong.
    const far = await record(alice, 2 ** 50, a1, 3);
    const farAlone = await record(mallory, 2 ** 52, a1, 3);
    const index = new IntegrityIndex({ council });
    const change = await index.add([entry(a0), entry(a1), entry(far), entry(farAlone)]);
    expect(ids(change.added)).toEqual([a0.id, a1.id]);
    expect(index.tip(alice.id)?.id).toBe(far.id);
    expect(index.tip(mallory.id)?.id).toBe(farAlone.id);
    expect(index.highWater().get(alice.id)).toBe(1);
    expect(sorted(index.exclusions()).map((e) => [e.id, e.reason, e.detail])).toEqual(
      sorted([
        { id: far.id, reason: "broken-chain", detail: "record 2 of this signer's chain is missing" } as Exclusion,
        { id: farAlone.id, reason: "broken-chain", detail: "record 0 of this signer's chain is missing" } as Exclusion,
      ]).map((e) => [e.id, e.reason, e.detail]),
    );
  });
});

describe("IntegrityIndex with two reads at once", () => {
  it("reads them one after the other: a forgery is never added, and no record is put in its chain twice", async () => {
    const [alice, bob, mallory] = await Promise.all([generateKeypair(), generateKeypair(), generateKeypair()]);
    const forged = await record(alice, 0, null, 1, { by: mallory });
    const b0 = await record(bob, 0, null, 2);
    // Bob's record is remembered as verified, so the second read checks nothing and reaches the chains first.
    const verified = new MemoryVerifiedCache();
    verified.add(b0.id);
    const index = new IntegrityIndex({ council, verified });
    const first = index.add([entry(forged)]);
    const second = await index.add([entry(b0)]);
    expect(ids(second.added)).not.toContain(forged.id);
    const afterFirst = await first;
    expect(ids(afterFirst.added)).not.toContain(forged.id);
    expect(index.tip(alice.id)).toBeNull();
    expect(index.exclusions().map((e) => [e.id, e.reason])).toEqual([[forged.id, "bad-signature"]]);
  });
});

describe("IntegrityIndex and copies of one record", () => {
  /** Every order of `entries`: the index must end the same whichever it reads first. */
  function orders<T>(entries: readonly T[]): T[][] {
    if (entries.length <= 1) return [[...entries]];
    return entries.flatMap((e, i) => orders([...entries.slice(0, i), ...entries.slice(i + 1)]).map((o) => [e, ...o]));
  }

  it("takes the best copy, whichever arrives first: a good signature, else none, else a bad one", async () => {
    const [alice, mallory] = await Promise.all([generateKeypair(), generateKeypair()]);
    const a0 = await record(alice, 0, null, 1);
    const a0forged = await record(alice, 0, null, 1, { by: mallory });
    const a0unsigned = await record(alice, 0, null, 1, "unsigned");
    const a1 = await record(alice, 1, a0, 2);
    // The same content, so the same id, stored under its two keys with different signatures.
    expect(new Set([a0.id, a0forged.id, a0unsigned.id]).size).toBe(1);
    const whole = (f: Forged): [string, Uint8Array] => [f.id, f.bytes];
    const cases: { entries: [string, Uint8Array][]; high: number; excluded: string[] }[] = [
      { entries: [whole(a0forged), entry(a0)], high: 0, excluded: [] },
      { entries: [whole(a0unsigned), entry(a0)], high: 0, excluded: [] },
      // No good signature, but a later signed record hashes back to it: no signature beats a bad one.
      { entries: [whole(a0forged), entry(a0unsigned), entry(a1)], high: 1, excluded: [] },
      { entries: [whole(a0forged), entry(a0unsigned)], high: -1, excluded: ["unsigned"] },
      // The same with the copies' keys swapped.
      { entries: [entry(a0forged), whole(a0)], high: 0, excluded: [] },
      { entries: [entry(a0unsigned), whole(a0)], high: 0, excluded: [] },
      { entries: [entry(a0forged), whole(a0unsigned), entry(a1)], high: 1, excluded: [] },
    ];
    for (const { entries, high, excluded } of cases) {
      for (const order of orders(entries)) {
        for (const batches of [order.map((e) => [e]), [order]]) {
          const index = new IntegrityIndex({ council });
          for (const batch of batches) await index.add(batch);
          expect(index.highWater().get(alice.id) ?? -1).toBe(high);
          expect(index.exclusions().map((e) => e.reason)).toEqual(excluded);
        }
      }
    }
  });
});

describe("IntegrityIndex and a failing cache of verified signatures", () => {
  it("fails closed: a forged record is never taken as good when the cache throws", async () => {
    const [alice, mallory] = await Promise.all([generateKeypair(), generateKeypair()]);
    const good = await record(mallory, 0, null, 1);
    const fake = await record(alice, 0, null, 1, { by: mallory });
    for (const failing of ["has", "add"] as const) {
      const verified = new MemoryVerifiedCache();
      verified[failing] = () => {
        throw new Error(`the cache's ${failing} failed`);
      };
      const index = new IntegrityIndex({ council, verified });
      const change = await index.add([entry(good), entry(fake)]);
      expect(ids(change.added)).toEqual([good.id]);
      expect(index.tip(alice.id)).toBeNull();
      expect(index.exclusions().map((e) => [e.id, e.reason])).toEqual([[fake.id, "bad-signature"]]);
    }
  });
});

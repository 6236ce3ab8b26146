/**
 * Records a peer's change deletes or makes worse are written back by a replica that held them, so every replica,
 * open or loaded afresh, derives the same state.
 */
import * as A from "@automerge/automerge";
import { describe, expect, it } from "vitest";
import type { FederaDoc } from "../src/documents/layout.js";
import { bucketOf, storageKeyOf, storedAt } from "../src/documents/layout.js";
import { WRITE_BACK_TRIES } from "../src/documents/restore.js";
import type { CouncilDoc, CouncilState, LedgerDoc, RecordId } from "../src/index.js";
import { Council, createIdentity, foundCouncil, generateKeypair, PlainDocument } from "../src/index.js";
import { decodeRecord } from "../src/records/record.js";
import { forge, frame, payloadOf, putForged, putRaw, type Writable } from "./support/forge.js";

const START = 1_700_000_000_000;

interface Replica {
  readonly council: PlainDocument<CouncilDoc>;
  readonly ledger: PlainDocument<LedgerDoc>;
}

/** Alice's open council on her replica, with a signed donation and a pair of donations written at once. */
async function setup() {
  let t = START;
  const now = () => (t += 1000);
  const alice = await createIdentity();
  const founded = await foundCouncil(alice, { name: "Bakery co-op", now });
  const docs: Replica = { council: new PlainDocument(founded.council), ledger: new PlainDocument(founded.ledger) };
  const council = await Council.open(docs, { identity: alice, now });
  await council.ledger.createFund("common", "cash");
  const signed = await council.ledger.donate("common", 5_000, "bake sale");
  // Only the last of acts written together is signed: the first is stored without a signature.
  const [unsigned, last] = await council.write([
    { kind: "ledger.donate", body: { fund: "common", amount: 300 } },
    { kind: "ledger.donate", body: { fund: "common", amount: 20 } },
  ]);
  const honest = await council.state();
  expect(honest.excluded).toEqual([]);
  expect(honest.funds.find((f) => f.id === "common")?.balance).toBe(5_320);
  return { docs, council, signed, unsigned: unsigned!, last: last!, honest };
}

function copy(replica: Replica): Replica {
  return { council: replica.council.fork(), ledger: replica.ledger.fork() };
}

function merge(into: Replica, from: Replica): void {
  into.council.merge(from.council);
  into.ledger.merge(from.ledger);
}

/** What a peer derives from these documents loaded afresh. */
async function fresh(replica: Replica): Promise<CouncilState> {
  const council = await Council.open({
    council: PlainDocument.load<CouncilDoc>(replica.council.save()),
    ledger: PlainDocument.load<LedgerDoc>(replica.ledger.save()),
  });
  return council.state();
}

function bytesOf(doc: PlainDocument<LedgerDoc>, id: RecordId): Uint8Array {
  const value = storedAt(doc.doc(), storageKeyOf(id));
  if (!(value instanceof Uint8Array)) throw new Error(`no bytes under ${id}`);
  return value;
}

/** The same payload with its signature's first byte flipped. */
function badlySigned(bytes: Uint8Array): Uint8Array {
  const signature = bytes.slice(1, 65);
  signature[0]! ^= 0xff;
  return frame(payloadOf(bytes), signature);
}

/**
 * A peer stores a record in the council document, then deletes it `rounds` times, each time after taking what the
 * replica wrote back; returns its key.
 */
async function storeThenDelete(
  fx: Awaited<ReturnType<typeof setup>>,
  record: { id: RecordId; bytes: Uint8Array },
  rounds: number,
): Promise<string> {
  const key = storageKeyOf(record.id);
  const attacker = fx.docs.council.fork();
  putForged(attacker as Writable, [record]);
  fx.docs.council.merge(attacker);
  await fx.council.state();
  for (let round = 0; round < rounds; round++) {
    attacker.merge(fx.docs.council);
    attacker.change((d) => {
      delete d.records[bucketOf(key)]![key];
    });
    fx.docs.council.merge(attacker);
    await fx.council.state();
  }
  return key;
}

/** A peer's edit of the ledger: each kind of harm a member's device can do to a stored record. */
const harms: [string, (id: RecordId, doc: Writable, bytes: Uint8Array) => void][] = [
  [
    "deleted",
    (id, doc) =>
      doc.change((d) => {
        delete d.records[bucketOf(id)]![storageKeyOf(id)];
      }),
  ],
  ["overwritten with garbage", (id, doc) => putRaw(doc, storageKeyOf(id), new Uint8Array([1, 2, 3]))],
  ["overwritten with a badly signed copy", (id, doc, bytes) => putRaw(doc, storageKeyOf(id), badlySigned(bytes))],
  [
    "lost with its bucket",
    (id, doc) =>
      doc.change((d) => {
        d.records[bucketOf(id)] = {};
      }),
  ],
  [
    "lost with every record",
    (_id, doc) =>
      doc.change((d) => {
        (d as { records: unknown }).records = 42;
      }),
  ],
];

describe("records written back", () => {
  for (const [harm, apply] of harms) {
    it(`restores a signed record ${harm} by a peer, and a fresh load derives the open council's state`, async () => {
      const fx = await setup();
      const good = bytesOf(fx.docs.ledger, fx.signed);
      const peer = copy(fx.docs);
      apply(fx.signed, peer.ledger as Writable, good);
      // What the peer's replica alone gives a newcomer: the record is gone or excluded.
      expect((await fresh(peer)).funds.find((f) => f.id === "common")?.balance ?? 0).not.toBe(5_320);

      merge(fx.docs, peer);
      expect(await fx.council.state()).toEqual(fx.honest);
      expect(fx.council.restored).toBeGreaterThan(0);
      expect(bytesOf(fx.docs.ledger, fx.signed)).toEqual(good);
      expect(await fresh(fx.docs)).toEqual(fx.honest);
      expect(fx.council.showsHarm()).toBe(false); // the buckets the harm took are made again

      // The newcomer that loaded the harmed replica takes the record back once the restoring replica reaches it.
      const newcomer = copy(peer);
      const watcher = await Council.open(newcomer);
      merge(newcomer, fx.docs);
      expect(await watcher.state()).toEqual(fx.honest);
      expect(watcher.restored).toBe(0); // it never held a better copy than the one it read
    });
  }

  it("restores a record stored unsigned that a peer overwrote with a badly signed copy", async () => {
    const fx = await setup();
    const good = bytesOf(fx.docs.ledger, fx.unsigned);
    expect(good[0]).toBe(0); // stored without a signature
    const forged = frame(payloadOf(good), new Uint8Array(64).fill(7));
    const peer = copy(fx.docs);
    putRaw(peer.ledger as Writable, storageKeyOf(fx.unsigned), forged);
    merge(fx.docs, peer);
    expect(await fx.council.state()).toEqual(fx.honest);
    expect(bytesOf(fx.docs.ledger, fx.unsigned)).toEqual(good);
    expect(await fresh(fx.docs)).toEqual(fx.honest);
  });

  it("never undoes a change that makes a copy better", async () => {
    const fx = await setup();
    const good = bytesOf(fx.docs.ledger, fx.unsigned);
    const peer = copy(fx.docs);
    putRaw(peer.ledger as Writable, storageKeyOf(fx.unsigned), frame(payloadOf(good), new Uint8Array(64).fill(7)));
    // A newcomer reads the badly signed copy first; then a peer's change puts the genuine unsigned bytes back.
    const newcomer = copy(peer);
    const watcher = await Council.open(newcomer);
    expect((await watcher.state()).excluded.map((e) => e.reason)).toContain("bad-signature");
    const mended = copy(peer);
    putRaw(mended.ledger as Writable, storageKeyOf(fx.unsigned), good);
    const changes = A.getAllChanges(newcomer.ledger.doc()).length;
    merge(newcomer, mended);
    expect(await watcher.state()).toEqual(fx.honest);
    expect(watcher.restored).toBe(0);
    expect(A.getAllChanges(newcomer.ledger.doc())).toHaveLength(changes + 1); // the peer's change, nothing after it
  });

  it("writes back once: replicas that both restored, merged with each other and the harm, stay quiet", async () => {
    const fx = await setup();
    const other = copy(fx.docs);
    const otherCouncil = await Council.open(other);
    const peer = copy(fx.docs);
    putRaw(peer.ledger as Writable, storageKeyOf(fx.signed), new Uint8Array([9]));
    merge(fx.docs, peer);
    merge(other, peer);
    await fx.council.state();
    await otherCouncil.state();
    expect([fx.council.restored, otherCouncil.restored]).toEqual([1, 1]);
    for (let round = 0; round < 3; round++) {
      merge(fx.docs, other);
      merge(other, fx.docs);
      merge(fx.docs, peer);
      await fx.council.state();
      await otherCouncil.state();
    }
    expect([fx.council.restored, otherCouncil.restored]).toEqual([1, 1]);
    expect(A.getHeads(fx.docs.ledger.doc()).sort()).toEqual(A.getHeads(other.ledger.doc()).sort());
    expect(await fresh(fx.docs)).toEqual(fx.honest);
  });

  it("writes a record back again when a peer harms the copy it wrote back", async () => {
    const fx = await setup();
    const good = bytesOf(fx.docs.ledger, fx.signed);
    const peer = copy(fx.docs);
    const harm = () =>
      peer.ledger.change((d) => {
        delete d.records[bucketOf(fx.signed)]![storageKeyOf(fx.signed)];
      });
    harm();
    merge(fx.docs, peer);
    await fx.council.state();
    // The peer takes the copy written back, and deletes it again.
    merge(peer, fx.docs);
    harm();
    merge(fx.docs, peer);
    expect(await fx.council.state()).toEqual(fx.honest);
    expect(fx.council.restored).toBe(2);
    expect(bytesOf(fx.docs.ledger, fx.signed)).toEqual(good);
    expect(await fresh(fx.docs)).toEqual(fx.honest);
  });

  it("writes its records back again when another replica's rival write-back wins", async () => {
    const fx = await setup();
    // Two replicas both see every record replaced by a number, and each writes back into a map of its own: one map
    // wins, and what only the other replica held (a donation made after they parted) must still come back.
    const other = copy(fx.docs);
    const otherCouncil = await Council.open(other);
    await otherCouncil.state();
    await fx.council.ledger.donate("common", 7);
    const honest = await fx.council.state();
    const peer = copy(fx.docs);
    peer.ledger.change((d) => {
      (d as { records: unknown }).records = 42;
    });
    merge(fx.docs, peer);
    merge(other, peer);
    await fx.council.state();
    await otherCouncil.state();
    for (let round = 0; round < 4; round++) {
      merge(fx.docs, other);
      merge(other, fx.docs);
      await fx.council.state();
      await otherCouncil.state();
    }
    merge(other, fx.docs);
    expect(await fresh(fx.docs)).toEqual(honest);
    expect(await fresh(other)).toEqual(honest);
  });

  it("writes back a record harmed again while the first harm is being checked", async () => {
    const fx = await setup();
    const good = bytesOf(fx.docs.ledger, fx.signed);
    const peer = copy(fx.docs);
    putRaw(peer.ledger as Writable, storageKeyOf(fx.signed), new Uint8Array([1, 2, 3]));
    merge(fx.docs, peer);
    const refreshing = fx.council.refresh();
    // The second harm lands while the replica checks the first (its signature checks yield to the event loop).
    setImmediate(() => {
      peer.ledger.change((d) => {
        delete d.records[bucketOf(fx.signed)]![storageKeyOf(fx.signed)];
      });
      merge(fx.docs, peer);
    });
    await refreshing;
    expect(await fx.council.state()).toEqual(fx.honest);
    expect(bytesOf(fx.docs.ledger, fx.signed)).toEqual(good);
    expect(await fresh(fx.docs)).toEqual(fx.honest);
  });

  for (const [what, value] of [
    ["a date", new Date(0)],
    ["a counter", new A.Counter(1)],
    ["an immutable string", new A.ImmutableString("x")],
  ] as const) {
    it(`writes records back into a real map when a peer puts ${what} where the records were`, async () => {
      const fx = await setup();
      const peer = copy(fx.docs);
      peer.ledger.change((d) => {
        (d as { records: unknown }).records = value;
      });
      merge(fx.docs, peer);
      expect(await fx.council.state()).toEqual(fx.honest);
      const restored = fx.council.restored;
      expect(restored).toBeGreaterThan(0);
      expect(await fresh(fx.docs)).toEqual(fx.honest);
      // Nothing is written, or counted, again.
      const changes = A.getAllChanges(fx.docs.ledger.doc()).length;
      await fx.council.refresh();
      expect(fx.council.restored).toBe(restored);
      expect(A.getAllChanges(fx.docs.ledger.doc())).toHaveLength(changes);
    });
  }

  it("never writes back forged bytes a peer deletes, however large", async () => {
    const fx = await setup();
    const good = bytesOf(fx.docs.ledger, fx.signed);
    // The payload of a genuine record with a signature that does not verify: it hashes to its key, and counts nowhere.
    const forged = badlySigned(good);
    const key = storageKeyOf(fx.signed);
    const peer = copy(fx.docs);
    peer.ledger.change((d) => {
      d.records[bucketOf(key)]![key] = forged;
    });
    merge(fx.docs, peer);
    await fx.council.state();
    const restored = fx.council.restored; // the genuine copy back over the forged one
    expect(bytesOf(fx.docs.ledger, fx.signed)).toEqual(good);
    // A record claiming another key as its signer, signed by the peer's, stored under a key of its own and deleted
    // again and again: each round would cost every replica a write of its bytes for a change of a few.
    const stray = await forge(
      await generateKeypair(),
      {
        kind: "x.blob",
        body: "x".repeat(5_000),
        council: fx.council.id,
        seq: 1,
        prev: "00".repeat(32),
        at: { ms: START, c: 0 },
      },
      { by: await generateKeypair() },
    );
    const strayKey = await storeThenDelete(fx, stray, 2);
    expect(fx.council.restored).toBe(restored);
    expect(storedAt(fx.docs.council.doc(), strayKey)).toBeUndefined();
  });

  it("keeps deriving from the copy it read when its document refuses writes", async () => {
    const fx = await setup();
    const ledger = fx.docs.ledger;
    const readOnly = {
      doc: () => ledger.doc(),
      change: () => {
        throw new Error("read-only");
      },
    };
    const watcher = await Council.open({ council: fx.docs.council, ledger: readOnly });
    const peer = copy(fx.docs);
    putRaw(peer.ledger as Writable, storageKeyOf(fx.signed), new Uint8Array([9]));
    merge(fx.docs, peer);
    expect(await watcher.state()).toEqual(fx.honest);
    expect(watcher.restored).toBe(0);
  });

  it("lists the keys a peer's change displaced for a replica that held them, and none for a new key", async () => {
    const fx = await setup();
    const peer = copy(fx.docs);
    const bucket = bucketOf(fx.last);
    const before = new Set(Object.keys((fx.docs.ledger.doc() as FederaDoc).records[bucket] ?? {}));
    peer.ledger.change((d) => {
      d.records[bucket] = { ["ff".repeat(16)]: new Uint8Array([1]) };
    });
    merge(fx.docs, peer);
    await fx.council.state();
    // Every record the replaced bucket held is back, beside the peer's new key (garbage, excluded, not removed).
    const after = Object.keys((fx.docs.ledger.doc() as FederaDoc).records[bucket] ?? {});
    for (const key of before) expect(after).toContain(key);
    expect(after).toContain("ff".repeat(16));
    expect(fx.council.restored).toBe(before.size);
  });
});

describe("records recovered from a document's history", () => {
  for (const [harm, apply] of harms) {
    it(`gives a replica that loaded a document whose signed record was ${harm} the record back`, async () => {
      let fx = await setup();
      // A bucket that also held the chain's tip (ids are random) is the deleted-tip case, which shows no harm (below).
      while (harm === "lost with its bucket" && bucketOf(fx.last) === bucketOf(fx.signed)) fx = await setup();
      const peer = copy(fx.docs);
      apply(fx.signed, peer.ledger as Writable, bytesOf(fx.docs.ledger, fx.signed));
      // A newcomer that never held the record: nothing to write back from what it read, but its exclusions show harm.
      const newcomer = copy(peer);
      const council = await Council.open(newcomer);
      expect(council.showsHarm()).toBe(true);
      expect(await council.recover()).toBeGreaterThan(0);
      expect(await council.state()).toEqual(fx.honest);
      expect(await fresh(newcomer)).toEqual(fx.honest);
      expect(await council.recover()).toBe(0); // nothing left to find
    });
  }

  it("finds a deleted tip, which shows no harm, and writes nothing to a whole document", async () => {
    const fx = await setup();
    const peer = copy(fx.docs);
    peer.ledger.change((d) => {
      delete d.records[bucketOf(fx.last)]![storageKeyOf(fx.last)];
    });
    const newcomer = copy(peer);
    const council = await Council.open(newcomer);
    const harmed = await council.state();
    // The tip was the signed record covering the pair written with it: the first is now unsigned, nothing else shows.
    expect(harmed.excluded.map((e) => e.reason)).toEqual(["unsigned"]);
    expect(council.showsHarm()).toBe(false);
    expect(await council.recover()).toBe(1);
    expect(await council.state()).toEqual(fx.honest);

    const whole = await Council.open(copy(fx.docs));
    const changes = A.getAllChanges(fx.docs.ledger.doc()).length;
    expect(await whole.recover()).toBe(0);
    expect(A.getAllChanges(whole.sources.ledger.doc()!)).toHaveLength(changes);
  });

  it("takes the best copy a key ever held, not the latest worse one", async () => {
    const fx = await setup();
    const good = bytesOf(fx.docs.ledger, fx.signed);
    const peer = copy(fx.docs);
    putRaw(peer.ledger as Writable, storageKeyOf(fx.signed), badlySigned(good));
    putRaw(peer.ledger as Writable, storageKeyOf(fx.signed), new Uint8Array([4, 4]));
    const council = await Council.open(copy(peer));
    expect(await council.recover()).toBe(1);
    expect(bytesOf(council.sources.ledger as PlainDocument<LedgerDoc>, fx.signed)).toEqual(good);
  });

  it("finds a record again when a peer deletes the copy it wrote back before reading it", async () => {
    const fx = await setup();
    const key = storageKeyOf(fx.signed);
    const remove = (d: FederaDoc) => {
      delete d.records[bucketOf(key)]![key];
    };
    const peer = fx.docs.ledger.fork();
    peer.change(remove);
    const ledger = peer.fork();
    let armed = false;
    // A source whose write-back a peer takes and deletes again at once, before the newcomer reads it.
    const source = {
      doc: () => ledger.doc(),
      change: (fn: (d: LedgerDoc) => void) => {
        ledger.change(fn);
        if (!armed) return;
        armed = false;
        queueMicrotask(() => {
          peer.merge(ledger);
          peer.change(remove);
          ledger.merge(peer);
        });
      },
    };
    const newcomer = await Council.open({ council: fx.docs.council.fork(), ledger: source });
    expect(newcomer.showsHarm()).toBe(true);
    armed = true;
    expect(await newcomer.recover()).toBe(1);
    expect(await newcomer.state()).toEqual(fx.honest);
    expect(bytesOf(ledger, fx.signed)).toEqual(bytesOf(fx.docs.ledger, fx.signed));
  });

  it("vouches for unsigned records on every branch of a forged fork", async () => {
    const fx = await setup();
    const [x, y] = await fx.council.write([
      { kind: "ledger.donate", body: { fund: "common", amount: 3 } },
      { kind: "ledger.donate", body: { fund: "common", amount: 2 } },
      { kind: "ledger.donate", body: { fund: "common", amount: 1 } },
    ]);
    const honest = await fx.council.state();
    const decoded = (id: RecordId) => {
      const d = decodeRecord(storageKeyOf(id), bytesOf(fx.docs.ledger, id));
      if ("reason" in d) throw new Error(d.detail);
      return d.record;
    };
    const [X, Y] = [decoded(x!), decoded(y!)];
    // An unsigned record claiming the chain's place after X, beside the genuine Y, its key sorted before Y's.
    let fork: Awaited<ReturnType<typeof forge>>;
    for (let n = 1; ; n++) {
      fork = await forge(
        { id: X.signer } as never,
        {
          kind: "ledger.donate",
          body: { fund: "common", amount: 100 + n },
          council: fx.council.id,
          author: X.author,
          seq: Y.seq,
          prev: x!,
          at: { ms: Y.at.ms, c: 1 },
        },
        "unsigned",
      );
      if (storageKeyOf(fork.id) < storageKeyOf(y!)) break;
    }
    const peer = copy(fx.docs);
    putForged(peer.ledger as Writable, [fork]);
    peer.ledger.change((d) => {
      delete d.records[bucketOf(x!)]![storageKeyOf(x!)];
    });
    const newcomer = await Council.open(copy(peer));
    await newcomer.state();
    expect(await newcomer.recover()).toBe(1);
    const state = await newcomer.state();
    expect(state.funds).toEqual(honest.funds);
  });

  it("shows harm when the genesis is gone, and recovers it", async () => {
    const fx = await setup();
    const peer = copy(fx.docs);
    peer.council.change((d) => {
      delete d.records[bucketOf(fx.council.id)]![storageKeyOf(fx.council.id)];
    });
    const newcomer = await Council.open(copy(peer));
    expect((await newcomer.state()).members).toEqual([]);
    expect(newcomer.showsHarm()).toBe(true);
    expect(await newcomer.recover()).toBe(1);
    expect(await newcomer.state()).toEqual(fx.honest);
  });

  it("writes back a record signed by a key that counts nowhere only a few times", async () => {
    const fx = await setup();
    const stranger = await generateKeypair();
    const stray = await forge(stranger, {
      kind: "x.blob",
      body: "x".repeat(5_000),
      council: fx.council.id,
      seq: 0,
      prev: null,
      at: { ms: START, c: 0 },
    });
    const key = await storeThenDelete(fx, stray, WRITE_BACK_TRIES + 2);
    expect(fx.council.restored).toBe(WRITE_BACK_TRIES);
    expect(storedAt(fx.docs.council.doc(), key)).toBeUndefined();
    // A replica opened afresh has tries of its own: a restart costs one more write, not one a round.
    expect(await Council.open(copy(fx.docs)).then((c) => c.recover())).toBe(1);
  });
});

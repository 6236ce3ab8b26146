/**
 * The integrity index: turns the raw records found in a council's documents into the set of authentic records,
 * checking ids, shapes, signatures and each signer's hash chain, and lists every excluded record with its reason.
 */
import { storageKeyOf } from "../documents/layout.js";
import type { Hlc } from "../hlc.js";
import { compareHlc, HLC_ZERO } from "../hlc.js";
import { verifySignature } from "../identity.js";
import type { CouncilId, FederationId, RecordId, SignerId } from "../ids.js";
import type { DecodedRecord, DecodeFailure, FederaRecord } from "./record.js";
import { decodeRecord } from "./record.js";
import { GENESIS_KINDS } from "./schemas.js";
import type { VerifiedCache } from "./verified-cache.js";

/** Why a record is excluded from derivation. Structural reasons come from here; membership reasons from the fold. */
export type ExclusionReason =
  | "bad-id"
  | "bad-shape"
  | "unknown-kind"
  | "bad-signature"
  | "unsigned"
  | "wrong-council"
  | "broken-chain"
  | "equivocation"
  | "clock-backwards"
  | "not-a-member"
  | "device-not-authorised"
  | "invalid-act";

/** One excluded record and why. */
export interface Exclusion {
  /** The record's id; for a stored value that does not decode (`bad-shape`, `bad-id`), the key it is stored under. */
  readonly id: string;
  readonly reason: ExclusionReason;
  readonly detail: string;
  readonly signer?: SignerId;
  readonly seq?: number;
}

/** A record held, and whether its signature is good, bad or absent. */
export interface HeldRecord {
  readonly record: FederaRecord;
  readonly signature: "good" | "bad" | "none";
}

/** How the valid set changed after new records were read. */
export interface IndexChange {
  readonly added: readonly FederaRecord[];
  readonly removed: readonly FederaRecord[];
}

/** A signer's records. Only the records are kept: once signatures are checked, the stored bytes are not needed. */
interface Chain {
  /** The first record read at each seq, indexed by seq (a hole where none was read): cheaper than a map entry. */
  readonly bySeq: FederaRecord[];
  /** How many seqs hold a record. */
  seqs: number;
  /** Every record read at a seq that holds more than one (a fork), in the order they were read. */
  readonly forks: Map<number, FederaRecord[]>;
  /** The current valid prefix: records 0..n-1, linked and authenticated. */
  valid: FederaRecord[];
  /** Exclusions of this signer's records, recomputed with the chain. */
  excluded: Map<string, Exclusion>;
  maxSeq: number;
}

/** Options of the index: which council (or federation) it belongs to, and where verified signatures are remembered. */
export interface IntegrityIndexInit {
  /** Records of other councils or federations are excluded; the genesis is the record whose id is this. */
  readonly council: CouncilId | FederationId;
  readonly verified?: VerifiedCache;
}

/** Incremental integrity checks over every record seen so far. */
export class IntegrityIndex {
  readonly #council: CouncilId | FederationId;
  readonly #verified: VerifiedCache | undefined;
  /**
   * Both keys each record found may sit under (its id and its storage key). A record found again under a key covered
   * is another copy of it: it counts only if better than the copy held.
   */
  readonly #covered = new Set<string>();
  readonly #badRecords = new Map<string, Exclusion>();
  readonly #chains = new Map<SignerId, Chain>();
  /**
   * Signatures checked in this session and found bad. Every signed record is checked when first read, so a signed
   * record held is good unless listed here: good ones, nearly all, need no entry.
   */
  readonly #badSignatures = new Set<string>();
  /** Records read without a signature (a later signed record of their chain may cover them). */
  readonly #unsigned = new Set<string>();
  /** Ids trusted before their records were read or while their signatures were being checked. */
  readonly #trusted = new Set<string>();
  /** Ids whose signatures are being checked. */
  readonly #checking = new Set<string>();
  #latestAt: Hlc = HLC_ZERO;
  /** Authentic-looking records whose kind or body this version cannot use. */
  readonly #problems = new Map<string, DecodeFailure>();
  /** Those of them currently in a valid chain: excluded from derivation only. */
  readonly #setAside = new Map<string, Exclusion>();
  /** Records decoded by a deferred `add`, by signer, whose chains the next `add` checks. */
  #pending = new Map<SignerId, FederaRecord[]>();
  /** Signers whose chains a better copy of a record changed: walked whole by the next `add` without `defer`. */
  #stale = new Set<SignerId>();
  /** The last `add` under way: one runs at a time, or records pending for both would be put in their chains twice. */
  #adding: Promise<unknown> = Promise.resolve();

  constructor(init: IntegrityIndexInit) {
    this.#council = init.council;
    this.#verified = init.verified;
  }

  /**
   * Reads new stored entries (key, bytes); returns how the valid set changed. Never throws on bad input. With `defer`
   * the entries are only decoded and their signatures checked; the next call without it checks their chains, once for
   * all (checking chains after every slice of a large merge would walk each whole chain again, slice after slice).
   * Calls made before an earlier one settles run after it, in order.
   */
  add(entries: Iterable<readonly [string, unknown]>, options: { defer?: boolean } = {}): Promise<IndexChange> {
    const list = [...entries]; // read now: what the caller passed is what this call adds
    const run = this.#adding.then(() => this.#add(list, options));
    this.#adding = run.catch(() => undefined);
    return run;
  }

  async #add(entries: readonly (readonly [string, unknown])[], options: { defer?: boolean }): Promise<IndexChange> {
    const touched = this.#pending;
    const fresh: DecodedRecord[] = [];
    const copies: DecodedRecord[] = [];
    for (const [key, bytes] of entries) {
      // A key read again is decoded again (an overwrite, or a copy written back): it may hold a better copy.
      const decoded = decodeRecord(key, bytes);
      if ("reason" in decoded) {
        // Not marked read: garbage under a record's key must not shadow the genuine bytes, here or under its other key.
        if (!this.#covered.has(key)) this.#badRecords.set(key, { id: key, ...decoded }); // `id` when it was computed
        continue;
      }
      const r = decoded.record;
      if (this.#covered.has(r.id)) {
        copies.push(decoded); // the same record under its other key, maybe better signed than the copy read first
        continue;
      }
      // The key read is the storage key unless it is the whole id: no second string for the same key.
      const storageKey = key === r.id ? storageKeyOf(r.id) : key;
      for (const k of [r.id, storageKey]) {
        this.#covered.add(k);
        this.#badRecords.delete(k);
      }
      if (decoded.problem !== undefined) this.#problems.set(r.id, decoded.problem);
      const isGenesis = GENESIS_KINDS.has(r.kind);
      if (isGenesis ? r.id !== this.#council : r.council !== this.#council) {
        this.#badRecords.set(key, {
          id: r.id,
          reason: "wrong-council",
          detail: isGenesis ? "a genesis record of another council" : "a record of another council",
          signer: r.signer,
          seq: r.seq,
        });
        continue;
      }
      fresh.push(decoded);
      if (decoded.signature === null) this.#unsigned.add(r.id);
      const list = touched.get(r.signer);
      if (list === undefined) touched.set(r.signer, [r]);
      else list.push(r);
    }
    await this.#verifyAll(fresh);
    await this.#takeBetterCopies(copies);
    if (options.defer) return { added: [], removed: [] };
    this.#pending = new Map();
    const stale = this.#stale;
    this.#stale = new Set();
    const added: FederaRecord[] = [];
    const removed: FederaRecord[] = [];
    for (const [signer, records] of touched) this.#update(signer, records, added, removed, stale.delete(signer));
    for (const signer of stale) this.#update(signer, [], added, removed, true);
    this.#setAsideProblems(added, removed);
    // Only authentic records move the clock writers follow: forged bytes must not push it into the future.
    for (const r of added) if (compareHlc(r.at, this.#latestAt) > 0) this.#latestAt = r.at;
    return { added, removed };
  }

  /** Keeps authentic records whose kind or body is not understood out of derivation, listed with their reason. */
  #setAsideProblems(added: FederaRecord[], removed: FederaRecord[]): void {
    const keep = (list: FederaRecord[], onProblem: (r: FederaRecord, p: DecodeFailure) => void) => {
      let j = 0;
      for (const r of list) {
        const problem = this.#problems.get(r.id);
        if (problem === undefined) list[j++] = r;
        else onProblem(r, problem);
      }
      list.length = j;
    };
    keep(added, (r, p) =>
      this.#setAside.set(r.id, { id: r.id, reason: p.reason, detail: p.detail, signer: r.signer, seq: r.seq }),
    );
    keep(removed, (r) => this.#setAside.delete(r.id));
  }

  /** Every record currently excluded, with its reason, in a stable order. */
  exclusions(): Exclusion[] {
    const all = [...this.#badRecords.values(), ...this.#setAside.values()];
    for (const chain of this.#chains.values()) all.push(...chain.excluded.values());
    return all.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** The records held for `signer`, each with how it is signed here: for judging copies of them found elsewhere. */
  heldOf(signer: SignerId): HeldRecord[] {
    const chain = this.#chains.get(signer);
    if (chain === undefined) return [];
    const out: HeldRecord[] = [];
    for (const seq of seqsOf(chain))
      for (const record of recordsAt(chain, seq))
        out.push({ record, signature: this.#goodSignature(record) ? "good" : this.#signed(record) ? "bad" : "none" });
    return out;
  }

  /** Whether a record has been read under `key` (its storage key or its whole id). */
  holds(key: string): boolean {
    return this.#covered.has(key);
  }

  /** The highest valid seq per signer (a high-water mark a device can keep to notice deleted records). */
  highWater(): Map<SignerId, number> {
    const out = new Map<SignerId, number>();
    for (const [signer, chain] of this.#chains) out.set(signer, chain.valid.length - 1);
    return out;
  }

  /**
   * Checks the signatures of records read for the first time. A signed record counts as good unless found bad, so
   * this fails closed: a check that throws finds it bad, and a record stays `#checking` (not good) until its check ends.
   */
  async #verifyAll(records: DecodedRecord[]): Promise<void> {
    const signed = records.filter((d) => d.signature !== null);
    for (const d of signed) this.#checking.add(d.record.id);
    await Promise.all(
      signed.map(async (d) => {
        const id = d.record.id;
        if (this.#badSignatures.has(id)) {
          this.#checking.delete(id);
          return;
        }
        // Trusted or remembered as verified: nothing to check, and a good signature needs no entry.
        const good = this.#trusted.has(id) || this.#cached(id) || (await this.#check(d));
        this.#checking.delete(id);
        if (this.#trusted.delete(id)) return; // trusted meanwhile: good whatever the check found
        if (good) this.#remember(id);
        else this.#badSignatures.add(id);
      }),
    );
  }

  /**
   * Another copy of a record already read (the same content, so the same id, under its other key) counts when it is
   * better than the one read first: a good signature over an unsigned or badly signed copy, no signature over a bad
   * one (a later record may still cover it). Which copies arrived first must not matter: every node takes the best.
   */
  async #takeBetterCopies(copies: DecodedRecord[]): Promise<void> {
    for (const d of copies) {
      const { id, signer } = d.record;
      const bad = this.#badSignatures.has(id);
      if (!bad && !this.#unsigned.has(id)) continue; // good already, or not in a chain (another council's)
      if (d.signature === null) {
        if (!bad) continue;
        this.#badSignatures.delete(id);
        this.#unsigned.add(id);
      } else if (await this.#check(d)) {
        this.#badSignatures.delete(id);
        this.#unsigned.delete(id);
        this.#remember(id);
      } else continue;
      this.#stale.add(signer);
    }
  }

  /** Whether a record's signature verifies; false when the check itself fails. */
  async #check(d: DecodedRecord): Promise<boolean> {
    try {
      return await verifySignature(d.record.signer, d.signature!, d.payload);
    } catch {
      return false;
    }
  }

  /** Whether the host's cache remembers the id as verified; a cache that fails remembers nothing. */
  #cached(id: RecordId): boolean {
    try {
      return this.#verified?.has(id) === true;
    } catch {
      return false;
    }
  }

  /** Tells the host's cache a signature verified; a cache that fails only costs a check next time. */
  #remember(id: RecordId): void {
    try {
      this.#verified?.add(id);
    } catch {
      // nothing is lost: the signature is checked again when the record is next read
    }
  }

  /** Puts `records` in the signer's chain and updates its valid prefix (walking it all when `revalidate`). */
  #update(
    signer: SignerId,
    records: FederaRecord[],
    added: FederaRecord[],
    removed: FederaRecord[],
    revalidate = false,
  ): void {
    let chain = this.#chains.get(signer);
    if (chain === undefined) {
      chain = { bySeq: [], seqs: 0, forks: new Map(), valid: [], excluded: new Map(), maxSeq: -1 };
      this.#chains.set(signer, chain);
    }
    for (const r of records) {
      const s = r.seq;
      const first = chain.bySeq[s];
      if (first === undefined) {
        chain.bySeq[s] = r;
        chain.seqs++;
      } else {
        const fork = chain.forks.get(s);
        if (fork === undefined) chain.forks.set(s, [first, r]);
        else fork.push(r);
      }
      if (s > chain.maxSeq) chain.maxSeq = s;
    }
    // Fast path: records that extend a fully valid chain in order, the last one signed (the common append).
    if (!revalidate && chain.excluded.size === 0 && this.#extends(chain, records)) {
      for (const r of [...records].sort((a, b) => a.seq - b.seq)) {
        chain.valid.push(r);
        added.push(r);
      }
      return;
    }
    const before = chain.valid;
    const beforeIds = new Set(before.map((r) => r.id));
    this.#revalidate(signer, chain);
    const after = new Set<RecordId>();
    for (const r of chain.valid) {
      after.add(r.id);
      if (!beforeIds.has(r.id)) added.push(r);
    }
    for (const r of before) if (!after.has(r.id)) removed.push(r);
  }

  #extends(chain: Chain, records: FederaRecord[]): boolean {
    const sorted = [...records].sort((a, b) => a.seq - b.seq);
    let tip = chain.valid[chain.valid.length - 1];
    if (tip === undefined ? chain.seqs !== records.length : tip.seq + records.length !== chain.maxSeq) return false;
    for (const r of sorted) {
      const linked = tip === undefined ? r.seq === 0 : r.seq === tip.seq + 1 && r.prev === tip.id;
      if (!linked || chain.forks.has(r.seq)) return false;
      if (tip !== undefined && compareHlc(r.at, tip.at) <= 0) return false;
      if (this.#signed(r) && !this.#goodSignature(r)) return false;
      tip = r;
    }
    return tip !== undefined && this.#signed(tip);
  }

  /** Whether the record was read with a signature (good or not). */
  #signed(r: FederaRecord): boolean {
    return !this.#unsigned.has(r.id);
  }

  /** Whether a record held was read with a signature that is good (checked, trusted, or remembered as verified). */
  #goodSignature(r: FederaRecord): boolean {
    const id = r.id;
    return this.#signed(r) && !this.#badSignatures.has(id) && (!this.#checking.has(id) || this.#trusted.has(id));
  }

  /** The signer's highest-seq record with a good signature (what its next record follows); forgeries are ignored. */
  tip(signer: SignerId): FederaRecord | null {
    const chain = this.#chains.get(signer);
    if (chain === undefined) return null;
    const seqs = isDense(chain) ? undefined : seqsOf(chain); // a dense chain's i-th seq is i: nothing to list
    for (let i = chain.seqs - 1; i >= 0; i--)
      for (const r of recordsAt(chain, seqs === undefined ? i : seqs[i]!)) if (this.#goodSignature(r)) return r;
    return null;
  }

  /** The largest clock among valid records: a writer's next clock must exceed it. */
  get latestAt(): Hlc {
    return this.#latestAt;
  }

  /** Marks records this device has just signed as verified, without checking its own signatures again. */
  trust(ids: Iterable<RecordId>): void {
    for (const id of ids) {
      // A record already read and checked only needs its bad verdict lifted; any other is remembered as trusted.
      if (!this.#badSignatures.delete(id) && (!this.#covered.has(id) || this.#checking.has(id))) this.#trusted.add(id);
      this.#remember(id);
    }
  }

  /** Recomputes a signer's valid prefix and the reasons for everything beyond it. */
  #revalidate(signer: SignerId, chain: Chain): void {
    const linked: FederaRecord[] = [];
    const excluded = new Map<string, Exclusion>();
    const exclude = (r: FederaRecord, reason: Exclusion["reason"], detail: string) =>
      excluded.set(r.id, { id: r.id, reason, detail, signer, seq: r.seq });
    let broken: { reason: Exclusion["reason"]; detail: string } | null = null;
    // Anyone can write bytes claiming a signer: only authentic records may extend, break or fork its chain.
    const authentic = this.#authentic(chain);
    let expected = 0;
    for (const s of seqsOf(chain)) {
      if (broken === null && s !== expected) {
        broken = { reason: "broken-chain", detail: `record ${expected} of this signer's chain is missing` };
      }
      expected = s + 1;
      const here: FederaRecord[] = [];
      for (const r of recordsAt(chain, s)) {
        if (authentic.has(r.id)) here.push(r);
        else if (!this.#signed(r)) exclude(r, "unsigned", "no signed record of the chain covers it yet");
        else exclude(r, "bad-signature", "signature does not verify against the signer's key");
      }
      if (broken !== null) {
        for (const r of here)
          exclude(r, broken.reason === "equivocation" ? "equivocation" : "broken-chain", broken.detail);
        continue;
      }
      if (here.length === 0) {
        broken = { reason: "broken-chain", detail: `record ${s} of this signer's chain is not authentic` };
        continue;
      }
      if (here.length > 1) {
        broken = { reason: "equivocation", detail: `signer wrote ${here.length} different records with seq ${s}` };
        for (const r of here) exclude(r, "equivocation", broken.detail);
        continue;
      }
      const r = here[0]!;
      const prev = linked[linked.length - 1];
      if (prev !== undefined && r.prev !== prev.id) {
        broken = { reason: "broken-chain", detail: `prev of record ${s} is not the hash of record ${s - 1}` };
        exclude(r, "broken-chain", broken.detail);
        continue;
      }
      if (prev !== undefined && compareHlc(r.at, prev.at) <= 0) {
        broken = { reason: "broken-chain", detail: `follows record ${s} whose clock goes backwards` };
        exclude(r, "clock-backwards", `clock of record ${s} is not after record ${s - 1}`);
        continue;
      }
      linked.push(r);
    }
    // A record is authentic when signed, or when a later signed record of the chain hashes back to it.
    let lastSigned = -1;
    for (let i = linked.length - 1; i >= 0; i--) {
      if (this.#signed(linked[i]!)) {
        lastSigned = i;
        break;
      }
    }
    for (let i = lastSigned + 1; i < linked.length; i++) {
      exclude(linked[i]!, "unsigned", "no signed record of the chain covers it yet");
    }
    chain.valid = linked.slice(0, lastSigned + 1);
    chain.excluded = excluded;
  }

  /** Ids of a signer's authentic records: a good signature, or an authentic next record hashes back to it. */
  #authentic(chain: Chain): Set<string> {
    const out = new Set<string>();
    let covered = new Set<string>();
    const seqs = seqsOf(chain);
    for (let i = seqs.length - 1; i >= 0; i--) {
      const s = seqs[i]!;
      if (i + 1 < seqs.length && s !== seqs[i + 1]! - 1) covered.clear(); // a hole above: nothing hashes back here
      const below = new Set<string>();
      for (const r of recordsAt(chain, s)) {
        if (!(this.#signed(r) ? this.#goodSignature(r) : covered.has(r.id))) continue;
        out.add(r.id);
        if (r.prev !== null) below.add(r.prev);
      }
      covered = below;
    }
    return out;
  }
}

/** Whether a chain holds a record at every seq up to its highest. */
function isDense(chain: Chain): boolean {
  return chain.seqs === chain.maxSeq + 1;
}

/**
 * The seqs a chain holds records at, ascending. Walking from 0 to the highest instead would cost whatever a record
 * claims: a signer's own, well-formed record may say seq 2^50.
 */
function seqsOf(chain: Chain): number[] {
  if (isDense(chain)) return Array.from({ length: chain.seqs }, (_, i) => i);
  return Object.keys(chain.bySeq)
    .map(Number)
    .sort((a, b) => a - b);
}

/** The records a chain holds at `seq`, in the order they were read. */
function recordsAt(chain: Chain, seq: number): readonly FederaRecord[] {
  const first = chain.bySeq[seq];
  return first === undefined ? [] : (chain.forks.get(seq) ?? [first]);
}

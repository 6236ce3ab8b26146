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

/** How the valid set changed after new records were read. */
export interface IndexChange {
  readonly added: readonly FederaRecord[];
  readonly removed: readonly FederaRecord[];
}

interface Chain {
  readonly bySeq: Map<number, DecodedRecord[]>;
  /** The current valid prefix: records 0..n-1, linked and authenticated. */
  valid: DecodedRecord[];
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
  /** Keys read; and both keys each record found may sit under (its id and its storage key), the id marking it read. */
  readonly #seen = new Set<string>();
  readonly #covered = new Set<string>();
  readonly #badRecords = new Map<string, Exclusion>();
  readonly #chains = new Map<SignerId, Chain>();
  readonly #badSignatures = new Set<string>();
  /** Signatures checked in this session: good. */
  readonly #goodSignatures = new Set<string>();
  #latestAt: Hlc = HLC_ZERO;
  /** Authentic-looking records whose kind or body this version cannot use. */
  readonly #problems = new Map<string, DecodeFailure>();
  /** Those of them currently in a valid chain: excluded from derivation only. */
  readonly #setAside = new Map<string, Exclusion>();
  /** Records decoded by a deferred `add`, by signer, whose chains the next `add` checks. */
  #pending = new Map<SignerId, DecodedRecord[]>();

  constructor(init: IntegrityIndexInit) {
    this.#council = init.council;
    this.#verified = init.verified;
  }

  /**
   * Reads new stored entries (key, bytes); returns how the valid set changed. Never throws on bad input. With `defer`
   * the entries are only decoded and their signatures checked; the next call without it checks their chains, once for
   * all (checking chains after every slice of a large merge would walk each whole chain again, slice after slice).
   */
  async add(entries: Iterable<readonly [string, unknown]>, options: { defer?: boolean } = {}): Promise<IndexChange> {
    const touched = this.#pending;
    const fresh: DecodedRecord[] = [];
    for (const [key, bytes] of entries) {
      if (this.#seen.has(key)) continue;
      const decoded = decodeRecord(key, bytes);
      if ("reason" in decoded) {
        // Not marked seen: garbage under a record's key must not shadow the genuine bytes, here or under its other key.
        if (!this.#covered.has(key)) this.#badRecords.set(key, { id: key, ...decoded }); // `id` when it was computed
        continue;
      }
      this.#seen.add(key);
      const r = decoded.record;
      if (this.#covered.has(r.id)) continue; // the same record under its other key
      for (const k of [r.id, storageKeyOf(r.id)]) {
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
      const list = touched.get(r.signer);
      if (list === undefined) touched.set(r.signer, [decoded]);
      else list.push(decoded);
    }
    await this.#verifyAll(fresh);
    if (options.defer) return { added: [], removed: [] };
    this.#pending = new Map();
    const added: FederaRecord[] = [];
    const removed: FederaRecord[] = [];
    for (const [signer, records] of touched) this.#update(signer, records, added, removed);
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

  /** The highest valid seq per signer (a high-water mark a device can keep to notice deleted records). */
  highWater(): Map<SignerId, number> {
    const out = new Map<SignerId, number>();
    for (const [signer, chain] of this.#chains) out.set(signer, chain.valid.length - 1);
    return out;
  }

  async #verifyAll(records: DecodedRecord[]): Promise<void> {
    const pending: Promise<void>[] = [];
    for (const d of records) {
      const id = d.record.id;
      if (d.signature === null || this.#goodSignatures.has(id) || this.#badSignatures.has(id)) continue;
      if (this.#verified?.has(id)) {
        this.#goodSignatures.add(id);
        continue;
      }
      pending.push(
        verifySignature(d.record.signer, d.signature, d.payload).then((ok) => {
          if (ok) {
            this.#goodSignatures.add(id);
            this.#verified?.add(id);
          } else this.#badSignatures.add(id);
        }),
      );
    }
    await Promise.all(pending);
  }

  #update(signer: SignerId, records: DecodedRecord[], added: FederaRecord[], removed: FederaRecord[]): void {
    let chain = this.#chains.get(signer);
    if (chain === undefined) {
      chain = { bySeq: new Map(), valid: [], excluded: new Map(), maxSeq: -1 };
      this.#chains.set(signer, chain);
    }
    for (const d of records) {
      const s = d.record.seq;
      const at = chain.bySeq.get(s);
      if (at === undefined) chain.bySeq.set(s, [d]);
      else at.push(d);
      if (s > chain.maxSeq) chain.maxSeq = s;
    }
    // Fast path: records that extend a fully valid chain in order, the last one signed (the common append).
    if (chain.excluded.size === 0 && this.#extends(chain, records)) {
      for (const d of [...records].sort((a, b) => a.record.seq - b.record.seq)) {
        chain.valid.push(d);
        added.push(d.record);
      }
      return;
    }
    const before = new Set(chain.valid.map((d) => d.record.id));
    this.#revalidate(signer, chain);
    const after = new Set<RecordId>();
    for (const d of chain.valid) {
      after.add(d.record.id);
      if (!before.has(d.record.id)) added.push(d.record);
    }
    for (const id of before) {
      if (!after.has(id as RecordId)) {
        const d = this.#find(chain, id);
        if (d) removed.push(d.record);
      }
    }
  }

  #extends(chain: Chain, records: DecodedRecord[]): boolean {
    const sorted = [...records].sort((a, b) => a.record.seq - b.record.seq);
    let tip = chain.valid[chain.valid.length - 1];
    if (tip === undefined ? chain.bySeq.size !== records.length : tip.record.seq + records.length !== chain.maxSeq)
      return false;
    for (const d of sorted) {
      const r = d.record;
      const linked = tip === undefined ? r.seq === 0 : r.seq === tip.record.seq + 1 && r.prev === tip.record.id;
      if (!linked || chain.bySeq.get(r.seq)!.length !== 1) return false;
      if (tip !== undefined && compareHlc(r.at, tip.record.at) <= 0) return false;
      if (d.signature !== null && !this.#goodSignatures.has(r.id)) return false;
      tip = d;
    }
    return tip !== undefined && tip.signature !== null;
  }

  /** The signer's highest-seq record with a good signature (what its next record follows); forgeries are ignored. */
  tip(signer: SignerId): FederaRecord | null {
    const chain = this.#chains.get(signer);
    if (chain === undefined) return null;
    for (let s = chain.maxSeq; s >= 0; s--)
      for (const d of chain.bySeq.get(s) ?? [])
        if (d.signature !== null && this.#goodSignatures.has(d.record.id)) return d.record;
    return null;
  }

  /** The largest clock among valid records: a writer's next clock must exceed it. */
  get latestAt(): Hlc {
    return this.#latestAt;
  }

  /** Marks records this device has just signed as verified, without checking its own signatures again. */
  trust(ids: Iterable<RecordId>): void {
    for (const id of ids) {
      this.#goodSignatures.add(id);
      this.#verified?.add(id);
    }
  }

  #find(chain: Chain, id: string): DecodedRecord | undefined {
    for (const list of chain.bySeq.values()) for (const d of list) if (d.record.id === id) return d;
    return undefined;
  }

  /** Recomputes a signer's valid prefix and the reasons for everything beyond it. */
  #revalidate(signer: SignerId, chain: Chain): void {
    const linked: DecodedRecord[] = [];
    const excluded = new Map<string, Exclusion>();
    const exclude = (d: DecodedRecord, reason: Exclusion["reason"], detail: string) =>
      excluded.set(d.record.id, { id: d.record.id, reason, detail, signer, seq: d.record.seq });
    let broken: { reason: Exclusion["reason"]; detail: string } | null = null;
    // Anyone can write bytes claiming a signer: only authentic records may extend, break or fork its chain.
    const authentic = this.#authentic(chain);
    for (let s = 0; s <= chain.maxSeq; s++) {
      const here: DecodedRecord[] = [];
      for (const d of chain.bySeq.get(s) ?? []) {
        if (authentic.has(d.record.id)) here.push(d);
        else if (d.signature === null) exclude(d, "unsigned", "no signed record of the chain covers it yet");
        else exclude(d, "bad-signature", "signature does not verify against the signer's key");
      }
      if (broken !== null) {
        for (const d of here)
          exclude(d, broken.reason === "equivocation" ? "equivocation" : "broken-chain", broken.detail);
        continue;
      }
      if (here.length === 0) {
        const what = chain.bySeq.has(s) ? "not authentic" : "missing";
        broken = { reason: "broken-chain", detail: `record ${s} of this signer's chain is ${what}` };
        continue;
      }
      if (here.length > 1) {
        broken = { reason: "equivocation", detail: `signer wrote ${here.length} different records with seq ${s}` };
        for (const d of here) exclude(d, "equivocation", broken.detail);
        continue;
      }
      const d = here[0]!;
      const prev = linked[linked.length - 1];
      if (prev !== undefined && d.record.prev !== prev.record.id) {
        broken = { reason: "broken-chain", detail: `prev of record ${s} is not the hash of record ${s - 1}` };
        exclude(d, "broken-chain", broken.detail);
        continue;
      }
      if (prev !== undefined && compareHlc(d.record.at, prev.record.at) <= 0) {
        broken = { reason: "broken-chain", detail: `follows record ${s} whose clock goes backwards` };
        exclude(d, "clock-backwards", `clock of record ${s} is not after record ${s - 1}`);
        continue;
      }
      linked.push(d);
    }
    // A record is authentic when signed, or when a later signed record of the chain hashes back to it.
    let lastSigned = -1;
    for (let i = linked.length - 1; i >= 0; i--) {
      if (linked[i]!.signature !== null) {
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
    for (let s = chain.maxSeq; s >= 0; s--) {
      const below = new Set<string>();
      for (const d of chain.bySeq.get(s) ?? []) {
        const id = d.record.id;
        if (d.signature === null ? !covered.has(id) : !this.#goodSignatures.has(id)) continue;
        out.add(id);
        if (d.record.prev !== null) below.add(d.record.prev);
      }
      covered = below;
    }
    return out;
  }
}

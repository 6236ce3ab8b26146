/** Writing records on a signer's chain for councils and federations alike: sealing acts, appending them, in turn. */
import * as A from "@automerge/automerge";
import type { FederaDoc } from "../documents/layout.js";
import { putRecords, storageKeyOf } from "../documents/layout.js";
import type { RecordReader } from "../documents/reader.js";
import type { DocSource } from "../documents/source.js";
import { InvalidInputError } from "../errors.js";
import type { Hlc } from "../hlc.js";
import { HLC_ZERO, maxHlc, nextHlc } from "../hlc.js";
import type { Keypair } from "../identity.js";
import type { CouncilId, FederationId, MemberId, RecordId } from "../ids.js";
import type { IndexChange, IntegrityIndex } from "../records/integrity.js";
import type { FederaRecord } from "../records/record.js";
import { sealRecord } from "../records/record.js";
import type { BodyOf, RecordKind } from "../records/schemas.js";
import { parseBody } from "../records/schemas.js";

/** One act to write: a record kind and its body. */
export interface Act<K extends RecordKind = RecordKind> {
  readonly kind: K;
  readonly body: BodyOf<K>;
}

/** A record ready to store: its id, its stored bytes and the record itself. */
export interface Sealed {
  readonly id: RecordId;
  readonly bytes: Uint8Array;
  readonly record: FederaRecord;
}

/** Where a batch of acts goes on a chain. */
export interface SealInit {
  readonly acts: readonly Act[];
  readonly key: Keypair;
  readonly author: MemberId;
  /** The council or federation every record names (the id of its genesis). */
  readonly scope: CouncilId | FederationId;
  /** The signer's latest record, which the first act follows. */
  readonly tip: FederaRecord | null;
  /** Every clock written is after this one. */
  readonly after: Hlc;
  readonly now: () => number;
}

/**
 * Seals acts as consecutive records of the key's chain, each with a clock after the previous; only the last is signed
 * (its hash chain covers the others). Throws `InvalidInputError` before sealing anything if a body is invalid.
 */
export async function sealActs(init: SealInit): Promise<{ sealed: Sealed[]; at: Hlc }> {
  const bodies = init.acts.map((act) => {
    if (typeof act !== "object" || act === null) throw new InvalidInputError("an act is an object { kind, body }");
    const parsed = parseBody(act.kind, act.body);
    if (!parsed.ok) throw new InvalidInputError(`invalid ${String(act.kind)}`, parsed.issues);
    return parsed.body;
  });
  let seq = init.tip === null ? 0 : init.tip.seq + 1;
  let prev = init.tip?.id ?? null;
  let at = init.after;
  // Records name their document's genesis in the `council` field, a federation's as a council's.
  const scope = init.scope as string as CouncilId;
  const sealed: Sealed[] = [];
  for (const [i, act] of init.acts.entries()) {
    at = nextHlc(at, init.now());
    const record = { kind: act.kind, council: scope, author: init.author, seq, prev, at, body: bodies[i]! };
    const s = await sealRecord(record, init.key, i === init.acts.length - 1);
    sealed.push(s);
    seq++;
    prev = s.id;
  }
  return { sealed, at };
}

/** Appends sealed records to a document and marks them read, so the next refresh does not read them back. */
export function appendSealed<T extends FederaDoc>(
  source: DocSource<T>,
  reader: RecordReader,
  sealed: readonly Sealed[],
): void {
  if (sealed.length === 0) return;
  const before = A.getHeads(source.doc()!);
  source.change((d) => putRecords(d, sealed));
  // Changes read since the last read: the next read starts before these records, so harm to them must still count.
  if (!reader.advance(before, A.getHeads(source.doc()!)))
    reader.hold(sealed.map((s) => [storageKeyOf(s.id), s.bytes] as const));
}

/** A council's or federation's writer of signed records: their clocks, their chain, their place in the index. */
export class ChainWriter {
  readonly #index: IntegrityIndex;
  readonly #scope: CouncilId | FederationId;
  readonly #now: () => number;
  #lastWritten: Hlc = HLC_ZERO;

  constructor(index: IntegrityIndex, scope: CouncilId | FederationId, now: () => number) {
    this.#index = index;
    this.#scope = scope;
    this.#now = now;
  }

  /**
   * Seals acts on `key`'s chain, hands them to `append` to store, and adds them to the index, the last one trusted
   * (this device just signed it). Clocks come after `horizon` (the document's time, moved by members only), after
   * the signer's own tip and after this writer's last record: an outsider's far-future clock must not drag honest
   * writers past every deadline. `check` may refuse the sealed records (by throwing) before anything is stored.
   */
  async write(
    acts: readonly Act[],
    key: Keypair,
    author: MemberId,
    horizon: Hlc,
    append: (sealed: readonly Sealed[]) => void,
    check?: (sealed: readonly Sealed[]) => void,
  ): Promise<{ sealed: Sealed[]; change: IndexChange }> {
    const tip = this.#index.tip(key.id);
    const after = maxHlc(maxHlc(horizon, tip?.at ?? this.#lastWritten), this.#lastWritten);
    const { sealed, at } = await sealActs({ acts, key, author, scope: this.#scope, tip, after, now: this.#now });
    check?.(sealed);
    this.#lastWritten = at;
    this.#index.trust(sealed.slice(-1).map((s) => s.id));
    append(sealed);
    const change = await this.#index.add(sealed.map((s) => [s.id, s.bytes] as const));
    return { sealed, change };
  }
}

/** Runs async operations one after another (refreshes and writes must not interleave), whether or not they fail. */
export class SerialQueue {
  #queue: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => {});
    return run;
  }
}

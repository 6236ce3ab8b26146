/** The signed record: canonical encoding, content id, signature, and decoding of untrusted bytes into a checked shape. */
import * as cbor from "@ipld/dag-cbor";
import { sha256 } from "@noble/hashes/sha2.js";
import { isStorageKeyOf } from "../documents/layout.js";
import type { Hlc } from "../hlc.js";
import { isHlc } from "../hlc.js";
import type { Keypair } from "../identity.js";
import { peerIdOf, publicKeyOf } from "../identity.js";
import type { CouncilId, MemberId, RecordId, SignerId } from "../ids.js";
import { fromHex, toHex } from "../ids.js";
import type { BodyOf, RecordKind } from "./schemas.js";
import { isRecordKind, parseBody } from "./schemas.js";

/** The record format version this code writes and reads. */
export const RECORD_VERSION = 1;
// Stored bytes start with a flag: a signed record carries its 64-byte signature; an unsigned one is covered by a later signed record of its chain.
const FLAG_UNSIGNED = 0;
const FLAG_SIGNED = 1;

/** A record as derivation sees it: decoded, shape-checked, id recomputed from its bytes. */
export interface FederaRecord<K extends RecordKind = RecordKind> {
  readonly id: RecordId;
  readonly kind: K;
  /** The council the record belongs to; null only for a genesis record. */
  readonly council: CouncilId | null;
  readonly author: MemberId;
  readonly signer: SignerId;
  readonly seq: number;
  readonly prev: RecordId | null;
  readonly at: Hlc;
  readonly body: BodyOf<K>;
}

/** A decoded record with what is needed to authenticate it. */
export interface DecodedRecord {
  readonly record: FederaRecord;
  readonly payload: Uint8Array;
  readonly signature: Uint8Array | null;
  /** Set when the envelope is sound but the kind or body is not: the record holds its chain place, derivation skips it. */
  readonly problem?: DecodeFailure;
}

/** What a writer supplies; the chain position and clock come from the writer's view of the document. */
export interface UnsignedRecord<K extends RecordKind = RecordKind> {
  readonly kind: K;
  readonly council: CouncilId | null;
  readonly author: MemberId;
  readonly seq: number;
  readonly prev: RecordId | null;
  readonly at: Hlc;
  readonly body: BodyOf<K>;
}

/** Why a record's bytes could not become a record; `id` when it was computed (the bytes matched their key). */
export type DecodeFailure =
  | { readonly reason: "bad-id"; readonly detail: string }
  | { readonly reason: "bad-shape"; readonly id?: RecordId; readonly detail: string }
  | { readonly reason: "unknown-kind"; readonly detail: string };

const idCache = new Map<string, MemberId>();
// Peer id strings are costly to compute (base58); a council has few distinct keys.
function idOfKey(key: Uint8Array): SignerId {
  const hex = toHex(key);
  let id = idCache.get(hex);
  if (id === undefined) {
    id = peerIdOf(key) as MemberId;
    idCache.set(hex, id);
  }
  return id;
}

// Every record of a council names it: one string per council rather than one per record held. Bounded, as records
// may name any council.
const councilIds = new Map<string, CouncilId>();
const COUNCIL_IDS_KEPT = 64;
function councilIdOf(bytes: Uint8Array): CouncilId {
  const hex = toHex(bytes) as CouncilId;
  const known = councilIds.get(hex);
  if (known !== undefined) return known;
  if (councilIds.size >= COUNCIL_IDS_KEPT) councilIds.clear();
  councilIds.set(hex, hex);
  return hex;
}

/** The canonical payload bytes of a record (deterministic CBOR). */
export function encodePayload(record: UnsignedRecord, signer: SignerId): Uint8Array {
  const author = publicKeyOf(record.author);
  const signerKey = publicKeyOf(signer);
  if (author === undefined || signerKey === undefined)
    throw new TypeError("author and signer must be Ed25519 peer ids");
  const payload: Record<string, unknown> = {
    v: RECORD_VERSION,
    k: record.kind,
    a: author,
    n: record.seq,
    t: record.at.ms,
    l: record.at.c,
    b: record.body,
  };
  if (record.council !== null) payload.c = fromHex(record.council);
  if (signer !== record.author) payload.s = signerKey;
  if (record.prev !== null) payload.p = fromHex(record.prev);
  return cbor.encode(payload);
}

/** The id of a payload: hex SHA-256. */
export function recordIdOf(payload: Uint8Array): RecordId {
  return toHex(sha256(payload)) as RecordId;
}

/** Signs (or, for a record covered by a later signed one, only seals) a record; returns its id and stored bytes. */
export async function sealRecord(
  record: UnsignedRecord,
  signer: Keypair,
  sign: boolean,
): Promise<{ id: RecordId; bytes: Uint8Array; record: FederaRecord }> {
  const payload = encodePayload(record, signer.id);
  const id = recordIdOf(payload);
  let bytes: Uint8Array;
  if (sign) {
    const signature = await signer.sign(payload);
    bytes = new Uint8Array(1 + 64 + payload.length);
    bytes[0] = FLAG_SIGNED;
    bytes.set(signature, 1);
    bytes.set(payload, 65);
  } else {
    bytes = new Uint8Array(1 + payload.length);
    bytes[0] = FLAG_UNSIGNED;
    bytes.set(payload, 1);
  }
  return { id, bytes, record: { ...record, id, signer: signer.id } };
}

/** Splits stored bytes into signature and payload; null when the framing is wrong. */
function unframe(bytes: unknown): { payload: Uint8Array; signature: Uint8Array | null } | null {
  if (!(bytes instanceof Uint8Array) || bytes.length < 2) return null;
  if (bytes[0] === FLAG_SIGNED && bytes.length > 65)
    return { signature: bytes.subarray(1, 65), payload: bytes.subarray(65) };
  if (bytes[0] === FLAG_UNSIGNED) return { signature: null, payload: bytes.subarray(1) };
  return null;
}

function isKey(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array && value.length === 32;
}

/**
 * Decodes untrusted stored bytes found under `key`: checks framing, that the key is (the start of) the payload's hash,
 * the envelope shape, the kind and the body schema. Never throws. The signature is checked later (async, cached).
 */
export function decodeRecord(key: string, bytes: unknown): DecodedRecord | DecodeFailure {
  const framed = unframe(bytes);
  if (framed === null) return { reason: "bad-shape", detail: "stored value is not a framed record" };
  const id = recordIdOf(framed.payload);
  if (!isStorageKeyOf(key, id))
    return { reason: "bad-id", detail: "stored under a key that is not the hash of its content (altered?)" };
  let raw: unknown;
  try {
    raw = cbor.decode(framed.payload);
  } catch (e) {
    return { reason: "bad-shape", id, detail: `payload is not canonical CBOR: ${(e as Error).message}` };
  }
  if (typeof raw !== "object" || raw === null) return { reason: "bad-shape", id, detail: "payload is not a map" };
  const p = raw as Record<string, unknown>;
  if (p.v !== RECORD_VERSION) return { reason: "bad-shape", id, detail: `unsupported record version ${String(p.v)}` };
  if (!isKey(p.a)) return { reason: "bad-shape", id, detail: "author is not an Ed25519 key" };
  if (p.s !== undefined && !isKey(p.s)) return { reason: "bad-shape", id, detail: "signer is not an Ed25519 key" };
  if (p.c !== undefined && !isKey(p.c)) return { reason: "bad-shape", id, detail: "council is not a record id" };
  if (p.p !== undefined && !isKey(p.p)) return { reason: "bad-shape", id, detail: "prev is not a record id" };
  if (!Number.isSafeInteger(p.n) || (p.n as number) < 0)
    return { reason: "bad-shape", id, detail: "seq is not a natural number" };
  if ((p.n === 0) !== (p.p === undefined))
    return { reason: "bad-shape", id, detail: "only the first record of a chain has no prev" };
  const at = { ms: p.t, c: p.l };
  if (!isHlc(at)) return { reason: "bad-shape", id, detail: "clock is not a pair of natural numbers" };
  if (typeof p.k !== "string" || p.k.length > 100)
    return { reason: "bad-shape", id, detail: "kind is not a short string" };
  // A well-formed envelope keeps its place in the signer's chain even when its kind or body is not understood here
  // (a newer version's record, or a bad body): only derivation skips it.
  let problem: DecodeFailure | undefined;
  let body: unknown = p.b;
  if (!isRecordKind(p.k))
    problem = { reason: "unknown-kind", detail: `unknown kind ${JSON.stringify(p.k).slice(0, 80)}` };
  else {
    const parsed = parseBody(p.k, p.b);
    if (parsed.ok) body = parsed.body;
    else problem = { reason: "bad-shape", detail: `${p.k}: ${parsed.issues.join("; ")}`.slice(0, 500) };
  }
  const author = idOfKey(p.a) as MemberId;
  const record: FederaRecord = {
    id,
    kind: p.k as RecordKind,
    council: p.c === undefined ? null : councilIdOf(p.c),
    author,
    signer: p.s === undefined ? author : idOfKey(p.s),
    seq: p.n as number,
    prev: p.p === undefined ? null : (toHex(p.p) as RecordId),
    at,
    body: body as FederaRecord["body"],
  };
  return { record, payload: framed.payload, signature: framed.signature, ...(problem ? { problem } : {}) };
}

/** Orders records by (`at`, `id`): the one order every peer folds in. */
export function compareRecords(a: FederaRecord, b: FederaRecord): number {
  if (a.at.ms !== b.at.ms) return a.at.ms - b.at.ms;
  if (a.at.c !== b.at.c) return a.at.c - b.at.c;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

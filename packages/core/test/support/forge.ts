/** Test helpers that forge raw records as a hostile or buggy peer would: crafted payloads, altered bytes, raw puts. */
import type * as A from "@automerge/automerge";
import { bucketOf, putRecords, storedValue } from "../../src/documents/layout.js";
import type { FederaDoc, Hlc, Keypair, MemberId, RecordId } from "../../src/index.js";
import type { UnsignedRecord } from "../../src/records/record.js";
import { encodePayload, recordIdOf, sealRecord } from "../../src/records/record.js";

/** Either document of a council (a DocSource or PlainDocument), as far as writing raw entries goes. */
export interface Writable {
  change(fn: (doc: FederaDoc) => void): void;
}

/** A forged record: the key it is meant to be stored under, its stored bytes and its payload. */
export interface Forged {
  readonly id: RecordId;
  readonly bytes: Uint8Array;
  readonly payload: Uint8Array;
}

/** What a forged record says; `kind` and `body` are unchecked so any shape can be written. */
export interface ForgeInput {
  readonly kind: string;
  readonly body: unknown;
  readonly council: string | null;
  /** The member the record claims; defaults to the signer. */
  readonly author?: MemberId | string;
  readonly seq: number;
  readonly prev: RecordId | string | null;
  readonly at: Hlc;
}

/** How the forged bytes are signed: by the claimed signer, by another key, or not at all. */
export type Signing = "sign" | "unsigned" | { readonly by: Keypair };

/** Frames a payload as stored bytes: flag byte, optional 64-byte signature, payload. */
export function frame(payload: Uint8Array, signature: Uint8Array | null): Uint8Array {
  const out = new Uint8Array((signature ? 65 : 1) + payload.length);
  out[0] = signature ? 1 : 0;
  if (signature) out.set(signature, 1);
  out.set(payload, signature ? 65 : 1);
  return out;
}

/** The payload part of stored bytes. */
export function payloadOf(bytes: Uint8Array): Uint8Array {
  return bytes[0] === 1 ? bytes.subarray(65) : bytes.subarray(1);
}

function unsigned(input: ForgeInput, signer: Keypair): UnsignedRecord {
  return {
    kind: input.kind,
    body: input.body,
    council: input.council,
    author: input.author ?? signer.id,
    seq: input.seq,
    prev: input.prev,
    at: input.at,
  } as unknown as UnsignedRecord;
}

/** Forges a record that claims `signer` as its signer, signed as `signing` says. */
export async function forge(signer: Keypair, input: ForgeInput, signing: Signing = "sign"): Promise<Forged> {
  if (signing === "sign" || signing === "unsigned") {
    const sealed = await sealRecord(unsigned(input, signer), signer, signing === "sign");
    return { id: sealed.id, bytes: sealed.bytes, payload: payloadOf(sealed.bytes) };
  }
  const payload = encodePayload(unsigned(input, signer), signer.id);
  return { id: recordIdOf(payload), bytes: frame(payload, await signing.by.sign(payload)), payload };
}

/**
 * Forges a record whose payload is rewritten after encoding (for values canonical CBOR refuses to encode, such as
 * NaN): `patch` maps the honest payload to the bytes the decoder will see; the result is signed by the signer.
 */
export async function forgePatched(
  signer: Keypair,
  input: ForgeInput,
  patch: (payload: Uint8Array) => Uint8Array,
): Promise<Forged> {
  const payload = patch(encodePayload(unsigned(input, signer), signer.id));
  return { id: recordIdOf(payload), bytes: frame(payload, await signer.sign(payload)), payload };
}

/** Stored bytes keyed by the hash of their payload, as a peer re-keying altered bytes would store them. */
export function rekey(bytes: Uint8Array): { id: RecordId; bytes: Uint8Array } {
  return { id: recordIdOf(payloadOf(bytes)), bytes };
}

/** Signs arbitrary payload bytes (canonical or not) with `signer`, keyed by their hash. */
export async function signRaw(signer: Keypair, payload: Uint8Array): Promise<Forged> {
  return { id: recordIdOf(payload), bytes: frame(payload, await signer.sign(payload)), payload };
}

/** Replaces the first `from` in `bytes` by `to` (same length); throws when absent, so no test passes vacuously. */
export function replaceBytes(bytes: Uint8Array, from: Uint8Array, to: Uint8Array): Uint8Array {
  if (from.length !== to.length) throw new Error("replacement must keep the length");
  outer: for (let i = 0; i + from.length <= bytes.length; i++) {
    for (let j = 0; j < from.length; j++) if (bytes[i + j] !== from[j]) continue outer;
    const out = bytes.slice();
    out.set(to, i);
    return out;
  }
  throw new Error("pattern not found in the bytes");
}

/** CBOR of a 64-bit float (how dag-cbor encodes every non-integer number). */
export function float64(value: number): Uint8Array {
  const out = new Uint8Array(9);
  out[0] = 0xfb;
  new DataView(out.buffer).setFloat64(1, value);
  return out;
}

/** Writes forged records into a document through the normal layout (each under its id, in its bucket). */
export function putForged(doc: Writable, records: readonly { id: RecordId; bytes: Uint8Array }[]): void {
  doc.change((d) => putRecords(d, records));
}

/** The bytes stored for record `id` in a document, wherever the layout put them. */
export function storedBytes(doc: A.Doc<unknown> | undefined, id: RecordId): Uint8Array {
  const value = storedValue(doc, id);
  if (!(value instanceof Uint8Array)) throw new Error(`record ${id} is not stored in this document`);
  return value;
}

/** Writes any value under any key, in the key's bucket or a chosen one, creating the bucket if needed. */
export function putRaw(doc: Writable, key: string, value: unknown, bucket: string = bucketOf(key)): void {
  doc.change((d) => {
    const records = d.records as Record<string, Record<string, unknown>>;
    if (typeof records[bucket] !== "object" || records[bucket] === null) records[bucket] = {};
    records[bucket]![key] = value;
  });
}

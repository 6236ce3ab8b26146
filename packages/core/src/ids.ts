/** Branded identifiers, so a member's id can never be passed where a record's id is expected. */

/** A member: the libp2p-style id (base58btc `12D3KooW…`) of the member's Ed25519 identity key. */
export type MemberId = string & { readonly __brand: "MemberId" };
/** A device: the libp2p peer id of the device's Ed25519 key; it signs records for its member. */
export type DeviceId = string & { readonly __brand: "DeviceId" };
/** Any signing key (a member's own key or one of its devices). */
export type SignerId = MemberId | DeviceId;
/** A record: lowercase hex SHA-256 of its canonical payload. */
export type RecordId = string & { readonly __brand: "RecordId" };
/** A council: the id of its genesis record. */
export type CouncilId = RecordId & { readonly __council: true };
/** A proposal: the id of the record that opened it. */
export type ProposalId = RecordId & { readonly __proposal: true };
/** A mandate: the id of the proposal that issued it. */
export type MandateId = RecordId & { readonly __mandate: true };
/** A federation of councils: the id of its `federation.genesis` record. */
export type FederationId = RecordId & { readonly __federation: true };
/** A fund in a council's ledger, named by the council (for example `strike-fund`). */
export type FundId = string & { readonly __brand: "FundId" };

const BYTE_HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

/** Lowercase hex of bytes. */
export function toHex(bytes: Uint8Array): string {
  // Joined in one piece: a string grown by `+=` stays a chain of pieces until first compared, and ids live long.
  const parts = new Array<string>(bytes.length);
  for (let i = 0; i < bytes.length; i++) parts[i] = BYTE_HEX[bytes[i]!]!;
  return parts.join("");
}

/** Bytes of a lowercase hex string; undefined when it is not hex of even length. */
export function fromHex(hex: string): Uint8Array | undefined {
  if (hex.length % 2 !== 0 || !/^[0-9a-f]*$/.test(hex)) return undefined;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** True when the string looks like a record id (64 lowercase hex digits). */
export function isRecordId(value: unknown): value is RecordId {
  return typeof value === "string" && value.length === 64 && /^[0-9a-f]{64}$/.test(value);
}

/** Ed25519 identities (members and devices) whose ids are libp2p peer ids, signing and verifying through WebCrypto. */
import { base58 } from "@scure/base";
import { InvalidKeyError } from "./errors.js";
import type { DeviceId, MemberId, SignerId } from "./ids.js";

const subtle = globalThis.crypto.subtle;
// PKCS#8 wrapping of a raw 32-byte Ed25519 seed (RFC 8410), so WebCrypto can import it.
const PKCS8_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);
// libp2p peer id of an Ed25519 key: identity multihash (0x00, len 36) of the protobuf PublicKey {Type: Ed25519, Data}.
const PEER_ID_PREFIX = Uint8Array.from([0x00, 0x24, 0x08, 0x01, 0x12, 0x20]);

/** An Ed25519 key pair that can sign; `id` is its libp2p peer id. */
export interface Keypair {
  readonly id: SignerId;
  readonly publicKey: Uint8Array;
  /** The 32-byte private seed: keep it secret, store it readable by its owner only. */
  readonly seed: Uint8Array;
  sign(message: Uint8Array): Promise<Uint8Array>;
}

/** A member acting through one of its devices; the member key is only needed to authorise devices. */
export interface Identity {
  readonly member: MemberId;
  readonly device: Keypair;
  /** Present on the device that holds the member's own key. */
  readonly memberKey?: Keypair;
}

/** The libp2p peer id string of a raw Ed25519 public key. */
export function peerIdOf(publicKey: Uint8Array): SignerId {
  const bytes = new Uint8Array(PEER_ID_PREFIX.length + 32);
  bytes.set(PEER_ID_PREFIX);
  bytes.set(publicKey, PEER_ID_PREFIX.length);
  return base58.encode(bytes) as SignerId;
}

/** The raw Ed25519 public key inside a peer id string; undefined when it is not an Ed25519 peer id. */
export function publicKeyOf(id: string): Uint8Array | undefined {
  let bytes: Uint8Array;
  try {
    bytes = base58.decode(id);
  } catch {
    return undefined;
  }
  if (bytes.length !== PEER_ID_PREFIX.length + 32) return undefined;
  for (let i = 0; i < PEER_ID_PREFIX.length; i++) if (bytes[i] !== PEER_ID_PREFIX[i]) return undefined;
  return bytes.slice(PEER_ID_PREFIX.length);
}

async function keypairFromPrivate(seed: Uint8Array, privateKey: CryptoKey, publicKey: Uint8Array): Promise<Keypair> {
  return {
    id: peerIdOf(publicKey),
    publicKey,
    seed,
    sign: async (message) => new Uint8Array(await subtle.sign("Ed25519", privateKey, message as BufferSource)),
  };
}

/** Makes a fresh random key pair. */
export async function generateKeypair(): Promise<Keypair> {
  const pair = (await subtle.generateKey("Ed25519", true, ["sign", "verify"])) as CryptoKeyPair;
  const pkcs8 = new Uint8Array(await subtle.exportKey("pkcs8", pair.privateKey));
  const publicKey = new Uint8Array(await subtle.exportKey("raw", pair.publicKey));
  return keypairFromPrivate(pkcs8.slice(PKCS8_PREFIX.length), pair.privateKey, publicKey);
}

/** Rebuilds a key pair from its 32-byte seed. */
export async function keypairFromSeed(seed: Uint8Array): Promise<Keypair> {
  if (seed.length !== 32) throw new InvalidKeyError(`an Ed25519 seed has 32 bytes, got ${seed.length}`);
  const pkcs8 = new Uint8Array(PKCS8_PREFIX.length + 32);
  pkcs8.set(PKCS8_PREFIX);
  pkcs8.set(seed, PKCS8_PREFIX.length);
  const privateKey = await subtle.importKey("pkcs8", pkcs8, "Ed25519", true, ["sign"]);
  // WebCrypto has no direct seed -> public key call; a JWK export carries the public half as `x`.
  const jwk = await subtle.exportKey("jwk", privateKey);
  if (jwk.x === undefined) throw new InvalidKeyError("could not derive the public key");
  const publicKey = base64urlDecode(jwk.x);
  return keypairFromPrivate(seed.slice(), privateKey, publicKey);
}

/** A new member: an identity key and a first device key. */
export async function createIdentity(): Promise<Identity> {
  const memberKey = await generateKeypair();
  const device = await generateKeypair();
  return { member: memberKey.id as MemberId, device, memberKey };
}

/** The same member on another device: a new device key without the member key. */
export async function addDevice(identity: Identity): Promise<Identity> {
  return { member: identity.member, device: await generateKeypair() };
}

/** Identity written as plain JSON-safe data (seeds in hex); `memberSeed` only on the device holding the member key. */
export interface IdentityFile {
  readonly member: string;
  readonly deviceSeed: string;
  readonly memberSeed?: string;
}

/** Turns an identity into storable data; the caller must store it readable by its owner only. */
export function exportIdentity(identity: Identity): IdentityFile {
  const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return {
    member: identity.member,
    deviceSeed: hex(identity.device.seed),
    ...(identity.memberKey ? { memberSeed: hex(identity.memberKey.seed) } : {}),
  };
}

/** Reads an identity written by `exportIdentity`. */
export async function importIdentity(file: IdentityFile): Promise<Identity> {
  const unhex = (s: string) => {
    if (!/^[0-9a-f]{64}$/.test(s)) throw new InvalidKeyError("a seed is 64 hex digits");
    return Uint8Array.from(s.match(/../g) ?? [], (x) => Number.parseInt(x, 16));
  };
  const device = await keypairFromSeed(unhex(file.deviceSeed));
  const memberKey = file.memberSeed === undefined ? undefined : await keypairFromSeed(unhex(file.memberSeed));
  if (memberKey && memberKey.id !== file.member)
    throw new InvalidKeyError("the member seed does not match the member id");
  if (publicKeyOf(file.member) === undefined) throw new InvalidKeyError(`not an Ed25519 peer id: ${file.member}`);
  return { member: file.member as MemberId, device, ...(memberKey ? { memberKey } : {}) };
}

const verifyKeys = new Map<string, Promise<CryptoKey>>();

/** Checks an Ed25519 signature by the key of `signer`; false (never a throw) on any malformed input. */
export async function verifySignature(
  signer: SignerId | DeviceId,
  signature: Uint8Array,
  message: Uint8Array,
): Promise<boolean> {
  const publicKey = publicKeyOf(signer);
  if (publicKey === undefined || signature.length !== 64) return false;
  let key = verifyKeys.get(signer);
  if (key === undefined) {
    key = subtle.importKey("raw", publicKey as BufferSource, "Ed25519", false, ["verify"]);
    verifyKeys.set(signer, key);
  }
  try {
    return await subtle.verify("Ed25519", await key, signature as BufferSource, message as BufferSource);
  } catch {
    return false;
  }
}

function base64urlDecode(s: string): Uint8Array {
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

/**
 * Invitation tokens as `federa invite` and `federa federation invite` print them: base64url JSON naming the council
 * (or the federation) and how to reach the inviter.
 */
import { isValidAutomergeUrl } from "@automerge/automerge-repo/slim";
import { multiaddr } from "@multiformats/multiaddr";
import { BadInvitationError } from "./errors.js";

/** The inviter's node: its peer id (the inviter's device id) and the addresses it last listened on. */
export interface Inviter {
  readonly peer: string;
  readonly addresses: readonly string[];
}

/** What a token carries. */
export interface Invitation extends Inviter {
  readonly v: 1;
  /** The council id (its genesis record id). */
  readonly council: string;
  /** The council document's automerge URL. */
  readonly url: string;
  /** The council's members when the token was made (a founder among them joins by authorising a device). */
  readonly members?: readonly string[];
}

/** A federation's token: its id and document, and the delegate's node that invites. */
export interface FederationInvitation extends Inviter {
  readonly v: 1;
  readonly kind: "federation";
  /** The federation id (its genesis record id). */
  readonly federation: string;
  /** The federation document's automerge URL. */
  readonly url: string;
  /** The inviting delegate's member council: the joiner's vouch for the inviter lapses once it holds that council. */
  readonly council?: string;
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;
const COUNCIL_ID = /^[0-9a-f]{64}$/;
/** An Ed25519 libp2p peer id in its base58btc text form. */
const PEER_ID = /^12D3KooW[1-9A-HJ-NP-Za-km-z]{44}$/;
/** Transports a browser can dial: WebSockets, plain or secure. */
const WEBSOCKET = /\/(ws|wss|tls\/ws)(\/|$)/;

// btoa and atob work on one character per byte; the JSON is UTF-8 first so any note or name survives.
function toBase64url(text: string): string {
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64url(text: string): string {
  const base64 = text
    .replace(/-/g, "+")
    .replace(/_/g, "/")
    .padEnd(Math.ceil(text.length / 4) * 4, "=");
  return new TextDecoder().decode(Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)));
}

/** The token text of an invitation (unpadded base64url, as Node's `Buffer` writes it). */
export function encodeInvitation(invitation: Invitation): string {
  return toBase64url(JSON.stringify(invitation));
}

/** The JSON of a token, its version checked. */
function readToken(token: string): Record<string, unknown> {
  const text = token.trim();
  if (!BASE64URL.test(text)) throw new BadInvitationError("it is not base64url text");
  let value: unknown;
  try {
    value = JSON.parse(fromBase64url(text));
  } catch {
    throw new BadInvitationError("it does not hold JSON");
  }
  const v = value as Record<string, unknown> | null;
  if (typeof v !== "object" || v === null || v.v !== 1) throw new BadInvitationError("unknown token version");
  return v;
}

// A node dials these: one libp2p cannot parse would fail every dial of the token, not just its own.
function isMultiaddr(a: unknown): boolean {
  if (typeof a !== "string" || !a.startsWith("/")) return false;
  try {
    multiaddr(a);
    return true;
  } catch {
    return false;
  }
}

/** The inviter's part of a token, checked. */
function readInviter(v: Record<string, unknown>): Inviter {
  if (typeof v.peer !== "string" || !PEER_ID.test(v.peer)) throw new BadInvitationError("no inviter peer id");
  if (!Array.isArray(v.addresses) || !v.addresses.every(isMultiaddr))
    throw new BadInvitationError("addresses must be multiaddr strings");
  return { peer: v.peer, addresses: v.addresses as string[] };
}

/** Reads a council's token; throws `BadInvitationError` saying what is wrong with it. */
export function decodeInvitation(token: string): Invitation {
  const v = readToken(token);
  if (v.kind === "federation") throw new BadInvitationError("it invites to a federation: use `federa federation join`");
  if (typeof v.council !== "string" || !COUNCIL_ID.test(v.council)) throw new BadInvitationError("no council id");
  if (!isValidAutomergeUrl(v.url)) throw new BadInvitationError("no council document URL");
  const inviter = readInviter(v);
  // Members only spare a founder an application: entries that are not text are dropped, not refused.
  const members = Array.isArray(v.members) ? v.members.filter((m): m is string => typeof m === "string") : undefined;
  return { v: 1, council: v.council, url: v.url, ...inviter, ...(members ? { members } : {}) };
}

/** The token text of a federation's invitation. */
export function encodeFederationInvitation(invitation: Omit<FederationInvitation, "v" | "kind">): string {
  const token: FederationInvitation = { v: 1, kind: "federation", ...invitation };
  return toBase64url(JSON.stringify(token));
}

/** Reads a federation's token; throws `BadInvitationError` saying what is wrong with it. */
export function decodeFederationInvitation(token: string): FederationInvitation {
  const v = readToken(token);
  if (v.kind !== "federation") throw new BadInvitationError("it is not a federation's invitation");
  if (typeof v.federation !== "string" || !COUNCIL_ID.test(v.federation))
    throw new BadInvitationError("no federation id");
  if (!isValidAutomergeUrl(v.url)) throw new BadInvitationError("no federation document URL");
  if (v.council !== undefined && (typeof v.council !== "string" || !COUNCIL_ID.test(v.council)))
    throw new BadInvitationError("the inviter's council is not a council id");
  const council = v.council === undefined ? {} : { council: v.council as string };
  return { v: 1, kind: "federation", federation: v.federation, url: v.url, ...council, ...readInviter(v) };
}

/** The inviter's addresses, each ending in its peer id so that a dial reaches that node and no other. */
export function inviterAddresses(inviter: Inviter): string[] {
  return inviter.addresses.map((a) => (a.includes("/p2p/") ? a : `${a}/p2p/${inviter.peer}`));
}

/** The inviter's WebSocket addresses (all a browser can dial), each ending in its peer id. */
export function webSocketAddresses(inviter: Inviter): string[] {
  return inviterAddresses(inviter).filter((a) => WEBSOCKET.test(a));
}

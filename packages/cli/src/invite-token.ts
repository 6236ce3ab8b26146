/** Invitation tokens: base64url JSON naming the council, its document, and how to reach the inviter's node. */
import { BadTokenError } from "./errors.js";

/** What a token carries. */
export interface Invitation {
  readonly v: 1;
  /** The council id (its genesis record id). */
  readonly council: string;
  /** The council document's automerge URL. */
  readonly url: string;
  /** The inviter's node: its peer id (the inviter's device id) and last known listen addresses. */
  readonly peer: string;
  readonly addresses: readonly string[];
  /** The council's members when the token was made (a founder among them joins by authorising a device). */
  readonly members?: readonly string[];
}

/** The token text of an invitation. */
export function encodeInvitation(invitation: Invitation): string {
  return Buffer.from(JSON.stringify(invitation), "utf8").toString("base64url");
}

/** Reads a token; throws `BadTokenError` saying what is wrong with it. */
export function decodeInvitation(token: string): Invitation {
  const text = token.trim();
  if (!/^[A-Za-z0-9_-]+$/.test(text)) throw new BadTokenError("it is not base64url text");
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(text, "base64url").toString("utf8"));
  } catch {
    throw new BadTokenError("it does not hold JSON");
  }
  const v = value as Partial<Invitation>;
  if (typeof v !== "object" || v === null || v.v !== 1) throw new BadTokenError("unknown token version");
  if (typeof v.council !== "string" || !/^[0-9a-f]{64}$/.test(v.council)) throw new BadTokenError("no council id");
  if (typeof v.url !== "string" || !v.url.startsWith("automerge:")) throw new BadTokenError("no council document URL");
  if (typeof v.peer !== "string" || !/^12D3KooW[1-9A-HJ-NP-Za-km-z]{44}$/.test(v.peer))
    throw new BadTokenError("no inviter peer id");
  if (!Array.isArray(v.addresses) || !v.addresses.every((a) => typeof a === "string" && a.startsWith("/"))) {
    throw new BadTokenError("addresses must be multiaddr strings");
  }
  const members = Array.isArray(v.members) ? v.members.filter((m): m is string => typeof m === "string") : undefined;
  return {
    v: 1,
    council: v.council,
    url: v.url,
    peer: v.peer,
    addresses: v.addresses,
    ...(members ? { members } : {}),
  };
}

/** Invitation tokens as `federa invite` prints them: base64url JSON naming the council and the inviter's node. */

/** What a token carries. */
export interface Invitation {
  readonly v: 1;
  /** The council id (its genesis record id). */
  readonly council: string;
  /** The council document's automerge URL. */
  readonly url: string;
  /** The inviter's node: its peer id and the addresses it listened on. */
  readonly peer: string;
  readonly addresses: readonly string[];
}

/** Thrown when a token cannot be read, saying why. */
export class BadInvitationError extends Error {
  constructor(reason: string) {
    super(`not an invitation token: ${reason}`);
    this.name = "BadInvitationError";
  }
}

function fromBase64url(text: string): string {
  const base64 = text
    .replace(/-/g, "+")
    .replace(/_/g, "/")
    .padEnd(Math.ceil(text.length / 4) * 4, "=");
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/** Reads a token. */
export function decodeInvitation(token: string): Invitation {
  const text = token.trim();
  if (!/^[A-Za-z0-9_-]+$/.test(text)) throw new BadInvitationError("it is not base64url text");
  let value: unknown;
  try {
    value = JSON.parse(fromBase64url(text));
  } catch {
    throw new BadInvitationError("it does not hold JSON");
  }
  const v = value as Partial<Invitation> | null;
  if (typeof v !== "object" || v === null || v.v !== 1) throw new BadInvitationError("unknown token version");
  if (typeof v.council !== "string" || !/^[0-9a-f]{64}$/.test(v.council)) throw new BadInvitationError("no council id");
  if (typeof v.url !== "string" || !v.url.startsWith("automerge:")) throw new BadInvitationError("no council URL");
  if (typeof v.peer !== "string" || !/^12D3KooW[1-9A-HJ-NP-Za-km-z]{44}$/.test(v.peer))
    throw new BadInvitationError("no inviter peer id");
  if (!Array.isArray(v.addresses) || !v.addresses.every((a) => typeof a === "string" && a.startsWith("/")))
    throw new BadInvitationError("addresses must be multiaddrs");
  return { v: 1, council: v.council, url: v.url, peer: v.peer, addresses: v.addresses };
}

/** The inviter's WebSocket addresses (all a browser can dial), each ending in the inviter's peer id. */
export function webSocketAddresses(invitation: Invitation): string[] {
  return invitation.addresses
    .filter((a) => /\/(ws|wss|tls\/ws)(\/|$)/.test(a))
    .map((a) => (a.includes("/p2p/") ? a : `${a}/p2p/${invitation.peer}`));
}

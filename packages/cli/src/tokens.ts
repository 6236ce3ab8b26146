/** Reading invitation tokens typed on the command line: a bad one is a usage error (`BadTokenError`, exit code 2). */
import type { FederationInvitation, Invitation } from "@federa/net";
import { BadTokenError } from "./errors.js";

async function read<T>(decode: (net: typeof import("@federa/net")) => T): Promise<T> {
  // Loaded on demand: @federa/net's entry brings the whole FederaNode with it, which other commands do without.
  const net = await import("@federa/net");
  try {
    return decode(net);
  } catch (e) {
    if (e instanceof net.BadInvitationError) throw new BadTokenError(e.reason);
    throw e;
  }
}

/** A council's invitation (`federa invite`). */
export function readInvitation(token: string): Promise<Invitation> {
  return read((net) => net.decodeInvitation(token));
}

/** A federation's invitation (`federa federation invite`). */
export function readFederationInvitation(token: string): Promise<FederationInvitation> {
  return read((net) => net.decodeFederationInvitation(token));
}

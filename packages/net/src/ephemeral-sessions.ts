/**
 * Ephemeral sessions as the Repo sees them. To drop duplicates, automerge-repo keeps the highest count of every
 * (sender, session id) pair it has received an ephemeral message from, for as long as it runs: a peer that sent each
 * message with a new session id (or a long one) would grow that record without end. Messages that come straight from
 * their sender cannot arrive twice over its one stream, so the adapter drops replays itself and hands the Repo one
 * session per sender, numbered with counts of its own.
 */
import type { EphemeralMessage, Message, SessionId } from "@automerge/automerge-repo/slim";

/** Session ids longer than this are refused (automerge-repo's have 11 characters), so each one kept stays small. */
export const MAX_SESSION_ID_LENGTH = 128;

/** The last session a sender used, and the highest count received in it. */
interface Latest {
  readonly session: string;
  readonly count: number;
}

/**
 * Per sender, the session it uses now; a peer restarting starts a new one, which then replaces the old. Kept for every
 * peer that has sent one, as the storage ids peers announce are: the senders are authenticated peers.
 */
export class EphemeralSessions {
  readonly #latest = new Map<string, Latest>();
  #count = 0;
  /** Each instance's own, so two adapters of one Repo never number the same sender's messages under one session. */
  readonly session = `federa-${Math.random().toString(36).slice(2)}` as SessionId;

  /**
   * The message as the Repo should receive it, or undefined for a replay within the sender's session (or a message
   * with no session id or count, which automerge-repo always sends, or with a session id past the length allowed).
   */
  admit(message: EphemeralMessage): EphemeralMessage | undefined {
    const { senderId, sessionId, count } = message as { senderId: string; sessionId: unknown; count: unknown };
    if (typeof sessionId !== "string" || sessionId.length > MAX_SESSION_ID_LENGTH) return undefined;
    if (typeof count !== "number" || !Number.isFinite(count)) return undefined;
    const latest = this.#latest.get(senderId);
    if (latest !== undefined && latest.session === sessionId && count <= latest.count) return undefined;
    this.#latest.set(senderId, { session: sessionId, count });
    return { ...message, sessionId: this.session, count: ++this.#count };
  }
}

/** True for an ephemeral message. */
export function isEphemeral(message: Message): message is EphemeralMessage {
  return message.type === "ephemeral";
}

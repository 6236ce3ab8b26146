/**
 * Ephemeral sessions as the Repo sees them. To drop duplicates, automerge-repo keeps the highest count of every
 * (sender, session id) pair it has received an ephemeral message from, for as long as it runs: a peer that sent each
 * message with a new session id (or a long one) would grow that record without end. Messages that come straight from
 * their sender cannot arrive twice over its one stream, so the adapter drops replays itself and hands the Repo one
 * session per sender, numbered with counts of its own.
 */
import type { EphemeralMessage, Message, SessionId } from "@automerge/automerge-repo/slim";

/** The one session id under which the Repo sees each sender's ephemeral messages. */
export const REPO_SESSION = "federa" as SessionId;

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

  /**
   * The message as the Repo should receive it, or undefined for a replay within the sender's session (or a message
   * with no session id or count, which automerge-repo always sends).
   */
  admit(message: EphemeralMessage): EphemeralMessage | undefined {
    const { senderId, sessionId, count } = message as { senderId: string; sessionId: unknown; count: unknown };
    if (typeof sessionId !== "string" || typeof count !== "number" || !Number.isFinite(count)) return undefined;
    const latest = this.#latest.get(senderId);
    if (latest !== undefined && latest.session === sessionId && count <= latest.count) return undefined;
    this.#latest.set(senderId, { session: sessionId, count });
    return { ...message, sessionId: REPO_SESSION, count: ++this.#count };
  }
}

/** True for an ephemeral message. */
export function isEphemeral(message: Message): message is EphemeralMessage {
  return message.type === "ephemeral";
}

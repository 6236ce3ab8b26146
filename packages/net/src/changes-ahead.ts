/**
 * Changes applied ahead of the Repo. automerge-repo handles a received sync message in one go: it applies the changes
 * the message carries, updates the document's JavaScript view, and generates its answer to the sender, all in one
 * event-loop turn (a merge of hundreds of records held a node for over 100 ms). For a large message the node applies
 * the changes to the document itself, in a turn of their own, and hands the Repo the same message without them on a
 * later turn: the Repo then finds every change already there and only answers.
 */
import * as A from "@automerge/automerge";
import type { DocHandle, DocumentId, Message, Repo } from "@automerge/automerge-repo/slim";

/** Sync messages at least this large have their changes applied ahead; smaller ones are cheap enough whole. */
export const CHANGES_AHEAD_BYTES = 16 * 1024;

/**
 * Decides, without touching anything, whether a received message's changes are applied ahead: undefined hands it to
 * the Repo whole; otherwise the returned function applies them and returns what is left for the Repo.
 */
export type ChangesAhead = (message: Message) => (() => Message) | undefined;

/**
 * The hook for a node's adapter: applies the changes of a large sync message to the held document when the Repo would
 * take them from this sender (`allows`), and returns the message without them. Anything else goes to the Repo whole,
 * so it is refused, queued or applied exactly as before.
 */
export function changesAhead(repo: Repo, allows: (peer: string, document: DocumentId) => boolean): ChangesAhead {
  return (message) => {
    const { type, data, documentId, senderId } = message;
    if (type !== "sync" || !(data instanceof Uint8Array) || documentId === undefined) return undefined;
    if (data.byteLength < CHANGES_AHEAD_BYTES) return undefined;
    const handle: DocHandle<unknown> | undefined = repo.handles[documentId];
    if (handle === undefined || !handle.isReady() || !allows(senderId, documentId)) return undefined;
    const decoded = A.decodeSyncMessage(data);
    if (decoded.changes.length === 0) return undefined;
    return () => {
      const chunks = decoded.changes.length === 1 ? decoded.changes[0]! : concat(decoded.changes);
      // The Repo applies a peer's changes through the same call; a whole document or a bundle loads like changes.
      handle.update((doc) => A.loadIncremental(doc, chunks));
      return { ...message, data: A.encodeSyncMessage({ ...decoded, changes: [] }) };
    };
  };
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

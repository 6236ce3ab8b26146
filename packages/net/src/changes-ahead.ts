/**
 * Changes taken ahead of the Repo. automerge-repo handles a received sync message in one go: it applies the changes
 * the message carries, updates the document's JavaScript view, and generates its answer to the sender, all in one
 * event-loop turn (a merge of a thousand records held a node for over 100 ms). For a large message the node takes the
 * changes out and hands the Repo the message without them on a timer. It applies the changes itself (`SlicedChanges`):
 * at once when they are cheap, so the Repo then finds them there and only answers; else in slices, a turn each, which
 * start after the Repo has seen the rest, so its sync rounds meanwhile know what the sender holds and never send the
 * sender's changes back.
 */
import * as A from "@automerge/automerge";
import type { DocHandle, DocumentId, Message, Repo } from "@automerge/automerge-repo/slim";
import { SlicedChanges } from "./sliced-changes.js";

/** Sync messages at least this large have their changes taken ahead; smaller ones are cheap enough whole. */
export const CHANGES_AHEAD_BYTES = 16 * 1024;

/**
 * Decides, without touching anything, whether a received message's changes are taken ahead: undefined hands it to
 * the Repo whole; otherwise the returned function takes them and returns what is left for the Repo.
 */
export type ChangesAhead = (message: Message) => (() => Message) | undefined;

/**
 * The hook for a node's adapter: gives the changes of a large sync message for the held document to `slices` when the
 * Repo would take them from this sender (`allows`), and returns the message without them. Anything else goes to the
 * Repo whole, so it is refused, queued or applied exactly as before. Pass your own `slices` to wait for what is queued
 * (`idle()`) or apply it at once (`drain()`) before flushing storage.
 */
export function changesAhead(
  repo: Repo,
  allows: (peer: string, document: DocumentId) => boolean,
  slices: SlicedChanges = new SlicedChanges(),
): ChangesAhead {
  return (message) => {
    const { type, data, documentId, senderId } = message;
    if (type !== "sync" || !(data instanceof Uint8Array) || documentId === undefined) return undefined;
    if (data.byteLength < CHANGES_AHEAD_BYTES) return undefined;
    const handle: DocHandle<unknown> | undefined = repo.handles[documentId];
    if (handle === undefined || !handle.isReady() || !allows(senderId, documentId)) return undefined;
    const decoded = A.decodeSyncMessage(data);
    if (decoded.changes.length === 0) return undefined;
    return () => {
      slices.take(handle, decoded.changes, () => allows(senderId, documentId));
      return { ...message, data: A.encodeSyncMessage({ ...decoded, changes: [] }) };
    };
  };
}

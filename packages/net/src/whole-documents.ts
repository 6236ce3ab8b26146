/**
 * Whole documents trimmed to what the peer lacks. Automerge answers a peer that lacks a third of a document or more
 * with the whole document: about 140 bytes a Federa record of everything it holds, however much of it the peer holds
 * already. In a tree every relay meets such peers at each merge (a node holding 800 records meets one holding 400, of
 * which it lacks 400). The changes since the heads the peer last said it holds are all it can lack, and they cost
 * about 200 bytes a record once the frame is deflated (160 as bundles): sent instead whenever that is smaller.
 */
import * as A from "@automerge/automerge";
import { concat } from "./automerge-chunks.js";
import { bundleChanges, changeHash, MIN_BUNDLED_CHANGES } from "./change-bundles.js";
import { deflatedLength } from "./frame-compression.js";
import { syncMessageDocumentBytes } from "./sync-message-shape.js";

/** The changes are sent in place of the document only if they come to at most this fraction of its bytes. */
const MAX_TRIMMED_RATIO = 0.9;
/** Raw change chunks deflate to about 45% for Federa records: larger than this many times the document, never worth it. */
const MAX_RAW_RATIO = 3;

/**
 * The sync message `data`, which carries the whole of `doc`, with the document replaced by the changes of `doc` since
 * `peerHeads` (those of them `doc` holds), as change chunks or, with `bundles`, as Automerge bundles; or undefined
 * when it carries no document, the peer's heads are not known, or the changes would not be smaller.
 */
export function trimWholeDocument(
  doc: A.Doc<unknown>,
  data: Uint8Array,
  peerHeads: readonly string[] | undefined,
  bundles: boolean,
): Uint8Array | undefined {
  const documentBytes = syncMessageDocumentBytes(data);
  if (documentBytes === undefined || peerHeads === undefined) return undefined;
  // Heads the peer holds that this replica does not: their history may be partly known, but only the rest counts.
  const known = peerHeads.filter((head) => A.hasHeads(doc, [head]));
  if (known.length === 0) return undefined; // the peer holds nothing of this replica's: the document is the way
  const changes = A.getChangesSince(doc, known);
  if (changes.length === 0) return undefined;
  let trimmed: Uint8Array[] | undefined;
  if (bundles && changes.length >= MIN_BUNDLED_CHANGES) {
    trimmed = bundleChanges(doc, changes.map(changeHash));
    const size = trimmed?.reduce((n, b) => n + b.byteLength, 0) ?? Number.POSITIVE_INFINITY;
    if (size > documentBytes * MAX_TRIMMED_RATIO) trimmed = undefined;
  }
  if (trimmed === undefined) {
    const raw = changes.reduce((n, c) => n + c.byteLength, 0);
    if (raw > documentBytes * MAX_RAW_RATIO) return undefined;
    if (deflatedLength(concat(changes)) > documentBytes * MAX_TRIMMED_RATIO) return undefined;
    trimmed = changes;
  }
  return A.encodeSyncMessage({ ...A.decodeSyncMessage(data), changes: trimmed });
}

/**
 * Whole documents trimmed to what the peer lacks. Automerge answers a peer that lacks a third of a document or more
 * with the whole document: about 140 bytes a Federa record of everything it holds, however much of it the peer holds
 * already. In a tree every relay meets such peers at each merge (a node holding 800 records meets one holding 400, of
 * which it lacks 400). What the peer said in its last sync message (the heads it last synced at, a Bloom filter of
 * the changes it holds since, the changes it asks for) names what it lacks, as Automerge itself reckons it; those
 * changes cost about 200 bytes a record once the frame is deflated (160 as bundles), and are sent instead whenever
 * that is smaller.
 */
import * as A from "@automerge/automerge";
import { changeDeps, concat, splitChunks } from "./automerge-chunks.js";
import { bundleChanges, changeHash, MIN_BUNDLED_CHANGES } from "./change-bundles.js";
import { deflatedLength } from "./frame-compression.js";
import { SyncBloom } from "./sync-bloom.js";
import { readSyncHeader, type SyncHeader, syncMessageDocumentBytes } from "./sync-message-shape.js";

/** The changes are sent in place of the document only if they come to at most this fraction of its bytes. */
const MAX_TRIMMED_RATIO = 0.9;
/** Raw change chunks deflate to about 45% for Federa records: larger than this many times the document, never worth it. */
const MAX_RAW_RATIO = 3;
/**
 * A peer lacking more than this share of the changes gets the whole document without weighing the changes: a change
 * deflated costs about 1.35 times its share of the document (200 bytes a Federa record against 146).
 */
const MAX_LACKING_SHARE = 0.75;

/**
 * The sync message `data`, which carries the whole of `doc`, with the document replaced by the changes the peer lacks
 * by what it `said` (as change chunks or, with `bundles`, as Automerge bundles); or undefined when it carries no
 * document, the peer said nothing to go by, or the changes would not be smaller.
 */
export function trimWholeDocument(
  doc: A.Doc<unknown>,
  data: Uint8Array,
  said: SyncHeader | undefined,
  bundles: boolean,
): Uint8Array | undefined {
  const documentBytes = syncMessageDocumentBytes(data);
  if (documentBytes === undefined || said === undefined) return undefined;
  const total = A.stats(doc).numChanges;
  // Synced at nothing, the peer holds what its filters hold: short of that many, the whole document is the way.
  if (said.have.every((have) => have.lastSync.length === 0)) {
    const held = Math.max(0, ...said.have.map((have) => new SyncBloom(have.bloom).entries));
    if (total - held > total * MAX_LACKING_SHARE) return undefined;
  }
  // `doc` may have moved on since the message was made: what came since goes in the Repo's next message, not this one.
  const changes = changesPeerLacks(doc, said, total * MAX_LACKING_SHARE, readSyncHeader(data).heads);
  if (changes === undefined || changes.length === 0) return undefined;
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

/**
 * The changes of `doc` the peer lacks by what it said, in `doc`'s order: those since the heads it last synced at
 * that none of its filters holds, every change that depends on one of them, and those it asks for; or undefined when
 * it said nothing to go by (no filter), asks for a change from before, or lacks more than `atMost`. With `heads`, only
 * changes up to them (`doc` as it was when a message naming them was made). A filter's false positive leaves a change
 * out, which the peer then asks for, as it would of Automerge.
 */
export function changesPeerLacks(
  doc: A.Doc<unknown>,
  said: SyncHeader,
  atMost = Number.POSITIVE_INFINITY,
  heads?: readonly string[],
): Uint8Array[] | undefined {
  if (said.have.length === 0) return undefined;
  // Heads this replica never saw stand for history it cannot name: starting from the rest sends more, never less.
  const { all, byHash } = changesOf(doc);
  const lastSync = [...new Set(said.have.flatMap((have) => have.lastSync))].filter((h) => byHash.has(h));
  const filters = said.have.map((have) => new SyncBloom(have.bloom));
  const synced = ancestors(byHash, lastSync);
  const read = synced.size === 0 ? all : all.filter((change) => !synced.has(change.hash));
  // Changes up to `heads` only; with one unread (no plain change) there are none, and the document goes whole.
  const within =
    heads &&
    ancestors(
      byHash,
      heads.filter((head) => byHash.has(head)),
    );
  const since = within === undefined ? read : read.filter((change) => within.has(change.hash));
  const dependents = new Map<string, string[]>();
  const lacking = new Set<string>();
  for (const change of since) {
    if (change.deps === undefined) return undefined; // not a plain change chunk: left to Automerge
    for (const dep of change.deps) {
      const list = dependents.get(dep);
      if (list === undefined) dependents.set(dep, [change.hash]);
      else list.push(change.hash);
    }
    if (filters.every((filter) => !filter.contains(change.hash))) lacking.add(change.hash);
  }
  const sinceHashes = new Set(since.map((change) => change.hash));
  for (const hash of said.need) {
    if (!byHash.has(hash)) continue; // asked of another peer, or unknown here: no answer from this replica
    if (!sinceHashes.has(hash)) return undefined;
    lacking.add(hash);
  }
  // A change whose dependency the peer lacks is one it cannot have applied, whatever its filter says.
  const stack = [...lacking];
  for (let hash = stack.pop(); hash !== undefined; hash = stack.pop()) {
    for (const dependent of dependents.get(hash) ?? []) {
      if (!lacking.has(dependent)) {
        lacking.add(dependent);
        stack.push(dependent);
      }
    }
  }
  if (lacking.size > atMost) return undefined;
  return since.filter((change) => lacking.has(change.hash)).map((change) => change.chunk);
}

interface ReadChange {
  readonly chunk: Uint8Array;
  readonly hash: string;
  readonly deps: readonly string[] | undefined;
}

interface ReadChanges {
  /** In the document's order, each before the changes that depend on it. */
  readonly all: readonly ReadChange[];
  readonly byHash: ReadonlyMap<string, ReadChange>;
}

/** Each snapshot of a document, read once: a round packs the same snapshot for several peers (two packs in three at N = 16). */
const readSnapshots = new WeakMap<A.Doc<unknown>, ReadChanges>();

/** The changes of `doc` with their hashes and dependencies, read from their bytes rather than asked of Automerge again. */
function changesOf(doc: A.Doc<unknown>): ReadChanges {
  let read = readSnapshots.get(doc);
  if (read === undefined) {
    const all = A.getAllChanges(doc).map((chunk) => ({ chunk, hash: changeHash(chunk), deps: changeDeps(chunk) }));
    read = { all, byHash: new Map(all.map((change) => [change.hash, change])) };
    readSnapshots.set(doc, read);
  }
  return read;
}

/** `heads` and every change they depend on, by hash; empty if one is no plain change (its dependencies unread). */
function ancestors(byHash: ReadonlyMap<string, ReadChange>, heads: readonly string[]): Set<string> {
  const found = new Set<string>();
  const stack = [...heads];
  for (let hash = stack.pop(); hash !== undefined; hash = stack.pop()) {
    if (found.has(hash)) continue;
    found.add(hash);
    const deps = byHash.get(hash)?.deps;
    if (deps === undefined) return new Set(); // left to the caller, which sends such a document whole
    for (const dep of deps) if (!found.has(dep)) stack.push(dep);
  }
  return found;
}

/**
 * The sync message `data` with the changes the peer asked for in its last message (`said.need`) and that it does not
 * carry added, or undefined when it carries them all. Automerge answers a need only with changes it has not sent: after
 * a trimmed document, those a filter's false positive left out count as sent, and would never go.
 */
export function withNeededChanges(
  doc: A.Doc<unknown>,
  data: Uint8Array,
  said: SyncHeader | undefined,
): Uint8Array | undefined {
  if (said === undefined || said.need.length === 0 || syncMessageDocumentBytes(data) !== undefined) return undefined;
  const message = A.decodeSyncMessage(data);
  const carried = new Set<string>();
  for (const part of message.changes) for (const chunk of splitChunks(part) ?? []) carried.add(changeHash(chunk));
  const { all, byHash } = changesOf(doc);
  const wanted = new Set(said.need.filter((hash) => !carried.has(hash) && byHash.has(hash)));
  if (wanted.size === 0) return undefined;
  const added = all.filter((change) => wanted.has(change.hash)).map((change) => change.chunk);
  return A.encodeSyncMessage({ ...message, changes: [...message.changes, ...added] });
}

/**
 * Changes sent as Automerge bundles (protocol 1.4). Automerge sends a peer that lacks less than about a third of a
 * document the changes it lacks as change chunks laid end to end: about 440 bytes a Federa record, 200 once the frame
 * is deflated. A bundle (`A.saveBundle`) packs a set of changes into columns, as a saved document does: about 160
 * bytes a record for a hundred of them, 140 for several hundred. A relay passes a merge on in rounds of a hundred
 * records or more, so the sender repacks a large round as bundles; the receiver's Automerge takes them in place of
 * the changes (`receiveSyncMessage`, `loadIncremental`), hashes unchanged.
 */
import * as A from "@automerge/automerge";
import { sha256 } from "@noble/hashes/sha2.js";
import { BUNDLE_CHUNK, CHANGE_CHUNK, chunkType, splitChunks, toHex } from "./automerge-chunks.js";

/** Rounds of fewer changes go as they are: a bundle's columns only beat a deflated frame from about this many. */
export const MIN_BUNDLED_CHANGES = 64;
/** Changes per bundle at most: the receiver applies a bundle in one call, about 20 ms for this many records. */
export const MAX_BUNDLE_CHANGES = 128;

/** Fewer bytes than any change chunk (its header alone is 10): a message shorter than this many of them is not decoded. */
const MIN_CHANGE_BYTES = 16;
/** Where a chunk's hashed part starts: a change's hash is the SHA-256 of its type byte, length and body. */
const HASHED_FROM = 8;

type NodeCrypto = typeof import("node:crypto");

/** Node's SHA-256, about twenty times faster, when the runtime has it (looked up at run time, as zlib is). */
const nodeCrypto = (
  globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }
).process?.getBuiltinModule?.("node:crypto") as NodeCrypto | undefined;

/** The hash of a change chunk, as Automerge names it in heads and dependencies. */
export function changeHash(chunk: Uint8Array): string {
  const hashed = chunk.subarray(HASHED_FROM);
  if (nodeCrypto !== undefined) return nodeCrypto.createHash("sha256").update(hashed).digest("hex");
  return toHex(sha256(hashed));
}

/**
 * The sync message `data` with its change chunks repacked as bundles of `doc`'s changes, or undefined when it carries
 * fewer than `MIN_BUNDLED_CHANGES` change chunks (or anything else: a whole document, bundles already) or `doc` lacks
 * one of them. The changes keep their order, split evenly over as few bundles as `MAX_BUNDLE_CHANGES` allows.
 */
export function bundleSyncMessage(doc: A.Doc<unknown>, data: Uint8Array): Uint8Array | undefined {
  if (data.byteLength < MIN_BUNDLED_CHANGES * MIN_CHANGE_BYTES) return undefined;
  const message = A.decodeSyncMessage(data);
  const changes: Uint8Array[] = [];
  for (const part of message.changes) {
    for (const chunk of splitChunks(part) ?? [part]) {
      // A compressed change is hashed in its uncompressed form: not one this can name (Automerge sends none).
      if (chunkType(chunk) !== CHANGE_CHUNK) return undefined;
      changes.push(chunk);
    }
  }
  if (changes.length < MIN_BUNDLED_CHANGES) return undefined;
  const bundles = bundleChanges(doc, changes.map(changeHash));
  return bundles && A.encodeSyncMessage({ ...message, changes: bundles });
}

/**
 * The changes of `doc` named by `hashes`, in that order, as bundles split evenly over as few as `MAX_BUNDLE_CHANGES`
 * allows; undefined when `doc` lacks one of them.
 */
export function bundleChanges(doc: A.Doc<unknown>, hashes: readonly string[]): Uint8Array[] | undefined {
  // Peers a round goes to often lack the same changes (a merge from one child, relayed to the others).
  let made = bundlesMade.get(doc);
  if (made === undefined) {
    made = new Map();
    bundlesMade.set(doc, made);
  }
  const key = hashes.join("");
  if (made.has(key)) return made.get(key);
  const bundles = packBundles(doc, hashes);
  made.set(key, bundles);
  return bundles;
}

/** The bundles made of each snapshot of a document (snapshots do not change), by the changes they hold. */
const bundlesMade = new WeakMap<A.Doc<unknown>, Map<string, Uint8Array[] | undefined>>();

function packBundles(doc: A.Doc<unknown>, hashes: readonly string[]): Uint8Array[] | undefined {
  const count = Math.ceil(hashes.length / MAX_BUNDLE_CHANGES);
  const size = Math.ceil(hashes.length / count);
  const bundles: Uint8Array[] = [];
  try {
    for (let at = 0; at < hashes.length; at += size) bundles.push(A.saveBundle(doc, hashes.slice(at, at + size)));
  } catch {
    return undefined; // not all in `doc` (a message made from another replica): sent as it came
  }
  return bundles.every((b) => chunkType(b) === BUNDLE_CHUNK) ? bundles : undefined;
}

/**
 * Patches Automerge keeps after a change. Automerge 3.5 caches the patches of a document's latest change in the state
 * it keeps under `Symbol.for("_am_meta")`, so that `A.diff` across exactly that change is free. The objects the change
 * materialised share that state and keep it for as long as they live, so every change's patches stayed in memory
 * (about 0.6 kB a record on a node, docs/benchmarks.md). Only the latest change's cache is ever used; older ones can go.
 */
import type * as A from "@automerge/automerge";

/** Where Automerge keeps a document's state (a registered symbol, so the same across copies of the library). */
const STATE = Symbol.for("_am_meta");

/**
 * Drops the patches cached on `previous`, a version of a document that a later change has replaced: its cache no
 * longer serves `A.diff` on the current version, and the values it materialised would keep it for good.
 */
export function forgetReplacedPatches(previous: A.Doc<unknown> | undefined): void {
  if (previous === undefined || previous === null) return;
  const state = (previous as unknown as Record<symbol, unknown>)[STATE];
  if (typeof state === "object" && state !== null && "mostRecentPatch" in state) {
    delete (state as { mostRecentPatch?: unknown }).mostRecentPatch;
  }
}

/**
 * A large sync message's changes are taken out, the Repo gets the rest first, and the changes are applied in slices,
 * one event-loop turn each.
 */
import * as A from "@automerge/automerge";
import type { DocumentId, Message } from "@automerge/automerge-repo";
import { generateAutomergeUrl, parseAutomergeUrl } from "@automerge/automerge-repo";
import { afterEach, describe, expect, it } from "vitest";
import { splitChunks } from "../src/automerge-chunks.js";
import { CHANGES_AHEAD_BYTES, type ChangesAhead, changesAhead } from "../src/changes-ahead.js";
import { SlicedChanges } from "../src/sliced-changes.js";
import { createSyncPeer, meet, type SyncPeer, stopAll } from "./support/nodes.js";
import { waitFor } from "./support/wait.js";

type Doc = { entries: { [key: string]: Uint8Array } };

afterEach(stopAll);

/** What a receiving peer's hook did, and how each sync message reached its Repo. */
interface Watch {
  /** Messages whose changes the hook took, with the changes the document held when the hook returned. */
  readonly ahead: { bytes: number; restBytes: number; heldThen: number }[];
  /** Of each rest, the changes the document held when the Repo got it. */
  readonly heldAtRest: number[];
  /** Sizes of the sync messages the Repo received. */
  readonly delivered: number[];
}

function changesHeld(peer: SyncPeer, documentId: DocumentId): number {
  return A.getAllChanges(peer.repo.handles[documentId]!.doc()!).length;
}

/** A peer whose adapter runs `hook(repo)` (late-bound: the Repo is made after the adapter) and is watched. */
async function watchedPeer(hook: (peer: SyncPeer) => ChangesAhead): Promise<SyncPeer & { watch: Watch }> {
  const watch: Watch = { ahead: [], heldAtRest: [], delivered: [] };
  let inner: ChangesAhead = () => undefined;
  const rests = new Set<number>();
  const peer = await createSyncPeer("memory", {
    changesAhead: (message) => {
      const take = inner(message);
      if (take === undefined) return undefined;
      return () => {
        const rest = take();
        const restBytes = (rest.data as Uint8Array).byteLength;
        const heldThen = changesHeld(peer, message.documentId!);
        watch.ahead.push({ bytes: (message.data as Uint8Array).byteLength, restBytes, heldThen });
        rests.add(restBytes);
        return rest;
      };
    },
  });
  inner = hook(peer);
  peer.adapter.on("message", (message: Message) => {
    if (message.type !== "sync") return;
    const bytes = (message.data as Uint8Array).byteLength;
    watch.delivered.push(bytes);
    if (rests.delete(bytes)) watch.heldAtRest.push(changesHeld(peer, message.documentId!));
  });
  return { ...peer, watch };
}

/** The same small document held by both peers under one id, as two replicas of one council start. */
function shareDocument(a: SyncPeer, b: SyncPeer): DocumentId {
  const { documentId } = parseAutomergeUrl(generateAutomergeUrl());
  const bytes = A.save(A.from<Doc>({ entries: {} }));
  a.repo.import<Doc>(bytes, { docId: documentId });
  b.repo.import<Doc>(bytes, { docId: documentId });
  return documentId;
}

/** Writes `count` entries of incompressible bytes in one change: its sync message is about 80 bytes an entry. */
function writeMany(peer: SyncPeer, documentId: DocumentId, count: number): void {
  const handle = peer.repo.handles[documentId]!;
  handle.change((d: Doc) => {
    for (let i = 0; i < count; i++) d.entries[`e${i}`] = crypto.getRandomValues(new Uint8Array(64));
  });
}

/** Writes `count` entries one change each, as Federa writes records. */
function writeEach(peer: SyncPeer, documentId: DocumentId, count: number, prefix = "r"): void {
  const handle = peer.repo.handles[documentId]!;
  for (let i = 0; i < count; i++) {
    handle.change((d: Doc) => {
      d.entries[`${prefix}${i}`] = crypto.getRandomValues(new Uint8Array(64));
    });
  }
}

function sameHeads(a: SyncPeer, b: SyncPeer, documentId: DocumentId): boolean {
  const da = a.repo.handles[documentId]?.doc();
  const db = b.repo.handles[documentId]?.doc();
  if (da === undefined || db === undefined) return false;
  return JSON.stringify(A.getHeads(da).sort()) === JSON.stringify(A.getHeads(db).sort());
}

describe("changes applied ahead of the Repo", () => {
  it("takes a costly message's changes out, hands the Repo the rest first, and applies them a slice a turn", async () => {
    const a = await createSyncPeer("memory");
    // Every message counts as costly here, and slices are small, so 1,000 records take several.
    const slices = new SlicedChanges({ wholeMs: 0, sliceMs: 2 });
    const b = await watchedPeer((peer) => changesAhead(peer.repo, () => true, slices));
    const documentId = shareDocument(a, b);
    await meet(a, b);
    // b first holds most of the document: a merge is then sent as change chunks, which split.
    writeEach(a, documentId, 800, "old");
    await waitFor(() => sameHeads(a, b, documentId) && slices.pending === 0, "the first records to arrive");
    b.watch.ahead.length = 0;
    b.watch.heldAtRest.length = 0;
    const handle = b.repo.handles[documentId]!;
    const applied: number[] = []; // changes held after each update of b's document
    handle.on("heads-changed", () => applied.push(changesHeld(b, documentId)));
    const before = changesHeld(b, documentId);
    let sentBack = 0; // changes in b's sync messages while it only received
    const send = b.adapter.send.bind(b.adapter);
    b.adapter.send = (message) => {
      if (message.type === "sync")
        for (const part of A.decodeSyncMessage(message.data as Uint8Array).changes)
          sentBack += splitChunks(part)!.length;
      send(message);
    };
    writeEach(a, documentId, 400);
    await waitFor(() => sameHeads(a, b, documentId), "the peers to converge");

    expect(b.watch.ahead.length).toBeGreaterThan(0);
    for (const { bytes, restBytes, heldThen } of b.watch.ahead) {
      expect(bytes).toBeGreaterThanOrEqual(CHANGES_AHEAD_BYTES);
      expect(restBytes).toBeLessThan(2_000); // heads, needs and the bloom filter, no changes
      expect(heldThen).toBe(before); // taking them out applies nothing
    }
    // The Repo saw what the sender holds before the first of those changes landed...
    expect(b.watch.heldAtRest[0]).toBe(before);
    // ...and they landed in several updates, none of them all at once.
    const steps = applied.map((n, i) => n - (applied[i - 1] ?? before));
    expect(steps.length).toBeGreaterThan(2);
    expect(Math.max(...steps)).toBeLessThan(400);
    expect(Object.keys(handle.doc()!.entries as object)).toHaveLength(1_200);
    expect(slices.pending).toBe(0);
    // Nothing went back: b's sync rounds meanwhile knew a held those changes.
    expect(sentBack).toBe(0);

    // And the peers go on syncing both ways afterwards.
    writeEach(b, documentId, 10, "b");
    await waitFor(() => sameHeads(a, b, documentId), "the peers to converge again");
  });

  it("applies a cheap message's changes at once, before the Repo gets the rest, which it then only answers", async () => {
    const a = await createSyncPeer("memory");
    const slices = new SlicedChanges({ wholeMs: Number.POSITIVE_INFINITY });
    const b = await watchedPeer((peer) => changesAhead(peer.repo, () => true, slices));
    const documentId = shareDocument(a, b);
    await meet(a, b);
    const handle = b.repo.handles[documentId]!;
    let updates = 0;
    handle.on("heads-changed", () => updates++);
    const before = changesHeld(b, documentId);
    writeEach(a, documentId, 1_000);
    await waitFor(() => sameHeads(a, b, documentId), "the peers to converge");
    await waitFor(() => b.watch.heldAtRest.length > 0, "the rest of the message to reach the Repo");

    const first = b.watch.ahead[0]!;
    expect(first.bytes).toBeGreaterThanOrEqual(CHANGES_AHEAD_BYTES);
    expect(first.heldThen).toBeGreaterThan(before); // applied in the call that took them
    expect(b.watch.heldAtRest[0]).toBe(first.heldThen); // and there when the Repo got the rest
    expect(updates).toBeLessThanOrEqual(b.watch.ahead.length + 2);
    expect(Math.max(...b.watch.delivered)).toBeLessThan(CHANGES_AHEAD_BYTES);
    expect(Object.keys(handle.doc()!.entries as object)).toHaveLength(1_000);
  });

  it("hands the Repo a message whole when it would not take that document from that peer", async () => {
    const a = await createSyncPeer("memory");
    const asked: string[] = [];
    const b = await watchedPeer((peer) =>
      changesAhead(peer.repo, (sender) => {
        asked.push(sender);
        return false;
      }),
    );
    const documentId = shareDocument(a, b);
    await meet(a, b);
    writeMany(a, documentId, 1_000);
    await waitFor(() => sameHeads(a, b, documentId), "the peers to converge");
    expect(asked).toContain(a.adapter.peerId);
    expect(b.watch.ahead).toEqual([]);
    expect(Math.max(...b.watch.delivered)).toBeGreaterThanOrEqual(CHANGES_AHEAD_BYTES);
  });

  it("hands the Repo a message whole when the hook throws, and keeps syncing", async () => {
    const a = await createSyncPeer("memory");
    let calls = 0;
    // It takes every large message, then fails to apply it (as a document that will not load would).
    const b = await watchedPeer(
      () => (message) =>
        ((message.data as Uint8Array | undefined)?.byteLength ?? 0) >= CHANGES_AHEAD_BYTES
          ? () => {
              calls++;
              throw new Error("hook failure");
            }
          : undefined,
    );
    const documentId = shareDocument(a, b);
    await meet(a, b);
    writeMany(a, documentId, 1_000);
    await waitFor(() => sameHeads(a, b, documentId), "the peers to converge");
    expect(calls).toBeGreaterThan(0);
    expect(Math.max(...b.watch.delivered)).toBeGreaterThanOrEqual(CHANGES_AHEAD_BYTES);
  });

  it("leaves small messages and documents it does not hold to the Repo", async () => {
    const a = await createSyncPeer("memory");
    const b = await watchedPeer((peer) => changesAhead(peer.repo, () => true));
    const documentId = shareDocument(a, b);
    await meet(a, b);
    writeMany(a, documentId, 20);
    await waitFor(() => sameHeads(a, b, documentId), "the peers to converge");
    // A document only `a` holds: `b` has no ready handle for it until the Repo has taken the whole of it.
    const only = a.repo.create<Doc>({ entries: {} });
    writeMany(a, only.documentId, 1_000);
    const found = await b.repo.find<Doc>(only.url);
    await waitFor(() => sameHeads(a, b, only.documentId), "the new document to arrive");
    expect(Object.keys(found.doc().entries)).toHaveLength(1_000);
    expect(b.watch.ahead).toEqual([]);
  });
});

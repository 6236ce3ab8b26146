/** A large sync message's changes are applied in a turn of their own, and the Repo gets the rest on a later turn. */
import * as A from "@automerge/automerge";
import type { DocumentId, Message } from "@automerge/automerge-repo";
import { generateAutomergeUrl, parseAutomergeUrl } from "@automerge/automerge-repo";
import { afterEach, describe, expect, it } from "vitest";
import { CHANGES_AHEAD_BYTES, type ChangesAhead, changesAhead } from "../src/changes-ahead.js";
import { createSyncPeer, meet, type SyncPeer, stopAll } from "./support/nodes.js";
import { waitFor } from "./support/wait.js";

type Doc = { entries: { [key: string]: Uint8Array } };

afterEach(stopAll);

/** What a receiving peer's hook did, and how each sync message reached its Repo. */
interface Watch {
  /** Messages whose changes the hook applied, and how what was left of them reached the Repo. */
  readonly ahead: { bytes: number; restBytes: number; laterJob: boolean; changesThere: boolean }[];
  /** Sizes of the sync messages the Repo received. */
  readonly delivered: number[];
}

/** A peer whose adapter runs `hook(repo)` (late-bound: the Repo is made after the adapter) and is watched. */
async function watchedPeer(hook: (peer: SyncPeer) => ChangesAhead): Promise<SyncPeer & { watch: Watch }> {
  const watch: Watch = { ahead: [], delivered: [] };
  let inner: ChangesAhead = () => undefined;
  let pending: { bytes: number; restBytes: number; heads: string; laterJob: boolean } | undefined;
  const peer = await createSyncPeer("memory", {
    changesAhead: (message) => {
      const apply = inner(message);
      if (apply === undefined) return undefined;
      return () => {
        const rest = apply();
        const doc = peer.repo.handles[message.documentId!]!.doc()!;
        const entry = {
          bytes: (message.data as Uint8Array).byteLength,
          restBytes: (rest.data as Uint8Array).byteLength,
          heads: JSON.stringify(A.getHeads(doc)),
          laterJob: false,
        };
        queueMicrotask(() => {
          entry.laterJob = true;
        });
        pending = entry;
        return rest;
      };
    },
  });
  inner = hook(peer);
  peer.adapter.on("message", (message: Message) => {
    if (message.type !== "sync") return;
    const bytes = (message.data as Uint8Array).byteLength;
    watch.delivered.push(bytes);
    if (pending !== undefined && bytes === pending.restBytes) {
      const doc = peer.repo.handles[message.documentId!]!.doc()!;
      const { heads, ...rest } = pending;
      watch.ahead.push({ ...rest, changesThere: JSON.stringify(A.getHeads(doc)) === heads });
      pending = undefined;
    }
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

function sameHeads(a: SyncPeer, b: SyncPeer, documentId: DocumentId): boolean {
  const da = a.repo.handles[documentId]?.doc();
  const db = b.repo.handles[documentId]?.doc();
  if (da === undefined || db === undefined) return false;
  return JSON.stringify(A.getHeads(da).sort()) === JSON.stringify(A.getHeads(db).sort());
}

describe("changes applied ahead of the Repo", () => {
  it("applies a large message's changes itself and hands the Repo the rest afterwards, on its own", async () => {
    const a = await createSyncPeer("memory");
    const b = await watchedPeer((peer) => changesAhead(peer.repo, () => true));
    const documentId = shareDocument(a, b);
    await meet(a, b);
    writeMany(a, documentId, 1_000);
    await waitFor(() => sameHeads(a, b, documentId), "the peers to converge");

    // The changes are there before the Repo has seen the message; the rest reaches it on a later turn.
    await waitFor(() => b.watch.ahead.length > 0, "the rest of the message to reach the Repo");
    for (const { bytes, restBytes, laterJob, changesThere } of b.watch.ahead) {
      expect(bytes).toBeGreaterThanOrEqual(CHANGES_AHEAD_BYTES);
      expect(restBytes).toBeLessThan(1_000); // heads, needs and the bloom filter, no changes
      expect(laterJob).toBe(true); // not in the call that applied the changes
      expect(changesThere).toBe(true); // the document held them when the Repo got the rest
    }
    expect(Math.max(...b.watch.delivered)).toBeLessThan(CHANGES_AHEAD_BYTES);
    expect(Object.keys(b.repo.handles[documentId]!.doc()!.entries as object)).toHaveLength(1_000);

    // And the peers go on syncing both ways afterwards.
    writeMany(b, documentId, 10);
    await waitFor(() => sameHeads(a, b, documentId), "the peers to converge again");
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

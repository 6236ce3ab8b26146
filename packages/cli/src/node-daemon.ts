/**
 * The running node of `federa node`: listens, discovers and dials peers, syncs every council it holds, receives
 * applications, delivers its own, serves the control socket, and on SIGINT or SIGTERM flushes storage and the
 * verified-signature cache and returns.
 */
import type { DocumentId } from "@automerge/automerge-repo";
import type { FederaNode } from "@federa/net";
import { now as nowMs } from "./clock.js";
import { ControlClient, type ControlServer, serveControl } from "./control-socket.js";
import { CliError, CliErrorCodes } from "./errors.js";
import { describeRollback, HighWaterStore, marksOf, type RolledBack, type SignerMarks } from "./high-water.js";
import { DEFAULT_LISTEN, startNode } from "./network.js";
import { contactsOf, type FederationEntry, type NodeDir } from "./node-dir.js";
import { NodeWorkspace } from "./node-workspace.js";
import { FUTURE_TOLERANCE_MS, futureRecords, perform, READ_OPS } from "./operations.js";
import type { Output } from "./output.js";
import { lockForNode } from "./replica-lock.js";
import { checkRequest } from "./request-shape.js";
import type { StopRequest } from "./signals.js";
import type { OpenCouncil } from "./workspace.js";

/** How the node listens and finds peers. */
export interface NodeRunOptions {
  readonly listen?: readonly string[];
  readonly bootstrap?: readonly string[];
  readonly mdns: boolean;
  /** Join a DHT (through the bootstrap peers) to look up the councils' devices beyond the LAN. */
  readonly dht?: boolean;
  /** ...keeping private and loopback addresses in it. */
  readonly dhtPrivate?: boolean;
  /** Milliseconds a peer breaking the sync protocol is refused (0: never); the node's default when omitted. */
  readonly banMs?: number;
  /** Large rounds of changes as bundles (`FederaNodeInit.bundleChanges`); the node's default when omitted. */
  readonly bundleChanges?: boolean;
  /** Whole documents as the changes peers lack (`FederaNodeInit.trimDocuments`). */
  readonly trimDocuments?: boolean;
  /** Milliseconds to wait for peers to send a council or federation not stored here (`NodeWorkspace`'s default when omitted). */
  readonly openWait?: number;
}

/** How often councils still pending and undelivered applications are tried again, and the verified cache saved. */
const RETRY_INTERVAL_MS = 10_000;
/** The longest a clean shutdown may take before the process gives up on it. */
const SHUTDOWN_TIMEOUT_MS = 15_000;

function log(message: string): void {
  process.stderr.write(`${new Date().toISOString()} ${message}\n`);
}

function short(id: string): string {
  return id.length > 16 ? `${id.slice(0, 12)}…` : id;
}

/** More future-stamped records than this arriving at once are summed up in one line rather than one line each. */
const FUTURE_LINES = 3;

/** Records already warned of as stamped in the future: each is logged once, when it arrives. */
const warned = new Set<string>();

/**
 * Warns of records stamped more than `FUTURE_TOLERANCE_MS` ahead of this machine's clock (they move the council's
 * time forward). Those already held when the council opens, or arriving many at once (a sync), are summed up in one
 * line; a few arriving later get a line each.
 */
function warnFuture(held: OpenCouncil, opening: boolean): void {
  const fresh = futureRecords(held).filter((r) => !warned.has(r.id));
  for (const r of fresh) warned.add(r.id);
  const ahead = `more than ${FUTURE_TOLERANCE_MS / 60_000} minutes ahead of this machine's clock`;
  const first = fresh[0];
  if ((opening || fresh.length > FUTURE_LINES) && first !== undefined) {
    log(
      `warning: council ${short(held.council.id)} holds ${fresh.length} record(s) stamped ${ahead}, the earliest ${first.id} (${first.kind} by ${first.author}) at ${first.at}`,
    );
    return;
  }
  for (const r of fresh) {
    log(
      `warning: council ${short(held.council.id)}: record ${r.id} (${r.kind} by ${r.author}) is stamped ${r.at}, ${ahead}`,
    );
  }
}

/** Signers already warned of as rolled back, by council or federation: each is logged once. */
const rolled = new Set<string>();

/** Warns of signers whose high-water mark went down: records this device once verified are gone or altered. */
function warnRolledBack(owner: string, drops: readonly RolledBack[]): void {
  const what = federationIds.has(owner) ? "federation" : "council";
  for (const r of drops) {
    if (rolled.has(`${owner} ${r.signer}`)) continue;
    rolled.add(`${owner} ${r.signer}`);
    log(`warning: ${what} ${short(owner)}: ${describeRollback(r)}`);
  }
}

/** What the node's warnings read of an open council or federation. */
interface Guarded {
  highWater(): ReadonlyMap<string, number>;
  readonly restored: number;
  recover(): Promise<number>;
}

/** Councils and federations whose history was searched after their marks went down: once per run is enough. */
const searched = new Set<string>();

/** Records each council or federation had written back when last warned of. */
const restoredBefore = new Map<string, number>();

/** Warns once per batch of records written back since the last warning: a member's device altered the documents. */
function warnRestored(owner: string, restored: number): void {
  const more = restored - (restoredBefore.get(owner) ?? 0);
  if (more <= 0) return;
  restoredBefore.set(owner, restored);
  const what = federationIds.has(owner) ? "federation" : "council";
  log(`warning: ${what} ${short(owner)}: wrote back ${more} record(s) a peer's change deleted or altered`);
}

/** The federations this node watches, to name them as such in warnings. */
const federationIds = new Set<string>();

/** Runs `fn` 250 ms after the last of a burst of calls (a sync burst is one run). */
function afterBurst(fn: () => void): () => void {
  let timer: NodeJS.Timeout | undefined;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(fn, 250);
    timer.unref();
  };
}

/**
 * Logs a council's documents changing (once per burst), and records stamped in the future; `keepMarks` runs at once
 * and after each burst.
 */
function watch(held: OpenCouncil, keepMarks: () => Promise<void>): void {
  warnFuture(held, true);
  void keepMarks();
  const changed = afterBurst(() => {
    void held.council.state().then(
      (s) => {
        const open = s.proposals.filter((p) => p.status === "open").length;
        log(
          `council ${short(held.council.id)} "${s.name}": ${s.records} records, ${s.members.length} members, ${open} open`,
        );
        warnFuture(held, false);
        void keepMarks();
      },
      () => {},
    );
  });
  held.councilHandle.on("change", changed);
  held.ledgerHandle.on("change", changed);
}

/** Runs the node of `dir` until `stop` (SIGINT or SIGTERM, caught by the caller before this module loaded). */
export async function runNode(dir: NodeDir, out: Output, options: NodeRunOptions, stop: StopRequest): Promise<void> {
  await dir.identity(); // fail early, and plainly, without an identity
  const running = await ControlClient.connect(dir.socketPath);
  if (running !== null) {
    running.close();
    throw new CliError(CliErrorCodes.NODE_RUNNING, `a node is already running on ${dir.root}`);
  }
  if (stop.signal !== undefined) return; // told to stop before anything started
  const lock = await lockForNode(
    dir.root,
    (held) => log(`waiting for a federa command (process ${held.pid}) to finish with ${dir.root}`),
    () => stop.signal !== undefined,
  );
  if (lock === undefined) return; // told to stop while waiting for the directory
  const verified = await dir.verified().catch(async (e) => {
    await lock.release();
    throw e;
  });
  const node: FederaNode = await startNode(dir, {
    listen: options.listen ?? [...DEFAULT_LISTEN],
    bootstrap: options.bootstrap ?? [],
    mdns: options.mdns,
    dht: options.dhtPrivate === true ? { privateAddresses: true } : options.dht === true,
    storage: true,
    verified,
    ...(options.banMs !== undefined ? { banMs: options.banMs } : {}),
    ...(options.bundleChanges !== undefined ? { bundleChanges: options.bundleChanges } : {}),
    ...(options.trimDocuments === true ? { trimDocuments: true } : {}),
    // A restart must not free a peer the node banned: bans are kept in D/bans.json.
    bans: await dir.bans(),
  }).catch(async (e) => {
    await lock.release();
    // libp2p's own errors (an address in use, one no transport listens on) are the user's to fix, not bugs.
    if (e instanceof CliError) throw e;
    const lines = String((e as Error).message ?? e).split("\n");
    // libp2p lists each address that failed, with its reason, under a line of its own advice: keep those lines only.
    const failed = lines.filter((l) => /^\s+\/.+: /.test(l)).map((l) => l.trim());
    const first = failed.length > 0 ? `could not listen on ${failed.join("; ")}` : lines[0];
    throw new CliError(CliErrorCodes.NODE_START, `the node could not start: ${first}`);
  });
  const ws = new NodeWorkspace(dir, node, options.openWait);
  let control: ControlServer | undefined;
  const timers: NodeJS.Timeout[] = [];
  const stops: (() => void)[] = [];
  const writes = new Set<Promise<unknown>>();
  let stopping: Promise<void> | undefined;
  let bansSaved: Promise<void> = Promise.resolve();
  const marks = new HighWaterStore(dir);
  /**
   * Stores the marks of a council or federation (`owner`) whose records are in `documents`, and warns of drops and of
   * records written back after a peer's change deleted or altered them.
   */
  const keepMarks = async (owner: string, documents: DocumentId[], held: Guarded) => {
    if (stopping !== undefined) return; // the shutdown stores every council's marks once storage is flushed
    warnRestored(owner, held.restored);
    try {
      // Documents first: a mark ahead of the records on disk would look like a rollback after a crash.
      await node.repo.flush(documents);
      const drops = (await marks.update(new Map([[owner, marksOf(held.highWater())]]))).get(owner) ?? [];
      warnRolledBack(owner, drops);
      // A deleted chain tip shows no harm but a lower mark: its record may still be in the history.
      if (drops.length > 0 && !searched.has(owner)) {
        searched.add(owner);
        void held.recover().catch((e: Error) => log(`${short(owner)}: could not search its history: ${e.message}`));
      }
    } catch (e) {
      log(`${short(owner)}: could not store high-water marks: ${(e as Error).message}`);
    }
  };
  ws.onOpen = (held) => {
    log(`council ${short(held.council.id)} opened`);
    const documents = [held.councilHandle.documentId, held.ledgerHandle.documentId];
    watch(held, () => keepMarks(held.council.id, documents, held.council));
  };
  ws.onFederationOpen = (held) => {
    const id = held.federation.id;
    federationIds.add(id);
    // Its marks, and the candidates it refused: their vouch had only their admission to bootstrap.
    const settle = async () => {
      await keepMarks(id, [held.handle.documentId], held.federation);
      const dropped = await ws.pruneVouches(held).catch((e: Error) => {
        log(`federation ${short(id)}: could not update its delegates: ${e.message}`);
        return 0;
      });
      if (dropped > 0) log(`federation ${short(id)}: no longer vouching for ${dropped} refused candidate(s)`);
    };
    void settle();
    // After a burst, once the federation has read it (its state derives from the same document).
    held.handle.on(
      "change",
      afterBurst(() => void held.federation.state().then(settle, () => {})),
    );
  };

  const shutdown = (signal: string): Promise<void> => {
    stopping ??= (async () => {
      log(`${signal}: stopping`);
      const force = setTimeout(() => {
        log("shutdown took too long; exiting");
        process.exit(1);
      }, SHUTDOWN_TIMEOUT_MS);
      for (const t of timers) clearInterval(t);
      for (const s of stops) s();
      await control?.close().catch(() => {});
      try {
        await node.stop();
      } catch {
        // A council still being fetched cannot be flushed; flush the ones held, then stop the network.
        await node.flush().catch(() => {});
        await Promise.resolve(node.libp2p.stop()).catch(() => {});
      }
      await Promise.allSettled([...writes]);
      await dir.saveVerified(verified);
      const current = new Map<string, SignerMarks>([
        ...node.councils().map((h) => [h.council.id, marksOf(h.council.highWater())] as const),
        ...node.federations().map((f) => [f.federation.id, marksOf(f.federation.highWater())] as const),
      ]);
      for (const [id, drops] of await marks.update(current).catch(() => new Map<string, RolledBack[]>()))
        warnRolledBack(id, drops);
      // Last: until everything above is on disk, no other process may work on the replica.
      await lock.release();
      clearTimeout(force);
      log("stopped");
    })();
    return stopping;
  };
  try {
    control = await serveControl(dir.socketPath, async (request) => {
      checkRequest(request); // any program may write to the socket: a malformed field is refused by name
      const result = await perform(ws, request);
      // An acknowledged write is on disk: a node killed right after answering keeps it.
      if (!READ_OPS.has(request.op)) await ws.flush();
      return result;
    });
    node.events.on("application:accepted", ({ record, from, council }) =>
      log(`application ${short(record)} from ${short(from)} to council ${short(council)}: accepted`),
    );
    await node.acceptApplications();
  } catch (e) {
    await shutdown("startup failure");
    throw e;
  }

  if (stop.signal !== undefined) return shutdown(stop.signal);
  const addresses = node.addresses();
  const peerId = node.libp2p.peerId.toString();
  await dir.writeNodeInfo({ peerId, addresses, updated: new Date().toISOString() });
  // The address line comes first and at once (node.json and the control socket are ready by then): scripts and
  // tests wait for it before doing anything else.
  if (out.json) process.stdout.write(`${JSON.stringify({ peerId, addresses })}\n`);
  else process.stdout.write(`${addresses.join("\n")}\n`);
  log(`node ${peerId} listening on ${addresses.length} address(es); control socket ${dir.socketPath}`);
  if ((options.dht || options.dhtPrivate) && (options.bootstrap ?? []).length === 0)
    log("DHT on, no --bootstrap: it is joined only through peers found on the local network");

  // Federations this directory follows: vouch for their delegates, open them and fetch their member councils.
  const followed = new Set<string>();
  const follow = async (entries: readonly FederationEntry[]) => {
    for (const entry of entries) {
      try {
        await ws.follow(entry);
        if (!followed.has(entry.federation)) log(`federation ${short(entry.federation)} opened`);
        followed.add(entry.federation);
      } catch {
        // Not here yet: retried on the timer and when a peer connects.
      }
    }
  };
  node.libp2p.addEventListener("peer:connect", (e) => {
    log(`peer connected ${e.detail.toString()}`);
    void ws.retryPending();
    void ws
      .waitingFederations()
      .then(follow)
      .catch((e: Error) => log(`federations: ${e.message}`));
  });
  node.libp2p.addEventListener("peer:disconnect", (e) => log(`peer disconnected ${e.detail.toString()}`));
  node.events.on("peer:banned", ({ peerId, until, error }) => {
    log(`peer ${peerId} banned until ${new Date(until).toISOString()}: ${error.message}`);
    // One write at a time, each of the bans as they are when it runs: the file never goes back to an older list.
    bansSaved = bansSaved.then(() =>
      dir.saveBans(node.banRecords()).catch((e) => log(`could not store bans: ${(e as Error).message}`)),
    );
    const write = bansSaved;
    writes.add(write);
    void write.finally(() => writes.delete(write));
  });
  node.libp2p.addEventListener("self:peer:update", () => {
    const now = node.addresses();
    // Stopping removes every address: node.json keeps the last ones an invitation can use.
    if (stopping !== undefined || now.length === 0) return;
    const write = dir.writeNodeInfo({ peerId, addresses: now, updated: new Date().toISOString() }).catch(() => {});
    writes.add(write);
    void write.finally(() => writes.delete(write));
  });
  stops.push(
    node.keepDialling(options.bootstrap ?? [], (address, e) => log(`could not reach ${address}: ${e.message}`)),
  );

  // Opening waits a few seconds for councils that are not here yet: a signal meanwhile stops the node at once.
  await Promise.race([ws.openAll(), stop.stopped]);
  if (stop.signal !== undefined) return shutdown(stop.signal);
  // Not awaited: fetching a federation's councils may wait on peers, and a signal must not wait for it. Vouches
  // written before they had a term get one, from now.
  void dir
    .dateVouches(new Date(nowMs()).toISOString())
    .then(() => dir.federations())
    .then(follow)
    .catch((e: Error) => log(`federations: ${e.message}`));
  if (stop.signal !== undefined) return shutdown(stop.signal);
  for (const id of ws.pending) log(`council ${short(id)}: documents not here yet (waiting for admission or a member)`);
  for (const [id, e] of ws.failed) log(`council ${short(id)}: not opened: ${e.message}`);
  let undelivered = ""; // the last reason no application could be read, said once rather than every round
  const deliver = async () => {
    let results: Awaited<ReturnType<typeof ws.deliverPending>>;
    try {
      results = await ws.deliverPending();
    } catch (e) {
      if ((e as Error).message !== undelivered) log(`applications not delivered: ${(e as Error).message}`);
      undelivered = (e as Error).message;
      return;
    }
    undelivered = "";
    for (const r of results) {
      if (r.proposal) log(`application ${short(r.record)} delivered: admission proposal ${short(r.proposal)}`);
      else log(`application ${short(r.record)} not delivered yet: ${r.error}`);
    }
  };
  void deliver();
  // While councils are pending, keep their inviters dialled: the documents come from them once we are admitted.
  let inviterStop: (() => void) | undefined;
  let retrying = false;
  const retry = async (first = false) => {
    // A slow round (peers to wait for) must not overlap the next: each would start dialling of its own.
    if (retrying) return;
    retrying = true;
    try {
      await retryRound(first);
    } finally {
      retrying = false;
    }
  };
  /** The first round runs beside the delivery and the following of federations at start, which it does not repeat. */
  const retryRound = async (first: boolean) => {
    await dir.saveVerified(verified).catch(() => {});
    inviterStop?.();
    inviterStop = undefined;
    const federations = await ws.waitingFederations();
    if (ws.pending.length === 0 && federations.length === 0) return;
    if (!first) await deliver();
    // A damaged list of inviters was said when the council could not open; the federations' contacts still count.
    const inviters = [...(await ws.inviters().catch(() => [])), ...federations.flatMap(contactsOf)];
    const addrs = inviters.flatMap((i) => i.addresses.map((a) => (a.includes("/p2p/") ? a : `${a}/p2p/${i.peer}`)));
    if (addrs.length > 0) inviterStop = node.keepDialling(addrs);
    await ws.retryPending();
    if (!first) await follow(federations);
  };
  // A round at once: a council waiting for admission dials its inviter now, not one interval later.
  void retry(true).catch(() => {});
  const timer = setInterval(() => void retry().catch(() => {}), RETRY_INTERVAL_MS);
  timer.unref();
  timers.push(timer);
  stops.push(() => inviterStop?.());

  await shutdown(await stop.stopped);
}

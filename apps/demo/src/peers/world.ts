/**
 * The demo's world: three places' nodes holding two councils and their federation, the network between them, the
 * people who act there, and what each place derives; the page renders its snapshots and calls its acts.
 */
import type { StorageAdapterInterface } from "@automerge/automerge-repo";
import type { Council, Federation } from "@federa/core";
import type { CouncilKey, Keys, PlaceId } from "./cast.js";
import { COUNCIL_KEYS, createKeys, PLACE_IDS, PLACES } from "./cast.js";
import { DemoClock } from "./clock.js";
import type { Founded } from "./founding.js";
import { foundWorld } from "./founding.js";
import { LINKS, Links } from "./links.js";
import type { MergeReport, PlaceChanges } from "./merge-report.js";
import { placeChanges } from "./merge-report.js";
import type { PlaceView } from "./place-node.js";
import { PlaceNode } from "./place-node.js";

/** A line of the activity log. */
export interface LogLine {
  readonly id: number;
  /** Virtual time. */
  readonly at: number;
  readonly place: PlaceId | null;
  readonly text: string;
  readonly tone: "act" | "network" | "merge" | "story" | "error";
}

export interface PlaceSnapshot {
  readonly id: PlaceId;
  readonly name: string;
  readonly online: boolean;
  readonly latency: number;
  /** Null until the place holds every document. */
  readonly view: PlaceView | null;
}

/** Everything the page shows, as one immutable value per change. */
export interface WorldSnapshot {
  readonly version: number;
  readonly phase: "starting" | "ready" | "failed";
  readonly progress: string;
  readonly clock: number;
  readonly places: Readonly<Record<PlaceId, PlaceSnapshot>>;
  readonly links: readonly { readonly a: PlaceId; readonly b: PlaceId; readonly up: boolean; readonly live: boolean }[];
  readonly merges: readonly MergeReport[];
  readonly log: readonly LogLine[];
  /** How long the last full derivation of every place took (ms of real time). */
  readonly deriveMs: number;
}

/** How the world is built. */
export interface WorldInit {
  /** Storage for a place's node (IndexedDB in the browser; none in tests). */
  readonly storage?: (run: string, place: PlaceId) => StorageAdapterInterface | undefined;
  /** A name unique to this world in the page. */
  readonly run?: string;
}

/** How long a merge may take to settle before it is reported as timed out. */
const SETTLE_TIMEOUT_MS = 20_000;
/** How often links that are up but not connected (a dial timed out, a slow link dropped) are dialled again. */
const REDIAL_MS = 3_000;
const MAX_LOG = 200;

let runs = 0;

export class World {
  readonly keys: Keys;
  readonly clock: DemoClock;
  readonly links = new Links();
  readonly run: string;
  readonly #nodes = new Map<PlaceId, PlaceNode>();
  readonly #listeners = new Set<() => void>();
  readonly #views = new Map<PlaceId, PlaceView>();
  #founded: Founded | undefined;
  #snapshot: WorldSnapshot;
  #merges: MergeReport[] = [];
  #log: LogLine[] = [];
  #lineId = 0;
  #mergeId = 0;
  #phase: WorldSnapshot["phase"] = "starting";
  #progress = "starting the nodes";
  #deriveMs = 0;
  #refreshing: Promise<void> = Promise.resolve();
  #refreshQueued = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  #redialer: ReturnType<typeof setInterval> | undefined;
  #redialing = false;
  /** Links whose last dial failed: said once in the log, then retried quietly until they connect. */
  readonly #failing = new Set<string>();

  private constructor(keys: Keys, run: string) {
    this.keys = keys;
    this.clock = new DemoClock();
    this.run = run;
    this.#snapshot = this.#build();
    this.clock.subscribe(() => this.#emitSoon());
  }

  /** Builds the world: starts every node, founds everything at the north shop, and syncs it everywhere. */
  static async create(init: WorldInit = {}): Promise<World> {
    const run = init.run ?? `${Date.now().toString(36)}${(runs++).toString(36)}`;
    const world = new World(await createKeys(), run);
    world.#start(init).catch((err: unknown) => world.#fail(err));
    return world;
  }

  /** Resolves once every place holds and derives every document (rejects if the world failed to start). */
  async ready(): Promise<void> {
    for (;;) {
      if (this.#phase === "ready") return;
      if (this.#phase === "failed") throw new Error(`the demo could not start: ${this.#progress}`);
      await new Promise<void>((resolve) => {
        const off = this.subscribe(() => {
          off();
          resolve();
        });
      });
    }
  }

  async #start(init: WorldInit): Promise<void> {
    for (const place of PLACE_IDS) {
      const storage = init.storage?.(this.run, place);
      const node = await PlaceNode.start({
        place,
        keys: this.keys,
        links: this.links,
        clock: this.clock,
        run: this.run,
        ...(storage ? { storage } : {}),
      });
      node.onChange = () => this.#scheduleRefresh();
      this.#nodes.set(place, node);
    }
    // Each computer lets the other places' computers open sync streams (they are its own network).
    for (const place of PLACE_IDS)
      for (const other of PLACE_IDS) if (other !== place) this.node(place).node.trust(this.keys.node(other).device.id);
    this.#setProgress("founding the councils and the federation at the north shop");
    const founded = await foundWorld(this.node("north"), this.keys, this.clock);
    this.#founded = founded;
    this.#setProgress("connecting the places");
    await this.#connectAllowed();
    for (const place of PLACE_IDS.filter((p) => p !== "north")) {
      this.#setProgress(`syncing to the ${PLACES[place].name}`);
      const node = this.node(place);
      for (const key of COUNCIL_KEYS) await node.openCouncil(key, founded.urls[key]);
      await node.openFederation({ url: founded.federation });
    }
    await this.#settled(PLACE_IDS);
    this.#phase = "ready";
    this.#progress = "ready";
    // As a node's bootstrap redial does: a link that is up stays connected, whatever dropped it.
    this.#redialer = setInterval(() => void this.#redial(), REDIAL_MS);
    this.#line(null, "story", "Both councils and the federation are founded; every place holds them.");
    await this.refresh();
  }

  #fail(err: unknown): void {
    this.#phase = "failed";
    this.#progress = err instanceof Error ? err.message : String(err);
    this.#line(null, "error", `could not start: ${this.#progress}`);
    this.#emit();
  }

  #setProgress(text: string): void {
    this.#progress = text;
    this.#emit();
  }

  get founded(): Founded {
    if (this.#founded === undefined) throw new Error("the world is not founded yet");
    return this.#founded;
  }

  node(place: PlaceId): PlaceNode {
    const node = this.#nodes.get(place);
    if (node === undefined) throw new Error(`no node at ${place}`);
    return node;
  }

  // ── Snapshots ──

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  snapshot(): WorldSnapshot {
    return this.#snapshot;
  }

  #build(): WorldSnapshot {
    const places = {} as Record<PlaceId, PlaceSnapshot>;
    for (const id of PLACE_IDS)
      places[id] = {
        id,
        name: PLACES[id].name,
        online: this.links.isOnline(id),
        latency: this.links.latency(id),
        view: this.#views.get(id) ?? null,
      };
    return {
      version: (this.#snapshot?.version ?? 0) + 1,
      phase: this.#phase,
      progress: this.#progress,
      clock: this.clock.peek(),
      places,
      links: LINKS.map(({ a, b }) => ({
        a,
        b,
        up: this.links.isUp(a, b),
        live: this.#views.get(a)?.connected.includes(b) ?? false,
      })),
      merges: this.#merges,
      log: this.#log,
      deriveMs: this.#deriveMs,
    };
  }

  #emit(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#snapshot = this.#build();
    for (const l of this.#listeners) l();
  }

  #emitSoon(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => this.#emit(), 30);
  }

  #line(place: PlaceId | null, tone: LogLine["tone"], text: string): void {
    this.#log = [...this.#log, { id: ++this.#lineId, at: this.clock.peek(), place, text, tone }].slice(-MAX_LOG);
    this.#emitSoon();
  }

  /** Notes a line in the activity log (scenarios narrate through it). */
  note(text: string, tone: LogLine["tone"] = "story", place: PlaceId | null = null): void {
    this.#line(place, tone, text);
  }

  #scheduleRefresh(): void {
    if (this.#refreshQueued || this.#phase !== "ready") return;
    this.#refreshQueued = true;
    setTimeout(() => {
      this.#refreshQueued = false;
      void this.refresh();
    }, 40);
  }

  /** Derives every place's view again and publishes a snapshot. */
  refresh(): Promise<void> {
    const run = this.#refreshing.then(async () => {
      if (this.#stopped) return;
      const started = performance.now();
      for (const place of PLACE_IDS) {
        try {
          this.#views.set(place, await this.node(place).view());
        } catch (err) {
          // A place still opening its documents has no view yet; it gets one on the next refresh.
          if (this.#phase === "ready") this.#line(place, "error", (err as Error).message);
        }
      }
      this.#deriveMs = performance.now() - started;
      this.#emit();
    });
    this.#refreshing = run.catch(() => {});
    return run;
  }

  // ── Acting ──

  /** Acts in a council as `person` from `place`'s computer, then refreshes every view. */
  async act<T>(
    place: PlaceId,
    person: string,
    council: CouncilKey,
    what: string,
    fn: (council: Council) => Promise<T>,
  ): Promise<T> {
    this.#requireReady();
    try {
      const result = await fn(await this.node(place).actor(council, person));
      this.#line(place, "act", `${person}: ${what}`);
      return result;
    } catch (err) {
      this.#line(place, "error", `${person} tried: ${what}; refused: ${(err as Error).message}`);
      throw err;
    } finally {
      await this.refresh();
    }
  }

  /** Acts in the federation as `person` from `place`'s computer. */
  async actFederation<T>(
    place: PlaceId,
    person: string,
    what: string,
    fn: (federation: Federation) => Promise<T>,
  ): Promise<T> {
    this.#requireReady();
    try {
      const result = await fn(await this.node(place).federationActor(person));
      this.#line(place, "act", `${person}: ${what}`);
      return result;
    } catch (err) {
      this.#line(place, "error", `${person} tried: ${what}; refused: ${(err as Error).message}`);
      throw err;
    } finally {
      await this.refresh();
    }
  }

  /** Moves the virtual clock on. */
  advance(ms: number): void {
    this.clock.advance(ms);
    this.#line(null, "story", `the clock moves on ${Math.round(ms / 60_000)} minutes`);
  }

  #requireReady(): void {
    if (this.#phase !== "ready") throw new Error("the demo is still starting");
  }

  // ── The network ──

  /** Cuts or restores the link between two places. */
  setLink(a: PlaceId, b: PlaceId, up: boolean): Promise<void> {
    return this.#network(`${up ? "restored" : "cut"} the link ${PLACES[a].name} – ${PLACES[b].name}`, () =>
      this.links.setUp(a, b, up),
    );
  }

  /** Takes a place offline (every connection hung up, dials refused) or brings it back. */
  setOnline(place: PlaceId, online: boolean): Promise<void> {
    return this.#network(`${PLACES[place].name} ${online ? "back online" : "offline"}`, () =>
      this.links.setOnline(place, online),
    );
  }

  /** Restores every link and brings every place online. */
  healAll(): Promise<void> {
    return this.#network("every link restored", () => {
      for (const place of PLACE_IDS) this.links.setOnline(place, true);
      for (const { a, b } of LINKS) this.links.setUp(a, b, true);
    });
  }

  /** Adds latency to every link of a place (its links reconnect so they run through its listener). */
  async setLatency(place: PlaceId, ms: number): Promise<void> {
    this.links.setLatency(place, ms);
    this.node(place).latency.set(ms);
    this.#line(place, "network", `${ms} ms latency on its links`);
    for (const { a, b } of LINKS) {
      if (a !== place && b !== place) continue;
      const { from, to } = this.links.dialer(a, b);
      const dialledOut = this.node(from)
        .node.libp2p.getConnections()
        .some((c) => this.keys.placeOf(c.remotePeer.toString()) === to && c.direction === "outbound");
      const connected = this.node(from).connected().includes(to);
      if (connected && !dialledOut) {
        await this.node(from).hangUp(to);
        await this.#dial(from, to);
      }
    }
    await this.refresh();
  }

  async #network(what: string, change: () => void): Promise<void> {
    this.#requireReady();
    await this.refresh();
    const before = new Map(PLACE_IDS.map((p) => [p, this.links.component(p).join()]));
    const views = new Map(this.#views);
    change();
    this.#line(null, "network", what);
    for (const { a, b } of LINKS)
      if (!this.links.allows(a, b)) await Promise.all([this.node(a).hangUp(b), this.node(b).hangUp(a)]);
    await this.#connectAllowed();
    // A component that joins places which were apart before is a merge to watch.
    const watched = new Set<string>();
    for (const place of PLACE_IDS) {
      const component = this.links.component(place);
      const key = component.join();
      if (watched.has(key) || new Set(component.map((p) => before.get(p))).size < 2) continue;
      watched.add(key);
      void this.#watchMerge(component, views);
    }
    await this.refresh();
  }

  async #connectAllowed(): Promise<void> {
    for (const { a, b } of LINKS) {
      if (!this.links.allows(a, b) || this.node(a).connected().includes(b)) continue;
      const { from, to } = this.links.dialer(a, b);
      await this.#dial(from, to);
    }
  }

  async #dial(from: PlaceId, to: PlaceId): Promise<void> {
    const link = `${from}-${to}`;
    try {
      await this.node(from).dial(to);
      this.#failing.delete(link);
    } catch (err) {
      if (!this.#failing.has(link))
        this.#line(from, "error", `could not reach ${PLACES[to].name} (retrying): ${(err as Error).message}`);
      this.#failing.add(link);
    }
  }

  async #redial(): Promise<void> {
    if (this.#stopped || this.#redialing) return;
    this.#redialing = true;
    try {
      const before = PLACE_IDS.map((p) => this.node(p).connected().length).join();
      await this.#connectAllowed();
      if (PLACE_IDS.map((p) => this.node(p).connected().length).join() !== before) await this.refresh();
    } finally {
      this.#redialing = false;
    }
  }

  /** True when every place of `places` holds the same heads of every document. */
  inSync(places: readonly PlaceId[]): boolean {
    const heads = places.map((p) => JSON.stringify(this.node(p).heads()));
    return heads.every((h) => h === heads[0]);
  }

  /** Waits until the places hold the same documents (or the timeout passes); true when they do. */
  async #settled(places: readonly PlaceId[], timeoutMs = SETTLE_TIMEOUT_MS): Promise<boolean> {
    const until = performance.now() + timeoutMs;
    while (performance.now() < until) {
      if (this.#stopped) return false;
      if (this.inSync(places)) return true;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return this.inSync(places);
  }

  /** Waits until every group of connected places holds the same documents. */
  async settle(): Promise<boolean> {
    let all = true;
    const seen = new Set<string>();
    for (const place of PLACE_IDS) {
      const component = this.links.component(place);
      if (seen.has(component.join()) || component.length < 2) continue;
      seen.add(component.join());
      all = (await this.#settled(component)) && all;
    }
    await this.refresh();
    return all;
  }

  async #watchMerge(places: PlaceId[], before: ReadonlyMap<PlaceId, PlaceView>): Promise<void> {
    const id = ++this.#mergeId;
    const at = this.clock.peek();
    this.#merges = [...this.#merges, { id, places, at, status: "syncing", changes: [] }];
    this.#emit();
    let settled = await this.#settled(places);
    // Not settled in time (a slow link, a dial to retry): say so, and keep watching a while longer.
    if (!settled && !this.#stopped) {
      this.#line(null, "merge", `merge of ${places.map((p) => PLACES[p].name).join(", ")} is taking longer`);
      this.#merges = this.#merges.map((m) => (m.id === id ? { ...m, status: "timed-out" } : m));
      this.#emit();
      settled = await this.#settled(places, 6 * SETTLE_TIMEOUT_MS);
    }
    await this.refresh();
    const changes: PlaceChanges[] = [];
    for (const place of places) {
      const was = before.get(place);
      const now = this.#views.get(place);
      if (was !== undefined && now !== undefined) changes.push(placeChanges(place, was, now));
    }
    const report: MergeReport = { id, places, at, status: settled ? "merged" : "timed-out", changes };
    this.#merges = this.#merges.map((m) => (m.id === id ? report : m));
    const count = changes.reduce(
      (n, c) => n + c.federation.length + COUNCIL_KEYS.reduce((k, key) => k + c.councils[key].length, 0),
      0,
    );
    this.#line(
      null,
      "merge",
      settled
        ? `merge of ${places.map((p) => PLACES[p].name).join(", ")} settled: ${count} change(s) to review`
        : `merge of ${places.map((p) => PLACES[p].name).join(", ")} has not settled yet`,
    );
    this.#emit();
  }

  /** Stops every node. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearInterval(this.#redialer);
    await Promise.allSettled([...this.#nodes.values()].map((n) => n.stop()));
  }
}

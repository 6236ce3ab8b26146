/**
 * What a run measures: traffic and its series over time, convergence after each heal (time, rounds, messages, bytes),
 * what merging changed (flipped outcomes, newly held expenses, acts out of mandate), and the final tallies.
 */
import * as A from "@automerge/automerge";
import type { Council, CouncilState, Federation, FederationState } from "@federa/core";
import { compareStates } from "@federa/core";
import type { DocKey, Network, Replica } from "./network.js";
import type { InFlight } from "./sync.js";

/** Convergence after one heal: a partition ending, a node coming back, or the end of the run. */
export interface HealMetrics {
  readonly label: string;
  readonly kind: "partition" | "rejoin" | "final";
  /** Run time of the heal, ms. */
  readonly at: number;
  /** Virtual ms until every online replica held everything its reachable peers held at the heal; null if cut short. */
  readonly convergedAfterMs: number | null;
  /** The longest chain of sync messages, each sent in reaction to the one before, delivered until convergence. */
  readonly rounds: number | null;
  /** Sync messages and bytes sent between the heal and convergence. */
  readonly messages: number;
  readonly bytes: number;
  /** Replicas that lacked changes their peers held when the heal happened. */
  readonly replicasBehind: number;
  /** Distinct proposals whose outcome (passing or failing) changed on some replica through the merge. */
  readonly flipped: { readonly council: number; readonly federation: number };
  /** What else the merge surfaced, by kind, each counted once per council (or federation) and record. */
  readonly surfaced: Readonly<Record<string, number>>;
  /** A new partition or outage made convergence impossible before it was reached. */
  readonly interrupted: boolean;
}

/** Counts of messages and bytes, as sent (retransmissions included in bytes). */
export interface Traffic {
  messages: number;
  bytes: number;
  retransmissions: number;
  dropped: number;
  byDocument: Record<"council" | "ledger" | "federation", { messages: number; bytes: number }>;
}

/** Per time bucket: what was sent, how many acts were written, how many documents disagreed at its end. */
export interface Series {
  readonly bucketMs: number;
  readonly t: number[];
  readonly messages: number[];
  readonly bytes: number[];
  readonly acts: number[];
  readonly divergent: number[];
}

const kindOf = (key: DocKey): keyof Traffic["byDocument"] =>
  key === "f" ? "federation" : key.startsWith("c:") ? "council" : "ledger";

/** Counts traffic into totals and time buckets. */
export class TrafficMeter {
  readonly total: Traffic = {
    messages: 0,
    bytes: 0,
    retransmissions: 0,
    dropped: 0,
    byDocument: {
      council: { messages: 0, bytes: 0 },
      ledger: { messages: 0, bytes: 0 },
      federation: { messages: 0, bytes: 0 },
    },
  };
  readonly series: Series;

  constructor(bucketMs: number) {
    this.series = { bucketMs, t: [], messages: [], bytes: [], acts: [], divergent: [] };
  }

  #bucket(at: number): number {
    const i = Math.max(0, Math.floor(at / this.series.bucketMs));
    while (this.series.t.length <= i) {
      this.series.t.push(this.series.t.length * this.series.bucketMs);
      this.series.messages.push(0);
      this.series.bytes.push(0);
      this.series.acts.push(0);
      this.series.divergent.push(0);
    }
    return i;
  }

  sent(message: InFlight, attempts: number, at: number): void {
    const bytes = message.bytes * attempts;
    this.total.messages++;
    this.total.bytes += bytes;
    this.total.retransmissions += attempts - 1;
    const d = this.total.byDocument[kindOf(message.key)];
    d.messages++;
    d.bytes += bytes;
    const i = this.#bucket(at);
    this.series.messages[i]!++;
    this.series.bytes[i]! += bytes;
  }

  dropped(): void {
    this.total.dropped++;
  }

  act(at: number): void {
    this.series.acts[this.#bucket(at)]!++;
  }

  /** Records how many documents disagree across their replicas at the end of the bucket holding `at`. */
  divergent(at: number, count: number): void {
    this.series.divergent[this.#bucket(at)] = count;
  }
}

/** Documents whose replicas do not all hold the same heads. */
export function countDivergent(replicas: ReadonlyMap<DocKey, readonly Replica[]>): number {
  let n = 0;
  for (const list of replicas.values()) {
    const first = A.getHeads(list[0]!.source.doc()).join(",");
    if (list.some((r) => A.getHeads(r.source.doc()).join(",") !== first)) n++;
  }
  return n;
}

interface Observed {
  readonly councils: ReadonlyMap<string, { council: number; state: CouncilState }>;
  readonly federations: ReadonlyMap<number, FederationState>;
}

interface Pending {
  readonly label: string;
  readonly kind: HealMetrics["kind"];
  readonly at: number;
  /** Replica → the heads it must come to hold. */
  readonly unsatisfied: Map<Replica, string[]>;
  readonly behind: number;
  readonly before: Observed;
  messages: number;
  bytes: number;
  rounds: number;
  convergedAt: number | null;
  interrupted: boolean;
}

/** Where the tracker reads derived states from. */
export interface ObserverSource {
  councils(): Iterable<{ node: { index: number }; council: number; object: Council }>;
  federations(): Iterable<{ node: { index: number }; object: Federation }>;
}

/** Follows each heal until every replica caught up, then measures what the merge changed. */
export class HealTracker {
  readonly #network: Network;
  readonly #replicas: ReadonlyMap<DocKey, readonly Replica[]>;
  readonly #observers: ObserverSource;
  readonly #pending: Pending[] = [];
  readonly done: HealMetrics[] = [];

  constructor(network: Network, replicas: ReadonlyMap<DocKey, readonly Replica[]>, observers: ObserverSource) {
    this.#network = network;
    this.#replicas = replicas;
    this.#observers = observers;
  }

  get pending(): number {
    return this.#pending.length;
  }

  /** Starts following a heal: what each online replica must come to hold, and the derived states before merging. */
  async open(label: string, kind: HealMetrics["kind"], at: number): Promise<void> {
    const unsatisfied = new Map<Replica, string[]>();
    for (const [key, list] of this.#replicas) {
      const seen = new Set<number>();
      for (const replica of list) {
        if (!replica.node.online || seen.has(replica.node.index)) continue;
        const component = this.#network.component(replica.node.index, key);
        for (const n of component) seen.add(n);
        const members = component.map((n) => this.#network.nodes[n]!.replicas.get(key)!);
        const target = [...new Set(members.flatMap((r) => A.getHeads(r.source.doc())))].sort();
        for (const r of members) if (!A.hasHeads(r.source.doc(), target)) unsatisfied.set(r, target);
      }
    }
    const pending: Pending = {
      label,
      kind,
      at,
      unsatisfied,
      behind: unsatisfied.size,
      before: await this.#observe(),
      messages: 0,
      bytes: 0,
      rounds: 0,
      convergedAt: unsatisfied.size === 0 ? at : null,
      interrupted: false,
    };
    this.#pending.push(pending);
  }

  async #observe(): Promise<Observed> {
    const councils = new Map<string, { council: number; state: CouncilState }>();
    for (const o of this.#observers.councils())
      councils.set(`${o.node.index}:${o.council}`, { council: o.council, state: await o.object.state() });
    const federations = new Map<number, FederationState>();
    for (const o of this.#observers.federations()) federations.set(o.node.index, await o.object.state());
    return { councils, federations };
  }

  sent(message: InFlight, attempts: number): void {
    for (const p of this.#pending) {
      if (p.convergedAt !== null) continue;
      p.messages++;
      p.bytes += message.bytes * attempts;
    }
  }

  delivered(message: InFlight): void {
    for (const p of this.#pending) if (p.convergedAt === null) p.rounds = Math.max(p.rounds, message.round);
  }

  /** A replica changed: it may have caught up. */
  changed(replica: Replica, at: number): void {
    for (const p of this.#pending) {
      if (p.convergedAt !== null) continue;
      const target = p.unsatisfied.get(replica);
      if (target !== undefined && A.hasHeads(replica.source.doc(), target)) p.unsatisfied.delete(replica);
      if (p.unsatisfied.size === 0) p.convergedAt = at;
    }
  }

  /** Links went down: replicas on offline nodes stop counting; a heal whose targets are out of reach is cut short. */
  linksDown(at: number): void {
    for (const p of this.#pending) {
      if (p.convergedAt !== null) continue;
      for (const [replica, target] of p.unsatisfied) {
        if (!replica.node.online) {
          p.unsatisfied.delete(replica);
          continue;
        }
        const reachable = this.#network
          .component(replica.node.index, replica.key)
          .map((n) => this.#network.nodes[n]!.replicas.get(replica.key)!.source.doc());
        if (!target.every((h) => reachable.some((doc) => A.hasHeads(doc, [h])))) {
          p.interrupted = true;
          break;
        }
      }
      if (p.interrupted) p.convergedAt = at;
      else if (p.unsatisfied.size === 0) p.convergedAt = at;
    }
  }

  /** Measures and records every heal that converged (or was cut short). */
  async settle(): Promise<void> {
    const ready = this.#pending.filter((p) => p.convergedAt !== null);
    if (ready.length === 0) return;
    const after = await this.#observe();
    for (const p of ready) {
      this.#pending.splice(this.#pending.indexOf(p), 1);
      this.done.push(measure(p, after));
    }
  }

  /** Ends following whatever has not converged (the run is over). */
  abandon(): void {
    for (const p of this.#pending.splice(0)) {
      p.interrupted = true;
      this.done.push(measure(p, { councils: new Map(), federations: new Map() }));
    }
  }
}

function measure(p: Pending, after: Observed): HealMetrics {
  const flippedCouncil = new Set<string>();
  const surfaced = new Map<string, Set<string>>();
  const note = (type: string, key: string) => {
    const set = surfaced.get(type) ?? new Set<string>();
    set.add(key);
    surfaced.set(type, set);
  };
  if (!p.interrupted) {
    for (const [key, before] of p.before.councils) {
      const now = after.councils.get(key);
      if (now === undefined || now.state === before.state) continue;
      for (const change of compareStates(before.state, now.state)) {
        if (change.type === "outcome-changed") flippedCouncil.add(`${before.council}:${change.ref}`);
        else if (change.type !== "member-change") note(change.type, `${before.council}:${change.ref}`);
      }
    }
  }
  const flippedFederation = new Set<string>();
  if (!p.interrupted) {
    for (const [node, before] of p.before.federations) {
      const now = after.federations.get(node);
      if (now === undefined || now === before) continue;
      const old = new Map(before.proposals.map((x) => [x.id, x.result?.passed ?? null]));
      for (const proposal of now.proposals) {
        const was = old.get(proposal.id) ?? null;
        const is = proposal.result?.passed ?? null;
        if (was !== null && is !== null && was !== is) flippedFederation.add(proposal.id);
      }
      const seen = new Set(before.conflicts.map((c) => `${c.type}:${c.record}`));
      for (const c of now.conflicts)
        if (!seen.has(`${c.type}:${c.record}`)) note(`federation-${c.type}`, `${c.type}:${c.record}`);
    }
  }
  return {
    label: p.label,
    kind: p.kind,
    at: p.at,
    convergedAfterMs: p.interrupted || p.convergedAt === null ? null : p.convergedAt - p.at,
    rounds: p.interrupted ? null : p.rounds,
    messages: p.messages,
    bytes: p.bytes,
    replicasBehind: p.behind,
    flipped: { council: flippedCouncil.size, federation: flippedFederation.size },
    surfaced: Object.fromEntries(
      [...surfaced.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, v.size]),
    ),
    interrupted: p.interrupted,
  };
}

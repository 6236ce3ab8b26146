/**
 * Running a scenario: set up once, then for each network variant build the world, play the workload and the network
 * schedule on the virtual clock until the end, heal everything, drain until all replicas agree, and tally.
 */
import * as A from "@automerge/automerge";
import type { CouncilState, FederationState } from "@federa/core";
import { canonicalJson } from "@federa/core";
import type { HealMetrics, Series, Traffic } from "./metrics.js";
import { countDivergent, HealTracker, TrafficMeter } from "./metrics.js";
import type { ActivePartition, DocKey, Replica, SimNode } from "./network.js";
import { Network } from "./network.js";
import { EventQueue } from "./queue.js";
import { Random } from "./random.js";
import type { Network as NetworkSpec, Scenario, Topology } from "./scenario.js";
import { scaleScenario } from "./scenario.js";
import type { InFlight } from "./sync.js";
import { Synchronizer } from "./sync.js";
import type { PlannedAct } from "./workload.js";
import { Actor, planWorkload } from "./workload.js";
import type { Setup } from "./world.js";
import { setUp, World } from "./world.js";

/** How far a run has come, for a progress bar. */
export interface Progress {
  readonly variant: string;
  readonly phase: "setup" | "run" | "drain";
  readonly done: number;
  readonly total: number;
}

export interface RunOptions {
  /** Overrides the scenario's seed. */
  readonly seed?: number;
  /** Multiplies the number of councils (at least 2 remain). */
  readonly scale?: number;
  readonly onProgress?: (progress: Progress) => void;
}

/** Counts by council or by reason. */
export type Tally = Readonly<Record<string, number>>;

/** Everything one variant of a run measured; a function of the scenario and the seed only. */
export interface RunMetrics {
  readonly variant: string;
  readonly topology: Topology;
  readonly nodes: number;
  readonly links: number;
  readonly documents: number;
  readonly replicas: number;
  /** Virtual ms simulated: the scenario's duration plus the drain until every replica agreed. */
  readonly virtualMs: number;
  readonly traffic: Traffic;
  readonly heals: readonly HealMetrics[];
  readonly convergence: {
    readonly heals: number;
    readonly converged: number;
    readonly meanMs: number | null;
    readonly medianMs: number | null;
    readonly maxMs: number | null;
    readonly maxRounds: number | null;
    /** After the end of the run, when every partition and outage is over. */
    readonly final: { readonly convergedAfterMs: number | null; readonly rounds: number | null };
    /** Every replica of every document holds the same heads, and every replica derives the same state. */
    readonly consistent: boolean;
  };
  readonly outcomesFlipped: { readonly council: number; readonly federation: number; readonly total: number };
  readonly expensesHeld: { readonly total: number; readonly byReason: Tally; readonly surfacedByMerges: number };
  readonly outOfMandate: { readonly federation: number; readonly council: number; readonly byReason: Tally };
  readonly pledges: {
    readonly alerts: number;
    readonly responses: number;
    /** Per alert with a response: ms from the alert to its first response, by record clocks. */
    readonly firstResponseMs: readonly number[];
    /** Per council's first response to an alert, ms. */
    readonly responseMs: readonly number[];
    readonly medianFirstResponseMs: number | null;
    readonly windowMs: number | null;
    readonly met: number;
    readonly late: number;
    readonly missed: number;
    readonly pending: number;
  };
  readonly proposals: { readonly council: Tally; readonly federation: Tally };
  readonly acts: { readonly written: Tally; readonly skipped: Tally; readonly failed: Tally; readonly retries: number };
  readonly series: Series;
  /** The network schedule as it was played (for charts): partitions and outages in run ms. */
  readonly schedule: {
    readonly partitions: readonly { label: string; from: number; to: number }[];
    readonly offline: readonly { node: string; from: number; to: number }[];
  };
}

/** A run of a scenario: one `RunMetrics` per variant. */
export interface SimResult {
  readonly scenario: string;
  readonly title: string | null;
  readonly seed: number;
  readonly scale: number;
  readonly councils: number;
  readonly members: number;
  readonly durationMs: number;
  readonly runs: readonly RunMetrics[];
}

type Event =
  | { type: "act"; act: PlannedAct }
  | { type: "deliver"; message: InFlight }
  | { type: "flush"; replica: Replica }
  | { type: "net" }
  | { type: "sample" }
  | { type: "end" };

/** Runs a scenario (every variant) and returns its metrics. Same scenario and seed, same metrics, byte for byte. */
export async function runScenario(input: Scenario, options: RunOptions = {}): Promise<SimResult> {
  const scale = options.scale ?? 1;
  const scenario = scaleScenario(input, scale);
  const seed = options.seed ?? scenario.seed;
  const progress = options.onProgress ?? (() => {});
  const setup = await setUp(scenario, seed, (done, total) => progress({ variant: "", phase: "setup", done, total }));
  const variants = scenario.variants ?? [{ name: "main", network: {} }];
  const runs: RunMetrics[] = [];
  for (const [i, variant] of variants.entries()) {
    const overrides = Object.fromEntries(Object.entries(variant.network).filter(([, v]) => v !== undefined));
    const network: NetworkSpec = { ...scenario.network, ...overrides };
    runs.push(await runVariant(scenario, setup, variant.name, network, progress, i === variants.length - 1));
  }
  return {
    scenario: scenario.name,
    title: scenario.title ?? null,
    seed,
    scale,
    councils: scenario.councils.count,
    members: scenario.councils.members,
    durationMs: scenario.duration,
    runs,
  };
}

interface Outage {
  readonly nodes: readonly SimNode[];
  readonly from: number;
  readonly to: number;
  readonly label: string;
}

async function runVariant(
  scenario: Scenario,
  setup: Setup,
  name: string,
  spec: NetworkSpec,
  progress: (p: Progress) => void,
  last: boolean,
): Promise<RunMetrics> {
  const queue = new EventQueue<Event>();
  let sync: Synchronizer | undefined;
  const world = await World.build(scenario, setup, spec.topology, name, (replica) =>
    sync!.localChange(replica, world.clock.t - scenario.start),
  );
  // The last variant needs no more copies of the councils' documents: freeing them keeps the heap (and GC) small.
  if (last)
    for (const [key, doc] of [...setup.origins])
      if (key !== "f") {
        A.free(doc);
        (setup.origins as Map<DocKey, unknown>).delete(key);
      }
  const network = new Network(
    world.nodes,
    spec.topology,
    { latency: spec.latency, loss: spec.loss, retransmit: spec.retransmit, bandwidth: spec.bandwidth },
    new Random(setup.seed, `network:${name}`),
  );
  const replicas = new Map<DocKey, Replica[]>();
  for (const node of world.nodes)
    for (const [key, r] of node.replicas) {
      const list = replicas.get(key) ?? [];
      list.push(r);
      replicas.set(key, list);
    }
  const bucketMs = scenario.sample ?? Math.max(1000, Math.ceil(scenario.duration / 48));
  const meter = new TrafficMeter(bucketMs);
  const tracker = new HealTracker(network, replicas, {
    councils: () => world.observers(),
    federations: () => world.federationObservers(),
  });
  sync = new Synchronizer({
    network,
    syncDelay: spec.syncDelay,
    schedule: (at, event) => queue.push(at, event),
    observer: {
      sent: (m, attempts, at) => {
        meter.sent(m, attempts, at);
        tracker.sent(m, attempts);
      },
      delivered: (m) => tracker.delivered(m),
      dropped: () => meter.dropped(),
      changed: (replica, _round, at) => tracker.changed(replica, at),
    },
  });

  // The network schedule: partitions and outages (explicit and random churn), each boundary an event.
  const partitions = scenario.network.partitions.map((p, i) => {
    const groupOf = new Int32Array(world.nodes.length).fill(-1);
    for (const [g, group] of p.groups.entries())
      for (const sel of group) for (const n of world.select(sel)) groupOf[n.index] = g;
    return { label: p.name ?? `partition ${i + 1}`, from: p.from, to: Math.min(p.to, scenario.duration), groupOf };
  });
  const outages: Outage[] = scenario.network.offline.map((o) => {
    const nodes = [...new Set(o.nodes.flatMap((s) => world.select(s)))].sort((a, b) => a.index - b.index);
    return { nodes, from: o.from, to: Math.min(o.to, scenario.duration), label: labelOf(nodes) };
  });
  const churn = scenario.network.churn;
  if (churn !== undefined) {
    const random = new Random(setup.seed, "churn");
    const eligible = world.nodes.filter((n) => n.kind !== "relay");
    const take = Math.round(churn.fraction * eligible.length);
    for (let t = churn.from ?? 0; t < Math.min(churn.to ?? scenario.duration, scenario.duration); t += churn.every) {
      const nodes = random
        .shuffle(eligible)
        .slice(0, take)
        .sort((a, b) => a.index - b.index);
      if (nodes.length > 0)
        outages.push({ nodes, from: t, to: Math.min(t + churn.for, scenario.duration), label: labelOf(nodes) });
    }
  }
  const boundaries = [...new Set([...partitions, ...outages].flatMap((x) => [x.from, x.to]))]
    .filter((t) => t < scenario.duration)
    .sort((a, b) => a - b);
  for (const t of boundaries) queue.push(t, { type: "net" });
  for (const timed of planWorkload(scenario, setup.seed)) queue.push(timed.at, { type: "act", act: timed.act });
  for (let t = bucketMs; t <= scenario.duration; t += bucketMs) queue.push(t, { type: "sample" });
  queue.push(scenario.duration, { type: "end" });

  const actor = new Actor(world);
  const written: Record<string, number> = {};
  const skipped: Record<string, number> = {};
  const failed: Record<string, number> = {};
  let retries = 0;
  let ended = false;
  const deadline = scenario.duration + scenario.drain;
  const bump = (tally: Record<string, number>, key: string) => {
    tally[key] = (tally[key] ?? 0) + 1;
  };

  const applyNetwork = async (t: number, final: boolean) => {
    const activePartitions: ActivePartition[] = final
      ? []
      : partitions.filter((p) => p.from <= t && t < p.to).map((p) => ({ label: p.label, groupOf: p.groupOf }));
    const offline = new Set<SimNode>();
    if (!final) for (const o of outages) if (o.from <= t && t < o.to) for (const n of o.nodes) offline.add(n);
    for (const node of world.nodes) node.online = !offline.has(node);
    const { down, up } = network.update(activePartitions);
    if (down.length > 0) tracker.linksDown(t);
    for (const link of up) sync!.connected(link, t);
    const healed = final
      ? ["end of run"]
      : [
          ...partitions.filter((p) => p.to === t).map((p) => `${p.label} ends`),
          ...outages.filter((o) => o.to === t).map((o) => `${o.label} back online`),
        ];
    if (healed.length > 0) {
      const kind = final ? "final" : partitions.some((p) => p.to === t) ? "partition" : "rejoin";
      await tracker.open(healed.join("; "), kind, t);
    }
  };

  let finalOpened = false;
  for (;;) {
    const next = queue.pop();
    if (next === undefined) break;
    const { at, event } = next;
    if (at > deadline) break;
    world.clock.t = scenario.start + at;
    switch (event.type) {
      case "act": {
        if (ended) break;
        try {
          const outcome = await actor.execute(event.act, at);
          if (outcome.status === "written") {
            bump(written, event.act.kind);
            meter.act(at);
          } else if (outcome.status === "skipped") bump(skipped, event.act.kind);
          else if (outcome.status === "retry") {
            retries++;
            if (outcome.at < scenario.duration) queue.push(outcome.at, event);
            else bump(skipped, event.act.kind);
          }
          if (outcome.status === "written" || outcome.status === "done")
            for (const follow of outcome.next)
              if (follow.at < scenario.duration) queue.push(follow.at, { type: "act", act: follow.act });
        } catch {
          bump(failed, event.act.kind);
        }
        break;
      }
      case "deliver":
        sync.deliver(event.message, at);
        break;
      case "flush":
        sync.flush(event.replica, at);
        break;
      case "net":
        if (!ended) await applyNetwork(at, false);
        break;
      case "sample":
        meter.divergent(at - 1, countDivergent(replicas));
        progress({ variant: name, phase: "run", done: at, total: scenario.duration });
        break;
      case "end":
        ended = true;
        finalOpened = true;
        await applyNetwork(at, true);
        progress({ variant: name, phase: "drain", done: at, total: scenario.duration });
        break;
    }
    await tracker.settle();
    if (finalOpened && tracker.pending === 0 && tracker.done.some((h) => h.kind === "final")) break;
  }
  tracker.abandon();
  const virtualMs = Math.min(deadline, world.clock.t - scenario.start);

  const metrics = await tally(world, replicas, tracker.done, meter, {
    variant: name,
    topology: spec.topology,
    links: network.links.length,
    virtualMs,
    acts: { written: sorted(written), skipped: sorted(skipped), failed: sorted(failed), retries },
    schedule: {
      partitions: partitions.map((p) => ({ label: p.label, from: p.from, to: p.to })),
      offline: outages.flatMap((o) => o.nodes.map((n) => ({ node: n.label, from: o.from, to: o.to }))),
    },
  });
  for (const list of replicas.values()) for (const r of list) A.free(r.source.doc());
  return metrics;
}

function labelOf(nodes: readonly SimNode[]): string {
  if (nodes.length === 1) return nodes[0]!.label;
  return `${nodes.length} nodes`;
}

function sorted(tally: Record<string, number>): Tally {
  return Object.fromEntries(Object.entries(tally).sort(([a], [b]) => (a < b ? -1 : 1)));
}

function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
}

async function tally(
  world: World,
  replicas: ReadonlyMap<DocKey, readonly Replica[]>,
  heals: readonly HealMetrics[],
  meter: TrafficMeter,
  init: Pick<RunMetrics, "variant" | "topology" | "links" | "virtualMs" | "acts" | "schedule">,
): Promise<RunMetrics> {
  // Derived states of every replica: one per council (the first node's) is reported, all must agree.
  const councilStates = new Map<number, CouncilState>();
  let consistent = countDivergent(replicas) === 0;
  const prints = new Map<number, string>();
  for (const o of world.observers()) {
    const state = await o.object.state();
    const print = canonicalJson(state);
    if (!prints.has(o.council)) {
      prints.set(o.council, print);
      councilStates.set(o.council, state);
    } else if (prints.get(o.council) !== print) consistent = false;
  }
  let federation: FederationState | null = null;
  let federationPrint: string | null = null;
  for (const o of world.federationObservers()) {
    const state = await o.object.state();
    const print = canonicalJson(state);
    if (federationPrint === null) {
      federationPrint = print;
      federation = state;
    } else if (federationPrint !== print) consistent = false;
  }

  const heldReasons: Record<string, number> = {};
  const councilOutcomes: Record<string, number> = { passed: 0, failed: 0, open: 0 };
  let councilOutOfMandate = 0;
  for (const state of councilStates.values()) {
    // A held entry is counted under the conflict that held it (overdraft, unapproved, debt limit, out of mandate).
    const conflictOf = new Map(state.conflicts.map((c) => [c.record as string, c.type as string]));
    for (const entry of state.ledger) {
      if (entry.status !== "held") continue;
      const type = conflictOf.get(entry.record) ?? "held";
      heldReasons[type] = (heldReasons[type] ?? 0) + 1;
    }
    for (const p of state.proposals) councilOutcomes[p.status] = (councilOutcomes[p.status] ?? 0) + 1;
    councilOutOfMandate += state.conflicts.filter((c) => c.type === "out-of-mandate").length;
  }
  const mandateReasons: Record<string, number> = {};
  const federationOutcomes: Record<string, number> = { passed: 0, failed: 0, open: 0 };
  let federationOutOfMandate = 0;
  const firstResponseMs: number[] = [];
  const responseMs: number[] = [];
  const pledge = { met: 0, late: 0, missed: 0, pending: 0 };
  let responses = 0;
  if (federation !== null) {
    for (const c of federation.conflicts) {
      if (c.type !== "out-of-mandate") continue;
      federationOutOfMandate++;
      const reason = c.reason ?? "unknown";
      mandateReasons[reason] = (mandateReasons[reason] ?? 0) + 1;
    }
    for (const p of federation.proposals) federationOutcomes[p.status] = (federationOutcomes[p.status] ?? 0) + 1;
    for (const alert of federation.alerts) {
      responses += alert.responses.length;
      if (alert.firstResponseMs !== null) firstResponseMs.push(alert.firstResponseMs);
      for (const p of alert.pledges) {
        pledge[p.status]++;
        if (p.responseMs !== null) responseMs.push(p.responseMs);
      }
    }
  }
  const converged = heals.filter((h) => h.convergedAfterMs !== null && h.kind !== "final");
  const times = converged.map((h) => h.convergedAfterMs!);
  const final = heals.find((h) => h.kind === "final");
  const heldTotal = Object.values(heldReasons).reduce((a, b) => a + b, 0);
  const flippedCouncil = heals.reduce((s, h) => s + h.flipped.council, 0);
  const flippedFederation = heals.reduce((s, h) => s + h.flipped.federation, 0);
  return {
    variant: init.variant,
    topology: init.topology,
    nodes: world.nodes.length,
    links: init.links,
    documents: replicas.size,
    replicas: [...replicas.values()].reduce((s, l) => s + l.length, 0),
    virtualMs: init.virtualMs,
    traffic: meter.total,
    heals,
    convergence: {
      heals: heals.filter((h) => h.kind !== "final").length,
      converged: converged.length,
      meanMs: times.length === 0 ? null : Math.round(times.reduce((a, b) => a + b, 0) / times.length),
      medianMs: median(times),
      maxMs: times.length === 0 ? null : Math.max(...times),
      maxRounds: converged.length === 0 ? null : Math.max(...converged.map((h) => h.rounds ?? 0)),
      final: { convergedAfterMs: final?.convergedAfterMs ?? null, rounds: final?.rounds ?? null },
      consistent,
    },
    outcomesFlipped: {
      council: flippedCouncil,
      federation: flippedFederation,
      total: flippedCouncil + flippedFederation,
    },
    expensesHeld: {
      total: heldTotal,
      byReason: sorted(heldReasons),
      surfacedByMerges: heals.reduce((s, h) => s + (h.surfaced["expense-held"] ?? 0), 0),
    },
    outOfMandate: {
      federation: federationOutOfMandate,
      council: councilOutOfMandate,
      byReason: sorted(mandateReasons),
    },
    pledges: {
      alerts: federation?.alerts.length ?? 0,
      responses,
      firstResponseMs,
      responseMs: responseMs.sort((a, b) => a - b),
      medianFirstResponseMs: median(firstResponseMs),
      windowMs: federation === null ? null : (federation.charter?.pledgeWindowMs ?? null),
      ...pledge,
    },
    proposals: { council: councilOutcomes, federation: federationOutcomes },
    acts: init.acts,
    series: meter.series,
    schedule: init.schedule,
  };
}

/**
 * The scenario format: a valibot schema for the data files researchers write (JSON or YAML), durations such as
 * "2h30m", node selectors, and the checks across fields (indices in range, references defined before use).
 */
import { readFile } from "node:fs/promises";
import { extname } from "node:path";
import * as v from "valibot";
import { parse as parseYaml } from "yaml";
import { ScenarioError, ScenarioNotFoundError } from "./errors.js";

const UNITS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};
const DURATION = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+$/;

/** Milliseconds of a duration such as "250ms", "90s", "15m", "2h30m", "1.5d". */
export function parseDuration(text: string): number {
  let ms = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g)) ms += Number(m[1]) * UNITS[m[2]!]!;
  return Math.round(ms);
}

const Int = v.pipe(v.number(), v.safeInteger());
const Count = v.pipe(Int, v.minValue(0));
const Positive = v.pipe(Int, v.minValue(1));
const Probability = v.pipe(v.number(), v.minValue(0), v.maxValue(1));
const Rate = v.pipe(v.number(), v.minValue(0), v.maxValue(10_000));
const Name = v.pipe(v.string(), v.minLength(1), v.maxLength(200));
const FundName = v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9-]{0,63}$/, "fund names are lowercase words joined by -"));
const Ref = v.pipe(
  v.string(),
  v.regex(/^[A-Za-z0-9_.-]{1,64}$/, "a reference is a short name (letters, digits, _ . -)"),
);

const Duration = v.union(
  [
    v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
    v.pipe(v.string(), v.regex(DURATION), v.transform(parseDuration)),
  ],
  'a duration: milliseconds, or a string such as "250ms", "90s", "15m", "2h30m", "3d"',
);
const PositiveDuration = v.pipe(Duration, v.minValue(1, "a duration here must be longer than 0"));

/** `n` or `[min, max]`. */
const IntRange = v.pipe(
  v.union([Positive, v.tuple([Positive, Positive])], "an integer, or [min, max]"),
  v.transform((r) => (typeof r === "number" ? { min: r, max: r } : { min: r[0], max: r[1] })),
  v.check((r) => r.min <= r.max, "min must not exceed max"),
);
const DurationRange = v.pipe(
  v.union([Duration, v.tuple([Duration, Duration])], "a duration, or [min, max] durations"),
  v.transform((r) => (typeof r === "number" ? { min: r, max: r } : { min: r[0], max: r[1] })),
  v.check((r) => r.min <= r.max, "min must not exceed max"),
);

/**
 * Which nodes: `all`, `hub`, `relays`, `relay:N`, `region:N` (a relay and the councils attached to it),
 * `council:N`, `councils:A-B` or `councils:A%-B%` (a share of the councils, which survives scaling), `member:C.M`.
 */
export const SELECTOR =
  /^(?:all|hub|relays|relay:\d+|region:\d+|council:\d+|councils:\d+-\d+|councils:\d+(?:\.\d+)?%-\d+(?:\.\d+)?%|member:\d+\.\d+)$/;
const Selector = v.pipe(
  v.string(),
  v.regex(
    SELECTOR,
    "a node selector: all, hub, relays, relay:N, region:N, council:N, councils:A-B, councils:A%-B%, member:C.M",
  ),
);
const Selectors = v.pipe(
  v.union([Selector, v.pipe(v.array(Selector), v.minLength(1))], "a selector or a list of selectors"),
  v.transform((s) => (typeof s === "string" ? [s] : s)),
);

const TopologySchema = v.variant("type", [
  v.object({
    type: v.literal("mesh"),
    /** Links per node among the nodes sharing a document (a ring plus random links); omitted: every pair. */
    degree: v.optional(v.pipe(Int, v.minValue(2))),
  }),
  v.object({ type: v.literal("hub") }),
  v.object({ type: v.literal("relays"), count: v.pipe(Int, v.minValue(1), v.maxValue(64)) }),
]);

const PartitionSchema = v.pipe(
  v.object({
    name: v.optional(Name),
    from: Duration,
    to: Duration,
    groups: v.pipe(v.array(Selectors), v.minLength(1)),
  }),
  v.check((p) => p.from < p.to, "a partition ends (to) after it starts (from)"),
);

const OfflineSchema = v.pipe(
  v.object({ nodes: Selectors, from: Duration, to: Duration }),
  v.check((o) => o.from < o.to, "an offline interval ends (to) after it starts (from)"),
);

const RandomChurnSchema = v.object({
  /** How often a new set of nodes goes offline. */
  every: PositiveDuration,
  /** The share of member and council nodes (never relays) taken offline each time. */
  fraction: Probability,
  /** How long each stays offline. */
  for: PositiveDuration,
  from: v.optional(Duration),
  to: v.optional(Duration),
});

const NetworkShape = {
  topology: TopologySchema,
  /** One-way delay of each message, drawn uniformly in [min, max]. */
  latency: DurationRange,
  /** Probability that one transmission is lost; the transport sends it again after `retransmit`. */
  loss: v.pipe(v.number(), v.minValue(0), v.maxValue(0.9)),
  retransmit: PositiveDuration,
  /** Each node's upload rate in bytes per second (omitted: unlimited). */
  bandwidth: v.optional(Positive),
  /** automerge-repo's throttle between a document's change and the sync messages it sends to peers. */
  syncDelay: Duration,
};

const NetworkSchema = v.object({
  topology: v.optional(TopologySchema, { type: "mesh" }),
  latency: v.optional(DurationRange, [20, 80]),
  loss: v.optional(NetworkShape.loss, 0),
  retransmit: v.optional(PositiveDuration, 250),
  bandwidth: NetworkShape.bandwidth,
  syncDelay: v.optional(Duration, 100),
  partitions: v.optional(v.array(PartitionSchema), []),
  offline: v.optional(v.array(OfflineSchema), []),
  churn: v.optional(RandomChurnSchema),
});

const VotePlanSchema = v.object({
  /** Share of the electorate that votes. */
  turnout: v.optional(Probability, 1),
  /** Probability that a voter says yes (else no). */
  yes: v.optional(Probability, 0.5),
  /** Delay of each vote after the proposal, drawn uniformly; default: within the first half of the window. */
  delay: v.optional(DurationRange),
});

const Positions = v.record(Name, v.pipe(v.array(Name), v.maxLength(100)));
const Weights = v.pipe(
  v.record(Name, v.pipe(v.number(), v.minValue(0))),
  v.check((w) => Object.values(w).some((x) => x > 0), "at least one weight must be above 0"),
);

const CouncilWorkloadSchema = v.object({
  donate: v.optional(v.object({ rate: Rate, amount: IntRange, fund: FundName })),
  spend: v.optional(
    v.object({
      rate: Rate,
      amount: IntRange,
      fund: FundName,
      approval: v.optional(v.picklist(["petty", "mandate"]), "petty"),
    }),
  ),
  swap: v.optional(v.object({ rate: Rate, minutes: IntRange, fund: FundName })),
  propose: v.optional(v.object({ rate: Rate, window: PositiveDuration, ...VotePlanSchema.entries })),
  recall: v.optional(v.object({ rate: Rate, window: PositiveDuration, ...VotePlanSchema.entries })),
  contribute: v.optional(v.object({ rate: Rate, amount: IntRange, jar: FundName })),
});

const FederationWorkloadSchema = v.object({
  propose: v.optional(
    v.object({
      rate: Rate,
      window: PositiveDuration,
      turnout: v.optional(Probability, 1),
      /** Position weights of delegates' votes; positions their mandate does not allow are acts out of mandate. */
      positions: v.optional(Weights, { yes: 1 }),
      delay: v.optional(DurationRange),
    }),
  ),
  alert: v.optional(
    v.object({
      rate: Rate,
      /** Probability that each other member council responds. */
      respond: Probability,
      /** Delay from seeing the alert to responding, drawn uniformly. */
      delay: DurationRange,
    }),
  ),
});

const Votes = v.array(
  v.object({
    member: Count,
    after: v.optional(Duration, 0),
    choice: v.picklist(["yes", "no", "abstain"]),
  }),
);
const FedVotes = v.array(
  v.object({ council: Count, after: v.optional(Duration, 0), position: Name, member: v.optional(Count) }),
);

const EffectSchema = v.variant("type", [
  v.object({ type: v.literal("none") }),
  v.object({ type: v.literal("budget"), fund: FundName, amount: Positive }),
  v.object({ type: v.literal("expense"), fund: FundName, amount: Positive, payee: Name }),
  v.object({ type: v.literal("jar-round"), jar: FundName, closesIn: PositiveDuration, remainderTo: FundName }),
]);

const Step = { at: Duration, council: Count };
const StepSchema = v.variant(
  "act",
  [
    v.object({ ...Step, act: v.literal("donate"), member: v.optional(Count, 0), fund: FundName, amount: Positive }),
    v.object({
      ...Step,
      act: v.literal("spend"),
      member: Count,
      fund: FundName,
      amount: Positive,
      approval: v.optional(v.picklist(["petty", "mandate"]), "petty"),
      payee: v.optional(Name, "supplier"),
    }),
    v.object({ ...Step, act: v.literal("swap"), member: Count, provider: Count, fund: FundName, minutes: Positive }),
    v.object({
      ...Step,
      act: v.literal("propose"),
      id: v.optional(Ref),
      member: Count,
      title: v.optional(Name),
      window: PositiveDuration,
      effect: v.optional(EffectSchema, { type: "none" }),
      votes: v.optional(v.union([Votes, VotePlanSchema]), []),
    }),
    v.object({
      ...Step,
      act: v.literal("vote"),
      member: Count,
      proposal: Ref,
      choice: v.picklist(["yes", "no", "abstain"]),
    }),
    v.object({
      ...Step,
      act: v.literal("mandate"),
      id: v.optional(Ref),
      member: Count,
      delegate: Count,
      window: PositiveDuration,
      votes: v.optional(v.union([Votes, VotePlanSchema]), []),
    }),
    v.object({
      ...Step,
      act: v.literal("recall"),
      id: v.optional(Ref),
      member: Count,
      /** A mandate issued by a `mandate` step; omitted: the council's current mandate. */
      mandate: v.optional(Ref),
      window: PositiveDuration,
      votes: v.optional(v.union([Votes, VotePlanSchema]), []),
    }),
    v.object({ ...Step, act: v.literal("contribute"), member: Count, jar: FundName, amount: Positive }),
    v.object({
      ...Step,
      act: v.literal("request"),
      id: Ref,
      member: Count,
      jar: FundName,
      amount: Positive,
      purpose: v.optional(Name, "a need"),
    }),
    v.object({ ...Step, act: v.literal("dots"), member: Count, jar: FundName, dots: v.record(Ref, Positive) }),
    v.object({ ...Step, act: v.literal("tick"), member: v.optional(Count, 0) }),
    v.object({
      ...Step,
      act: v.literal("fed-propose"),
      id: v.optional(Ref),
      member: v.optional(Count, 0),
      title: v.optional(Name),
      window: PositiveDuration,
      votes: v.optional(v.union([FedVotes, v.object({ turnout: v.optional(Probability, 1), positions: Weights })]), []),
    }),
    v.object({ ...Step, act: v.literal("fed-vote"), proposal: Ref, position: Name, member: v.optional(Count) }),
    v.object({
      ...Step,
      act: v.literal("alert"),
      id: v.optional(Ref),
      member: v.optional(Count, 0),
      what: v.optional(Name, "an emergency"),
      respond: v.optional(Probability, 1),
      delay: v.optional(DurationRange, [600_000, 3_600_000]),
    }),
  ],
  "an act: donate, spend, swap, propose, vote, mandate, recall, contribute, request, dots, tick, fed-propose, fed-vote or alert",
);

const CharterSchema = v.object({
  pettyCashLimit: v.optional(Count),
  timeDebtLimitMinutes: v.optional(Count),
  votingWindow: v.optional(PositiveDuration),
  maxMandateTerm: v.optional(PositiveDuration),
});

const FundSchema = v.object({
  name: FundName,
  type: v.picklist(["cash", "time", "jar"]),
  balance: v.optional(Count, 0),
});

const CouncilsSchema = v.object({
  count: v.pipe(Int, v.minValue(1), v.maxValue(100_000)),
  members: v.pipe(Int, v.minValue(1), v.maxValue(50)),
  /** One node per member's device, or one node per council shared by its members. */
  placement: v.optional(v.picklist(["member", "council"]), "member"),
  charter: v.optional(CharterSchema, {}),
  funds: v.optional(v.array(FundSchema), [{ name: "common", type: "cash", balance: 10_000 }]),
});

const FederationSchema = v.object({
  name: v.optional(Name, "Federation"),
  /**
   * Who holds the federation document and every member council's documents: every node ("members"), or only the
   * relays ("relays", where delegates act on their region's relay).
   */
  replicas: v.optional(v.picklist(["members", "relays"]), "members"),
  pledgeWindow: v.optional(PositiveDuration),
  votingWindow: v.optional(PositiveDuration),
  /** The mandate each council issues to its first member while the scenario sets up. */
  mandate: v.optional(
    v.object({
      positions: v.optional(Positions, { "*": ["yes", "abstain"] }),
      term: v.optional(PositiveDuration, 30 * 86_400_000),
      allowance: v.optional(v.object({ fund: FundName, amount: Positive })),
    }),
    {},
  ),
});

const VariantSchema = v.object({
  name: v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9-]{0,31}$/, "a variant name is a short lowercase word")),
  network: v.optional(
    v.object({
      topology: v.optional(TopologySchema),
      latency: v.optional(DurationRange),
      loss: v.optional(NetworkShape.loss),
      retransmit: v.optional(PositiveDuration),
      bandwidth: v.optional(Positive),
      syncDelay: v.optional(Duration),
    }),
    {},
  ),
});

export const ScenarioSchema = v.object({
  /** The name the output directory is given: lowercase words joined by -. */
  name: v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9-]{0,63}$/, "a scenario name is lowercase words joined by -")),
  title: v.optional(Name),
  description: v.optional(v.pipe(v.string(), v.maxLength(10_000))),
  seed: v.optional(v.pipe(Int, v.minValue(0), v.maxValue(0xffff_ffff)), 1),
  /** The clock at time 0 (record clocks are this plus virtual time). */
  start: v.optional(
    v.pipe(
      v.string(),
      v.isoTimestamp("start is an ISO timestamp such as 2026-03-01T09:00:00Z"),
      v.transform((s) => Date.parse(s)),
    ),
    "2026-03-01T09:00:00Z",
  ),
  duration: PositiveDuration,
  /** After `duration`, every partition and outage ends; the run goes on until all replicas agree, at most this long. */
  drain: v.optional(PositiveDuration, 6 * 3_600_000),
  /** Width of the time buckets of the series (default: 1/48 of the duration). */
  sample: v.optional(PositiveDuration),
  /** How long an actor waits before trying again when the record it acts on has not reached its replica yet. */
  retry: v.optional(PositiveDuration, 300_000),
  councils: CouncilsSchema,
  federation: v.optional(FederationSchema),
  network: v.optional(NetworkSchema, {}),
  workload: v.optional(
    v.object({
      council: v.optional(CouncilWorkloadSchema, {}),
      federation: v.optional(FederationWorkloadSchema, {}),
    }),
    {},
  ),
  script: v.optional(v.array(StepSchema), []),
  /** Runs of the same workload on other networks (each overrides part of `network`), reported side by side. */
  variants: v.optional(v.pipe(v.array(VariantSchema), v.minLength(1), v.maxLength(8))),
});

/** A parsed, checked scenario: durations in ms, defaults filled in. */
export type Scenario = v.InferOutput<typeof ScenarioSchema>;
export type ScenarioInput = v.InferInput<typeof ScenarioSchema>;
export type Step = Scenario["script"][number];
export type Network = Scenario["network"];
export type Topology = Network["topology"];
export type Variant = NonNullable<Scenario["variants"]>[number];

/** Parses and checks a scenario given as data; throws `ScenarioError` listing every problem with its path. */
export function parseScenario(data: unknown, source = "scenario"): Scenario {
  const parsed = v.safeParse(ScenarioSchema, data);
  if (!parsed.success) {
    const issues = parsed.issues.map((issue) => {
      const path = v.getDotPath(issue);
      return `${path ?? "(top level)"}: ${issue.message}`;
    });
    throw new ScenarioError(source, issues);
  }
  const problems = crossCheck(parsed.output);
  if (problems.length > 0) throw new ScenarioError(source, problems);
  return parsed.output;
}

/** Reads a scenario file: `.yaml`/`.yml` as YAML, anything else as JSON. */
export async function loadScenario(path: string): Promise<Scenario> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    throw new ScenarioNotFoundError(path);
  }
  return parseScenarioText(text, path);
}

/** Parses scenario text (YAML when the name says so or the text is not JSON). */
export function parseScenarioText(text: string, source = "scenario"): Scenario {
  let data: unknown;
  const yaml = [".yaml", ".yml"].includes(extname(source).toLowerCase());
  try {
    data = yaml ? parseYaml(text) : JSON.parse(text);
  } catch (error) {
    throw new ScenarioError(source, [`not valid ${yaml ? "YAML" : "JSON"}: ${(error as Error).message}`]);
  }
  return parseScenario(data, source);
}

/** The scenario with its council count multiplied (at least 2): percent selectors keep their meaning. */
export function scaleScenario(scenario: Scenario, scale: number): Scenario {
  if (!(scale > 0)) throw new ScenarioError("--scale", ["the scale must be a number above 0"]);
  if (scale === 1) return scenario;
  const count = Math.max(2, Math.round(scenario.councils.count * scale));
  const scaled = { ...scenario, councils: { ...scenario.councils, count } };
  const problems = crossCheck(scaled);
  if (problems.length > 0) throw new ScenarioError(`${scenario.name} at scale ${scale}`, problems);
  return scaled;
}

/** Checks across fields that a schema cannot express. */
function crossCheck(s: Scenario): string[] {
  const problems: string[] = [];
  const { count, members } = s.councils;
  const end = s.duration;
  const funds = new Map(s.councils.funds.map((f) => [f.name, f.type]));
  const fundOf = (where: string, name: string, types: readonly string[]) => {
    const type = funds.get(name);
    if (type === undefined) problems.push(`${where}: no fund "${name}" in councils.funds`);
    else if (!types.includes(type))
      problems.push(`${where}: fund "${name}" is a ${type} fund, not ${types.join(" or ")}`);
  };
  const names = new Set<string>();
  for (const [i, f] of s.councils.funds.entries()) {
    if (names.has(f.name)) problems.push(`councils.funds[${i}].name: "${f.name}" appears twice`);
    names.add(f.name);
    if (f.type !== "cash" && f.balance > 0)
      problems.push(`councils.funds[${i}].balance: only cash funds start with money`);
  }
  const topology = s.network.topology;
  const relays = topology.type === "hub" ? 1 : topology.type === "relays" ? topology.count : 0;
  const selectorCheck = (where: string, selector: string) => {
    const [kind, arg = ""] = selector.split(":");
    if ((kind === "hub" || kind === "relays") && relays === 0)
      problems.push(`${where}: "${selector}" needs a hub or relays topology`);
    if ((kind === "relay" || kind === "region") && Number(arg) >= relays)
      problems.push(`${where}: "${selector}" names relay ${arg} but the topology has ${relays}`);
    if (kind === "council" && Number(arg) >= count)
      problems.push(`${where}: "${selector}" names council ${arg} but there are ${count}`);
    if (kind === "councils" && !arg.includes("%")) {
      const [a, b] = arg.split("-").map(Number);
      if (a! > b! || b! >= count) problems.push(`${where}: "${selector}" is not a range within 0-${count - 1}`);
    }
    if (kind === "councils" && arg.includes("%")) {
      const [a, b] = arg.split("-").map((x) => Number.parseFloat(x));
      if (a! >= b! || b! > 100) problems.push(`${where}: "${selector}" is not a share range within 0%-100%`);
    }
    if (kind === "member") {
      const [c, m] = arg.split(".").map(Number);
      if (c! >= count || m! >= members) problems.push(`${where}: "${selector}" names no member (${count}×${members})`);
    }
  };
  for (const [i, p] of s.network.partitions.entries()) {
    if (p.from >= end) problems.push(`network.partitions[${i}].from: starts after the run ends (${end} ms)`);
    for (const [g, group] of p.groups.entries())
      for (const sel of group) selectorCheck(`network.partitions[${i}].groups[${g}]`, sel);
  }
  for (const [i, o] of s.network.offline.entries())
    for (const sel of o.nodes) selectorCheck(`network.offline[${i}].nodes`, sel);
  const fed = s.federation;
  if (fed?.replicas === "relays" && relays === 0)
    problems.push('federation.replicas: "relays" needs a hub or relays topology (network.topology)');
  for (const [i, variant] of (s.variants ?? []).entries()) {
    const t = variant.network.topology;
    const vr = t === undefined ? relays : t.type === "hub" ? 1 : t.type === "relays" ? t.count : 0;
    if (fed?.replicas === "relays" && vr === 0)
      problems.push(`variants[${i}].network.topology: federation replicas on relays need a hub or relays topology`);
  }
  if (fed?.mandate.allowance) fundOf("federation.mandate.allowance.fund", fed.mandate.allowance.fund, ["cash"]);
  const w = s.workload.council;
  if (w.donate) fundOf("workload.council.donate.fund", w.donate.fund, ["cash"]);
  if (w.spend) fundOf("workload.council.spend.fund", w.spend.fund, ["cash"]);
  if (w.swap) fundOf("workload.council.swap.fund", w.swap.fund, ["time"]);
  if (w.contribute) fundOf("workload.council.contribute.jar", w.contribute.jar, ["jar"]);
  if (w.swap && members < 2) problems.push("workload.council.swap: swaps need at least 2 members per council");
  if ((w.recall || w.spend?.approval === "mandate") && !fed)
    problems.push("workload.council: recalls and mandate spending need a federation (mandates are issued for it)");
  if ((s.workload.federation.propose || s.workload.federation.alert) && !fed)
    problems.push("workload.federation: federation acts need a federation section");
  const refs = new Map<string, string>();
  const ordered = [...s.script.entries()].sort((a, b) => a[1].at - b[1].at || a[0] - b[0]);
  for (const [i, step] of ordered) {
    const where = `script[${i}]`;
    if (step.at > end) problems.push(`${where}.at: after the run ends (${end} ms)`);
    if (step.council >= count) problems.push(`${where}.council: council ${step.council} but there are ${count}`);
    const member = (m: number | undefined, field: string) => {
      if (m !== undefined && m >= members) problems.push(`${where}.${field}: member ${m} but councils have ${members}`);
    };
    const needRef = (ref: string, kind: string, field: string) => {
      const k = refs.get(ref);
      if (k === undefined) problems.push(`${where}.${field}: "${ref}" is not the id of an earlier step`);
      else if (k !== kind) problems.push(`${where}.${field}: "${ref}" is a ${k}, not a ${kind}`);
    };
    const define = (id: string | undefined, kind: string) => {
      if (id === undefined) return;
      if (refs.has(id)) problems.push(`${where}.id: "${id}" is already the id of another step`);
      refs.set(id, kind);
    };
    const needFed = () => {
      if (!fed) problems.push(`${where}.act: "${step.act}" needs a federation section`);
    };
    const voters = (votes: unknown) => {
      if (Array.isArray(votes)) for (const [j, vote] of votes.entries()) member(vote.member, `votes[${j}].member`);
    };
    switch (step.act) {
      case "donate":
        member(step.member, "member");
        fundOf(`${where}.fund`, step.fund, ["cash"]);
        break;
      case "spend":
        member(step.member, "member");
        fundOf(`${where}.fund`, step.fund, ["cash"]);
        if (step.approval === "mandate") needFed();
        break;
      case "swap":
        member(step.member, "member");
        member(step.provider, "provider");
        fundOf(`${where}.fund`, step.fund, ["time"]);
        if (step.member === step.provider) problems.push(`${where}.provider: a member does not swap with themselves`);
        break;
      case "propose":
        member(step.member, "member");
        voters(step.votes);
        if (step.effect.type === "budget" || step.effect.type === "expense")
          fundOf(`${where}.effect.fund`, step.effect.fund, ["cash"]);
        if (step.effect.type === "jar-round") {
          fundOf(`${where}.effect.jar`, step.effect.jar, ["jar"]);
          fundOf(`${where}.effect.remainderTo`, step.effect.remainderTo, ["cash", "jar"]);
        }
        define(step.id, "proposal");
        break;
      case "vote":
        member(step.member, "member");
        needRef(step.proposal, "proposal", "proposal");
        break;
      case "mandate":
        needFed();
        member(step.member, "member");
        member(step.delegate, "delegate");
        voters(step.votes);
        define(step.id, "mandate");
        break;
      case "recall":
        needFed();
        member(step.member, "member");
        voters(step.votes);
        if (step.mandate !== undefined) needRef(step.mandate, "mandate", "mandate");
        define(step.id, "proposal");
        break;
      case "contribute":
      case "dots":
        member(step.member, "member");
        fundOf(`${where}.jar`, step.jar, ["jar"]);
        if (step.act === "dots") for (const ref of Object.keys(step.dots)) needRef(ref, "request", `dots.${ref}`);
        break;
      case "request":
        member(step.member, "member");
        fundOf(`${where}.jar`, step.jar, ["jar"]);
        define(step.id, "request");
        break;
      case "tick":
        member(step.member, "member");
        break;
      case "fed-propose":
        needFed();
        member(step.member, "member");
        if (Array.isArray(step.votes))
          for (const [j, vote] of step.votes.entries()) {
            if (vote.council >= count)
              problems.push(`${where}.votes[${j}].council: council ${vote.council} but there are ${count}`);
            member(vote.member, `votes[${j}].member`);
          }
        define(step.id, "federation proposal");
        break;
      case "fed-vote":
        needFed();
        member(step.member, "member");
        needRef(step.proposal, "federation proposal", "proposal");
        break;
      case "alert":
        needFed();
        member(step.member, "member");
        define(step.id, "alert");
        break;
    }
  }
  return problems;
}

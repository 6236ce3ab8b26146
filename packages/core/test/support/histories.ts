/**
 * Random council histories for property tests: fast-check arbitraries of partitioned scripts, a driver that plays a
 * script through the public API on forked replicas, and the ledger, mandate, rotation and voting invariants that every
 * derived state must satisfy.
 */
import fc from "fast-check";
import type {
  Ballot,
  Charter,
  CouncilDoc,
  CouncilState,
  DeviceId,
  Effect,
  FederaRecord,
  FundState,
  Identity,
  LedgerDoc,
  LedgerEntry,
  MandateId,
  MemberId,
  ProposalState,
} from "../../src/index.js";
import { Council, compareHlc, foundCouncil, keypairFromSeed, mandateAllows, PlainDocument } from "../../src/index.js";

/** The first record clock of every generated history (a fixed origin keeps counterexamples reproducible). */
export const ORIGIN_MS = 1_700_000_000_000;
/** Cash funds made at founding; splits add daughters named from `DAUGHTERS`. */
export const CASH_FUNDS = ["cash", "reserve"] as const;
export const TIME_FUND = "time";
export const JAR = "jar";
export const DAUGHTERS = ["circle-a", "circle-b", "circle-c"] as const;
export const ROLES = ["facilitator", "minute-taker", "treasurer"] as const;
export const MEETINGS = 6;
const OPTIONS = ["alpha", "beta", "gamma"];
const DAY = 24 * 60 * 60 * 1000;

/** Charter knobs a history varies; everything else is `defaultCharter`. */
export interface CharterSpec {
  readonly pettyCashLimit: number;
  readonly timeDebtLimitMinutes: number;
  readonly splitThreshold: number;
  readonly maxMandateTermMs: number;
  readonly thresholdOf: "cast" | "eligible";
  readonly lowQuorum: boolean;
}

/** What a proposal does when it passes; indexes are resolved against the proposer's view when it acts. */
export type EffectSpec =
  | { readonly type: "none" }
  | { readonly type: "expense"; readonly fund: number; readonly amount: number }
  | { readonly type: "budget"; readonly fund: number; readonly amount: number }
  | {
      readonly type: "mandate";
      readonly delegate: number;
      readonly allowance: number | null;
      readonly startOffset: number;
      readonly term: number;
      readonly recall: number;
    }
  | { readonly type: "recall"; readonly pick: number }
  | { readonly type: "jar-round"; readonly length: number; readonly remainder: number }
  | {
      readonly type: "split";
      readonly daughters: readonly { readonly name: number; readonly amount: number; readonly circle: number[] }[];
    };

/** One act; numbers pick among what the actor knows at that moment, so any script is playable. */
export type ActSpec =
  | { readonly type: "donate"; readonly fund: number; readonly amount: number }
  | {
      readonly type: "spend";
      readonly via: "petty" | "budget" | "mandate";
      readonly fund: number;
      readonly amount: number;
      readonly pick: number;
    }
  | { readonly type: "transfer"; readonly to: number; readonly amount: number }
  | { readonly type: "swap"; readonly provider: number; readonly minutes: number }
  | {
      readonly type: "propose";
      readonly method: "majority" | "consent" | "ranked";
      /** Milliseconds from now to the deadline; null takes the charter's seven-day window. */
      readonly closesIn: number | null;
      readonly effect: EffectSpec;
    }
  | { readonly type: "vote"; readonly pick: number; readonly choice: number; readonly anyStatus: boolean }
  | { readonly type: "role"; readonly meeting: number; readonly role: number; readonly holder: number }
  | { readonly type: "contribute"; readonly amount: number }
  | { readonly type: "request"; readonly amount: number }
  | { readonly type: "dots"; readonly picks: readonly number[] }
  | { readonly type: "tick" };

/** An act by one member of a partition after its partition's clock advanced by `advance` ms. */
export interface StepSpec {
  readonly actor: number;
  readonly advance: number;
  readonly act: ActSpec;
  /** Whether the partition's watcher refreshes right after this act (otherwise it catches up later, in a batch). */
  readonly observe: boolean;
}

/**
 * A decision taken by everybody before the split: proposed, voted by the members whose ballot is not null (0 and 1
 * agree, 2 disagrees, 3 abstains), and closed, so mandates, budgets, jar rounds and daughter funds exist to act on.
 */
export interface DecisionSpec {
  readonly by: number;
  readonly method: "majority" | "consent" | "ranked";
  readonly closesIn: number;
  readonly effect: EffectSpec;
  readonly ballots: readonly (number | null)[];
  /** False leaves it open at the split, with only some ballots cast: the partitions vote on it apart. */
  readonly settle: boolean;
}

/** A whole history: founding, decisions and a common prefix everybody sees, then partitions acting apart. */
export interface HistorySpec {
  readonly members: number;
  readonly charter: CharterSpec;
  readonly decisions: readonly DecisionSpec[];
  readonly prefix: readonly StepSpec[];
  /** Member indexes of each partition (at least two partitions, none empty). */
  readonly groups: readonly (readonly number[])[];
  /** Steps of each partition, in the order of `groups`. */
  readonly partitions: readonly (readonly StepSpec[])[];
}

/** Sizes of generated histories. */
export interface HistoryLimits {
  readonly maxPrefix?: number;
  readonly maxPerPartition?: number;
  /** Acts shared by all partitions (each gets at least four). */
  readonly partitionActs?: number;
}

const amount = (max: number) => fc.integer({ min: 1, max });
/** Durations in whole seconds: partitions' clocks then often meet on the same millisecond, so (at, id) ties happen. */
const seconds = (min: number, max: number) =>
  fc.integer({ min: Math.ceil(min / 1000), max: Math.floor(max / 1000) }).map((s) => s * 1000);

const effectArb: fc.Arbitrary<EffectSpec> = fc.oneof(
  { weight: 2, arbitrary: fc.constant({ type: "none" as const }) },
  { weight: 3, arbitrary: fc.record({ type: fc.constant("expense" as const), fund: fc.nat(3), amount: amount(1500) }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant("budget" as const), fund: fc.nat(3), amount: amount(1500) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      type: fc.constant("mandate" as const),
      delegate: fc.nat(7),
      allowance: fc.option(amount(1200), { freq: 5 }),
      startOffset: seconds(-60_000, 120_000),
      term: seconds(1, 400_000),
      recall: fc.nat(3),
    }),
  },
  { weight: 6, arbitrary: fc.record({ type: fc.constant("recall" as const), pick: fc.nat(7) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      type: fc.constant("jar-round" as const),
      length: seconds(1, 200_000),
      remainder: fc.nat(1),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant("split" as const),
      daughters: fc.array(
        fc.record({ name: fc.nat(2), amount: amount(800), circle: fc.array(fc.nat(7), { maxLength: 3 }) }),
        { minLength: 1, maxLength: 2 },
      ),
    }),
  },
);

const actArb: fc.Arbitrary<ActSpec> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ type: fc.constant("donate" as const), fund: fc.nat(3), amount: amount(2000) }) },
  {
    weight: 7,
    arbitrary: fc.record({
      type: fc.constant("spend" as const),
      via: fc.constantFrom(
        "petty" as const,
        "budget" as const,
        "mandate" as const,
        "mandate" as const,
        "mandate" as const,
      ),
      fund: fc.nat(3),
      amount: amount(700),
      pick: fc.nat(7),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      type: fc.constant("propose" as const),
      method: fc.constantFrom("majority" as const, "consent" as const),
      closesIn: seconds(0, 60_000),
      effect: fc.record({ type: fc.constant("recall" as const), pick: fc.nat(7) }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ type: fc.constant("transfer" as const), to: fc.nat(1), amount: amount(400) }) },
  {
    weight: 3,
    arbitrary: fc.record({ type: fc.constant("swap" as const), provider: fc.nat(7), minutes: amount(300) }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      type: fc.constant("propose" as const),
      method: fc.constantFrom("majority" as const, "majority" as const, "consent" as const, "ranked" as const),
      closesIn: fc.oneof(
        { weight: 4, arbitrary: seconds(0, 30_000) },
        { weight: 3, arbitrary: seconds(30_000, 150_000) },
        { weight: 1, arbitrary: fc.constant(null) },
      ),
      effect: effectArb,
    }),
  },
  {
    weight: 14,
    arbitrary: fc.record({
      type: fc.constant("vote" as const),
      pick: fc.nat(7),
      choice: fc.nat(7),
      anyStatus: fc.constantFrom(false, false, false, true),
    }),
  },
  {
    weight: 8,
    arbitrary: fc.record({
      type: fc.constant("role" as const),
      meeting: fc.nat(MEETINGS - 1),
      role: fc.constantFrom(0, 0, 1, 2),
      holder: fc.nat(3),
    }),
  },
  { weight: 2, arbitrary: fc.record({ type: fc.constant("contribute" as const), amount: amount(600) }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant("request" as const), amount: amount(500) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      type: fc.constant("dots" as const),
      picks: fc.array(fc.nat(15), { minLength: 1, maxLength: 3 }),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ type: "tick" as const }) },
);

/** Clock steps in whole seconds: often none (the counter breaks the tie), mostly a few, sometimes minutes. */
const advanceArb = fc.oneof(
  { weight: 2, arbitrary: fc.constant(0) },
  { weight: 6, arbitrary: seconds(1, 5_000) },
  { weight: 2, arbitrary: seconds(5_000, 60_000) },
  { weight: 1, arbitrary: seconds(60_000, 150_000) },
);

/** Effects of decisions taken before the split: mostly what later acts can use. */
const decidedEffectArb: fc.Arbitrary<EffectSpec> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      type: fc.constant("mandate" as const),
      delegate: fc.nat(7),
      allowance: fc.option(amount(1200), { freq: 6 }),
      startOffset: seconds(-30_000, 30_000),
      term: seconds(60_000, 800_000),
      recall: fc.nat(3),
    }),
  },
  { weight: 2, arbitrary: fc.record({ type: fc.constant("budget" as const), fund: fc.nat(3), amount: amount(1500) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      type: fc.constant("jar-round" as const),
      length: seconds(1_000, 200_000),
      remainder: fc.nat(1),
    }),
  },
  { weight: 2, arbitrary: fc.record({ type: fc.constant("expense" as const), fund: fc.nat(3), amount: amount(1500) }) },
  { weight: 4, arbitrary: fc.record({ type: fc.constant("recall" as const), pick: fc.nat(7) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      type: fc.constant("split" as const),
      daughters: fc.array(
        fc.record({ name: fc.nat(2), amount: amount(400), circle: fc.array(fc.nat(7), { maxLength: 3 }) }),
        { minLength: 1, maxLength: 2 },
      ),
    }),
  },
  { weight: 1, arbitrary: effectArb },
);

/** A decision everybody takes before the split. */
export const decisionArb: fc.Arbitrary<DecisionSpec> = fc.record({
  by: fc.nat(7),
  method: fc.constantFrom("majority" as const, "majority" as const, "consent" as const, "ranked" as const),
  closesIn: seconds(1, 30_000),
  effect: decidedEffectArb,
  ballots: fc.array(fc.constantFrom(0, 0, 0, 0, 1, 2, 3, null), { minLength: 8, maxLength: 8 }),
  settle: fc.boolean(),
});

/** One step of a script. */
export const stepArb: fc.Arbitrary<StepSpec> = fc.record({
  actor: fc.nat(7),
  advance: advanceArb,
  act: actArb,
  observe: fc.boolean(),
});

/** Charters with a positive petty-cash limit, a time debt limit and the three rotating roles. */
export const charterSpecArb: fc.Arbitrary<CharterSpec> = fc.record({
  pettyCashLimit: fc.integer({ min: 50, max: 500 }),
  timeDebtLimitMinutes: fc.integer({ min: 30, max: 600 }),
  splitThreshold: fc.integer({ min: 0, max: 2000 }),
  maxMandateTermMs: seconds(600_000, 1_200_000),
  thresholdOf: fc.constantFrom("cast" as const, "cast" as const, "eligible" as const),
  lowQuorum: fc.constantFrom(true, true, false),
});

/** Splits members 0..n-1 into 2 to 5 non-empty partitions from a raw assignment. */
export function groupsOf(members: number, assignment: readonly number[]): number[][] {
  const byKey = new Map<number, number[]>();
  for (let m = 0; m < members; m++) {
    const key = assignment[m] ?? 0;
    const group = byKey.get(key);
    if (group === undefined) byKey.set(key, [m]);
    else group.push(m);
  }
  const groups = [...byKey.entries()].sort(([a], [b]) => a - b).map(([, g]) => g);
  if (groups.length === 1) return [groups[0]!.slice(0, -1), groups[0]!.slice(-1)];
  return groups;
}

/** Histories of 3 to 8 founding members split into 2 to 5 partitions. */
export function historyArb(limits: HistoryLimits = {}): fc.Arbitrary<HistorySpec> {
  const perPartition = limits.maxPerPartition ?? 16;
  const budget = limits.partitionActs ?? 40;
  return fc
    .record({
      members: fc.integer({ min: 3, max: 8 }),
      charter: charterSpecArb,
      decisions: fc.array(decisionArb, { minLength: 1, maxLength: 5, size: "max" }),
      prefix: fc.array(stepArb, { maxLength: limits.maxPrefix ?? 12, size: "max" }),
      assignment: fc.array(fc.nat(4), { minLength: 8, maxLength: 8 }),
      steps: fc.array(fc.array(stepArb, { maxLength: perPartition, size: "max" }), { minLength: 5, maxLength: 5 }),
    })
    .map(({ members, charter, decisions: drawn, prefix, assignment, steps }) => {
      const groups = groupsOf(members, assignment);
      // The partitions share a budget of acts, so more partitions means fewer acts each.
      const each = Math.max(4, Math.floor(budget / groups.length));
      // Mandates first and recalls last, so that recalls have a mandate to target.
      const rank = (d: DecisionSpec) => (d.effect.type === "mandate" ? 0 : d.effect.type === "recall" ? 2 : 1);
      const decisions = [...drawn].sort((a, b) => rank(a) - rank(b));
      return {
        members,
        charter,
        decisions,
        prefix,
        groups,
        partitions: groups.map((_, i) => (steps[i] ?? []).slice(0, each)),
      };
    });
}

/**
 * A delegate spending under their mandate in one partition while the rest of the council votes to recall it in
 * another, both partitions stepping by whole seconds from the same clock, so acts often share the decisive vote's clock.
 */
export function recallRaceArb(): fc.Arbitrary<HistorySpec> {
  const tick = fc.constantFrom(0, 1_000, 1_000, 2_000);
  // Each pair is the delegate's next spend and the next ballot elsewhere, mostly after the same pause.
  const pair = fc.record({
    pause: tick,
    otherPause: tick,
    together: fc.constantFrom(true, true, true, false),
    amount: amount(300),
    choice: fc.constantFrom(0, 0, 0, 2),
    observe: fc.boolean(),
  });
  return fc
    .record({
      members: fc.integer({ min: 3, max: 4 }),
      // Mostly thresholds that one ballot can reach, so the recall happens inside the race.
      recall: fc.constantFrom(1, 2, 3, 1, 2, 3, 0),
      pairs: fc.array(pair, { minLength: 2, maxLength: 4 }),
    })
    .map(({ members, recall, pairs }) => {
      const spends: StepSpec[] = pairs.map((p) => ({
        actor: 0,
        advance: p.pause,
        act: { type: "spend", via: "mandate", fund: 0, amount: p.amount, pick: 0 },
        observe: p.observe,
      }));
      const votes: StepSpec[] = pairs.map((p) => ({
        actor: 0,
        advance: p.together ? p.pause : p.otherPause,
        act: { type: "vote", pick: 0, choice: p.choice, anyStatus: false },
        observe: !p.observe,
      }));
      return {
        members,
        charter: {
          pettyCashLimit: 100,
          timeDebtLimitMinutes: 60,
          splitThreshold: 0,
          maxMandateTermMs: 3_600_000,
          thresholdOf: "cast" as const,
          lowQuorum: true,
        },
        decisions: [
          {
            by: 0,
            method: "majority" as const,
            closesIn: 5_000,
            effect: {
              type: "mandate" as const,
              delegate: 0,
              allowance: 1_000,
              startOffset: 0,
              term: 3_000_000,
              recall,
            },
            ballots: Array.from({ length: members }, () => 0),
            settle: true,
          },
          {
            by: 1,
            method: "majority" as const,
            closesIn: 60_000,
            effect: { type: "recall" as const, pick: 0 },
            ballots: Array.from({ length: members }, () => null),
            settle: false,
          },
        ],
        prefix: [],
        groups: [[0], Array.from({ length: members - 1 }, (_, i) => i + 1)],
        partitions: [spends, votes],
      };
    });
}

/**
 * Decisions left open at the split and voted apart: each partition steps by whole seconds, votes, spends and ticks, so
 * a deadline passes in some partitions and not in others and the merged count can overturn a closed outcome.
 */
export function splitVoteArb(): fc.Arbitrary<HistorySpec> {
  const step = fc.record({
    actor: fc.nat(7),
    advance: fc.constantFrom(0, 1_000, 2_000, 5_000, 10_000, 20_000),
    act: fc.oneof(
      {
        weight: 6,
        arbitrary: fc.record({
          type: fc.constant("vote" as const),
          pick: fc.nat(7),
          choice: fc.nat(7),
          anyStatus: fc.constant(false),
        }),
      },
      { weight: 2, arbitrary: actArb },
      { weight: 1, arbitrary: fc.constant({ type: "tick" as const }) },
    ),
    observe: fc.boolean(),
  });
  return fc
    .record({
      members: fc.integer({ min: 3, max: 6 }),
      charter: charterSpecArb,
      settled: fc.array(decisionArb, { maxLength: 2 }),
      open: fc.array(decisionArb, { minLength: 2, maxLength: 3 }),
      assignment: fc.array(fc.nat(2), { minLength: 8, maxLength: 8 }),
      steps: fc.array(fc.array(step, { minLength: 3, maxLength: 8 }), { minLength: 3, maxLength: 3 }),
    })
    .map(({ members, charter, settled, open, assignment, steps }) => {
      const groups = groupsOf(members, assignment);
      // Few ballots before the split, so the partitions' ballots decide; deadlines near the partitions' clocks.
      const apart = open.map((d) => ({
        ...d,
        settle: false,
        closesIn: d.closesIn % 20_000,
        ballots: d.ballots.map((b, i) => (i < 2 ? b : null)),
      }));
      return {
        members,
        charter,
        decisions: [...settled.map((d) => ({ ...d, settle: true })), ...apart],
        prefix: [],
        groups,
        partitions: groups.map((_, i) => steps[i] ?? []),
      };
    });
}

/** The charter a spec describes. */
export function charterOf(spec: CharterSpec): Partial<Charter> {
  return {
    pettyCashLimit: spec.pettyCashLimit,
    timeDebtLimitMinutes: spec.timeDebtLimitMinutes,
    splitThreshold: spec.splitThreshold,
    maxMandateTermMs: spec.maxMandateTermMs,
    threshold: { ratio: { num: 1, den: 2 }, of: spec.thresholdOf, cmp: ">" },
    quorum: spec.lowQuorum ? { ratio: { num: 1, den: 4 }, cmp: ">=" } : { ratio: { num: 1, den: 2 }, cmp: ">=" },
    roles: [...ROLES],
  };
}

/** Deterministic identities (member key and first device from fixed seeds), so failures reproduce across runs. */
export async function identityPool(size = 8): Promise<Identity[]> {
  const seed = (n: number) => new Uint8Array(32).fill(n);
  const out: Identity[] = [];
  for (let i = 0; i < size; i++) {
    const memberKey = await keypairFromSeed(seed(i + 1));
    const device = await keypairFromSeed(seed(i + 101));
    out.push({ member: memberKey.id as MemberId, device, memberKey });
  }
  return out;
}

/** A council replica: its two documents. */
export interface Replica {
  readonly council: PlainDocument<CouncilDoc>;
  readonly ledger: PlainDocument<LedgerDoc>;
}

/** An independent copy of a replica (new Automerge actors), as another device would hold. */
export function forkReplica(replica: Replica): Replica {
  return { council: replica.council.fork(), ledger: replica.ledger.fork() };
}

/** Merges everything `from` holds into `into`. */
export function mergeReplica(into: Replica, from: Replica): void {
  into.council.merge(from.council);
  into.ledger.merge(from.ledger);
}

/** A partition after it acted: its replica, each member's council on it, and a watcher that refreshed as it went. */
export interface PartitionRun {
  readonly members: readonly number[];
  readonly replica: Replica;
  readonly councils: readonly Council[];
  /** Opened before the partition's first act (for partition 0: at founding) with the fold options of the run. */
  readonly watcher: Council;
  readonly clock: { t: number };
}

/** A played history. */
export interface HistoryRun {
  readonly identities: readonly Identity[];
  readonly partitions: readonly PartitionRun[];
  /** Acts written, founding setup included. */
  readonly acts: number;
}

const RECALL_THRESHOLDS = [
  { ratio: { num: 1, den: 2 }, of: "eligible", cmp: ">" },
  { ratio: { num: 1, den: 2 }, of: "cast", cmp: ">" },
  { ratio: { num: 1, den: 3 }, of: "cast", cmp: ">=" },
  { ratio: { num: 1, den: 4 }, of: "eligible", cmp: ">=" },
] as const;

const pick = <T>(list: readonly T[], n: number): T | undefined => list[n % Math.max(1, list.length)];

function cashFunds(state: CouncilState): string[] {
  return state.funds.filter((f) => f.type === "cash").map((f) => f.id);
}

function ballotFor(p: ProposalState, choice: number): Ballot {
  if (p.method === "consent")
    return { method: "consent", choice: (["consent", "consent", "object", "stand-aside"] as const)[choice % 4]! };
  if (p.method === "ranked") {
    const rotated = p.options.map((_, i) => p.options[(i + choice) % p.options.length]!);
    return { method: "ranked", ranking: rotated.slice(0, 1 + (choice % p.options.length)) };
  }
  return { method: "majority", choice: (["yes", "yes", "no", "abstain"] as const)[choice % 4]! };
}

function effectOf(spec: EffectSpec, state: CouncilState, ids: readonly Identity[], closesAt: number): Effect | null {
  const n = ids.length;
  switch (spec.type) {
    case "none":
      return { type: "none" };
    case "expense":
      return { type: "expense", fund: pick(cashFunds(state), spec.fund)!, amount: spec.amount, payee: "vendor" };
    case "budget":
      return { type: "budget", fund: pick(cashFunds(state), spec.fund)!, amount: spec.amount };
    case "mandate": {
      const startsAt = Math.max(0, closesAt + spec.startOffset);
      return {
        type: "mandate",
        delegate: ids[spec.delegate % n]!.member,
        body: "federation",
        instructions: "Carry the assembly's line",
        positions: { "*": ["yes", "abstain"] },
        ...(spec.allowance === null ? {} : { allowance: { fund: "cash", amount: spec.allowance } }),
        startsAt,
        expiresAt: startsAt + spec.term,
        recall: RECALL_THRESHOLDS[spec.recall % RECALL_THRESHOLDS.length]!,
      };
    }
    case "recall": {
      const mandate = pick(state.mandates, spec.pick);
      return mandate === undefined ? null : { type: "recall", mandate: mandate.id };
    }
    case "jar-round":
      return {
        type: "jar-round",
        jar: JAR,
        closesAt: closesAt + spec.length,
        remainderTo: CASH_FUNDS[spec.remainder % 2]!,
      };
    case "split":
      return {
        type: "split",
        fund: "cash",
        daughters: spec.daughters.map((d) => ({
          fund: DAUGHTERS[d.name % DAUGHTERS.length]!,
          amount: d.amount,
          circle: d.circle.map((i) => ids[i % n]!.member),
        })),
      };
  }
}

/** Where an act is played: a partition's members, their councils on the partition's replica, and its clock. */
export interface ActContext {
  readonly ids: readonly Identity[];
  readonly group: readonly number[];
  readonly councils: ReadonlyMap<number, Council>;
  readonly now: number;
}

/**
 * Plays one act by member `actor` of the partition, resolving the act's picks against the partition's current state.
 * A vote is cast by a member who has not yet voted on an open proposal, and a mandate spend by a delegate present in
 * the partition, when there is one: random scripts would otherwise rarely reach a quorum or a delegate.
 */
export async function perform(ctx: ActContext, actor: number, act: ActSpec): Promise<void> {
  const { ids, now } = ctx;
  const n = ids.length;
  let me = actor;
  const council = () => ctx.councils.get(me)!;
  const state = await council().state();
  const self = () => ids[me]!.member;
  const index = (member: string) => ids.findIndex((i) => i.member === member);
  switch (act.type) {
    case "donate":
      await council().ledger.donate(pick(cashFunds(state), act.fund)!, act.amount, "a neighbour");
      return;
    case "spend": {
      const fund = pick(cashFunds(state), act.fund)!;
      if (act.via === "budget" && (state.budgets.length > 0 || state.proposals.length > 0)) {
        // Without a budget, a proposal id that is not one: the expense must be held.
        const budget = pick(state.budgets, act.pick);
        const id = budget?.proposal ?? pick(state.proposals, act.pick)!.id;
        await council().ledger.spend(budget?.fund ?? fund, act.amount, "printer", { budget: id });
        return;
      }
      if (act.via === "mandate" && state.mandates.length > 0) {
        const here = state.mandates.filter((m) => ctx.group.includes(index(m.delegate)));
        // Now and then a member who is not the delegate tries: that expense must be held.
        const mandate = pick(act.pick % 4 !== 3 ? here : state.mandates, act.pick);
        if (mandate === undefined) {
          await council().ledger.spend(fund, act.amount, "stationery", "petty");
          return;
        }
        if (act.pick % 4 !== 3 && ctx.group.includes(index(mandate.delegate))) me = index(mandate.delegate);
        const where = mandate.allowance?.fund ?? fund;
        await council().ledger.spend(where, act.amount, "train fare", { mandate: mandate.id });
        return;
      }
      await council().ledger.spend(fund, act.amount, "stationery", "petty");
      return;
    }
    case "transfer":
      await council().ledger.transfer("cash", act.to % 2 === 0 ? JAR : "reserve", act.amount, "petty");
      return;
    case "swap": {
      const provider = ids[(me + 1 + (act.provider % (n - 1))) % n]!.member;
      await council().ledger.swap(TIME_FUND, provider, act.minutes, "an hour of childcare");
      return;
    }
    case "propose": {
      const closesAt = act.closesIn === null ? now + 7 * DAY : now + act.closesIn;
      const effect = effectOf(act.effect, state, ids, closesAt);
      const deadline = act.closesIn === null ? {} : { closesAt };
      if (effect?.type === "mandate") {
        const { type: _, ...mandate } = effect;
        await council().proposeMandate({ ...mandate, ...deadline });
        return;
      }
      if (effect?.type === "recall") {
        await council().proposeRecall(effect.mandate as MandateId, undefined, deadline.closesAt);
        return;
      }
      await council().propose({
        title: `${act.method} on ${effect?.type ?? "nothing"}`,
        method: act.method,
        ...(act.method === "ranked" ? { options: OPTIONS } : {}),
        ...deadline,
        ...(effect === null || effect.type === "none" ? {} : { effect }),
      });
      return;
    }
    case "vote": {
      const pending = state.proposals
        .filter((p) => p.status === "open")
        .flatMap((p) =>
          ctx.group
            .filter((m) => p.electorate.includes(ids[m]!.member) && p.votes[ids[m]!.member] === undefined)
            .map((m) => ({ p, m })),
        );
      const chosen = act.anyStatus ? undefined : pick(pending, act.pick);
      if (chosen !== undefined) me = chosen.m;
      const proposal =
        chosen?.p ??
        pick(
          state.proposals.filter((p) => p.electorate.includes(self())),
          act.pick,
        );
      if (proposal === undefined) break;
      await council().vote(proposal.id, ballotFor(proposal, act.choice));
      return;
    }
    case "role":
      await council().assignRole(
        `meeting-${act.meeting}`,
        ROLES[act.role % ROLES.length]!,
        ids[act.holder % n]!.member,
      );
      return;
    case "contribute":
      await council().ledger.contribute(JAR, act.amount);
      return;
    case "request":
      await council().ledger.request(JAR, act.amount, "seed money");
      return;
    case "dots": {
      const excluded = new Set(state.excluded.map((e) => e.id));
      const requests = council()
        .records.filter((r) => r.kind === "jar.request" && !excluded.has(r.id))
        .slice(-4)
        .map((r) => r.id);
      if (requests.length === 0) break;
      const dots: Record<string, number> = {};
      for (const p of act.picks) {
        const id = pick(requests, p)!;
        dots[id] = (dots[id] ?? 0) + 1 + ((p >> 2) % 3);
      }
      await council().ledger.dots(JAR, dots);
      return;
    }
    case "tick":
      break;
  }
  await council().tick();
}

/** Options of a run. */
export interface PlayOptions {
  /** Checkpoint spacing of the watchers (small values force late records to restore checkpoints). */
  readonly checkpointEvery?: number;
}

async function playSteps(
  steps: readonly StepSpec[],
  group: readonly number[],
  councils: ReadonlyMap<number, Council>,
  watcher: Council,
  clock: { t: number },
  ids: readonly Identity[],
): Promise<number> {
  for (const step of steps) {
    clock.t += step.advance;
    await perform({ ids, group, councils, now: clock.t }, group[step.actor % group.length]!, step.act);
    if (step.observe) await watcher.refresh();
  }
  return steps.length;
}

/** Takes a decision with everybody present: propose, vote, then tick past the deadline so it closes. */
async function decide(
  decision: DecisionSpec,
  councils: ReadonlyMap<number, Council>,
  clock: { t: number },
  ids: readonly Identity[],
): Promise<number> {
  const proposer = decision.by % ids.length;
  clock.t += 1_000;
  const before = new Set((await councils.get(proposer)!.state()).proposals.map((p) => p.id));
  // A proposal left open must outlive the prefix, so that the partitions vote on it apart.
  const closesIn = decision.settle ? decision.closesIn : 20_000 + decision.closesIn * 2;
  const act: ActSpec = { type: "propose", method: decision.method, closesIn, effect: decision.effect };
  await perform({ ids, group: [proposer], councils, now: clock.t }, proposer, act);
  const closesAt = clock.t + closesIn;
  let acts = 1;
  for (const [m, choice] of decision.ballots.slice(0, ids.length).entries()) {
    if (choice === null || (!decision.settle && m % 2 === 1)) continue;
    const council = councils.get(m)!;
    const opened = (await council.state()).proposals.find((p) => !before.has(p.id));
    if (opened === undefined) break;
    clock.t += Math.min(200, Math.max(0, closesAt - clock.t));
    await council.vote(opened.id, ballotFor(opened, choice));
    acts++;
  }
  if (!decision.settle) return acts;
  clock.t = Math.max(clock.t, closesAt) + 1;
  await councils.get(proposer)!.tick();
  return acts + 1;
}

/**
 * Plays a history: founds the council (every member a founder who then authorises their device), creates the funds,
 * plays the common prefix on one replica, forks it per partition and plays each partition on its own replica with
 * its own clock. Partition 0 keeps the founding replica and the councils opened on it.
 */
export async function playHistory(spec: HistorySpec, pool: readonly Identity[], options: PlayOptions = {}) {
  const ids = pool.slice(0, spec.members);
  const clock = { t: ORIGIN_MS };
  const now = () => clock.t;
  const docs = await foundCouncil(ids[0]!, {
    name: "Property co-op",
    founders: ids.slice(1).map((i) => i.member),
    charter: charterOf(spec.charter),
    now,
  });
  const fold = options.checkpointEvery === undefined ? {} : { checkpointEvery: options.checkpointEvery };
  const root: Replica = { council: new PlainDocument(docs.council), ledger: new PlainDocument(docs.ledger) };
  const rootWatcher = await Council.open(root, fold);
  const everyone = new Map<number, Council>();
  for (const [i, identity] of ids.entries()) everyone.set(i, await Council.open(root, { identity, now }));
  let acts = 0;
  for (const [i, identity] of ids.entries()) {
    if (i === 0) continue;
    clock.t += 1;
    await everyone.get(i)!.authorizeDevice(identity.device.id as DeviceId, "phone");
    acts++;
  }
  const founder = everyone.get(0)!;
  for (const fund of CASH_FUNDS) await founder.ledger.createFund(fund, "cash");
  await founder.ledger.createFund(TIME_FUND, "time");
  await founder.ledger.createFund(JAR, "jar");
  await founder.ledger.donate("cash", 1000, "founding appeal");
  acts += CASH_FUNDS.length + 3;
  await rootWatcher.refresh();
  const all = ids.map((_, i) => i);
  for (const decision of spec.decisions) {
    acts += await decide(decision, everyone, clock, ids);
    if (decision.by % 2 === 0) await rootWatcher.refresh();
  }
  acts += await playSteps(spec.prefix, all, everyone, rootWatcher, clock, ids);
  await rootWatcher.refresh();

  const partitions: PartitionRun[] = [];
  for (const [p, group] of spec.groups.entries()) {
    if (p === 0) {
      partitions.push({
        members: group,
        replica: root,
        councils: group.map((m) => everyone.get(m)!),
        watcher: rootWatcher,
        clock,
      });
      continue;
    }
    const replica = forkReplica(root);
    const own = { t: clock.t };
    const watcher = await Council.open(replica, fold);
    const councils = new Map<number, Council>();
    for (const m of group) councils.set(m, await Council.open(replica, { identity: ids[m]!, now: () => own.t }));
    partitions.push({ members: group, replica, councils: [...councils.values()], watcher, clock: own });
  }
  for (const [p, part] of partitions.entries()) {
    const councils = new Map(part.members.map((m, i) => [m, part.councils[i]!] as const));
    acts += await playSteps(spec.partitions[p] ?? [], part.members, councils, part.watcher, part.clock, ids);
  }
  return { identities: ids, partitions, acts } satisfies HistoryRun;
}

/** The state as one canonical string: the view is built sorted, so equal record sets give equal strings. */
export function canonical(state: CouncilState): string {
  return JSON.stringify(state);
}

const CREDITS = new Set<LedgerEntry["type"]>(["donation", "transfer-in", "jar-contribution", "split-in"]);
const DEBITS = new Set<LedgerEntry["type"]>(["expense", "transfer-out", "jar-payout", "jar-remainder", "split-out"]);

/** An applied entry's effect on its fund's balance (swaps move time accounts, not the balance). */
export function signedAmount(e: LedgerEntry): number {
  if (e.status !== "applied") return 0;
  if (CREDITS.has(e.type)) return e.amount;
  if (DEBITS.has(e.type)) return -e.amount;
  return 0;
}

function approvalOf(r: FederaRecord | undefined) {
  if (r?.kind === "ledger.spend") return (r as FederaRecord<"ledger.spend">).body.approval;
  if (r?.kind === "ledger.transfer") return (r as FederaRecord<"ledger.transfer">).body.approval;
  return undefined;
}

function checkTimeFund(f: FundState, charter: Charter, problems: string[]): void {
  const balances = Object.entries(f.accounts);
  const sum = balances.reduce((s, [, v]) => s + v, 0);
  if (sum !== 0) problems.push(`time fund ${f.id} accounts sum to ${sum}, not 0`);
  for (const [member, v] of balances)
    if (v < -charter.timeDebtLimitMinutes)
      problems.push(`time fund ${f.id}: ${member} at ${v}, below -${charter.timeDebtLimitMinutes}`);
  if (f.balance !== 0) problems.push(`time fund ${f.id} has a money balance ${f.balance}`);
}

function checkMandateSpends(state: CouncilState, byId: ReadonlyMap<string, FederaRecord>, problems: string[]): void {
  const spent = new Map<string, number>();
  for (const e of state.ledger) {
    if (e.status !== "applied" || (e.type !== "expense" && e.type !== "transfer-out")) continue;
    const record = byId.get(e.record);
    const approval = approvalOf(record);
    if (approval?.kind !== "mandate") continue;
    const mandate = state.mandates.find((m) => m.id === approval.mandate);
    if (mandate === undefined) {
      problems.push(`entry ${e.record} applied under an unknown mandate ${approval.mandate}`);
      continue;
    }
    if (record!.author !== mandate.delegate)
      problems.push(`entry ${e.record} applied by a member who is not the delegate`);
    const before = spent.get(mandate.id) ?? 0;
    const verdict = mandateAllows(
      { ...mandate, spent: before },
      { type: "spend", fund: e.fund, amount: e.amount, at: e.at },
    );
    if (!verdict.ok)
      problems.push(
        `entry ${e.record} (${e.amount} at ${e.at.ms}.${e.at.c}) applied under mandate ${mandate.id.slice(0, 8)} ` +
          `[${mandate.startsAt}, ${mandate.expiresAt}] recalled ${JSON.stringify(mandate.recalledAt)}: ${verdict.reason}`,
      );
    spent.set(mandate.id, before + e.amount);
  }
  for (const m of state.mandates) {
    const total = spent.get(m.id) ?? 0;
    if (total !== m.spent)
      problems.push(`mandate ${m.id.slice(0, 8)} says spent ${m.spent}, its entries sum to ${total}`);
    if (total > 0 && (m.allowance === null || total > m.allowance.amount))
      problems.push(`mandate ${m.id.slice(0, 8)} spent ${total} over its allowance ${JSON.stringify(m.allowance)}`);
  }
}

function checkBudgets(state: CouncilState, byId: ReadonlyMap<string, FederaRecord>, problems: string[]): void {
  const spent = new Map<string, number>();
  for (const e of state.ledger) {
    const approval = e.status === "applied" ? approvalOf(byId.get(e.record)) : undefined;
    if (approval?.kind !== "budget" || (e.type !== "expense" && e.type !== "transfer-out")) continue;
    spent.set(approval.proposal, (spent.get(approval.proposal) ?? 0) + e.amount);
  }
  for (const b of state.budgets) {
    const p = state.proposals.find((x) => x.id === b.proposal);
    const granted = p?.effect.type === "budget" && p.status === "passed" ? p.effect.amount : undefined;
    const used = spent.get(b.proposal) ?? 0;
    if (granted === undefined || b.remaining !== granted - used || b.remaining < 0)
      problems.push(`budget ${b.proposal.slice(0, 8)}: granted ${granted}, spent ${used}, remaining ${b.remaining}`);
    spent.delete(b.proposal);
  }
  for (const [id, used] of spent) problems.push(`${used} spent under ${id.slice(0, 8)}, which is no budget`);
}

function checkJar(f: FundState, state: CouncilState, problems: string[]): void {
  const rounds = state.proposals
    .filter((p) => p.status === "passed" && p.effect.type === "jar-round" && p.effect.jar === f.id)
    .filter((p) => p.effectOutcome?.applied === true)
    .map((p) => (p.effect as Extract<Effect, { type: "jar-round" }>).closesAt);
  const closed = rounds.filter((c) => c < state.horizon.ms);
  const open = rounds.filter((c) => c >= state.horizon.ms);
  if (closed.length !== f.roundsClosed)
    problems.push(`jar ${f.id}: ${f.roundsClosed} rounds closed, ${closed.length} due`);
  if (open.length > 1 || (open.length === 1) !== (f.round !== null) || (f.round && f.round.closesAt !== open[0]))
    problems.push(`jar ${f.id}: open round ${JSON.stringify(f.round)} but rounds due later ${JSON.stringify(open)}`);
  const entries = state.ledger.filter((e) => e.fund === f.id);
  for (const close of closed) {
    const left = entries.filter((e) => e.at.ms <= close).reduce((s, e) => s + signedAmount(e), 0);
    if (left !== 0) problems.push(`jar ${f.id} holds ${left} after its round closed at ${close}`);
  }
}

function checkRotation(state: CouncilState, problems: string[]): void {
  // Membership never changes in generated histories, so the eligible set is the founders throughout.
  if (state.formerMembers.length > 0 || state.members.some((m) => m.admittedBy !== "genesis")) return;
  const members = state.members.map((m) => m.id);
  for (const role of state.roles) {
    let cycle = new Set<string>();
    const meetings = new Set<string>();
    for (const h of role.holders) {
      if (meetings.has(h.meeting)) problems.push(`${role.role} of ${h.meeting} applied twice`);
      meetings.add(h.meeting);
      const fresh = members.filter((m) => !cycle.has(m));
      const expected = fresh.length > 0 && !fresh.includes(h.holder);
      if (h.violation !== expected)
        problems.push(
          `${role.role} of ${h.meeting} to ${h.holder.slice(-6)}: violation ${h.violation}, rule says ${expected}`,
        );
      if (h.violation) {
        const flagged = state.conflicts.some(
          (c) => c.type === "rotation-violation" && compareHlc(c.at, h.at) === 0 && c.detail.includes(h.holder),
        );
        if (!flagged) problems.push(`${role.role} of ${h.meeting}: violation without a rotation-violation conflict`);
      }
      cycle.add(h.holder);
      if (members.every((m) => cycle.has(m))) cycle = new Set();
    }
  }
}

function checkVotes(state: CouncilState, records: readonly FederaRecord[], problems: string[]): void {
  const position = new Map(records.map((r, i) => [r.id as string, i]));
  const votes = records.filter((r): r is FederaRecord<"proposal.vote"> => r.kind === "proposal.vote");
  for (const p of state.proposals) {
    // A recall closes at the vote that reached its threshold; anything after that point is late too.
    const early = p.history.find((h) => h.event === "close" && h.record !== null);
    const end = early?.record ? (position.get(early.record) ?? -1) : Number.POSITIVE_INFINITY;
    const yesNo = (m: string) => (m === "majority" || m === "supermajority" ? "yes-no" : m);
    const expected = new Map<string, Ballot>();
    for (const r of votes) {
      if (r.body.proposal !== p.id || !p.electorate.includes(r.author)) continue;
      if (r.at.ms > p.closesAt || position.get(r.id)! > end) continue;
      if (yesNo(r.body.ballot.method) !== yesNo(p.method)) continue;
      expected.set(r.author, r.body.ballot as Ballot);
    }
    const counted = Object.keys(p.votes).sort();
    const wanted = [...expected.keys()].sort();
    if (JSON.stringify(counted) !== JSON.stringify(wanted))
      problems.push(`proposal ${p.id.slice(0, 8)} counts voters ${counted.length}, on-time voters ${wanted.length}`);
    for (const [voter, ballot] of expected)
      if (JSON.stringify(p.votes[voter]) !== JSON.stringify(ballot))
        problems.push(
          `proposal ${p.id.slice(0, 8)} counts a ballot of ${voter.slice(-6)} that is not their last on time`,
        );
    if (p.status !== "open" && p.result?.passed !== (p.status === "passed"))
      problems.push(`proposal ${p.id.slice(0, 8)} is ${p.status} but its count says passed=${p.result?.passed}`);
    if (p.status === "open" && p.closesAt < state.horizon.ms)
      problems.push(`proposal ${p.id.slice(0, 8)} still open after its deadline ${p.closesAt}`);
  }
}

function checkExpenses(state: CouncilState, problems: string[]): void {
  for (const p of state.proposals) {
    if (p.status !== "passed" || p.effect.type !== "expense") continue;
    const line = state.ledger.find((e) => e.record === p.id && e.type === "expense");
    if (line === undefined && p.effectOutcome?.applied !== false)
      problems.push(`passed expense ${p.id.slice(0, 8)} left no applied or held entry`);
  }
}

/**
 * Every invariant a derived state must satisfy, as a list of human-readable breaches (empty when all hold).
 * `records` are the valid records in derivation order (`council.records`).
 */
export function invariantBreaches(state: CouncilState, records: readonly FederaRecord[]): string[] {
  const problems: string[] = [];
  const charter = state.charter;
  if (charter === null) return ["no charter"];
  const byId = new Map<string, FederaRecord>(records.map((r) => [r.id, r]));
  if (state.records !== records.length)
    problems.push(`state counts ${state.records} records, fold holds ${records.length}`);
  for (const f of state.funds) {
    if (f.type === "time") {
      checkTimeFund(f, charter, problems);
      continue;
    }
    if (!Number.isSafeInteger(f.balance) || f.balance < 0) problems.push(`fund ${f.id} balance ${f.balance} below 0`);
    const sum = state.ledger.filter((e) => e.fund === f.id).reduce((s, e) => s + signedAmount(e), 0);
    if (sum !== f.balance) problems.push(`fund ${f.id} balance ${f.balance}, its applied entries sum to ${sum}`);
    if (f.type === "jar") checkJar(f, state, problems);
  }
  checkMandateSpends(state, byId, problems);
  checkBudgets(state, byId, problems);
  checkRotation(state, problems);
  checkVotes(state, records, problems);
  checkExpenses(state, problems);
  return problems;
}

/** What a derived state shows of the model, as counts, to check that generated histories reach the interesting cases. */
export function coverageOf(state: CouncilState, records: readonly FederaRecord[]): Record<string, number> {
  const byId = new Map<string, FederaRecord>(records.map((r) => [r.id, r]));
  const conflicts = (type: string) => state.conflicts.filter((c) => c.type === type).length;
  return {
    passed: state.proposals.filter((p) => p.status === "passed").length,
    outcomeChanged: state.proposals.filter((p) => p.history.filter((h) => h.event === "vote").length > 1).length,
    mandates: state.mandates.length,
    recalled: state.mandates.filter((m) => m.recalledAt !== null).length,
    mandateSpends: state.ledger.filter(
      (e) => e.status === "applied" && approvalOf(byId.get(e.record))?.kind === "mandate",
    ).length,
    held: state.ledger.filter((e) => e.status === "held").length,
    jarRounds: state.funds.reduce((n, f) => n + f.roundsClosed, 0),
    daughters: state.funds.filter((f) => f.parent !== null).length,
    lateVotes: conflicts("late-vote"),
    rotationViolations: conflicts("rotation-violation"),
    rotationConflicts: conflicts("rotation-conflict"),
    outOfMandate: conflicts("out-of-mandate"),
    recallTies: state.ledger.filter((e) => {
      const approval = approvalOf(byId.get(e.record));
      const mandate = approval?.kind === "mandate" ? state.mandates.find((m) => m.id === approval.mandate) : undefined;
      return mandate?.recalledAt != null && compareHlc(mandate.recalledAt, e.at) === 0;
    }).length,
  };
}

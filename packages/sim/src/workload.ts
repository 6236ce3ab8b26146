/**
 * What members do: the plan of acts drawn from a scenario's rates and script (every random choice drawn up front, so
 * network variants see the same workload), and the execution of each act on the member's own replica through core.
 */
import type { Effect, MandateId, ProposalId, RecordId } from "@federa/core";
import { Random } from "./random.js";
import type { Scenario, Step } from "./scenario.js";
import type { World } from "./world.js";
import { hasRecord } from "./world.js";

const HOUR = 3_600_000;

interface PlannedVote {
  readonly member: number;
  readonly delay: number;
  readonly choice: "yes" | "no" | "abstain";
}

interface PlannedFedVote {
  readonly council: number;
  /** Omitted: whoever holds the council's mandate when the vote is cast. */
  readonly member?: number;
  readonly delay: number;
  readonly position: string;
}

type EffectSpec = Extract<Step, { act: "propose" }>["effect"];

/** One act a member does at a time of the run. */
export type PlannedAct =
  | { kind: "donate"; council: number; member: number; fund: string; amount: number }
  | {
      kind: "spend";
      council: number;
      member: number;
      fund: string;
      amount: number;
      approval: "petty" | "mandate";
      payee: string;
    }
  | { kind: "swap"; council: number; member: number; provider: number; fund: string; minutes: number }
  | {
      kind: "propose";
      council: number;
      member: number;
      ref?: string;
      title: string;
      window: number;
      effect: EffectSpec;
      votes: PlannedVote[];
    }
  | {
      kind: "vote";
      council: number;
      member: number;
      proposal: string;
      choice: "yes" | "no" | "abstain";
      deadline?: number;
    }
  | {
      kind: "mandate";
      council: number;
      member: number;
      ref?: string;
      delegate: number;
      window: number;
      votes: PlannedVote[];
    }
  | { kind: "adopt-mandate"; council: number; delegate: number; mandate: string }
  | {
      kind: "recall";
      council: number;
      member: number;
      ref?: string;
      mandate?: string;
      window: number;
      votes: PlannedVote[];
    }
  | { kind: "contribute"; council: number; member: number; jar: string; amount: number }
  | { kind: "request"; council: number; member: number; ref: string; jar: string; amount: number; purpose: string }
  | { kind: "dots"; council: number; member: number; jar: string; dots: Readonly<Record<string, number>> }
  | { kind: "tick"; council: number; member: number }
  | {
      kind: "fed-propose";
      council: number;
      member: number;
      ref?: string;
      title: string;
      window: number;
      votes: PlannedFedVote[];
    }
  | { kind: "fed-vote"; council: number; member?: number; proposal: string; position: string; deadline?: number }
  | { kind: "fed-tick"; council: number; member: number }
  | {
      kind: "alert";
      council: number;
      member: number;
      ref?: string;
      what: string;
      responses: { council: number; member: number; delay: number }[];
    }
  | { kind: "respond"; council: number; member: number; alert: string };

/** An act and the run time it happens at. */
export interface Timed {
  readonly at: number;
  readonly act: PlannedAct;
}

/** What executing an act did. */
export type Outcome =
  | { readonly status: "written"; readonly next: readonly Timed[] }
  | { readonly status: "retry"; readonly at: number }
  | { readonly status: "skipped"; readonly reason: string }
  | { readonly status: "done"; readonly next: readonly Timed[] };

/** Arrival times of a Poisson process with `perHour` events per hour over [0, duration). */
function arrivals(random: Random, perHour: number, duration: number): number[] {
  if (perHour <= 0) return [];
  const out: number[] = [];
  for (let t = random.exponential(HOUR / perHour); t < duration; t += Math.max(1, random.exponential(HOUR / perHour)))
    out.push(t);
  return out;
}

function range(random: Random, r: { min: number; max: number }): number {
  return random.int(r.min, r.max);
}

/** Votes drawn from a plan (turnout, share of yes, delays) or taken as listed. */
function planVotes(
  random: Random,
  members: number,
  window: number,
  votes:
    | readonly { member: number; after: number; choice: "yes" | "no" | "abstain" }[]
    | { turnout: number; yes: number; delay?: { min: number; max: number } | undefined },
): PlannedVote[] {
  if (Array.isArray(votes)) return votes.map((v) => ({ member: v.member, delay: v.after, choice: v.choice }));
  const plan = votes as { turnout: number; yes: number; delay?: { min: number; max: number } };
  const delay = plan.delay ?? { min: 0, max: Math.floor(window / 2) };
  const out: PlannedVote[] = [];
  for (let m = 0; m < members; m++) {
    if (!random.chance(plan.turnout)) continue;
    out.push({ member: m, delay: range(random, delay), choice: random.chance(plan.yes) ? "yes" : "no" });
  }
  return out;
}

/** Every act the scenario schedules, drawn from the "workload" stream of the seed, in time order. */
export function planWorkload(scenario: Scenario, seed: number): Timed[] {
  const random = new Random(seed, "workload");
  const { count, members } = scenario.councils;
  const end = scenario.duration;
  const out: Timed[] = [];
  const w = scenario.workload.council;
  let n = 0;
  for (let c = 0; c < count; c++) {
    if (w.donate) {
      const d = w.donate;
      for (const at of arrivals(random, d.rate, end))
        out.push({
          at,
          act: {
            kind: "donate",
            council: c,
            member: random.int(0, members - 1),
            fund: d.fund,
            amount: range(random, d.amount),
          },
        });
    }
    if (w.spend) {
      const s = w.spend;
      for (const at of arrivals(random, s.rate, end))
        out.push({
          at,
          act: {
            kind: "spend",
            council: c,
            member: random.int(0, members - 1),
            fund: s.fund,
            amount: range(random, s.amount),
            approval: s.approval,
            payee: "supplier",
          },
        });
    }
    if (w.swap) {
      const s = w.swap;
      for (const at of arrivals(random, s.rate, end)) {
        const member = random.int(0, members - 1);
        const provider = (member + random.int(1, members - 1)) % members;
        out.push({
          at,
          act: { kind: "swap", council: c, member, provider, fund: s.fund, minutes: range(random, s.minutes) },
        });
      }
    }
    if (w.propose) {
      const p = w.propose;
      for (const at of arrivals(random, p.rate, end))
        out.push({
          at,
          act: {
            kind: "propose",
            council: c,
            member: random.int(0, members - 1),
            title: `Proposal ${++n}`,
            window: p.window,
            effect: { type: "none" },
            votes: planVotes(random, members, p.window, p),
          },
        });
    }
    if (w.recall) {
      const p = w.recall;
      for (const at of arrivals(random, p.rate, end))
        out.push({
          at,
          act: {
            kind: "recall",
            council: c,
            member: random.int(0, members - 1),
            window: p.window,
            votes: planVotes(random, members, p.window, p),
          },
        });
    }
    if (w.contribute) {
      const k = w.contribute;
      for (const at of arrivals(random, k.rate, end))
        out.push({
          at,
          act: {
            kind: "contribute",
            council: c,
            member: random.int(0, members - 1),
            jar: k.jar,
            amount: range(random, k.amount),
          },
        });
    }
  }
  const f = scenario.workload.federation;
  if (f.propose) {
    const p = f.propose;
    const delay = p.delay ?? { min: 0, max: Math.floor(p.window / 2) };
    for (const at of arrivals(random, p.rate, end)) {
      const votes: PlannedFedVote[] = [];
      for (let c = 0; c < count; c++) {
        if (!random.chance(p.turnout)) continue;
        votes.push({ council: c, delay: range(random, delay), position: random.weighted(p.positions) });
      }
      out.push({
        at,
        act: {
          kind: "fed-propose",
          council: random.int(0, count - 1),
          member: random.int(0, members - 1),
          title: `Federation proposal ${++n}`,
          window: p.window,
          votes,
        },
      });
    }
  }
  if (f.alert) {
    const a = f.alert;
    for (const at of arrivals(random, a.rate, end)) {
      const council = random.int(0, count - 1);
      const responses: { council: number; member: number; delay: number }[] = [];
      for (let c = 0; c < count; c++) {
        if (c === council || !random.chance(a.respond)) continue;
        responses.push({ council: c, member: random.int(0, members - 1), delay: range(random, a.delay) });
      }
      out.push({
        at,
        act: { kind: "alert", council, member: random.int(0, members - 1), what: `Alert ${++n}`, responses },
      });
    }
  }
  for (const step of scenario.script) out.push({ at: step.at, act: fromStep(step, random, scenario) });
  // Stable: acts at one time keep the order they were planned in.
  return out
    .map((t, i) => ({ t, i }))
    .sort((a, b) => a.t.at - b.t.at || a.i - b.i)
    .map((x) => x.t);
}

function fromStep(step: Step, random: Random, scenario: Scenario): PlannedAct {
  const members = scenario.councils.members;
  const count = scenario.councils.count;
  const ref = "id" in step && step.id !== undefined ? { ref: step.id } : {};
  switch (step.act) {
    case "donate":
      return { kind: "donate", council: step.council, member: step.member, fund: step.fund, amount: step.amount };
    case "spend":
      return {
        kind: "spend",
        council: step.council,
        member: step.member,
        fund: step.fund,
        amount: step.amount,
        approval: step.approval,
        payee: step.payee,
      };
    case "swap":
      return {
        kind: "swap",
        council: step.council,
        member: step.member,
        provider: step.provider,
        fund: step.fund,
        minutes: step.minutes,
      };
    case "propose":
      return {
        kind: "propose",
        council: step.council,
        member: step.member,
        ...ref,
        title: step.title ?? `Proposal ${step.id ?? step.at}`,
        window: step.window,
        effect: step.effect,
        votes: planVotes(random, members, step.window, step.votes),
      };
    case "vote":
      return { kind: "vote", council: step.council, member: step.member, proposal: step.proposal, choice: step.choice };
    case "mandate":
      return {
        kind: "mandate",
        council: step.council,
        member: step.member,
        ...ref,
        delegate: step.delegate,
        window: step.window,
        votes: planVotes(random, members, step.window, step.votes),
      };
    case "recall":
      return {
        kind: "recall",
        council: step.council,
        member: step.member,
        ...ref,
        ...(step.mandate !== undefined ? { mandate: step.mandate } : {}),
        window: step.window,
        votes: planVotes(random, members, step.window, step.votes),
      };
    case "contribute":
      return { kind: "contribute", council: step.council, member: step.member, jar: step.jar, amount: step.amount };
    case "request":
      return {
        kind: "request",
        council: step.council,
        member: step.member,
        ref: step.id,
        jar: step.jar,
        amount: step.amount,
        purpose: step.purpose,
      };
    case "dots":
      return { kind: "dots", council: step.council, member: step.member, jar: step.jar, dots: step.dots };
    case "tick":
      return { kind: "tick", council: step.council, member: step.member };
    case "fed-propose": {
      let votes: PlannedFedVote[];
      if (Array.isArray(step.votes))
        votes = step.votes.map((v) => ({
          council: v.council,
          delay: v.after,
          position: v.position,
          ...(v.member !== undefined ? { member: v.member } : {}),
        }));
      else {
        const plan = step.votes as { turnout: number; positions: Record<string, number> };
        votes = [];
        for (let c = 0; c < count; c++)
          if (random.chance(plan.turnout))
            votes.push({
              council: c,
              delay: random.int(0, Math.floor(step.window / 2)),
              position: random.weighted(plan.positions),
            });
      }
      return {
        kind: "fed-propose",
        council: step.council,
        member: step.member,
        ...ref,
        title: step.title ?? `Federation proposal ${step.id ?? step.at}`,
        window: step.window,
        votes,
      };
    }
    case "fed-vote":
      return {
        kind: "fed-vote",
        council: step.council,
        ...(step.member !== undefined ? { member: step.member } : {}),
        proposal: step.proposal,
        position: step.position,
      };
    case "alert": {
      const responses: { council: number; member: number; delay: number }[] = [];
      for (let c = 0; c < count; c++) {
        if (c === step.council || !random.chance(step.respond)) continue;
        responses.push({
          council: c,
          member: random.int(0, members - 1),
          delay: random.int(step.delay.min, step.delay.max),
        });
      }
      return { kind: "alert", council: step.council, member: step.member, ...ref, what: step.what, responses };
    }
  }
}

/** Executes planned acts on a world; `refs` maps script ids (and mandates) to record ids. */
export class Actor {
  readonly #world: World;
  readonly #refs = new Map<string, string>();
  /** Closing time (run ms) of each proposal written, by id. */
  readonly #closes = new Map<string, number>();

  constructor(world: World) {
    this.#world = world;
  }

  #resolve(ref: string): string | undefined {
    return this.#refs.get(ref) ?? (/^[0-9a-f]{64}$/.test(ref) ? ref : undefined);
  }

  #epoch(t: number): number {
    return this.#world.scenario.start + t;
  }

  /** Does what the act says at run time `t`; throws only on a failure core reports (counted by the caller). */
  async execute(act: PlannedAct, t: number): Promise<Outcome> {
    const world = this.#world;
    const retry = world.scenario.retry;
    const written = (next: Timed[] = []): Outcome => ({ status: "written", next });
    switch (act.kind) {
      case "donate": {
        await (await world.writer(act.council, act.member)).ledger.donate(act.fund, act.amount);
        return written();
      }
      case "spend": {
        if (act.approval === "mandate") {
          const d = world.delegates[act.council]!;
          if (d.mandate === null) return { status: "skipped", reason: "no mandate" };
          await (await world.writer(act.council, d.member)).ledger.spend(act.fund, act.amount, act.payee, {
            mandate: d.mandate,
          });
        } else
          await (await world.writer(act.council, act.member)).ledger.spend(act.fund, act.amount, act.payee, "petty");
        return written();
      }
      case "swap": {
        const provider = world.setup.councils[act.council]!.members[act.provider]!.member;
        await (await world.writer(act.council, act.member)).ledger.swap(act.fund, provider, act.minutes);
        return written();
      }
      case "propose":
      case "mandate":
      case "recall": {
        const council = await world.writer(act.council, act.member);
        const closesAt = this.#epoch(t + act.window);
        let id: ProposalId;
        if (act.kind === "propose")
          id = await council.propose({ title: act.title, closesAt, effect: this.#effect(act.effect, t) });
        else if (act.kind === "mandate") {
          const fed = world.scenario.federation!;
          const delegate = world.setup.councils[act.council]!.members[act.delegate]!.member;
          id = await council.proposeMandate({
            delegate,
            body: fed.name,
            instructions: "Represent the council in the federation",
            positions: fed.mandate.positions,
            ...(fed.mandate.allowance ? { allowance: fed.mandate.allowance } : {}),
            startsAt: closesAt,
            expiresAt: closesAt + fed.mandate.term,
            recall: { ratio: { num: 1, den: 2 }, of: "cast", cmp: ">" },
            closesAt,
          });
        } else {
          const mandate =
            act.mandate !== undefined ? this.#resolve(act.mandate) : world.delegates[act.council]!.mandate;
          if (mandate === undefined || mandate === null) return { status: "skipped", reason: "no mandate to recall" };
          id = await council.proposeRecall(mandate as MandateId, undefined, closesAt);
        }
        if (act.ref !== undefined) this.#refs.set(act.ref, id);
        this.#closes.set(id, t + act.window);
        const follow: Timed[] = act.votes.map((v) => ({
          at: t + v.delay,
          act: {
            kind: "vote",
            council: act.council,
            member: v.member,
            proposal: id,
            choice: v.choice,
            deadline: t + act.window,
          },
        }));
        // Someone writes a record after the deadline, so the close takes effect in derived state.
        follow.push({ at: t + act.window + 1000, act: { kind: "tick", council: act.council, member: act.member } });
        if (act.kind === "mandate")
          follow.push({
            at: t + act.window + 1000,
            act: { kind: "adopt-mandate", council: act.council, delegate: act.delegate, mandate: id },
          });
        return written(follow);
      }
      case "adopt-mandate": {
        world.delegates[act.council] = { member: act.delegate, mandate: act.mandate as MandateId };
        return { status: "done", next: [] };
      }
      case "vote": {
        const id = this.#resolve(act.proposal);
        if (id === undefined) return { status: "skipped", reason: "unknown proposal" };
        const deadline = act.deadline ?? this.#closes.get(id) ?? Number.POSITIVE_INFINITY;
        const home = world.home(act.council, act.member);
        if (!hasRecord(home.replicas.get(`c:${act.council}`)!.source.doc(), id))
          return t + retry <= deadline
            ? { status: "retry", at: t + retry }
            : { status: "skipped", reason: "proposal not seen in time" };
        await (await world.writer(act.council, act.member)).vote(id as ProposalId, {
          method: "majority",
          choice: act.choice,
        });
        return written();
      }
      case "contribute": {
        await (await world.writer(act.council, act.member)).ledger.contribute(act.jar, act.amount);
        return written();
      }
      case "request": {
        const id = await (await world.writer(act.council, act.member)).ledger.request(act.jar, act.amount, act.purpose);
        this.#refs.set(act.ref, id);
        return written();
      }
      case "dots": {
        const dots: Record<string, number> = {};
        const doc = world.home(act.council, act.member).replicas.get(`l:${act.council}`)!.source.doc();
        for (const [ref, n] of Object.entries(act.dots)) {
          const id = this.#resolve(ref);
          if (id === undefined) return { status: "skipped", reason: "unknown request" };
          if (!hasRecord(doc, id)) return { status: "retry", at: t + retry };
          dots[id] = n;
        }
        await (await world.writer(act.council, act.member)).ledger.dots(act.jar, dots);
        return written();
      }
      case "tick": {
        await (await world.writer(act.council, act.member)).tick();
        return written();
      }
      case "fed-propose": {
        const setup = world.setup.councils[act.council]!;
        const federation = await world.federationWriter(act.council, act.member);
        const id = await federation.propose({
          council: setup.id,
          title: act.title,
          closesAt: this.#epoch(t + act.window),
        });
        if (act.ref !== undefined) this.#refs.set(act.ref, id);
        this.#closes.set(id, t + act.window);
        const follow: Timed[] = act.votes.map((v) => ({
          at: t + v.delay,
          act: {
            kind: "fed-vote",
            council: v.council,
            ...(v.member !== undefined ? { member: v.member } : {}),
            proposal: id,
            position: v.position,
            deadline: t + act.window,
          },
        }));
        // As in councils: a record after the deadline lets the close take effect in derived state.
        follow.push({ at: t + act.window + 1000, act: { kind: "fed-tick", council: act.council, member: act.member } });
        return written(follow);
      }
      case "fed-vote": {
        const id = this.#resolve(act.proposal);
        if (id === undefined) return { status: "skipped", reason: "unknown proposal" };
        const deadline = act.deadline ?? this.#closes.get(id) ?? Number.POSITIVE_INFINITY;
        const delegate = world.delegates[act.council]!;
        const member = act.member ?? delegate.member;
        if (delegate.mandate === null) return { status: "skipped", reason: "no mandate" };
        const where = world.federationHome(act.council, member);
        if (!hasRecord(where.replicas.get("f")!.source.doc(), id))
          return t + retry <= deadline
            ? { status: "retry", at: t + retry }
            : { status: "skipped", reason: "proposal not seen in time" };
        // A delegate who has seen their council recall them stops voting; one cut off from the council does not know.
        const own = await (await world.writer(act.council, member)).state();
        if (own.mandates.find((m) => m.id === delegate.mandate)?.recalledAt)
          return { status: "skipped", reason: "delegate knows the mandate was recalled" };
        const federation = await world.federationWriter(act.council, member);
        await federation.vote(id as ProposalId, {
          council: world.setup.councils[act.council]!.id,
          mandate: delegate.mandate,
          position: act.position,
        });
        return written();
      }
      case "fed-tick": {
        await (await world.federationWriter(act.council, act.member)).tick();
        return written();
      }
      case "alert": {
        const setup = world.setup.councils[act.council]!;
        const federation = await world.federationWriter(act.council, act.member);
        const id = await federation.raiseAlert({ council: setup.id, what: act.what, needs: "solidarity" });
        if (act.ref !== undefined) this.#refs.set(act.ref, id);
        return written(
          act.responses.map((r) => ({
            at: t + r.delay,
            act: { kind: "respond", council: r.council, member: r.member, alert: id },
          })),
        );
      }
      case "respond": {
        const id = this.#resolve(act.alert);
        if (id === undefined) return { status: "skipped", reason: "unknown alert" };
        const where = world.federationHome(act.council, act.member);
        if (!hasRecord(where.replicas.get("f")!.source.doc(), id)) return { status: "retry", at: t + retry };
        const federation = await world.federationWriter(act.council, act.member);
        await federation.respondToAlert(id as RecordId, {
          council: world.setup.councils[act.council]!.id,
          offer: "help",
        });
        return written();
      }
    }
  }

  #effect(spec: EffectSpec, t: number): Effect {
    switch (spec.type) {
      case "none":
        return { type: "none" };
      case "budget":
        return { type: "budget", fund: spec.fund, amount: spec.amount };
      case "expense":
        return { type: "expense", fund: spec.fund, amount: spec.amount, payee: spec.payee };
      case "jar-round":
        return {
          type: "jar-round",
          jar: spec.jar,
          closesAt: this.#epoch(t + spec.closesIn),
          remainderTo: spec.remainderTo,
        };
    }
  }
}

/** Plays a story on the world step by step, resolving the names a story gives to the proposals and requests it makes. */
import type { MandateId, MemberId, ProposalId, RecordId } from "@federa/core";
import { COUNCILS, councilOf, FEDERATION_NAME } from "../peers/cast.js";
import { MINUTE } from "../peers/clock.js";
import type { World } from "../peers/world.js";
import type { Story, StoryAction } from "./story.js";

/** Minutes between two steps of a story. */
export const STEP_MINUTES = 4;

const money = (minor: number) => (minor / 100).toFixed(2);

/** Plays one story; `next()` plays the following step. */
export class StoryPlayer {
  readonly story: Story;
  readonly #world: World;
  readonly #refs = new Map<string, string>();
  #next = 0;

  constructor(world: World, story: Story) {
    this.story = story;
    this.#world = world;
  }

  /** Index of the step `next()` plays. */
  get position(): number {
    return this.#next;
  }

  get done(): boolean {
    return this.#next >= this.story.steps.length;
  }

  /** Plays the next step; returns its index. */
  async next(): Promise<number> {
    const index = this.#next;
    const step = this.story.steps[index];
    if (step === undefined) throw new Error("the story is over");
    this.#next++;
    // Each step happens a few minutes after the last, so clocks and timelines show the story's pace.
    if (index > 0) this.#world.clock.advance(STEP_MINUTES * MINUTE);
    this.#world.note(`${index + 1}. ${step.caption}`);
    for (const action of step.actions) await this.#play(action);
    // A step ends when the places that can reach each other hold the same documents, as they would a moment later.
    await this.#world.settle();
    return index;
  }

  #ref(name: string): string {
    const id = this.#refs.get(name);
    if (id === undefined) throw new Error(`the story has no "${name}" yet`);
    return id;
  }

  #member(person: string): MemberId {
    return this.#world.keys.members.get(person)!;
  }

  async #play(a: StoryAction): Promise<void> {
    const w = this.#world;
    switch (a.do) {
      case "cut":
      case "restore":
        return w.setLink(a.a, a.b, a.do === "restore");
      case "offline":
      case "online":
        return w.setOnline(a.place, a.do === "online");
      case "latency":
        return w.setLatency(a.place, a.ms);
      case "heal":
        return w.healAll();
      case "settle":
        await w.settle();
        return;
      case "advance":
        return w.advance(a.minutes * MINUTE);
    }
    const council = councilOf(a.as);
    const act = <T>(what: string, fn: Parameters<typeof w.act<T>>[4]) => w.act(a.at, a.as, council, what, fn);
    const fed = <T>(what: string, fn: Parameters<typeof w.actFederation<T>>[3]) =>
      w.actFederation(a.at, a.as, what, fn);
    const at = (minutes: number) => w.clock.peek() + minutes * MINUTE;
    switch (a.do) {
      case "spend":
        await act(`spends ${money(a.amount)} from ${a.fund} to ${a.payee}`, (c) =>
          c.ledger.spend(a.fund, a.amount, a.payee, "petty", a.memo),
        );
        return;
      case "donate":
        await act(`records ${money(a.amount)} into ${a.fund} from ${a.from}`, (c) =>
          c.ledger.donate(a.fund, a.amount, a.from),
        );
        return;
      case "propose":
        this.#refs.set(
          a.ref,
          await act(`proposes "${a.title}"`, (c) => c.propose({ title: a.title, closesAt: at(a.closesIn) })),
        );
        return;
      case "vote":
        await act(`votes ${a.choice}`, (c) =>
          c.vote(this.#ref(a.proposal) as ProposalId, { method: "majority", choice: a.choice }),
        );
        return;
      case "assign":
        await act(`asks ${a.holder} to be ${a.role} of the ${a.meeting}`, (c) =>
          c.assignRole(a.meeting, a.role, this.#member(a.holder)),
        );
        return;
      case "swap":
        await act(`records ${a.minutes} minutes of work from ${a.provider}`, (c) =>
          c.ledger.swap(a.fund, this.#member(a.provider), a.minutes, a.note),
        );
        return;
      case "contribute":
        await act(`puts ${money(a.amount)} in the ${a.jar}`, (c) => c.ledger.contribute(a.jar, a.amount));
        return;
      case "request":
        this.#refs.set(
          a.ref,
          await act(`asks the ${a.jar} for ${money(a.amount)}: ${a.purpose}`, (c) =>
            c.ledger.request(a.jar, a.amount, a.purpose),
          ),
        );
        return;
      case "dots": {
        const dots = Object.fromEntries(Object.entries(a.dots).map(([ref, n]) => [this.#ref(ref), n]));
        await act(`places dots on the ${a.jar}`, (c) => c.ledger.dots(a.jar, dots));
        return;
      }
      case "jar-round":
        this.#refs.set(
          a.ref,
          await act(`proposes a round of the ${a.jar}`, (c) =>
            c.propose({
              title: `A round of the ${a.jar}`,
              closesAt: at(a.closesIn),
              effect: { type: "jar-round", jar: a.jar, closesAt: at(a.roundCloses), remainderTo: a.remainderTo },
            }),
          ),
        );
        return;
      case "recall": {
        const delegate = this.#member(a.delegate);
        const state = w.snapshot().places[a.at].view?.councils[council];
        const mandate = state?.mandates.find((m) => m.delegate === delegate && m.recalledAt === null);
        if (mandate === undefined) throw new Error(`${a.delegate} holds no mandate`);
        this.#refs.set(
          a.ref,
          await act(`proposes recalling ${a.delegate}`, (c) =>
            c.proposeRecall(mandate.id, `Recall ${a.delegate}'s mandate`, at(a.closesIn)),
          ),
        );
        return;
      }
      case "tick":
        await act("writes a tick (deadlines up to now take effect)", (c) => c.tick());
        return;
      case "fed-propose":
        this.#refs.set(
          a.ref,
          await fed(`proposes "${a.title}" to the federation`, (f) =>
            f.propose({ council: this.#councilId(a.at, a.as), title: a.title, closesAt: at(a.closesIn) }),
          ),
        );
        return;
      case "fed-vote": {
        const mandate = this.#mandateOf(a.at, a.as);
        await fed(`votes ${a.position} for the ${COUNCILS[council].name}`, (f) =>
          f.vote(this.#ref(a.proposal) as ProposalId, {
            council: this.#councilId(a.at, a.as),
            mandate,
            position: a.position,
          }),
        );
        return;
      }
      case "alert":
        this.#refs.set(
          a.ref,
          await fed(`raises an alert: ${a.what}`, (f) =>
            f.raiseAlert({ council: this.#councilId(a.at, a.as), what: a.what, needs: a.needs }),
          ),
        );
        return;
      case "respond":
        await fed(`answers the alert for the ${COUNCILS[council].name}`, (f) =>
          f.respondToAlert(this.#ref(a.alert) as RecordId, { council: this.#councilId(a.at, a.as), offer: a.offer }),
        );
        return;
    }
  }

  #councilId(place: Parameters<World["node"]>[0], person: string) {
    return this.#world.node(place).council(councilOf(person)).council.id;
  }

  /** The mandate a delegate holds for the federation, as the place they act from sees it. */
  #mandateOf(place: Parameters<World["node"]>[0], person: string): MandateId {
    const state = this.#world.snapshot().places[place].view?.councils[councilOf(person)];
    const member = this.#member(person);
    const mandate = state?.mandates.find((m) => m.delegate === member && m.body === FEDERATION_NAME);
    if (mandate === undefined) throw new Error(`${person} holds no mandate for the federation`);
    return mandate.id;
  }
}

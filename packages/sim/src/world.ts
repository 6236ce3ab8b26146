/**
 * The simulated world: identities from seeds, councils founded and set up (funds, the delegate's mandate) and the
 * federation, then for each network variant the nodes, their replicas (clones with seeded actors) and the core
 * objects (`Council`, `Federation`) open on them.
 */
import * as A from "@automerge/automerge";
import { stringifyAutomergeUrl } from "@automerge/automerge-repo";
import type { CouncilId, FederationDoc, FederationId, Identity, MandateId, MemberId, ProposalId } from "@federa/core";
import {
  Council,
  defaultFederationCharter,
  Federation,
  foundCouncil,
  foundFederation,
  keypairFromSeed,
  MemoryVerifiedCache,
  storedValue,
} from "@federa/core";
import { Rebuilder, SimDocument, TeeSource } from "./document.js";
import type { DocKey, Replica, SimNode } from "./network.js";
import { Random } from "./random.js";
import type { Scenario, Topology } from "./scenario.js";

/** Setup happens in the two hours before time 0. */
export const SETUP_MS = 2 * 3_600_000;
const HOUR = 3_600_000;

/** What setup made for one council, shared by every variant. */
export interface CouncilSetup {
  readonly index: number;
  readonly id: CouncilId;
  readonly members: readonly Identity[];
  /** The mandate issued while setting up (to member 0), when there is a federation. */
  readonly mandate: MandateId | null;
}

/** Everything set up before the network exists: the same for every variant of a run. */
export interface Setup {
  readonly seed: number;
  readonly councils: readonly CouncilSetup[];
  readonly federation: FederationId | null;
  /** The documents as setup left them, by key; every replica is a clone of one of these. */
  readonly origins: ReadonlyMap<DocKey, A.Doc<unknown>>;
  readonly verified: MemoryVerifiedCache;
}

/** A clock the whole run shares: record clocks, Automerge change times, everything reads it. */
export interface Clock {
  /** Milliseconds since the epoch. */
  t: number;
}

/** A member from seeds; without a device of its own it acts with its member key (as on a shared council device). */
async function identity(random: Random, ownDevice: boolean): Promise<Identity> {
  const memberKey = await keypairFromSeed(random.bytes(32));
  const device = ownDevice ? await keypairFromSeed(random.bytes(32)) : memberKey;
  return { member: memberKey.id as string as MemberId, device, memberKey };
}

/** Founds and sets up every council and the federation, on one origin replica each. */
export async function setUp(
  scenario: Scenario,
  seed: number,
  onProgress: (done: number, total: number) => void = () => {},
): Promise<Setup> {
  const ids = new Random(seed, "identities");
  const actors = new Random(seed, "actors:origin");
  const verified = new MemoryVerifiedCache();
  const clock: Clock = { t: scenario.start - SETUP_MS };
  const now = () => clock.t;
  const origins = new Map<DocKey, A.Doc<unknown>>();
  const rebuilder = new Rebuilder(actorOf(actors));
  const rebuild = <T>(doc: A.Doc<T>, at: number) => rebuilder.rebuild(doc, actorOf(actors), at);
  const { count, members: size, charter: c, funds } = scenario.councils;
  const fed = scenario.federation;
  const charter = {
    ...(c.pettyCashLimit !== undefined ? { pettyCashLimit: c.pettyCashLimit } : {}),
    ...(c.timeDebtLimitMinutes !== undefined ? { timeDebtLimitMinutes: c.timeDebtLimitMinutes } : {}),
    ...(c.votingWindow !== undefined ? { votingWindowMs: c.votingWindow } : {}),
    ...(c.maxMandateTerm !== undefined ? { maxMandateTermMs: c.maxMandateTerm } : {}),
  };
  const councils: CouncilSetup[] = [];
  const mandateCloses = scenario.start - SETUP_MS + HOUR;
  for (let index = 0; index < count; index++) {
    clock.t = scenario.start - SETUP_MS;
    const members: Identity[] = [];
    // On a council's shared device only the founder's device is authorised; the others sign with their member keys.
    for (let m = 0; m < size; m++)
      members.push(await identity(ids, m === 0 || scenario.councils.placement === "member"));
    const founder = members[0]!;
    const founded = await foundCouncil(founder, {
      name: `Council ${index}`,
      founders: members.slice(1).map((x) => x.member),
      charter,
      now: () => (clock.t += 1000),
    });
    const council = new SimDocument(rebuild(founded.council, clock.t), now);
    const ledger = new SimDocument(rebuild(founded.ledger, clock.t), now);
    A.free(founded.council);
    A.free(founded.ledger);
    const tick = () => (clock.t += 1000);
    const open = (who: Identity) =>
      Council.open({ council, ledger } as never, { identity: who, now: tick, verified }) as Promise<Council>;
    const first = await open(founder);
    if (scenario.councils.placement === "member") {
      // Each member's own device acts for them: authorised by the member key, as an application would on first run.
      for (const other of members.slice(1)) await (await open(other)).authorizeDevice(other.device.id, "phone");
    }
    const acts: Parameters<Council["write"]>[0][number][] = funds.map((f) => ({
      kind: "fund.create",
      body: { fund: f.name, type: f.type },
    }));
    for (const f of funds)
      if (f.balance > 0) acts.push({ kind: "ledger.donate", body: { fund: f.name, amount: f.balance } });
    let mandate: MandateId | null = null;
    if (fed !== undefined) {
      // The assembly's decision to mandate its first member, passed by the founder's vote (quorum 0 while setting up).
      const proposal: ProposalId = await first.propose({
        title: `Mandate to ${fed.name}`,
        closesAt: mandateCloses,
        quorum: { ratio: { num: 0, den: 1 }, cmp: ">=" },
        effect: {
          type: "mandate",
          delegate: founder.member,
          body: fed.name,
          instructions: "Represent the council in the federation",
          positions: fed.mandate.positions,
          ...(fed.mandate.allowance ? { allowance: fed.mandate.allowance } : {}),
          startsAt: mandateCloses,
          expiresAt: mandateCloses + fed.mandate.term,
          recall: { ratio: { num: 1, den: 2 }, of: "cast", cmp: ">" },
        },
      });
      await first.vote(proposal, { method: "majority", choice: "yes" });
      mandate = proposal as string as MandateId;
      // The funds are set up after the close, so their records also let the close (and the mandate) take effect.
      clock.t = mandateCloses;
      if (acts.length === 0) acts.push({ kind: "tick", body: {} });
    }
    if (acts.length > 0) await first.write(acts);
    origins.set(`c:${index}`, council.doc());
    origins.set(`l:${index}`, ledger.doc());
    councils.push({ index, id: first.id, members, mandate });
    if (index % 25 === 24 || index === count - 1) onProgress(index + 1, count);
  }
  let federation: FederationId | null = null;
  if (fed !== undefined) {
    clock.t = mandateCloses + 60_000;
    const founded = await foundFederation(councils[0]!.members[0]!, {
      name: fed.name,
      councils: councils.map((x) => x.id),
      charter: {
        ...(fed.pledgeWindow !== undefined ? { pledgeWindowMs: fed.pledgeWindow } : {}),
        ...(fed.votingWindow !== undefined ? { votingWindowMs: fed.votingWindow } : {}),
      },
      now,
    });
    origins.set("f", rebuild(founded.federation, clock.t));
    A.free(founded.federation);
    federation = founded.id;
  }
  return { seed, councils, federation, origins, verified };
}

/** A seeded Automerge actor id (16 bytes in hex). */
export function actorOf(random: Random): string {
  return Array.from(random.bytes(16), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The number of relays a topology has (the hub is one). */
export function relayCount(topology: Topology): number {
  return topology.type === "hub" ? 1 : topology.type === "relays" ? topology.count : 0;
}

/** The region (relay) of a council: councils are split into contiguous blocks, one per relay. */
export function regionOf(council: number, councils: number, relays: number): number | null {
  return relays === 0 ? null : Math.min(relays - 1, Math.floor((council * relays) / councils));
}

/** One variant's nodes, replicas and core objects. */
export class World {
  readonly scenario: Scenario;
  readonly setup: Setup;
  readonly clock: Clock;
  readonly nodes: SimNode[] = [];
  /** Council index and member index → the node the member acts on. */
  readonly #homes = new Map<string, SimNode>();
  readonly #observers = new Map<string, Council>();
  readonly #observerList: { node: SimNode; council: number; object: Council }[] = [];
  readonly #councilsOn = new Map<number, Council[]>();
  readonly #writers = new Map<string, Promise<Council>>();
  readonly #fedObservers = new Map<number, Federation>();
  readonly #fedWriters = new Map<string, Promise<Federation>>();
  readonly #relays: SimNode[] = [];
  readonly #actors: Random;
  /** The mandate each council's delegate acts under and who holds it, as the run goes on. */
  readonly delegates: { member: number; mandate: MandateId | null }[];

  private constructor(scenario: Scenario, setup: Setup, clock: Clock, variant: string) {
    this.scenario = scenario;
    this.setup = setup;
    this.clock = clock;
    this.#actors = new Random(setup.seed, `actors:${variant}`);
    this.delegates = setup.councils.map((c) => ({ member: 0, mandate: c.mandate }));
  }

  /** Builds the nodes of a topology, clones every replica, and opens the core objects on them. */
  static async build(
    scenario: Scenario,
    setup: Setup,
    topology: Topology,
    variant: string,
    onChange: (replica: Replica) => void,
  ): Promise<World> {
    const clock: Clock = { t: scenario.start };
    const world = new World(scenario, setup, clock, variant);
    world.#makeNodes(topology, onChange);
    await world.#open();
    return world;
  }

  get now(): () => number {
    return () => this.clock.t;
  }

  #makeNodes(topology: Topology, onChange: (replica: Replica) => void): void {
    const s = this.scenario;
    const { count, members, placement } = s.councils;
    const relays = relayCount(topology);
    const ids = new Random(this.setup.seed, "identities:relays");
    const docIds = new Random(this.setup.seed, "documents");
    const documentIds = new Map<DocKey, string>();
    for (const key of this.setup.origins.keys())
      documentIds.set(key, stringifyAutomergeUrl(docIds.bytes(16) as never).slice("automerge:".length));
    const everything = [...this.setup.origins.keys()];
    const federationEverywhere = s.federation !== undefined && s.federation.replicas === "members";
    const holds = (council: number): DocKey[] => (federationEverywhere ? everything : [`c:${council}`, `l:${council}`]);
    const node = (init: Omit<SimNode, "index" | "replicas" | "online" | "uplinkFreeAt">, keys: DocKey[]) => {
      const n: SimNode = { ...init, index: this.nodes.length, replicas: new Map(), online: true, uplinkFreeAt: 0 };
      for (const key of keys) {
        const doc = A.clone(this.setup.origins.get(key)!, actorOf(this.#actors));
        const source = new SimDocument<unknown>(doc, this.now);
        const replica: Replica = {
          node: n,
          key,
          documentId: documentIds.get(key)!,
          source,
          syncStates: new Map(),
          flushAt: null,
          flushRound: 0,
          lastFlush: Number.NEGATIVE_INFINITY,
        };
        source.onChange = () => onChange(replica);
        n.replicas.set(key, replica);
      }
      this.nodes.push(n);
      return n;
    };
    for (let r = 0; r < relays; r++) {
      const peerId = relayPeerIds(ids);
      this.#relays.push(
        node(
          {
            label: topology.type === "hub" ? "hub" : `relay${r}`,
            kind: "relay",
            peerId,
            council: null,
            members: [],
            region: r,
          },
          everything,
        ),
      );
    }
    for (const c of this.setup.councils) {
      const region = regionOf(c.index, count, relays);
      if (placement === "council") {
        const n = node(
          {
            label: `c${c.index}`,
            kind: "council",
            peerId: c.members[0]!.device.id,
            council: c.index,
            members: c.members.map((_, m) => m),
            region,
          },
          holds(c.index),
        );
        for (let m = 0; m < members; m++) this.#homes.set(`${c.index}.${m}`, n);
      } else {
        for (let m = 0; m < members; m++) {
          const n = node(
            {
              label: `c${c.index}.m${m}`,
              kind: "member",
              peerId: c.members[m]!.device.id,
              council: c.index,
              members: [m],
              region,
            },
            holds(c.index),
          );
          this.#homes.set(`${c.index}.${m}`, n);
        }
      }
    }
  }

  async #open(): Promise<void> {
    const { verified } = this.setup;
    const now = this.now;
    for (const node of this.nodes) {
      for (const c of this.setup.councils) {
        const council = node.replicas.get(`c:${c.index}`);
        const ledger = node.replicas.get(`l:${c.index}`);
        if (council === undefined || ledger === undefined) continue;
        const own = node.council === c.index ? node.members[0] : undefined;
        const identity = own === undefined ? undefined : c.members[own]!;
        const opened = await Council.open(
          { council: council.source as never, ledger: ledger.source as never },
          { ...(identity ? { identity } : {}), now, verified },
        );
        this.#observers.set(`${node.index}:${c.index}`, opened);
        this.#observerList.push({ node, council: c.index, object: opened });
        const list = this.#councilsOn.get(node.index) ?? [];
        list.push(opened);
        this.#councilsOn.set(node.index, list);
        if (own !== undefined) this.#writers.set(`${c.index}.${own}`, Promise.resolve(opened));
      }
    }
    if (this.setup.federation === null) return;
    for (const node of this.nodes) {
      const replica = node.replicas.get("f");
      if (replica === undefined) continue;
      const councils = this.councilsOn(node);
      const own = node.council !== null && node.kind !== "relay" ? node.members[0] : undefined;
      const identity = own === undefined ? undefined : this.setup.councils[node.council!]!.members[own]!;
      const federation = await Federation.open(replica.source as never, {
        councils,
        ...(identity ? { identity } : {}),
        now,
        verified,
      });
      this.#fedObservers.set(node.index, federation);
      if (own !== undefined) this.#fedWriters.set(`${node.council}.${own}`, Promise.resolve(federation));
    }
  }

  /** The relays (the hub is relay 0). */
  get relays(): readonly SimNode[] {
    return this.#relays;
  }

  /** The nodes a selector names (see `SELECTOR` in scenario.ts), in index order. */
  select(selector: string): SimNode[] {
    const [kind, arg = ""] = selector.split(":");
    const count = this.scenario.councils.count;
    const ofCouncils = (from: number, to: number) =>
      this.nodes.filter((n) => n.kind !== "relay" && n.council !== null && n.council >= from && n.council <= to);
    switch (kind) {
      case "all":
        return [...this.nodes];
      case "hub":
      case "relays":
        return [...this.#relays];
      case "relay":
        return this.#relays.filter((r) => r.region === Number(arg));
      case "region":
        return this.nodes.filter((n) => n.region === Number(arg));
      case "council":
        return ofCouncils(Number(arg), Number(arg));
      case "councils": {
        if (!arg.includes("%")) {
          const [a, b] = arg.split("-").map(Number);
          return ofCouncils(a!, b!);
        }
        const [a, b] = arg.split("-").map((x) => Number.parseFloat(x));
        // Council i is in [a%, b%) when a ≤ 100·i/count < b: shares of any size stay disjoint and cover every council.
        return this.nodes.filter(
          (n) =>
            n.kind !== "relay" &&
            n.council !== null &&
            (100 * n.council) / count >= a! &&
            (100 * n.council) / count < b!,
        );
      }
      case "member": {
        const [c, m] = arg.split(".").map(Number);
        return [this.home(c!, m!)];
      }
      default:
        return [];
    }
  }

  /** The node a member acts on. */
  home(council: number, member: number): SimNode {
    return this.#homes.get(`${council}.${member}`)!;
  }

  /** Every `Council` open on a node (one per council whose documents it holds), by council index. */
  councilsOn(node: SimNode): Council[] {
    return this.#councilsOn.get(node.index) ?? [];
  }

  /** Every (node, council, Council) that derives a council's state, by node then council. */
  observers(): readonly { node: SimNode; council: number; object: Council }[] {
    return this.#observerList;
  }

  /** Every (node, Federation) that derives the federation's state. */
  *federationObservers(): Generator<{ node: SimNode; object: Federation }> {
    for (const node of this.nodes) {
      const object = this.#fedObservers.get(node.index);
      if (object !== undefined) yield { node, object };
    }
  }

  /** The `Council` a member writes with: on the member's node, with the member's identity. */
  writer(council: number, member: number): Promise<Council> {
    const key = `${council}.${member}`;
    let found = this.#writers.get(key);
    if (found === undefined) {
      const node = this.home(council, member);
      const identity = this.setup.councils[council]!.members[member]!;
      found = Council.open(
        {
          council: node.replicas.get(`c:${council}`)!.source as never,
          ledger: node.replicas.get(`l:${council}`)!.source as never,
        },
        { identity, now: this.now, verified: this.setup.verified },
      );
      this.#writers.set(key, found);
    }
    return found;
  }

  /** The node whose federation replica a member writes to: its own, or its region's relay. */
  federationHome(council: number, member: number): SimNode {
    const home = this.home(council, member);
    return home.replicas.has("f") ? home : this.#relays[home.region ?? 0]!;
  }

  /**
   * The `Federation` a member writes with. Where members hold the federation, one open on the member's node; where
   * only relays do, one on a small workspace of the member's own chain whose changes also land on the relay's replica.
   */
  federationWriter(council: number, member: number): Promise<Federation> {
    const key = `${council}.${member}`;
    let found = this.#fedWriters.get(key);
    if (found === undefined) {
      found = this.#openFederationWriter(council, member);
      this.#fedWriters.set(key, found);
    }
    return found;
  }

  async #openFederationWriter(council: number, member: number): Promise<Federation> {
    const setup = this.setup.councils[council]!;
    const identity = setup.members[member]!;
    const home = this.home(council, member);
    const now = this.now;
    const verified = this.setup.verified;
    if (home.replicas.has("f")) {
      return Federation.open(home.replicas.get("f")!.source as never, {
        councils: this.councilsOn(home),
        identity,
        now,
        verified,
      });
    }
    const relay = this.#relays[home.region ?? 0]!;
    const target = relay.replicas.get("f")!;
    // The workspace holds the document's header and this writer's own chain only: sealing needs its chain's tip, not
    // anyone else's records, so a thousand writers do not each fold the federation. Only the founder of the
    // federation has a record there already (the genesis): their workspace starts from the whole founding document.
    const origin = this.setup.origins.get("f") as A.Doc<FederationDoc>;
    const actor = actorOf(this.#actors);
    const founder = council === 0 && member === 0;
    const workspace = new SimDocument<FederationDoc>(
      founder
        ? A.clone(origin, actor)
        : A.change(A.init<FederationDoc>({ actor }), { time: Math.floor(this.clock.t / 1000) }, (d) => {
            d.federa = { ...origin.federa };
            d.records = {};
          }),
      now,
    );
    const own = this.#observers.get(`${relay.index}:${council}`)!;
    return Federation.open(new TeeSource<FederationDoc>(workspace, () => target.source as never), {
      councils: async () => new Map([[setup.id, await own.state()]]),
      identity,
      now,
      verified,
    });
  }

  /** The federation's charter as set up (its pledge window and voting window). */
  get federationCharter() {
    const f = this.scenario.federation;
    return defaultFederationCharter({
      ...(f?.pledgeWindow !== undefined ? { pledgeWindowMs: f.pledgeWindow } : {}),
      ...(f?.votingWindow !== undefined ? { votingWindowMs: f.votingWindow } : {}),
    });
  }
}

function relayPeerIds(random: Random): string {
  // A relay's peer id only names it in message envelopes: 52 characters like a real Ed25519 peer id.
  const alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
  let id = "12D3KooW";
  while (id.length < 52) id += alphabet[random.int(0, alphabet.length - 1)]!;
  return id;
}

/** Whether a document holds a record (by the layout every Federa document shares). */
export function hasRecord(doc: A.Doc<unknown>, id: string): boolean {
  return storedValue(doc, id) !== undefined;
}

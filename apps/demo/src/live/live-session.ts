/**
 * Live mode: this page becomes a device of its own member, joins a council held by a `federa node` on this machine
 * over WebSockets (invitation, application, admission by the council's members), then syncs and shows it as it changes.
 */

import type { AutomergeUrl } from "@automerge/automerge-repo";
import type {
  CouncilId,
  CouncilState,
  Identity,
  IdentityFile,
  ProposalId,
  RecordId,
  SealedApplication,
} from "@federa/core";
import { createIdentity, exportIdentity, importIdentity, sealApplication } from "@federa/core";
import type { FederaNode, HeldCouncil, Invitation } from "@federa/net";
import { applyRequest, createNode, sendApplication, webSocketAddresses } from "@federa/net";
import { webSockets } from "@libp2p/websockets";
import { multiaddr } from "@multiformats/multiaddr";

/** Where the page keeps its identity and the applications it sent (so a reload continues rather than forks them). */
export interface LiveStore {
  loadIdentity(): IdentityFile | null;
  saveIdentity(file: IdentityFile): void;
  loadApplication(council: string): SealedApplication | null;
  saveApplication(council: string, application: SealedApplication): void;
  clear(): void;
}

const KEY = "federa-demo-live";

/** The browser's localStorage (a demo's convenience: the keys are not protected at rest). */
export function browserStore(storage: Storage = localStorage): LiveStore {
  const read = (): { identity?: IdentityFile; applications?: Record<string, { record: string; bytes: number[] }> } =>
    JSON.parse(storage.getItem(KEY) ?? "{}");
  const write = (value: ReturnType<typeof read>) => storage.setItem(KEY, JSON.stringify(value));
  return {
    loadIdentity: () => read().identity ?? null,
    saveIdentity: (identity) => write({ ...read(), identity }),
    loadApplication: (council) => {
      const a = read().applications?.[council];
      return a ? { record: a.record as RecordId, bytes: Uint8Array.from(a.bytes) } : null;
    },
    saveApplication: (council, a) => {
      const value = read();
      write({
        ...value,
        applications: { ...value.applications, [council]: { record: a.record, bytes: [...a.bytes] } },
      });
    },
    clear: () => storage.removeItem(KEY),
  };
}

/** A store that forgets everything when the page closes. */
export function memoryStore(): LiveStore {
  let identity: IdentityFile | null = null;
  const applications = new Map<string, SealedApplication>();
  return {
    loadIdentity: () => identity,
    saveIdentity: (file) => {
      identity = file;
    },
    loadApplication: (council) => applications.get(council) ?? null,
    saveApplication: (council, a) => applications.set(council, a),
    clear: () => {
      identity = null;
      applications.clear();
    },
  };
}

/** The identity this page acts with, made once and kept in the store. */
export async function liveIdentity(store: LiveStore): Promise<Identity> {
  const file = store.loadIdentity();
  if (file !== null) return importIdentity(file);
  const identity = await createIdentity();
  store.saveIdentity(exportIdentity(identity));
  return identity;
}

/** Where joining stands. */
export interface LiveUpdate {
  readonly phase: "connecting" | "applying" | "waiting" | "live" | "failed" | "stopped";
  readonly message: string;
  /** The admission proposal the application opened. */
  readonly proposal: string | null;
  readonly state: CouncilState | null;
  /** True while a connection with the inviter's node is open. */
  readonly connected: boolean;
}

export interface LiveInit {
  readonly invitation: Invitation;
  readonly note: string;
  readonly store: LiveStore;
  readonly onUpdate: (update: LiveUpdate) => void;
}

/** How often the inviter's node is dialled again while no connection is open. */
const REDIAL_MS = 3_000;
/** How long the page waits for the members to admit it. */
const ADMISSION_TIMEOUT_MS = 24 * 60 * 60_000;

export class LiveSession {
  readonly identity: Identity;
  readonly #node: FederaNode;
  readonly #init: LiveInit;
  readonly #stop = new AbortController();
  #held: HeldCouncil | null = null;
  #last: LiveUpdate = { phase: "connecting", message: "", proposal: null, state: null, connected: false };
  #timer: ReturnType<typeof setInterval> | undefined;

  private constructor(identity: Identity, node: FederaNode, init: LiveInit) {
    this.identity = identity;
    this.#node = node;
    this.#init = init;
  }

  /** Starts this page's node and begins joining; progress arrives through `onUpdate`. */
  static async start(init: LiveInit): Promise<LiveSession> {
    const identity = await liveIdentity(init.store);
    const node = await createNode({
      identity,
      libp2p: {
        transports: [webSockets()],
        // Browsers refuse private addresses by default; the node to join runs on this very machine.
        connectionGater: { denyDialMultiaddr: async () => false },
      },
    });
    const session = new LiveSession(identity, node, init);
    void session.#run().catch((err: unknown) => {
      if (!session.#stop.signal.aborted) session.#update({ phase: "failed", message: (err as Error).message });
    });
    return session;
  }

  #update(change: Partial<LiveUpdate>): void {
    this.#last = { ...this.#last, connected: this.#connected(), ...change };
    this.#init.onUpdate(this.#last);
  }

  #connected(): boolean {
    return this.#node.libp2p.getConnections().some((c) => c.remotePeer.toString() === this.#init.invitation.peer);
  }

  async #dial() {
    const addresses = webSocketAddresses(this.#init.invitation);
    if (addresses.length === 0)
      throw new Error("the invitation names no WebSocket address: run `federa node` with a /ws listen address");
    return this.#node.libp2p.dial(
      addresses.map((a) => multiaddr(a)),
      { signal: AbortSignal.any([this.#stop.signal, AbortSignal.timeout(10_000)]) },
    );
  }

  async #run(): Promise<void> {
    const { invitation, store } = this.#init;
    this.#node.trust(invitation.peer);
    this.#update({ phase: "connecting", message: `dialling ${webSocketAddresses(invitation)[0] ?? "the inviter"}` });
    await this.#dial();
    this.#timer = setInterval(() => {
      if (!this.#connected()) this.#dial().catch(() => {});
      this.#update({});
    }, REDIAL_MS);

    this.#update({ phase: "applying", message: "sending a signed application to the inviter's node" });
    let application = store.loadApplication(invitation.council);
    if (application === null) {
      application = await sealApplication(this.identity, invitation.council as CouncilId, this.#init.note);
      store.saveApplication(invitation.council, application);
    }
    // Over the connection just dialled, or by the inviter's WebSocket addresses should it have dropped since.
    const answer = await sendApplication(
      this.#node.libp2p,
      { peer: invitation.peer, addresses: webSocketAddresses(invitation) },
      applyRequest(invitation.council, application),
    );
    // A member's page reopening the council is told it is a member already: it goes straight to syncing.
    if (!answer.ok && !/already a member/.test(answer.error))
      throw new Error(`the inviter's node refused the application: ${answer.error}`);
    const proposal = answer.ok ? answer.proposal : null;
    this.#update({
      phase: "waiting",
      proposal,
      message:
        proposal === null
          ? "already a member: waiting for the documents"
          : "application accepted: waiting for the members to admit this page",
    });

    const held = await this.#node.openCouncil(invitation.url as AutomergeUrl, {
      signal: this.#stop.signal,
      timeoutMs: ADMISSION_TIMEOUT_MS,
    });
    this.#held = held;
    const refresh = () => {
      void held.council.state().then(
        (state) => this.#update({ phase: "live", message: "live: this page holds the council and syncs it", state }),
        () => {},
      );
    };
    held.councilHandle.on("change", refresh);
    held.ledgerHandle.on("change", refresh);
    refresh();
  }

  /** Votes on a proposal as this page's member. */
  async vote(proposal: string, choice: "yes" | "no" | "abstain"): Promise<void> {
    if (this.#held === null) throw new Error("not a member yet");
    await this.#held.council.vote(proposal as ProposalId, { method: "majority", choice });
  }

  /** Writes a tick so deadlines that have passed take effect. */
  async tick(): Promise<void> {
    if (this.#held === null) throw new Error("not a member yet");
    await this.#held.council.tick();
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    clearInterval(this.#timer);
    this.#update({ phase: "stopped", message: "stopped" });
    await this.#node.stop().catch(() => {});
  }
}

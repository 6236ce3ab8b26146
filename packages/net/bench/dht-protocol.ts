/**
 * What `./dev bench dht` and its member processes (`dht-worker.ts`) say to each other over the IPC channel that
 * `fork` opens: the benchmark sends commands, each answered by one event, in order.
 */

/** How members learn of each other: by looking each other up, or only from the DHT's own walks. */
export type Mode = "lookups" | "walks";
export const MODES: readonly Mode[] = ["lookups", "walks"];

/** Start the member's node and enter the DHT; answered with `joined`. */
export interface Join {
  readonly cmd: "join";
  /** The device's private key (libp2p protobuf, base64): a restarted device keeps its peer id. */
  readonly key: string;
  /** Peer ids of every member of the council, this one's included. */
  readonly members: readonly string[];
  readonly mode: Mode;
  /** The multiaddr of the stranger this device enters the DHT at. */
  readonly entry: string;
}

export type DhtCommand =
  | Join
  /** Answered with `status`. */
  | { readonly cmd: "status" }
  /** Stop the node and exit. */
  | { readonly cmd: "stop" };

/** What a member knows and holds now, as the benchmark measures it. */
export interface MemberStatus {
  /** Its own peer id. */
  readonly id: string;
  /** Other members it has been told of or is connected to. */
  readonly known: readonly string[];
  /** Members its sync tree asks it to be connected to. */
  readonly wanted: readonly string[];
  /** Members it is connected to. */
  readonly connected: readonly string[];
  /** Connections it holds to strangers (the DHT's walks). */
  readonly strangerConnections: number;
  /** Lookups it started since it joined. */
  readonly lookups: number;
  /** CPU time the whole process used since the join command (ms, every thread). */
  readonly cpuMs: number;
}

export type DhtEvent =
  /** Its code is loaded: it is ready for `join`. */
  | { readonly ev: "loaded" }
  /** Its node runs and is dialling its entry node. */
  | { readonly ev: "joined"; readonly id: string }
  | ({ readonly ev: "status" } & MemberStatus)
  | { readonly ev: "error"; readonly message: string };

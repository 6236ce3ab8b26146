/**
 * The `/federa/apply/1.0.0` libp2p protocol: a non-member's device hands its signed application to a member's node,
 * which cannot share the council's documents with it yet. One request, one answer, each a JSON message the writer
 * ends by closing its side of the stream.
 */
import type { Connection, Libp2p, Stream } from "@libp2p/interface";
import { multiaddr } from "@multiformats/multiaddr";
import type { SealedApplication } from "./application.js";

export const APPLY_PROTOCOL = "/federa/apply/1.0.0";

/** Largest message either side reads: an application is a few hundred bytes plus its note. */
const MAX_MESSAGE = 64 * 1024;
/** How long a member's node waits for a request, and an applicant for the answer. */
export const APPLY_TIMEOUT_MS = 20_000;

/** The request an applicant sends. */
export interface ApplyRequest {
  readonly v: 1;
  readonly council: string;
  readonly record: string;
  /** The signed record's bytes, base64. */
  readonly bytes: string;
}

/** The answer of the member's node. */
export type ApplyResponse =
  | { readonly ok: true; readonly proposal: string }
  | { readonly ok: false; readonly error: string };

async function readMessage(stream: Stream, signal: AbortSignal): Promise<unknown> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const onAbort = () => stream.abort(new Error("timed out"));
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    for await (const chunk of stream) {
      const bytes = chunk instanceof Uint8Array ? chunk : chunk.subarray();
      size += bytes.length;
      if (size > MAX_MESSAGE) throw new Error("message too large");
      chunks.push(bytes);
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
  if (signal.aborted) throw new Error("timed out");
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

async function writeMessage(stream: Stream, value: unknown): Promise<void> {
  if (!stream.send(new TextEncoder().encode(JSON.stringify(value)))) await stream.onDrain();
  await stream.close();
}

function isRequest(value: unknown): value is ApplyRequest {
  const v = value as Partial<ApplyRequest> | null;
  return (
    typeof v === "object" &&
    v !== null &&
    v.v === 1 &&
    typeof v.council === "string" &&
    typeof v.record === "string" &&
    typeof v.bytes === "string"
  );
}

/** What the member's node does with a request: accept it (returning the proposal id) or throw why not. */
export type ApplicationHandler = (request: ApplyRequest, from: string) => Promise<string>;

/** Serves applications on a node. */
export async function serveApplications(libp2p: Libp2p, accept: ApplicationHandler): Promise<void> {
  await libp2p.handle(
    APPLY_PROTOCOL,
    async (stream: Stream, connection: Connection) => {
      const signal = AbortSignal.timeout(APPLY_TIMEOUT_MS);
      let response: ApplyResponse;
      try {
        const request = await readMessage(stream, signal);
        if (!isRequest(request)) throw new Error("not an application request");
        response = { ok: true, proposal: await accept(request, connection.remotePeer.toString()) };
      } catch (e) {
        response = { ok: false, error: (e as Error).message };
      }
      try {
        await writeMessage(stream, response);
      } catch {
        stream.abort(new Error("could not answer"));
      }
    },
    { maxInboundStreams: 4, maxOutboundStreams: 1 },
  );
}

/** The request carrying a sealed application. */
export function applyRequest(council: string, application: SealedApplication): ApplyRequest {
  return {
    v: 1,
    council,
    record: application.record,
    bytes: Buffer.from(application.bytes).toString("base64"),
  };
}

/** Sends an application to the inviter's node (by its addresses, or by peer id once connected) and waits for the answer. */
export async function sendApplication(
  libp2p: Libp2p,
  target: { readonly peer: string; readonly addresses: readonly string[] },
  request: ApplyRequest,
  timeoutMs: number = APPLY_TIMEOUT_MS,
): Promise<ApplyResponse> {
  const signal = AbortSignal.timeout(timeoutMs);
  const connected = libp2p.getConnections().find((c) => c.remotePeer.toString() === target.peer);
  const addresses = target.addresses.map((a) => multiaddr(a.includes("/p2p/") ? a : `${a}/p2p/${target.peer}`));
  if (connected === undefined && addresses.length === 0) throw new Error("the invitation names no address to reach");
  const stream = connected
    ? await connected.newStream(APPLY_PROTOCOL, { signal })
    : await libp2p.dialProtocol(addresses, APPLY_PROTOCOL, { signal });
  await writeMessage(stream, request);
  const answer = (await readMessage(stream, signal)) as { ok?: unknown; proposal?: unknown; error?: unknown };
  if (answer.ok === true && typeof answer.proposal === "string") return { ok: true, proposal: answer.proposal };
  return { ok: false, error: typeof answer.error === "string" ? answer.error : "malformed answer" };
}

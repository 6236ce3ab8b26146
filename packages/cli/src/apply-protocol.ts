/**
 * The `/federa/apply/1.0.0` libp2p protocol: a non-member's device hands its signed application to a member's node,
 * which cannot share the council's documents with it yet. One request, one answer, each a JSON message the writer
 * ends by closing its side of the stream; each remote peer is rate limited.
 */
import type { Connection, Libp2p, Stream } from "@libp2p/interface";
import { multiaddr } from "@multiformats/multiaddr";
import type { SealedApplication } from "./application.js";
import { RateLimiter, type RateLimitInit, rateLimitedMessage } from "./rate-limit.js";

export const APPLY_PROTOCOL = "/federa/apply/1.0.0";

/** Largest message either side reads: an application is a few hundred bytes plus its note. */
const MAX_MESSAGE = 64 * 1024;
/** How long a member's node waits for a request, and an applicant for the answer. */
export const APPLY_TIMEOUT_MS = 20_000;
/**
 * Applications a member's node takes: 5 a minute from one peer (an applicant retries every 10 s only while it is not
 * answered), 8 in progress at once from all peers.
 */
export const APPLY_RATE_LIMIT: RateLimitInit = { perPeer: 5, windowMs: 60_000, concurrent: 8 };

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

/**
 * Reads one message to the end of the remote's writing side. Call it before writing anything when the other side may
 * answer early: a stream whose end has already passed never ends an iteration started after it.
 */
async function readMessage(stream: Stream, signal: AbortSignal): Promise<unknown> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  let onAbort = () => {};
  const timedOut = new Promise<never>((_, reject) => {
    onAbort = () => {
      stream.abort(new Error("timed out"));
      reject(new Error("timed out"));
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
  const read = (async () => {
    for await (const chunk of stream) {
      const bytes = chunk instanceof Uint8Array ? chunk : chunk.subarray();
      size += bytes.length;
      if (size > MAX_MESSAGE) throw new Error("message too large");
      chunks.push(bytes);
    }
  })();
  try {
    await Promise.race([read, timedOut]);
  } finally {
    signal.removeEventListener("abort", onAbort);
    read.catch(() => {});
    timedOut.catch(() => {});
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

async function answer(stream: Stream, response: ApplyResponse): Promise<void> {
  try {
    await writeMessage(stream, response);
  } catch {
    stream.abort(new Error("could not answer"));
  }
}

/** Serves applications on a node, refusing peers over the rate limit (by default `APPLY_RATE_LIMIT`) unread. */
export async function serveApplications(
  libp2p: Libp2p,
  accept: ApplicationHandler,
  options: { readonly limiter?: RateLimiter } = {},
): Promise<void> {
  const limiter = options.limiter ?? new RateLimiter(APPLY_RATE_LIMIT);
  await libp2p.handle(
    APPLY_PROTOCOL,
    async (stream: Stream, connection: Connection) => {
      const admission = limiter.take(connection.remotePeer.toString());
      if (!admission.ok) {
        // The request is never read: its bytes are dropped as they come.
        await stream.closeRead().catch(() => {});
        await answer(stream, { ok: false, error: rateLimitedMessage(admission.retryAfterMs) });
        return;
      }
      try {
        const signal = AbortSignal.timeout(APPLY_TIMEOUT_MS);
        let response: ApplyResponse;
        try {
          const request = await readMessage(stream, signal);
          if (!isRequest(request)) throw new Error("not an application request");
          response = { ok: true, proposal: await accept(request, connection.remotePeer.toString()) };
        } catch (e) {
          response = { ok: false, error: (e as Error).message };
        }
        await answer(stream, response);
      } finally {
        admission.release();
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
  // Listening first: a node that refuses at once (rate limited) answers before the request is written.
  const reading = readMessage(stream, signal);
  reading.catch(() => {});
  await writeMessage(stream, request);
  const answer = (await reading) as { ok?: unknown; proposal?: unknown; error?: unknown };
  if (answer.ok === true && typeof answer.proposal === "string") return { ok: true, proposal: answer.proposal };
  return { ok: false, error: typeof answer.error === "string" ? answer.error : "malformed answer" };
}

/**
 * The `/federa/apply/1.0.0` libp2p protocol, as both ends speak it: a non-member's device hands its signed application
 * to a member's node, which cannot share the council's documents with it yet. One request, one answer, each a JSON
 * message the writer ends by closing its side of the stream; the member's node rate limits each peer. Runs in Node
 * and in the browser.
 */
import type { Connection, Libp2p, Stream } from "@libp2p/interface";
import { multiaddr } from "@multiformats/multiaddr";
import { ApplicationRefusedError, CouncilNotHeldError } from "./errors.js";
import { type Inviter, inviterAddresses } from "./invitation.js";
import { RateLimiter, type RateLimitInit, rateLimitedMessage } from "./rate-limit.js";

export const APPLY_PROTOCOL = "/federa/apply/1.0.0";

/** Largest message either side reads: an application is a few hundred bytes plus its note. */
export const APPLY_MAX_MESSAGE = 64 * 1024;
/** How long an applicant waits for the answer. */
export const APPLY_TIMEOUT_MS = 20_000;

/** How long a member's node waits for an application's bytes before giving its slot back. */
export const APPLY_READ_TIMEOUT_MS = 5_000;

/** The request an applicant sends. */
export interface ApplyRequest {
  readonly v: 1;
  readonly council: string;
  readonly record: string;
  /** The signed record's bytes, base64. */
  readonly bytes: string;
}

/**
 * The answer of the member's node. A refusal with `retry` said nothing against the application (the node was busy,
 * stopping or not ready): send it again later. Without, the application itself was refused: it will never be taken.
 */
export type ApplyResponse =
  | { readonly ok: true; readonly proposal: string }
  | { readonly ok: false; readonly error: string; readonly retry?: true; readonly code?: ApplyAnswerCode };

/**
 * What a refusal is about, for an applicant to act on without reading `error`'s words: `council-not-held`, the node
 * does not hold the council the application names (a token for another council, or one it has not received yet).
 */
export type ApplyAnswerCode = "council-not-held";

const ANSWER_CODES: ReadonlySet<string> = new Set<ApplyAnswerCode>(["council-not-held"]);

/** True when a message read from an applicant has the shape of a request. */
export function isApplyRequest(value: unknown): value is ApplyRequest {
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

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** The signed bytes a request carries (base64 that does not decode is refused). */
export function requestBytes(request: ApplyRequest): Uint8Array {
  let binary: string;
  try {
    binary = atob(request.bytes);
  } catch {
    throw new ApplicationRefusedError("the application's bytes are not base64");
  }
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/** The request carrying a sealed application: its record id (the admission proposal's id) and its signed bytes. */
export function applyRequest(
  council: string,
  application: { readonly record: string; readonly bytes: Uint8Array },
): ApplyRequest {
  return { v: 1, council, record: application.record, bytes: toBase64(application.bytes) };
}

/**
 * Reads one JSON message to the end of the remote's writing side. Call it before writing anything when the other side
 * may answer early: a stream whose end has already passed never ends an iteration started after it.
 */
export async function readApplyMessage(stream: Stream, signal: AbortSignal): Promise<unknown> {
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
      if (size > APPLY_MAX_MESSAGE) throw new Error("message too large");
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
  const all = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.length;
  }
  return JSON.parse(new TextDecoder().decode(all));
}

/** Writes one JSON message and closes this side of the stream, which ends the message. */
export async function writeApplyMessage(stream: Stream, value: unknown): Promise<void> {
  if (!stream.send(new TextEncoder().encode(JSON.stringify(value)))) await stream.onDrain();
  await stream.close();
}

/** The answer as read, kept only as far as it has the shape of a response. */
function responseOf(value: unknown): ApplyResponse {
  const v = (typeof value === "object" && value !== null ? value : {}) as Record<string, unknown>;
  if (v.ok === true && typeof v.proposal === "string") return { ok: true, proposal: v.proposal };
  return {
    ok: false,
    error: typeof v.error === "string" ? v.error : "malformed answer",
    ...(v.retry === true ? { retry: true as const } : {}),
    ...(typeof v.code === "string" && ANSWER_CODES.has(v.code) ? { code: v.code as ApplyAnswerCode } : {}),
  };
}

/**
 * Sends an application to the inviter's node (over a connection already open with it, else by its addresses) and waits
 * for the answer; throws when the node cannot be reached or does not answer in time.
 */
export async function sendApplication(
  libp2p: Libp2p,
  target: Inviter,
  request: ApplyRequest,
  timeoutMs: number = APPLY_TIMEOUT_MS,
): Promise<ApplyResponse> {
  const signal = AbortSignal.timeout(timeoutMs);
  const connected = libp2p.getConnections().find((c) => c.remotePeer.toString() === target.peer);
  const addresses = inviterAddresses(target).map((a) => multiaddr(a));
  if (connected === undefined && addresses.length === 0) throw new Error("the invitation names no address to reach");
  const stream = connected
    ? await connected.newStream(APPLY_PROTOCOL, { signal })
    : await libp2p.dialProtocol(addresses, APPLY_PROTOCOL, { signal });
  // Listening first: a node that refuses at once (rate limited) answers before the request is written.
  const reading = readApplyMessage(stream, signal);
  reading.catch(() => {});
  await writeApplyMessage(stream, request);
  return responseOf(await reading);
}

/**
 * Applications a member's node takes: 5 a minute from one peer (an applicant retries every 10 s only while it is not
 * answered), 8 in progress at once from all peers.
 */
export const APPLY_RATE_LIMIT: RateLimitInit = { perPeer: 5, windowMs: 60_000, concurrent: 8 };

/**
 * What a member's node does with a request: accept it (returning the admission proposal's id) or throw why not: an
 * `ApplicationRefusedError` when the application itself is refused; a `CouncilNotHeldError` when the node does not
 * hold the council, answered as worth a retry with the code `council-not-held`; any other error, as worth a retry.
 */
export type ApplicationHandler = (request: ApplyRequest, from: string) => Promise<string>;

async function answer(stream: Stream, response: ApplyResponse): Promise<void> {
  try {
    await writeApplyMessage(stream, response);
  } catch {
    stream.abort(new Error("could not answer"));
  }
}

/**
 * The member's side: serves applications on `libp2p`, handing each to `accept` and answering with its proposal or
 * its error; peers over the rate limit (by default `APPLY_RATE_LIMIT`) are answered without being read.
 */
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
        await answer(stream, { ok: false, error: rateLimitedMessage(admission.retryAfterMs), retry: true });
        return;
      }
      try {
        // Reading 64 KiB takes no time: a stream that sends nothing holds one of the few slots for this long at most.
        const signal = AbortSignal.timeout(APPLY_READ_TIMEOUT_MS);
        let response: ApplyResponse;
        try {
          let request: unknown;
          try {
            request = await readApplyMessage(stream, signal);
          } catch (e) {
            // Too large or not JSON: sending it again would not change that (a read cut short by the deadline might).
            if (!signal.aborted) throw new ApplicationRefusedError((e as Error).message);
            throw e;
          }
          if (!isApplyRequest(request)) throw new ApplicationRefusedError("not an application request");
          response = { ok: true, proposal: await accept(request, connection.remotePeer.toString()) };
        } catch (e) {
          const error = (e as Error).message;
          if (e instanceof ApplicationRefusedError) response = { ok: false, error };
          else if (e instanceof CouncilNotHeldError)
            response = { ok: false, error, retry: true, code: "council-not-held" };
          else response = { ok: false, error, retry: true };
        }
        await answer(stream, response);
      } finally {
        admission.release();
      }
    },
    { maxInboundStreams: 4, maxOutboundStreams: 1 },
  );
}

/**
 * A member's node serving `/federa/apply/1.0.0` (the protocol itself, and the applicant's side, are in @federa/net):
 * each request is read, handed to the node's handler and answered, with each remote peer rate limited.
 */
import {
  APPLY_PROTOCOL,
  APPLY_TIMEOUT_MS,
  type ApplyRequest,
  type ApplyResponse,
  isApplyRequest,
  readApplyMessage,
  writeApplyMessage,
} from "@federa/net";
import type { Connection, Libp2p, Stream } from "@libp2p/interface";
import { RateLimiter, type RateLimitInit, rateLimitedMessage } from "./rate-limit.js";

/**
 * Applications a member's node takes: 5 a minute from one peer (an applicant retries every 10 s only while it is not
 * answered), 8 in progress at once from all peers.
 */
export const APPLY_RATE_LIMIT: RateLimitInit = { perPeer: 5, windowMs: 60_000, concurrent: 8 };

/** What the member's node does with a request: accept it (returning the proposal id) or throw why not. */
export type ApplicationHandler = (request: ApplyRequest, from: string) => Promise<string>;

async function answer(stream: Stream, response: ApplyResponse): Promise<void> {
  try {
    await writeApplyMessage(stream, response);
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
          const request = await readApplyMessage(stream, signal);
          if (!isApplyRequest(request)) throw new Error("not an application request");
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

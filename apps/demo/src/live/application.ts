/**
 * Asking to join a council from the browser: a `member.apply` record signed by the browser's member key, handed to
 * the inviter's node over the `/federa/apply/1.0.0` protocol (one JSON request, one JSON answer), as `federa join` does.
 */
import * as A from "@automerge/automerge";
import type { CouncilDoc, CouncilId, Identity, LedgerDoc } from "@federa/core";
import { Council } from "@federa/core";
import type { Connection, Stream } from "@libp2p/interface";

export const APPLY_PROTOCOL = "/federa/apply/1.0.0";
const MAX_ANSWER = 64 * 1024;

/** A sealed application: its record id (also the admission proposal's id) and its exact signed bytes. */
export interface SealedApplication {
  readonly record: string;
  readonly bytes: Uint8Array;
}

/** Seals an application to `council` without holding the council's documents (on empty stand-ins). */
export async function sealApplication(
  identity: Identity,
  council: CouncilId,
  note: string,
): Promise<SealedApplication> {
  const docs = {
    council: A.from<CouncilDoc>({
      federa: { type: "council", version: 1, council },
      records: {},
      minutes: {},
    } as CouncilDoc),
    ledger: A.from<LedgerDoc>({ federa: { type: "ledger", version: 1, council }, records: {} } as LedgerDoc),
  };
  const scratch = await Council.openPlain(docs, { identity });
  const record = await scratch.apply(note);
  const bytes = scratch.sources.council.doc()?.records[record.slice(0, 2)]?.[record];
  if (bytes === undefined) throw new Error("the sealed application was not written");
  return { record, bytes: new Uint8Array(bytes) };
}

function toBase64(bytes: Uint8Array): string {
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text);
}

async function readAll(stream: Stream, signal: AbortSignal): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const onAbort = () => stream.abort(new Error("timed out"));
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    for await (const chunk of stream) {
      const bytes = chunk instanceof Uint8Array ? chunk : chunk.subarray();
      size += bytes.length;
      if (size > MAX_ANSWER) throw new Error("answer too large");
      chunks.push(bytes);
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return new TextDecoder().decode(all);
}

/** Hands the application to the inviter's node; resolves with the admission proposal's id. */
export async function deliverApplication(
  connection: Connection,
  council: string,
  application: SealedApplication,
  timeoutMs = 20_000,
): Promise<string> {
  const signal = AbortSignal.timeout(timeoutMs);
  const stream = await connection.newStream(APPLY_PROTOCOL, { signal });
  const request = { v: 1, council, record: application.record, bytes: toBase64(application.bytes) };
  if (!stream.send(new TextEncoder().encode(JSON.stringify(request)))) await stream.onDrain();
  await stream.close();
  const answer = JSON.parse(await readAll(stream, signal)) as { ok?: unknown; proposal?: unknown; error?: unknown };
  if (answer.ok === true && typeof answer.proposal === "string") return answer.proposal;
  throw new Error(
    `the inviter's node refused the application: ${typeof answer.error === "string" ? answer.error : "no reason"}`,
  );
}

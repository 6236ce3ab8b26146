/**
 * Asking to join a council from the browser: a `member.apply` record signed by the browser's member key, sealed here
 * and handed to the inviter's node with @federa/net's `sendApplication`, as `federa join` does.
 */
import * as A from "@automerge/automerge";
import type { CouncilDoc, CouncilId, Identity, LedgerDoc } from "@federa/core";
import { Council } from "@federa/core";

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

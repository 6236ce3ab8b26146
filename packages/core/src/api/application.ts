/**
 * Applications to join a council, sealed by someone who holds none of its documents: a signed `member.apply` (or, for
 * a member named at founding, a device authorisation) written on empty stand-ins of the council's documents.
 */
import * as A from "@automerge/automerge";
import type { CouncilDoc, LedgerDoc } from "../documents/layout.js";
import { putRecords, storedValue } from "../documents/layout.js";
import type { Identity } from "../identity.js";
import type { CouncilId, RecordId } from "../ids.js";
import { Council } from "./council.js";

/** A sealed application: its record id (also the admission proposal's id) and its exact signed bytes. */
export interface SealedApplication {
  readonly record: RecordId;
  readonly bytes: Uint8Array;
}

/** Options of {@link sealApplication}. */
export interface SealOptions {
  /** This member's earlier applications to the same council: a new one continues the member key's chain. */
  readonly earlier?: readonly SealedApplication[];
  /** The record clock's source (ms). */
  readonly now?: () => number;
  /** The applicant was named at founding: seal the authorisation of this device instead of an application. */
  readonly alreadyMember?: boolean;
}

/** Empty documents of a council holding only `records`: stand-ins to seal or check records without the real ones. */
export function scratchDocuments(
  council: CouncilId,
  records: readonly SealedApplication[] = [],
): { council: A.Doc<CouncilDoc>; ledger: A.Doc<LedgerDoc> } {
  const doc: CouncilDoc = { federa: { type: "council", version: 1, council }, records: {}, minutes: {} };
  putRecords(
    doc,
    records.map(({ record, bytes }) => ({ id: record, bytes })),
  );
  return {
    council: A.from<CouncilDoc>(doc),
    ledger: A.from<LedgerDoc>({ federa: { type: "ledger", version: 1, council }, records: {} }),
  };
}

/** Seals `identity`'s application to `council`, signed by its member key. */
export async function sealApplication(
  identity: Identity,
  council: CouncilId,
  note: string,
  options: SealOptions = {},
): Promise<SealedApplication> {
  const opened = await Council.openPlain(scratchDocuments(council, options.earlier), {
    identity,
    ...(options.now ? { now: options.now } : {}),
  });
  const record = options.alreadyMember ? await opened.authorizeDevice(identity.device.id) : await opened.apply(note);
  const bytes = storedValue(opened.sources.council.doc(), record);
  if (!(bytes instanceof Uint8Array)) throw new Error("the sealed application was not written");
  return { record, bytes: new Uint8Array(bytes) };
}

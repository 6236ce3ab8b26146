/**
 * Applications to join, as a member's node takes them: sealed by a non-member without the council's documents (core's
 * `sealApplication`), checked against the council held here, and written into its document as an admission proposal
 * (or, from a founder named at founding, a device authorisation).
 */
import type { CouncilDoc, DocSource, Exclusion, FederaRecord, RecordId, SealedApplication } from "@federa/core";
import { Council, putRecords, scratchDocuments, storageKeyOf, storedValue } from "@federa/core";
import { ApplicationRefusedError } from "./errors.js";

/** The council an application is checked against and written into: a held council's derived state and document. */
export interface ApplicationTarget {
  readonly council: Council;
  readonly councilHandle: DocSource<CouncilDoc>;
}

/** How far ahead of this node's clock an application may be stamped (a far-future clock would drag the council's). */
const MAX_CLOCK_AHEAD_MS = 10 * 60_000;

/**
 * Checks an application against a council this node holds: its bytes decode under its id, it is signed by the
 * applicant's own key, it belongs to this council and continues the applicant's chain, it comes from a listed device.
 */
export async function checkApplication(
  held: ApplicationTarget,
  application: SealedApplication,
  from: string,
  now: number = Date.now(),
): Promise<FederaRecord<"member.apply" | "device.authorize">> {
  const council = held.council;
  // Records signed by member keys (earlier applications among them) carry the chain the new one continues.
  const doc = held.councilHandle.doc()!;
  const earlier = council.records
    .filter((r) => r.signer === r.author)
    .map((r) => ({ record: r.id, bytes: storedValue(doc, r.id) }))
    .filter((r): r is SealedApplication => r.bytes instanceof Uint8Array);
  const check = await Council.openPlain(scratchDocuments(council.id, [...earlier, application]), {});
  const record = check.records.find((r) => r.id === application.record);
  const state = await council.state();
  const isMember = (id: string | undefined) => state.members.some((m) => m.id === id);
  if (record === undefined) {
    const why = check.current().excluded.find((e) => isAbout(e, application.record));
    // A member's key signing a second seq 0 shows up as equivocation: the plain reason is more useful.
    if (why?.signer !== undefined && isMember(why.signer)) throw new ApplicationRefusedError("already a member");
    throw new ApplicationRefusedError(why ? `${why.reason}: ${why.detail}` : "the record does not decode under its id");
  }
  if (record.kind === "device.authorize") {
    if (record.signer !== record.author)
      throw new ApplicationRefusedError("a device is authorised by the member's own key");
    if (!isMember(record.author)) throw new ApplicationRefusedError("only a member authorises a device");
    if ((record as FederaRecord<"device.authorize">).body.device !== from) {
      throw new ApplicationRefusedError("only the device being authorised delivers its authorisation");
    }
    if (record.at.ms > now + MAX_CLOCK_AHEAD_MS)
      throw new ApplicationRefusedError("the record is stamped in the future");
    return record as FederaRecord<"device.authorize">;
  }
  if (record.kind !== "member.apply")
    throw new ApplicationRefusedError(`a ${record.kind} record is not an application`);
  if (record.signer !== record.author)
    throw new ApplicationRefusedError("an application is signed by the applicant's own key");
  const body = (record as FederaRecord<"member.apply">).body;
  if (!body.devices.includes(from))
    throw new ApplicationRefusedError("the delivering device is not listed in the application");
  if (record.at.ms > now + MAX_CLOCK_AHEAD_MS)
    throw new ApplicationRefusedError("the application is stamped in the future");
  if (isMember(record.author)) throw new ApplicationRefusedError("already a member");
  return record as FederaRecord<"member.apply">;
}

/** Writes a checked application into the council document; returns the admission proposal's id. */
export async function acceptApplication(
  held: ApplicationTarget,
  application: SealedApplication,
  from: string,
  now?: number,
): Promise<RecordId> {
  if (storedValue(held.councilHandle.doc(), application.record) === undefined) {
    await checkApplication(held, application, from, now);
    held.councilHandle.change((d) => putRecords(d, [{ id: application.record, bytes: application.bytes }]));
  }
  const state = await held.council.state();
  if (state.members.some((m) => m.devices.includes(from as never))) return application.record;
  if (!state.proposals.some((p) => p.id === application.record)) {
    const why = state.excluded.find((e) => isAbout(e, application.record));
    // Not an `ApplicationRefusedError`: the record is stored now, so the applicant must not start its chain afresh.
    throw new Error(`stored, but it opened no admission proposal: ${why ? why.detail : "not derived yet"}`);
  }
  return application.record;
}

/** Whether an exclusion is about record `id`: one whose bytes do not decode is named by the key they sit under. */
function isAbout(exclusion: Exclusion, id: RecordId): boolean {
  return exclusion.id === id || exclusion.id === storageKeyOf(id);
}

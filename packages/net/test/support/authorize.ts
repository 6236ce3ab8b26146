/** Test helper: a founder named at founding authorises a device on a copy of the council, and a held node merges it. */
import * as A from "@automerge/automerge";
import { Council, type Identity, PlainDocument } from "@federa/core";
import type { HeldCouncil } from "../../src/index.js";
import { waitFor } from "./wait.js";

/** Signs the authorisation of `identity`'s device with its member key on a copy, as `federa join` delivers it. */
export async function authorizeOnCopy(held: HeldCouncil, identity: Identity): Promise<void> {
  const copy = await Council.open(
    {
      council: new PlainDocument(A.clone(held.councilHandle.doc())),
      ledger: new PlainDocument(A.clone(held.ledgerHandle.doc())),
    },
    { identity },
  );
  await copy.authorizeDevice(identity.device.id);
  held.councilHandle.update((doc) => A.merge(doc, copy.sources.council.doc()!));
  await waitFor(
    async () => (await held.council.state()).members.some((m) => m.devices.includes(identity.device.id as never)),
    "the device's authorisation to be merged",
  );
}

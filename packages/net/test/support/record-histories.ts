/** Documents of signed-record-like entries, as Federa's records weigh on the wire, without Federa's signing. */
import * as A from "@automerge/automerge";

export type Records = { records: Record<string, Uint8Array> };

/** The histories of `writers` devices that each added `each` entries (a signature, a key, a body) to one shared base. */
export function recordHistories(writers: number, each: number): A.Doc<Records>[] {
  const base = A.from<Records>({ records: {} });
  return Array.from({ length: writers }, (_, w) => {
    let doc = A.clone(base);
    const signer = crypto.getRandomValues(new Uint8Array(32));
    for (let i = 0; i < each; i++) {
      const body = new TextEncoder().encode(`{"kind":"donation","amount":${100 + i},"from":"donor ${w}-${i}"}`);
      doc = A.change(doc, (d) => {
        d.records[crypto.randomUUID()] = new Uint8Array([
          ...crypto.getRandomValues(new Uint8Array(64)),
          ...signer,
          ...body,
        ]);
      });
    }
    return doc;
  });
}

/** The histories of `recordHistories`, merged into one document. */
export function mergedHistories(writers: number, each: number): A.Doc<Records> {
  const [first, ...rest] = recordHistories(writers, each);
  return rest.reduce((merged, doc) => A.merge(merged, doc), first as A.Doc<Records>);
}

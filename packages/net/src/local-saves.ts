/**
 * Documents this node wrote to and has not yet seen saved. A record signed here must be on disk before any peer holds
 * it: a device restarted without a record a peer has would sign another with its sequence number, a fork every peer
 * excludes with the rest of that chain. So a sync message about such a document waits for its save; messages about
 * documents only relayed here do not (losing a relayed change in a crash forks nothing).
 */
export class LocalSaves {
  readonly #save: (document: string) => Promise<void>;
  /** The save under way after the latest write to each document. */
  readonly #pending = new Map<string, Promise<void>>();

  /** `save` writes a document as it is now to storage (`repo.flush([document])`). */
  constructor(save: (document: string) => Promise<void>) {
    this.#save = save;
  }

  /** Call right after this node changed `document`: its save starts now rather than on automerge-repo's throttle. */
  wrote(document: string): void {
    const saving: Promise<void> = this.#save(document)
      .catch(() => {}) // a failed save is the storage's to report; messages are not held for ever
      .finally(() => {
        if (this.#pending.get(document) === saving) this.#pending.delete(document);
      });
    this.#pending.set(document, saving);
  }

  /** What a message about `document` waits for: the save of this node's latest write to it, if not done yet. */
  pending(document: string | undefined): Promise<void> | undefined {
    return document === undefined ? undefined : this.#pending.get(document);
  }
}

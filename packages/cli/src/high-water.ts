/**
 * Per-signer high-water marks kept across loads of each council (D/high-water.json): merging and comparing them, so a
 * record this device once verified and that has since vanished from the documents (or been altered) is reported.
 */
import type { NodeDir } from "./node-dir.js";

/** The highest valid `seq` of each signer of one council, by signer id. */
export type SignerMarks = Readonly<Record<string, number>>;

/** What D/high-water.json holds: the marks of each council, by council id. */
export type HighWaterFile = Readonly<Record<string, SignerMarks>>;

/** A signer whose current mark is below the stored one: a record of its chain this device verified is gone. */
export interface RolledBack {
  readonly signer: string;
  /** The highest `seq` this device has verified for the signer. */
  readonly stored: number;
  /** The highest valid `seq` now; -1 when none of the signer's records is valid any more. */
  readonly now: number;
}

function isSeq(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function own(marks: SignerMarks | undefined, signer: string): number | undefined {
  return marks !== undefined && Object.hasOwn(marks, signer) ? marks[signer] : undefined;
}

function sorted(entries: Iterable<readonly [string, number]>): SignerMarks {
  // fromEntries defines own properties: an id such as "__proto__" in a hand-edited file stays a plain key.
  return Object.fromEntries([...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Plain marks from a council's `highWater()`; a signer with no valid record has no mark. */
export function marksOf(highWater: ReadonlyMap<string, number>): SignerMarks {
  return sorted([...highWater].filter(([, seq]) => isSeq(seq)));
}

/** The larger mark of each signer of either side: a stored mark only ever goes up. */
export function mergeMarks(stored: SignerMarks | undefined, current: SignerMarks): SignerMarks {
  const out = new Map(Object.entries(stored ?? {}));
  for (const [signer, seq] of Object.entries(current)) out.set(signer, Math.max(seq, out.get(signer) ?? -1));
  return sorted(out);
}

/** What a rollback means, in words: the signer, its marks, and that verified records are gone. */
export function describeRollback(r: RolledBack): string {
  const now = r.now < 0 ? "no valid record" : `seq ${r.now}`;
  return `signer ${r.signer} rolled back from seq ${r.stored} to ${now}: records this device verified were deleted or altered`;
}

/** The signers whose current mark is below the stored one (a signer missing now counts as -1), by signer id. */
export function rolledBack(stored: SignerMarks | undefined, current: SignerMarks): RolledBack[] {
  const out: RolledBack[] = [];
  for (const [signer, seq] of Object.entries(stored ?? {})) {
    const now = own(current, signer) ?? -1;
    if (now < seq) out.push({ signer, stored: seq, now });
  }
  return out.sort((a, b) => (a.signer < b.signer ? -1 : a.signer > b.signer ? 1 : 0));
}

/** The marks a file's JSON holds, keeping only well-formed entries (a hand-edited one must not stop a command). */
export function parseHighWater(value: unknown): HighWaterFile {
  if (!isObject(value)) return {};
  const councils: [string, SignerMarks][] = [];
  for (const [council, marks] of Object.entries(value)) {
    if (!isObject(marks)) continue;
    councils.push([council, sorted(Object.entries(marks).filter((e): e is [string, number] => isSeq(e[1])))]);
  }
  return Object.fromEntries(councils);
}

/** D/high-water.json: read whole, merged and replaced atomically; one process's updates run one at a time. */
export class HighWaterStore {
  readonly #dir: NodeDir;
  #last: Promise<unknown> = Promise.resolve();

  constructor(dir: NodeDir) {
    this.#dir = dir;
  }

  /** The stored marks of every council. */
  async read(): Promise<HighWaterFile> {
    return parseHighWater(await this.#dir.highWater());
  }

  /**
   * Merges councils' current marks (by council id) into the file, writing it only when a mark went up, and returns
   * per council the signers below what was stored before. The caller flushes the documents first: a mark ahead of
   * the records on disk would look like a rollback after a crash.
   */
  update(current: ReadonlyMap<string, SignerMarks>): Promise<Map<string, RolledBack[]>> {
    if (current.size === 0) return Promise.resolve(new Map());
    const run = this.#last.then(async () => {
      const next = new Map(Object.entries(await this.read()));
      const drops = new Map<string, RolledBack[]>();
      let changed = false;
      for (const [council, marks] of current) {
        const before = next.get(council);
        drops.set(council, rolledBack(before, marks));
        const merged = mergeMarks(before, marks);
        if (JSON.stringify(merged) === JSON.stringify(before ?? {})) continue;
        next.set(council, merged);
        changed = true;
      }
      if (changed) await this.#dir.saveHighWater(Object.fromEntries(next));
      return drops;
    });
    this.#last = run.catch(() => {});
    return run;
  }
}

/**
 * The layout of a node directory D: the identity (owner-only), the profile, the councils it holds, pending
 * applications and device joins, the federations it follows, the node's last addresses, the automerge-repo storage, the verified-signature cache, the signers'
 * high-water marks and the control socket of a running node.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import type { Identity, IdentityFile } from "@federa/core";
import { exportIdentity, InvalidKeyError, importIdentity, MemoryVerifiedCache } from "@federa/core";
import type { BanRecord, Inviter } from "@federa/net";
import { DamagedFileError, IdentityExistsError, NoIdentityError } from "./errors.js";
import { withFileLock } from "./file-lock.js";

/** D/profile.json: who this directory is for. */
export interface Profile {
  readonly name: string;
  readonly member: string;
  readonly device: string;
  readonly created: string;
}

/** D/node.json: what the node last listened on, for invitations. */
export interface NodeInfo {
  readonly peerId: string;
  readonly addresses: readonly string[];
  readonly updated: string;
}

/** A council this directory was invited to: where its document is, and the inviter's node to fetch it from. */
export interface Invited {
  readonly council: string;
  readonly url: string;
  readonly inviter: string;
  readonly addresses: readonly string[];
}

/** One application to join a council, kept until the inviter's node has accepted it. */
export interface Application extends Invited {
  /** The record id of the signed `member.apply` (it is also the admission proposal's id). */
  readonly record: string;
  /** The signed record's stored bytes, base64. */
  readonly bytes: string;
  readonly delivered: boolean;
  /** Why the inviter's node refused it, when it did: never sent again, nor continued by a new application. */
  readonly refused?: string;
}

/**
 * A council this device joins as another device of a member already in it (authorised from a device holding the
 * member key): nothing to deliver, only documents to fetch from the inviter.
 */
export type DeviceJoin = Invited;

/** Another council's delegate whose device this directory vouches for in a federation (from their council's token). */
export interface Delegate extends Inviter {
  /** Their council: the vouch stands until its documents are here, and reaches members' documents once it is one. */
  readonly council?: string;
  /** When this directory first vouched for them (ISO): the vouch ends `VOUCH_MS` later whatever has arrived. */
  readonly since?: string;
}

/** How long a vouch for another delegate's device lasts at most: long enough for a vote, short of for good. */
export const VOUCH_MS = 30 * 24 * 3_600_000;

/** When a delegate's vouch ends (undefined for an entry that does not say when it began). */
export function vouchEnds(delegate: Delegate): number | undefined {
  const since = delegate.since === undefined ? Number.NaN : Date.parse(delegate.since);
  return Number.isFinite(since) ? since + VOUCH_MS : undefined;
}

/** A federation this directory follows (D/federations.json). */
export interface FederationEntry {
  readonly federation: string;
  readonly url: string;
  /** Who invited this device, when it joined rather than founded (with their council, when the token names it). */
  readonly inviter?: Delegate;
  /** Other councils' delegates: founders when this directory founded it, and councils it proposed to admit. */
  readonly delegates?: readonly Delegate[];
  /** The other member councils' documents fetched here (id → URL), kept apart from this directory's own councils. */
  readonly councils?: Readonly<Record<string, string>>;
}

/** The other delegates' nodes a federation entry names: its inviter, the founders, and councils proposed for admission. */
export function contactsOf(entry: FederationEntry): Delegate[] {
  return [...(entry.inviter ? [entry.inviter] : []), ...(entry.delegates ?? [])];
}

/** The council id → council document URL map of D/councils.json. */
export type CouncilMap = Record<string, string>;

/** The directory a command acts on: `--dir`, else `$FEDERA_DIR`, else `~/.federa`. */
export function defaultDir(): string {
  const fromEnv = process.env.FEDERA_DIR;
  return fromEnv !== undefined && fromEnv !== "" ? fromEnv : join(homedir(), ".federa");
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw e;
  }
}

async function readJson<T>(path: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    // Node's message names no path for these: the user needs to know which file.
    if (code === "EISDIR") throw new DamagedFileError(path, "a directory where a file belongs");
    throw e;
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new DamagedFileError(path, "not valid JSON");
  }
}

/** A JSON object (not null, not a list): what every file of the directory but the lists holds. */
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isText = (v: unknown): v is string => typeof v === "string";
const isTextList = (v: unknown): boolean => Array.isArray(v) && v.every(isText);
/** A document URL as automerge-repo writes them (its checksum is checked when the document is opened). */
const isUrl = (v: unknown): boolean => isText(v) && v.startsWith("automerge:");
/** Ids, each with its document's URL (D/councils.json, a federation's fetched councils). */
const isUrlMap = (v: unknown): boolean => isRecord(v) && Object.values(v).every(isUrl);

const isIdentityFile = (v: unknown): v is IdentityFile =>
  isRecord(v) && isText(v.member) && isText(v.deviceSeed) && (v.memberSeed === undefined || isText(v.memberSeed));
const isContact = (v: unknown): boolean =>
  typeof v === "object" &&
  v !== null &&
  isText((v as { peer?: unknown }).peer) &&
  isTextList((v as { addresses?: unknown }).addresses);

const isDelegate = (v: unknown): boolean =>
  isContact(v) &&
  ((v as Delegate).council === undefined || isText((v as Delegate).council)) &&
  ((v as Delegate).since === undefined || isText((v as Delegate).since));

/** A list read from one of the directory's files, each entry checked: a hand-edited or damaged file says so. */
async function readList<T>(path: string, isEntry: (v: Record<string, unknown>) => boolean, what: string): Promise<T[]> {
  const value = await readJson<unknown>(path);
  if (value === undefined) return [];
  const ok = Array.isArray(value) && value.every((v) => isRecord(v) && isEntry(v));
  if (!ok) throw new DamagedFileError(path, `expected a list of ${what}`);
  return value as T[];
}

/** An object read from one of the directory's files and checked, or undefined when there is no such file. */
async function readRecord<T>(path: string, isValid: (v: Record<string, unknown>) => boolean, what: string) {
  const value = await readJson<unknown>(path);
  if (value === undefined) return undefined;
  if (!isRecord(value) || !isValid(value)) throw new DamagedFileError(path, `expected ${what}`);
  return value as T;
}

const isInvited = (v: Record<string, unknown>) =>
  isText(v.council) && isUrl(v.url) && isText(v.inviter) && isTextList(v.addresses);

/** Writes a file whole or not at all (a crash leaves the old content), readable by its owner only. */
async function writeAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    await writeFile(tmp, data, { mode: 0o600 });
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** Paths and reads/writes of one node directory. */
export class NodeDir {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  get identityPath(): string {
    return join(this.root, "identity.json");
  }
  get profilePath(): string {
    return join(this.root, "profile.json");
  }
  get councilsPath(): string {
    return join(this.root, "councils.json");
  }
  get applicationsPath(): string {
    return join(this.root, "applications.json");
  }
  get joinsPath(): string {
    return join(this.root, "joins.json");
  }
  get federationsPath(): string {
    return join(this.root, "federations.json");
  }
  get nodeInfoPath(): string {
    return join(this.root, "node.json");
  }
  get repoPath(): string {
    return join(this.root, "repo");
  }
  get verifiedPath(): string {
    return join(this.root, "verified.bin");
  }
  get socketPath(): string {
    return join(this.root, "node.sock");
  }
  get highWaterPath(): string {
    return join(this.root, "high-water.json");
  }
  get bansPath(): string {
    return join(this.root, "bans.json");
  }

  /** Creates the directory readable by its owner only. */
  async create(): Promise<void> {
    await mkdir(this.root, { recursive: true, mode: 0o700 });
  }

  async hasIdentity(): Promise<boolean> {
    return exists(this.identityPath);
  }

  /** Writes a new identity; refuses to overwrite one (the keys would be lost for good). */
  async writeIdentity(identity: Identity, profile: Profile): Promise<void> {
    await this.create();
    try {
      await writeFile(this.identityPath, `${JSON.stringify(exportIdentity(identity), null, 2)}\n`, {
        mode: 0o600,
        flag: "wx",
      });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST") throw new IdentityExistsError(this.identityPath);
      throw e;
    }
    await writeAtomic(this.profilePath, `${JSON.stringify(profile, null, 2)}\n`);
  }

  async identity(): Promise<Identity> {
    const file = await readJson<unknown>(this.identityPath);
    if (file === undefined) throw new NoIdentityError(this.root);
    if (!isIdentityFile(file))
      throw new DamagedFileError(
        this.identityPath,
        "expected member, deviceSeed and (on the member key's device) memberSeed",
      );
    try {
      return await importIdentity(file);
    } catch (e) {
      // Core's message says what is wrong with a key, not where it was read.
      if (e instanceof InvalidKeyError) throw new DamagedFileError(this.identityPath, e.message);
      throw e;
    }
  }

  async profile(): Promise<Profile | undefined> {
    return readRecord<Profile>(this.profilePath, (v) => isText(v.name), "a profile with a name");
  }

  async councils(): Promise<CouncilMap> {
    const councils = await readRecord<CouncilMap>(this.councilsPath, isUrlMap, "council ids with document URLs");
    return councils ?? {};
  }

  /** Adds (or updates) a council. */
  async addCouncil(id: string, url: string): Promise<void> {
    await this.create();
    await withFileLock(this.councilsPath, async () => {
      const councils = await this.councils();
      if (councils[id] === url) return;
      await writeAtomic(this.councilsPath, `${JSON.stringify({ ...councils, [id]: url }, null, 2)}\n`);
    });
  }

  async applications(): Promise<Application[]> {
    return readList<Application>(
      this.applicationsPath,
      (v) => isInvited(v) && isText(v.record) && isText(v.bytes) && (v.refused === undefined || isText(v.refused)),
      "applications",
    );
  }

  /** Adds an application, replacing an earlier one for the same record. */
  async saveApplication(application: Application): Promise<void> {
    await this.create();
    await withFileLock(this.applicationsPath, async () => {
      const others = (await this.applications()).filter((a) => a.record !== application.record);
      await writeAtomic(this.applicationsPath, `${JSON.stringify([...others, application], null, 2)}\n`);
    });
  }

  async joins(): Promise<DeviceJoin[]> {
    return readList<DeviceJoin>(this.joinsPath, isInvited, "device joins");
  }

  /** Adds a device join, replacing an earlier one to the same council (a newer token may carry fresher addresses). */
  async saveJoin(join: DeviceJoin): Promise<void> {
    await this.create();
    await withFileLock(this.joinsPath, async () => {
      const others = (await this.joins()).filter((j) => j.council !== join.council);
      await writeAtomic(this.joinsPath, `${JSON.stringify([...others, join], null, 2)}\n`);
    });
  }

  /** Who invited this device to each council it joined (applications and device joins): trusted while it fetches. */
  async inviters(): Promise<{ council: string; peer: string; addresses: readonly string[] }[]> {
    const joined = [...(await this.applications()), ...(await this.joins())];
    return joined.map((j) => ({ council: j.council, peer: j.inviter, addresses: j.addresses }));
  }

  async federations(): Promise<FederationEntry[]> {
    return readList<FederationEntry>(
      this.federationsPath,
      (v) =>
        isText(v.federation) &&
        isUrl(v.url) &&
        (v.inviter === undefined || isDelegate(v.inviter)) &&
        (v.delegates === undefined || (Array.isArray(v.delegates) && v.delegates.every(isDelegate))) &&
        (v.councils === undefined || isUrlMap(v.councils)),
      "federations",
    );
  }

  /** Rewrites D/federations.json under its lock with what `change` makes of the entries (nothing when it returns null). */
  async #rewriteFederations<T>(change: (all: FederationEntry[]) => { next: FederationEntry[]; result: T } | null) {
    await this.create();
    return withFileLock(this.federationsPath, async () => {
      const changed = change(await this.federations());
      if (changed !== null) await writeAtomic(this.federationsPath, `${JSON.stringify(changed.next, null, 2)}\n`);
      return changed?.result;
    });
  }

  /**
   * Dates the vouches that do not say when they began (entries written before vouches had a term) as beginning at
   * `now`, so every vouch ends; returns how many it dated.
   */
  async dateVouches(now: string): Promise<number> {
    const dated = await this.#rewriteFederations((all) => {
      let count = 0;
      const date = (d: Delegate): Delegate => {
        if (d.since !== undefined) return d;
        count++;
        return { ...d, since: now };
      };
      const next = all.map((f) => ({
        ...f,
        ...(f.inviter ? { inviter: date(f.inviter) } : {}),
        ...(f.delegates ? { delegates: f.delegates.map(date) } : {}),
      }));
      return count === 0 ? null : { next, result: count };
    });
    return dated ?? 0;
  }

  /** Removes delegates (by peer) from a federation's entry: the node no longer vouches for them. */
  async dropDelegates(federation: string, peers: ReadonlySet<string>): Promise<void> {
    await this.#rewriteFederations((all) => ({
      next: all.map((f) =>
        f.federation !== federation ? f : { ...f, delegates: (f.delegates ?? []).filter((d) => !peers.has(d.peer)) },
      ),
      result: undefined,
    }));
  }

  /**
   * Adds a federation, or merges into the entry for the same federation (delegates and councils fetched add up). The
   * document URL first stored stands: the id names one document, and another URL would leave it unreadable.
   */
  async saveFederation(entry: FederationEntry): Promise<FederationEntry> {
    const saved = await this.#rewriteFederations((all) => {
      const earlier = all.find((f) => f.federation === entry.federation);
      const merged: FederationEntry = {
        ...earlier,
        ...entry,
        url: earlier?.url ?? entry.url,
        councils: { ...earlier?.councils, ...entry.councils },
        // The newest entry for a peer stands, as the node's vouch does.
        delegates: [...(earlier?.delegates ?? []), ...(entry.delegates ?? [])].filter(
          (d, i, list) => list.findLastIndex((x) => x.peer === d.peer) === i,
        ),
      };
      return { next: [...all.filter((f) => f.federation !== entry.federation), merged], result: merged };
    });
    return saved!;
  }

  /** Adds member councils fetched for a federation still followed (one left meanwhile stays left). */
  async addFederationCouncils(federation: string, councils: Readonly<Record<string, string>>): Promise<void> {
    await this.#rewriteFederations((all) =>
      all.some((f) => f.federation === federation)
        ? {
            next: all.map((f) =>
              f.federation !== federation ? f : { ...f, councils: { ...f.councils, ...councils } },
            ),
            result: undefined,
          }
        : null,
    );
  }

  /** Removes a federation's entry, with its vouches and the member councils fetched for it; false if none was there. */
  async removeFederation(federation: string): Promise<boolean> {
    const removed = await this.#rewriteFederations((all) =>
      all.some((f) => f.federation === federation)
        ? { next: all.filter((f) => f.federation !== federation), result: true }
        : null,
    );
    return removed ?? false;
  }

  /** Every council whose documents this directory may hold: its own, then other member councils of its federations. */
  async knownCouncils(): Promise<CouncilMap> {
    const known: CouncilMap = {};
    for (const f of await this.federations()) Object.assign(known, f.councils);
    return { ...known, ...(await this.councils()) };
  }

  async nodeInfo(): Promise<NodeInfo | undefined> {
    return readRecord<NodeInfo>(
      this.nodeInfoPath,
      (v) => isText(v.peerId) && isTextList(v.addresses),
      "the node's peer id and addresses",
    );
  }

  async writeNodeInfo(info: NodeInfo): Promise<void> {
    await writeAtomic(this.nodeInfoPath, `${JSON.stringify(info, null, 2)}\n`);
  }

  /** The verified-signature cache saved by the last process that used this directory. */
  async verified(): Promise<MemoryVerifiedCache> {
    try {
      return MemoryVerifiedCache.fromBytes(new Uint8Array(await readFile(this.verifiedPath)));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return new MemoryVerifiedCache();
      throw e;
    }
  }

  async saveVerified(cache: MemoryVerifiedCache): Promise<void> {
    if (!cache.dirty) return;
    await writeAtomic(this.verifiedPath, cache.toBytes());
  }

  /** The raw JSON of D/high-water.json (see `high-water.ts`), or undefined when no mark was kept yet. */
  /** The stored marks as read (their entries are checked by `parseHighWater`); a file that is no JSON object is damaged. */
  async highWater(): Promise<unknown> {
    const damaged = (problem: string) =>
      new DamagedFileError(
        this.highWaterPath,
        `${problem}; move it aside and the marks start again from what this replica holds (a rollback before then goes unnoticed)`,
      );
    let value: unknown;
    try {
      value = await readJson<unknown>(this.highWaterPath);
    } catch (e) {
      if (e instanceof DamagedFileError) throw damaged("not valid JSON");
      throw e;
    }
    // Read as no marks, it would be overwritten with the current ones: every drop before then would go unnoticed.
    if (value !== undefined && !isRecord(value)) throw damaged("not a JSON object");
    return value;
  }

  async saveHighWater(marks: unknown): Promise<void> {
    await writeAtomic(this.highWaterPath, `${JSON.stringify(marks, null, 2)}\n`);
  }

  /** The bans the node kept when it last ran; an unreadable file counts as none (the node must still start). */
  async bans(): Promise<BanRecord[]> {
    try {
      const value = await readJson<unknown>(this.bansPath);
      return Array.isArray(value) ? (value as BanRecord[]) : [];
    } catch {
      return [];
    }
  }

  async saveBans(bans: readonly BanRecord[]): Promise<void> {
    await writeAtomic(this.bansPath, `${JSON.stringify(bans, null, 2)}\n`);
  }
}

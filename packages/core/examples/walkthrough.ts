/**
 * The walkthrough `./dev walkthrough` runs: a bakery co-op splits into two offline partitions that both act, then merges,
 * and Federa derives what the merge means (a held overdraft, a flipped vote, a rotation conflict) identically on both.
 */
import { mkdirSync, realpathSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type {
  CouncilDoc,
  CouncilState,
  DeviceId,
  Identity,
  LedgerDoc,
  MemberId,
  MergeChange,
  ProposalId,
  RecordId,
} from "@federa/core";
import {
  Council,
  canonicalJson,
  compareStates,
  exportCsv,
  exportJson,
  foundCouncil,
  keypairFromSeed,
  PlainDocument,
  REPORT_TABLES,
} from "@federa/core";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";

/** What the story produced, so tests can check its facts without reading the printed text. */
export interface WalkthroughResult {
  /** Display name of each member id. */
  readonly names: Readonly<Record<string, string>>;
  readonly proposal: ProposalId;
  /** The petty-cash expenses each partition wrote from the strike fund. */
  readonly spends: { readonly a: RecordId; readonly b: RecordId };
  /** The facilitator assignments each partition wrote for the same meeting. */
  readonly roles: { readonly a: RecordId; readonly b: RecordId };
  readonly meeting: string;
  /** Each partition's own view just before the network healed. */
  readonly partitions: { readonly a: CouncilState; readonly b: CouncilState };
  /** After the merge: both partitions, and a third replica loaded from saved bytes and derived from scratch. */
  readonly merged: { readonly a: CouncilState; readonly b: CouncilState; readonly loaded: CouncilState };
  /** What the merge changed for each partition (`compareStates(before, after)`). */
  readonly changes: { readonly a: readonly MergeChange[]; readonly b: readonly MergeChange[] };
  /** Short SHA-256 of each replica's canonical JSON state. */
  readonly hashes: { readonly a: string; readonly b: string; readonly loaded: string };
  /** Where the reports were written. */
  readonly files: { readonly dir: string; readonly ledgerCsv: string; readonly reportJson: string };
}

/** How the walkthrough runs. */
export interface WalkthroughOptions {
  /** Wrap headings and flags in ANSI colours (the CLI turns it on for a terminal). */
  readonly color?: boolean;
  /** Where the CSV and JSON reports go; default: a fixed folder under the system temp dir. */
  readonly outDir?: string;
}

const START = Date.UTC(2025, 2, 1, 9, 0, 0); // Saturday 1 March 2025, 09:00 UTC
const NAMES = ["Amara", "Bruno", "Chen", "Dara", "Emeka"] as const;
type Name = (typeof NAMES)[number];
const MEETING = "General assembly, 8 March";

/** A deterministic wall clock: it starts at START, ticks one second per reading, and jumps to named times. */
class Clock {
  #ms = START;
  readonly now = (): number => {
    const ms = this.#ms;
    this.#ms += 1000;
    return ms;
  };
  /** Moves forward to hh:mm on the start day (never backwards). */
  to(hhmm: string): string {
    const [h, m] = hhmm.split(":").map(Number) as [number, number];
    this.#ms = Math.max(this.#ms, START + ((h - 9) * 60 + m) * 60_000);
    return hhmm;
  }
}

/** The same keys on every run, so record ids, signatures and hashes repeat exactly. */
async function identityOf(name: string): Promise<Identity> {
  const seed = (key: string) => sha256(utf8ToBytes(`federa walkthrough / ${name} / ${key}`));
  const memberKey = await keypairFromSeed(seed("member"));
  const device = await keypairFromSeed(seed("laptop"));
  return { member: memberKey.id as MemberId, device, memberKey };
}

/** A replica: the council and ledger documents one group of laptops shares. */
interface Replica {
  readonly council: PlainDocument<CouncilDoc>;
  readonly ledger: PlainDocument<LedgerDoc>;
}

function fork(r: Replica): Replica {
  return { council: r.council.fork(), ledger: r.ledger.fork() };
}

/** Moves every change of `from` into `into` (one direction of a sync). */
function pull(into: Replica, from: Replica): void {
  into.council.merge(from.council);
  into.ledger.merge(from.ledger);
}

function shortHash(state: CouncilState): string {
  return bytesToHex(sha256(utf8ToBytes(canonicalJson(state)))).slice(0, 16);
}

const money = (minor: number) => `${minor < 0 ? "-" : ""}${(Math.abs(minor) / 100).toFixed(2)}`;
const hours = (min: number) =>
  `${min < 0 ? "-" : "+"}${Math.floor(Math.abs(min) / 60)}h${String(Math.abs(min) % 60).padStart(2, "0")}`;
const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);

/** Runs the story, printing it line by line through `log`; returns its facts. */
export async function walkthrough(
  log: (line: string) => void,
  options: WalkthroughOptions = {},
): Promise<WalkthroughResult> {
  const paint = (code: string) => (s: string) => (options.color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const bold = paint("1");
  const dim = paint("2");
  const red = paint("31");
  const green = paint("32");
  const yellow = paint("33");
  const heading = (time: string, title: string) => {
    log("");
    log(bold(paint("36")(`${time}  ${title}`)));
  };
  const say = (line: string) => log(`  ${line}`);

  const clock = new Clock();
  const now = clock.now;
  const ids = {} as Record<Name, Identity>;
  for (const name of NAMES) ids[name] = await identityOf(name);
  const names: Record<string, string> = Object.fromEntries(NAMES.map((n) => [ids[n].member, n]));
  // Derived text names members by id; the story names them by name.
  const named = (text: string) => Object.entries(names).reduce((t, [id, n]) => t.replaceAll(id, n), text);
  // Time-bank balances in the cast's order, not by member id.
  const accounts = (a: Readonly<Record<string, number>>) =>
    NAMES.filter((n) => a[ids[n].member] !== undefined)
      .map((n) => `${n} ${hours(a[ids[n].member]!)}`)
      .join(", ");
  const open = async (replica: Replica, who: Name) => Council.open(replica, { identity: ids[who], now });
  const outcome = (passed: boolean | undefined, provisional: boolean) =>
    passed === undefined
      ? "no votes yet"
      : `${passed ? green("PASSING") : red("FAILING")}${provisional ? " (provisional)" : ""}`;

  log(bold("Federa walkthrough: two partitions of one council, and what their merge means"));

  // ── Founding ──
  heading(clock.to("09:00"), "Amara founds Riverside Bakery Co-op with four fellow bakers");
  const docs = await foundCouncil(ids.Amara, {
    name: "Riverside Bakery Co-op",
    founders: NAMES.map((n) => ids[n].member),
    charter: { pettyCashLimit: 25_000 },
    now,
  });
  const hub: Replica = { council: new PlainDocument(docs.council), ledger: new PlainDocument(docs.ledger) };
  const together = {} as Record<Name, Council>;
  for (const name of NAMES) together[name] = await open(hub, name);
  for (const name of NAMES.slice(1)) await together[name].authorizeDevice(ids[name].device.id as DeviceId, "laptop");
  for (const name of NAMES) say(`${name.padEnd(6)} ${dim(ids[name].member)}`);
  say("Charter: majority of votes cast, quorum half the members, petty cash up to 250.00, facilitator rotates.");

  heading(clock.to("09:05"), "A strike fund and a time bank; donations arrive");
  await together.Amara.ledger.createFund("strike-fund", "cash", "Wages for bakers on strike");
  await together.Amara.ledger.createFund("time-bank", "time", "An hour of any work is an hour");
  await together.Bruno.ledger.donate("strike-fund", 30_000, "Bakers' Union Local 12");
  await together.Chen.ledger.donate("strike-fund", 15_000, "Saturday market tip jar");
  say("Bruno records 300.00 from Bakers' Union Local 12; Chen records 150.00 from the market tip jar.");

  heading(clock.to("09:15"), "Bruno proposes joining the strike; the vote closes at 12:00");
  const title = "Join Friday's city-wide bread strike";
  const closesAt = START + 3 * 60 * 60_000;
  const proposal = await together.Bruno.propose({
    title,
    text: "Close both shops on Friday 7 March and staff the picket line at the flour mill.",
    closesAt,
  });
  say(`"${title}" ${dim(`(${proposal.slice(0, 8)})`)}, majority, electorate of five frozen at opening.`);

  heading(clock.to("09:20"), "Everyone syncs");
  for (const name of NAMES) {
    const s = await together[name].state();
    const fund = s.funds.find((f) => f.id === "strike-fund");
    say(`${name.padEnd(6)} ${s.records} records, strike-fund ${money(fund?.balance ?? 0)}, hash ${shortHash(s)}`);
  }

  // ── The partition ──
  heading(clock.to("09:30"), "The network splits: A = Amara, Bruno, Chen; B = Dara, Emeka");
  const a = fork(hub);
  const b = fork(hub);
  const amara = await open(a, "Amara");
  const bruno = await open(a, "Bruno");
  const chen = await open(a, "Chen");
  const dara = await open(b, "Dara");
  const emeka = await open(b, "Emeka");
  say("Each side keeps working on its own replica (PlainDocument.fork()); neither sees the other.");

  heading(clock.to("09:40"), "Both sides spend from the strike fund under the petty-cash limit");
  const memoA = 'Picket signs, banners and "Bread not bombs" placards';
  const spendA = await amara.ledger.spend("strike-fund", 24_000, "Northside Print Shop", "petty", memoA);
  say(`A: Amara pays 240.00 to Northside Print Shop: ${memoA}`);
  clock.to("09:45");
  const spendB = await dara.ledger.spend(
    "strike-fund",
    23_000,
    "Mill Street Lettings",
    "petty",
    "Hardship grant: Emeka's March rent",
  );
  say("B: Dara pays 230.00 to Mill Street Lettings: hardship grant for Emeka's rent");
  say(dim("Each fits the 450.00 each side can see; together they need 470.00."));

  heading(clock.to("10:00"), "Both sides vote before the 12:00 deadline");
  await amara.vote(proposal, { method: "majority", choice: "yes" });
  await bruno.vote(proposal, { method: "majority", choice: "yes" });
  await chen.vote(proposal, { method: "majority", choice: "no" });
  say("A: Amara yes, Bruno yes, Chen no");
  clock.to("10:10");
  await dara.vote(proposal, { method: "majority", choice: "no" });
  await emeka.vote(proposal, { method: "majority", choice: "no" });
  say("B: Dara no, Emeka no");

  heading(clock.to("10:30"), "Time swaps (the member who received the work records it)");
  await bruno.ledger.swap("time-bank", ids.Chen.member, 240, "Covered Saturday's early shift");
  say("A: Chen covered Bruno's early shift: 4 hours");
  clock.to("10:35");
  await emeka.ledger.swap("time-bank", ids.Dara.member, 90, "Fixed the proving oven");
  say("B: Dara fixed the proving oven for Emeka: 1h30");

  heading(clock.to("11:00"), `Both sides pick a facilitator for "${MEETING}"`);
  const roleA = await bruno.assignRole(MEETING, "facilitator", ids.Chen.member);
  say("A: Bruno assigns Chen");
  clock.to("11:05");
  const roleB = await emeka.assignRole(MEETING, "facilitator", ids.Dara.member);
  say("B: Emeka assigns Dara");

  const view = (label: string, s: CouncilState) => {
    heading(clock.to("11:30"), `What partition ${label} sees`);
    for (const f of s.funds) say(`${f.id.padEnd(12)} ${f.type === "cash" ? money(f.balance) : accounts(f.accounts)}`);
    const p = s.proposals.find((x) => x.id === proposal)!;
    say(`"${title}": ${outcome(p.result?.passed, p.status === "open")} ${dim(`(${named(p.result?.reason ?? "")})`)}`);
    const holder = s.roles.find((r) => r.role === "facilitator")?.holders.find((h) => h.meeting === MEETING);
    say(`facilitator of "${MEETING}": ${holder ? names[holder.holder] : "nobody"}`);
  };
  const beforeA = await amara.state();
  const beforeB = await dara.state();
  view("A", beforeA);
  view("B", beforeB);

  // ── The merge ──
  heading(clock.to("12:30"), "The network heals: A and B merge both ways");
  pull(a, b);
  pull(b, a);
  await amara.tick();
  pull(b, a);
  say("Each replica merges the other's documents; Amara's laptop then writes a tick so the 12:00 deadline");
  say("takes effect in derived state, and it syncs to B as well.");
  const mergedA = await amara.state();
  const mergedB = await dara.state();
  const loadedReplica: Replica = {
    council: PlainDocument.load(a.council.save()),
    ledger: PlainDocument.load(a.ledger.save()),
  };
  const loaded = await (await Council.open(loadedReplica)).state();

  heading("12:31", "The merged council");
  for (const f of mergedA.funds) {
    const sum = Object.values(f.accounts).reduce((t, m) => t + m, 0);
    if (f.type === "cash") say(`${f.id.padEnd(12)} ${bold(money(f.balance))}`);
    else say(`${f.id.padEnd(12)} ${accounts(f.accounts)} ${dim(`(sum ${sum}: mutual credit)`)}`);
  }
  say("Open ledger of strike-fund:");
  for (const e of mergedA.ledger.filter((x) => x.fund === "strike-fund")) {
    const status = e.status === "held" ? yellow(`HELD: ${e.reason}`) : "applied";
    say(`  ${hhmm(e.at.ms)} ${e.type.padEnd(8)} ${money(e.amount).padStart(7)}  ${e.counterparty}  ${status}`);
  }
  say(dim("Expenses apply in clock order: A's 09:40 payment came first, so B's 09:45 payment is held for the"));
  say(dim("assembly to resolve; it is shown, never silently dropped, and the balance never goes below zero."));
  const merged = mergedA.proposals.find((x) => x.id === proposal)!;
  const authorOf = new Map(amara.records.map((r) => [r.id as string, r.author as string]));
  say(`"${title}": ${merged.status === "passed" ? green("PASSED") : red("FAILED")}`);
  say(
    `  votes: ${NAMES.map((n) => {
      const v = merged.votes[ids[n].member];
      return `${n} ${v && "choice" in v ? v.choice : "-"}`;
    }).join(", ")}`,
  );
  say("  outcome history (each change as the votes are folded in clock order):");
  for (const step of merged.history) {
    const who = step.record === null ? "deadline" : `${names[authorOf.get(step.record) ?? ""] ?? "?"}'s vote`;
    say(
      `    ${hhmm(step.at.ms)} ${who.padEnd(13)} → ${step.passed ? "passing" : "failing"}${step.event === "close" ? " (closed)" : ""}`,
    );
  }
  say(`  ${dim(merged.result?.reason ?? "")}`);
  say(`Conflicts the merge surfaced ${dim("(derived text states amounts in minor units: 23000 = 230.00)")}:`);
  for (const c of mergedA.conflicts) say(`  ${yellow(c.type)} ${dim(c.record.slice(0, 8))} ${named(c.detail)}`);

  const changesA = compareStates(beforeA, mergedA);
  const changesB = compareStates(beforeB, mergedB);
  for (const [label, changes] of [
    ["A", changesA],
    ["B", changesB],
  ] as const) {
    heading("12:31", `What the merge changed for partition ${label}`);
    for (const c of changes) say(`${yellow(c.type.padEnd(17))} ${named(c.detail)}`);
  }

  heading("12:31", "Both replicas derive byte-identical state");
  const hashes = { a: shortHash(mergedA), b: shortHash(mergedB), loaded: shortHash(loaded) };
  say(`partition A          ${hashes.a}`);
  say(`partition B          ${hashes.b}`);
  say(`loaded from bytes    ${hashes.loaded}`);
  const same = hashes.a === hashes.b && hashes.b === hashes.loaded;
  say(same ? green("identical: same records, same state, whatever order they arrived in") : red("DIFFERENT"));

  heading("12:32", "Reports: the open ledger and every other table, as CSV and JSON");
  const dir = options.outDir ?? join(tmpdir(), "federa-walkthrough");
  mkdirSync(dir, { recursive: true });
  for (const table of REPORT_TABLES) writeFileSync(join(dir, `${table}.csv`), exportCsv(mergedA, table));
  const reportJson = join(dir, "report.json");
  writeFileSync(reportJson, exportJson(mergedA));
  const ledgerCsv = join(dir, "ledger.csv");
  say(`open ledger: ${bold(ledgerCsv)}`);
  say(
    dim(
      `also ${REPORT_TABLES.filter((t) => t !== "ledger")
        .map((t) => `${t}.csv`)
        .join(", ")}, report.json`,
    ),
  );

  return {
    names,
    proposal,
    spends: { a: spendA, b: spendB },
    roles: { a: roleA, b: roleB },
    meeting: MEETING,
    partitions: { a: beforeA, b: beforeB },
    merged: { a: mergedA, b: mergedB, loaded },
    changes: { a: changesA, b: changesB },
    hashes,
    files: { dir, ledgerCsv, reportJson },
  };
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(realpathSync(entry)).href) {
  const color = process.stdout.isTTY === true && process.env.NO_COLOR === undefined;
  await walkthrough((line) => process.stdout.write(`${line}\n`), { color });
}

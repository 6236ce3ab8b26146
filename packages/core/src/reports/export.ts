/** Reports of a council's derived state: the open ledger, decisions, rotations, mandates, funds, members, conflicts. */
import type { CouncilState } from "../derive/view.js";
import { InvalidInputError } from "../errors.js";
import type { Hlc } from "../hlc.js";
import { canonicalJson } from "./canonical-json.js";
import type { CsvOptions, CsvValue } from "./csv.js";
import { toCsv } from "./csv.js";

/** The tables a report holds, in the order they are exported. */
export const REPORT_TABLES = ["ledger", "decisions", "rotations", "mandates", "funds", "members", "conflicts"] as const;

/** One table of a report. */
export type ReportTable = (typeof REPORT_TABLES)[number];

/** One line of the open ledger; held lines moved no money and say why in `reason`. */
export interface LedgerRow {
  /** ISO time of the record clock; `counter` orders records within one millisecond. */
  readonly at: string;
  readonly counter: number;
  readonly fund: string;
  readonly type: string;
  /** Integer minor units (cash, jar) or minutes (time swaps). */
  readonly amount: number;
  readonly by: string;
  readonly counterparty: string;
  readonly memo: string;
  readonly status: "applied" | "held";
  readonly reason: string;
  readonly record: string;
}

/** One proposal: how it was decided, how late votes moved it, and what its effect did. */
export interface DecisionRow {
  readonly id: string;
  readonly title: string;
  readonly method: string;
  readonly opened: string;
  readonly closes: string;
  readonly status: "open" | "passed" | "failed";
  /** Size of the electorate frozen at opening. */
  readonly electorate: number;
  readonly participation: number;
  readonly quorumMet: boolean | null;
  /** The final outcome once closed, the provisional one while open, null before any vote. */
  readonly passing: boolean | null;
  readonly winner: string;
  /** Totals per choice or option, as `name: n` joined by `; `. */
  readonly counts: string;
  /** The count's own sentence: why it passes or fails. */
  readonly summary: string;
  /** How many times the outcome changed as votes arrived (late votes from a partition show up here). */
  readonly outcomeChanges: number;
  readonly effect: string;
  /** Whether the effect was applied; null until the proposal passes. */
  readonly effectApplied: boolean | null;
  readonly effectDetail: string;
}

/** One role holder for one meeting; `violation` when the holder took the role out of turn. */
export interface RotationRow {
  readonly role: string;
  readonly meeting: string;
  readonly holder: string;
  readonly at: string;
  readonly counter: number;
  readonly violation: boolean;
}

/** One mandate a decision issued. */
export interface MandateRow {
  readonly id: string;
  readonly delegate: string;
  readonly body: string;
  readonly starts: string;
  readonly expires: string;
  readonly allowanceFund: string;
  /** Spending allowance in minor units; null when the mandate carries none. */
  readonly allowance: number | null;
  readonly spent: number;
  readonly issued: string;
  /** ISO time of the recall, empty while the mandate was never recalled. */
  readonly recalledAt: string;
}

/** One fund and its balance (time funds always sum to zero, so their balance is 0). */
export interface FundRow {
  readonly id: string;
  readonly type: "cash" | "time" | "jar";
  readonly balance: number;
  readonly parent: string;
}

/** One current or former member. */
export interface MemberRow {
  readonly id: string;
  readonly status: "member" | "former";
  readonly since: string;
  readonly left: string;
  /** "genesis", the admitting proposal, or for a former member how they went ("left" or the removing proposal). */
  readonly how: string;
  /** Authorised device ids, space-separated. */
  readonly devices: string;
}

/** One conflict the derivation resolved and shows to the assembly. */
export interface ConflictRow {
  readonly type: string;
  readonly at: string;
  readonly counter: number;
  readonly record: string;
  readonly detail: string;
}

/** The row type of each table. */
export interface ReportRows {
  readonly ledger: LedgerRow;
  readonly decisions: DecisionRow;
  readonly rotations: RotationRow;
  readonly mandates: MandateRow;
  readonly funds: FundRow;
  readonly members: MemberRow;
  readonly conflicts: ConflictRow;
}

/** Every table of a council's derived state as JSON-safe rows, with where in the record order it was taken. */
export interface Report {
  readonly council: string | null;
  readonly name: string;
  /** The latest record clock folded: the report is as of this point. */
  readonly horizon: string;
  readonly horizonCounter: number;
  readonly records: number;
  readonly tables: { readonly [T in ReportTable]: readonly ReportRows[T][] };
}

/** Column order of each table's CSV (every field of its row type). */
export const REPORT_COLUMNS: { readonly [T in ReportTable]: readonly (keyof ReportRows[T] & string)[] } = {
  ledger: ["at", "counter", "fund", "type", "amount", "by", "counterparty", "memo", "status", "reason", "record"],
  decisions: [
    "id",
    "title",
    "method",
    "opened",
    "closes",
    "status",
    "electorate",
    "participation",
    "quorumMet",
    "passing",
    "winner",
    "counts",
    "summary",
    "outcomeChanges",
    "effect",
    "effectApplied",
    "effectDetail",
  ],
  rotations: ["role", "meeting", "holder", "at", "counter", "violation"],
  mandates: [
    "id",
    "delegate",
    "body",
    "starts",
    "expires",
    "allowanceFund",
    "allowance",
    "spent",
    "issued",
    "recalledAt",
  ],
  funds: ["id", "type", "balance", "parent"],
  members: ["id", "status", "since", "left", "how", "devices"],
  conflicts: ["type", "at", "counter", "record", "detail"],
};

/** ISO time of a clock's milliseconds; a value beyond the range of dates stays a number, so reports never throw. */
export function iso(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? String(ms) : date.toISOString();
}

function byClock(a: Hlc, b: Hlc): number {
  return a.ms - b.ms || a.c - b.c;
}

function byText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function ledgerRows(state: CouncilState): LedgerRow[] {
  // The ledger is already in derivation order, the same on every peer.
  return state.ledger.map((e) => ({
    at: iso(e.at.ms),
    counter: e.at.c,
    fund: e.fund,
    type: e.type,
    amount: e.amount,
    by: e.by,
    counterparty: e.counterparty,
    memo: e.memo,
    status: e.status,
    reason: e.reason,
    record: e.record,
  }));
}

function decisionRows(state: CouncilState): DecisionRow[] {
  return [...state.proposals]
    .sort((a, b) => byClock(a.openedAt, b.openedAt) || byText(a.id, b.id))
    .map((p) => {
      const r = p.result;
      let changes = 0;
      for (let i = 1; i < p.history.length; i++) if (p.history[i]!.passed !== p.history[i - 1]!.passed) changes++;
      return {
        id: p.id,
        title: p.title,
        method: p.method,
        opened: iso(p.openedAt.ms),
        closes: iso(p.closesAt),
        status: p.status,
        electorate: p.electorate.length,
        participation: r?.participation ?? Object.keys(p.votes).length,
        quorumMet: r?.quorumMet ?? null,
        passing: r?.passed ?? null,
        winner: r?.winner ?? "",
        counts: Object.entries(r?.counts ?? {})
          .map(([k, n]) => `${k}: ${n}`)
          .join("; "),
        summary: r?.reason ?? "",
        outcomeChanges: changes,
        effect: p.effect.type,
        effectApplied: p.effectOutcome?.applied ?? null,
        effectDetail: p.effectOutcome?.detail ?? "",
      };
    });
}

function rotationRows(state: CouncilState): RotationRow[] {
  const rows = state.roles.flatMap((r) =>
    r.holders.map((h) => ({
      role: r.role,
      meeting: h.meeting,
      holder: h.holder,
      at: h.at,
      violation: h.violation,
    })),
  );
  // Chronological across roles; one holder per role and meeting, so (role, meeting) settles ties.
  rows.sort((a, b) => byClock(a.at, b.at) || byText(a.role, b.role) || byText(a.meeting, b.meeting));
  return rows.map((h) => ({ ...h, at: iso(h.at.ms), counter: h.at.c }));
}

function mandateRows(state: CouncilState): MandateRow[] {
  return [...state.mandates]
    .sort((a, b) => byClock(a.issuedAt, b.issuedAt) || byText(a.id, b.id))
    .map((m) => ({
      id: m.id,
      delegate: m.delegate,
      body: m.body,
      starts: iso(m.startsAt),
      expires: iso(m.expiresAt),
      allowanceFund: m.allowance?.fund ?? "",
      allowance: m.allowance?.amount ?? null,
      spent: m.spent,
      issued: iso(m.issuedAt.ms),
      recalledAt: m.recalledAt === null ? "" : iso(m.recalledAt.ms),
    }));
}

function fundRows(state: CouncilState): FundRow[] {
  return state.funds.map((f) => ({ id: f.id, type: f.type, balance: f.balance, parent: f.parent ?? "" }));
}

function memberRows(state: CouncilState): MemberRow[] {
  const current: MemberRow[] = state.members.map((m) => ({
    id: m.id,
    status: "member",
    since: iso(m.since.ms),
    left: "",
    how: m.admittedBy,
    devices: m.devices.join(" "),
  }));
  const former: MemberRow[] = state.formerMembers.map((m) => ({
    id: m.id,
    status: "former",
    since: "",
    left: iso(m.left.ms),
    how: m.how,
    devices: "",
  }));
  return [...current, ...former].sort((a, b) => byText(a.id, b.id));
}

function conflictRows(state: CouncilState): ConflictRow[] {
  return state.conflicts.map((c) => ({
    type: c.type,
    at: iso(c.at.ms),
    counter: c.at.c,
    record: c.record,
    detail: c.detail,
  }));
}

const BUILDERS: { readonly [T in ReportTable]: (state: CouncilState) => ReportRows[T][] } = {
  ledger: ledgerRows,
  decisions: decisionRows,
  rotations: rotationRows,
  mandates: mandateRows,
  funds: fundRows,
  members: memberRows,
  conflicts: conflictRows,
};

/** The rows of one table, in a deterministic order (derivation order for ledger and conflicts, else by time or id). */
export function reportRows<T extends ReportTable>(state: CouncilState, table: T): ReportRows[T][] {
  if (!Object.hasOwn(BUILDERS, table))
    throw new InvalidInputError(`unknown report table ${String(table)}`, [
      `expected one of ${REPORT_TABLES.join(", ")}`,
    ]);
  return BUILDERS[table](state);
}

/** Every table of the state as JSON-safe rows: equal states give equal reports. */
export function exportReport(state: CouncilState): Report {
  return {
    council: state.council,
    name: state.name,
    horizon: iso(state.horizon.ms),
    horizonCounter: state.horizon.c,
    records: state.records,
    tables: {
      ledger: ledgerRows(state),
      decisions: decisionRows(state),
      rotations: rotationRows(state),
      mandates: mandateRows(state),
      funds: fundRows(state),
      members: memberRows(state),
      conflicts: conflictRows(state),
    },
  };
}

/** The report as canonical JSON text (sorted keys): byte-identical on every peer holding the same records. */
export function exportJson(state: CouncilState): string {
  return canonicalJson(exportReport(state));
}

/**
 * One table as RFC 4180 CSV: a header row, then one line per row (CRLF), quoted where a field needs it. Meant for a
 * spreadsheet, so text that would start a formula is escaped unless `options.formulas` is `"keep"`; the JSON report
 * keeps every value exact.
 */
export function exportCsv(state: CouncilState, table: ReportTable, options: CsvOptions = {}): string {
  const columns = REPORT_COLUMNS[table] as readonly string[];
  return toCsv(columns, reportRows(state, table) as unknown as Record<string, CsvValue>[], {
    formulas: options.formulas ?? "escape",
  });
}

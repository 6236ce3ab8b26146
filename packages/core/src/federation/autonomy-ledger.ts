/**
 * The autonomy ledger a federation publishes: per member council and for the federation itself, decisions taken,
 * roles rotated, money moved to mutual aid, hours swapped, mandates issued and recalled, and solidarity-pledge
 * response times; as JSON-safe tables, canonical JSON and CSV.
 */
import type { CouncilState } from "../derive/view.js";
import { InvalidInputError } from "../errors.js";
import type { CouncilId } from "../ids.js";
import { canonicalJson } from "../reports/canonical-json.js";
import type { CsvOptions, CsvValue } from "../reports/csv.js";
import { toCsv } from "../reports/csv.js";
import { iso } from "../reports/export.js";
import type { FederationState } from "./federation-view.js";

/** The tables of the autonomy ledger, in the order they are exported. */
export const AUTONOMY_TABLES = ["assemblies", "federationDecisions", "alerts", "pledges", "convergences"] as const;

export type AutonomyTable = (typeof AUTONOMY_TABLES)[number];

/**
 * One assembly: a member council, or the federation itself (`kind: "federation"`, whose decisions are its own and
 * whose alert and pledge figures are totals). Figures that do not apply, or whose state is not available, are null.
 */
export interface AssemblyRow {
  readonly assembly: string;
  readonly kind: "council" | "federation";
  readonly name: string;
  /** Whether the assembly's derived state was available when the ledger was made. */
  readonly available: boolean;
  /** ISO time of the assembly's latest record clock: its figures are as of then. */
  readonly asOf: string;
  readonly decisionsPassed: number | null;
  readonly decisionsFailed: number | null;
  readonly decisionsOpen: number | null;
  /** Role assignments applied (one holder of one role for one meeting). */
  readonly roleAssignments: number | null;
  /** Assignments that handed a role to someone other than its previous holder: roles actually rotated. */
  readonly roleHandovers: number | null;
  /** Applied expenses: money paid out of the council's funds, in minor units. */
  readonly expensesPaid: number | null;
  /** Applied commons-jar payouts to members' requests, in minor units. */
  readonly jarPayouts: number | null;
  /** Money moved to mutual aid: expenses paid plus jar payouts. */
  readonly mutualAid: number | null;
  /** Applied time swaps, in minutes, and the same in hours (rounded to two decimals). */
  readonly minutesSwapped: number | null;
  readonly hoursSwapped: number | null;
  readonly mandatesIssued: number | null;
  readonly mandatesRecalled: number | null;
  /** Mandates whose body names this federation (by id or by name). */
  readonly mandatesForFederation: number | null;
  readonly alertsRaised: number;
  readonly responsesGiven: number;
  readonly pledgesMet: number;
  readonly pledgesLate: number;
  readonly pledgesMissed: number;
  readonly pledgesPending: number;
  /** Lower median of first-response times (a council's, to alerts it was bound to answer; else one per alert). */
  readonly medianResponseMs: number | null;
}

/** One federation proposal and how delegates decided it. */
export interface FederationDecisionRow {
  readonly id: string;
  readonly title: string;
  readonly council: string;
  readonly method: string;
  readonly topic: string;
  readonly opened: string;
  readonly closes: string;
  readonly status: "open" | "passed" | "failed";
  readonly electorate: number;
  readonly votesCounted: number;
  /** Votes on it that were cast outside their mandate. */
  readonly outOfMandate: number;
  readonly passing: boolean | null;
  readonly summary: string;
  readonly effect: string;
  readonly effectApplied: boolean | null;
  readonly effectDetail: string;
}

/** One solidarity alert. */
export interface AlertRow {
  readonly alert: string;
  readonly council: string;
  readonly raised: string;
  readonly counter: number;
  readonly what: string;
  readonly needs: string;
  readonly pledgeWindowMs: number;
  readonly responses: number;
  readonly firstResponseMs: number | null;
  readonly met: number;
  readonly late: number;
  readonly missed: number;
  readonly pending: number;
}

/** One council's pledge for one alert. */
export interface PledgeRow {
  readonly alert: string;
  readonly raisedBy: string;
  readonly raised: string;
  readonly council: string;
  readonly status: "met" | "late" | "missed" | "pending";
  readonly responseMs: number | null;
}

/** One convergence. */
export interface ConvergenceRow {
  readonly id: string;
  readonly title: string;
  readonly topic: string;
  readonly starts: string;
  readonly ends: string;
  readonly status: "scheduled" | "open" | "dissolved";
  /** Ratifying councils per action, as `action: n` joined by `; `. */
  readonly ratifications: string;
  readonly outsideWindow: number;
  readonly outOfMandate: number;
}

export interface AutonomyRows {
  readonly assemblies: AssemblyRow;
  readonly federationDecisions: FederationDecisionRow;
  readonly alerts: AlertRow;
  readonly pledges: PledgeRow;
  readonly convergences: ConvergenceRow;
}

/** The autonomy ledger: every table, with the point of the federation's record order it was taken at. */
export interface AutonomyLedger {
  readonly federation: string | null;
  readonly name: string;
  readonly horizon: string;
  readonly horizonCounter: number;
  readonly records: number;
  readonly tables: { readonly [T in AutonomyTable]: readonly AutonomyRows[T][] };
}

/** Column order of each table's CSV (every field of its row type). */
export const AUTONOMY_COLUMNS: { readonly [T in AutonomyTable]: readonly (keyof AutonomyRows[T] & string)[] } = {
  assemblies: [
    "assembly",
    "kind",
    "name",
    "available",
    "asOf",
    "decisionsPassed",
    "decisionsFailed",
    "decisionsOpen",
    "roleAssignments",
    "roleHandovers",
    "expensesPaid",
    "jarPayouts",
    "mutualAid",
    "minutesSwapped",
    "hoursSwapped",
    "mandatesIssued",
    "mandatesRecalled",
    "mandatesForFederation",
    "alertsRaised",
    "responsesGiven",
    "pledgesMet",
    "pledgesLate",
    "pledgesMissed",
    "pledgesPending",
    "medianResponseMs",
  ],
  federationDecisions: [
    "id",
    "title",
    "council",
    "method",
    "topic",
    "opened",
    "closes",
    "status",
    "electorate",
    "votesCounted",
    "outOfMandate",
    "passing",
    "summary",
    "effect",
    "effectApplied",
    "effectDetail",
  ],
  alerts: [
    "alert",
    "council",
    "raised",
    "counter",
    "what",
    "needs",
    "pledgeWindowMs",
    "responses",
    "firstResponseMs",
    "met",
    "late",
    "missed",
    "pending",
  ],
  pledges: ["alert", "raisedBy", "raised", "council", "status", "responseMs"],
  convergences: ["id", "title", "topic", "starts", "ends", "status", "ratifications", "outsideWindow", "outOfMandate"],
};

function lowerMedian(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

function decisionCounts(statuses: readonly string[]) {
  const n = (s: string) => statuses.filter((x) => x === s).length;
  return { decisionsPassed: n("passed"), decisionsFailed: n("failed"), decisionsOpen: n("open") };
}

/** The pledge figures of the pledges given. */
function pledgeCounts(pledges: readonly { status: string }[]) {
  const n = (s: string) => pledges.filter((p) => p.status === s).length;
  return { pledgesMet: n("met"), pledgesLate: n("late"), pledgesMissed: n("missed"), pledgesPending: n("pending") };
}

function councilFigures(state: CouncilState, federation: FederationState) {
  let handovers = 0;
  let assignments = 0;
  for (const role of state.roles) {
    assignments += role.holders.length;
    for (let i = 1; i < role.holders.length; i++)
      if (role.holders[i]!.holder !== role.holders[i - 1]!.holder) handovers++;
  }
  const applied = (type: string) =>
    state.ledger.filter((e) => e.status === "applied" && e.type === type).reduce((s, e) => s + e.amount, 0);
  const expensesPaid = applied("expense");
  const jarPayouts = applied("jar-payout");
  const minutesSwapped = applied("swap");
  const names = new Set([federation.federation ?? "", federation.name]);
  return {
    ...decisionCounts(state.proposals.map((p) => p.status)),
    roleAssignments: assignments,
    roleHandovers: handovers,
    expensesPaid,
    jarPayouts,
    mutualAid: expensesPaid + jarPayouts,
    minutesSwapped,
    hoursSwapped: Math.round((minutesSwapped * 100) / 60) / 100,
    mandatesIssued: state.mandates.length,
    mandatesRecalled: state.mandates.filter((m) => m.recalledAt !== null).length,
    mandatesForFederation: state.mandates.filter((m) => names.has(m.body)).length,
  };
}

const NOT_APPLICABLE = {
  decisionsPassed: null,
  decisionsFailed: null,
  decisionsOpen: null,
  roleAssignments: null,
  roleHandovers: null,
  expensesPaid: null,
  jarPayouts: null,
  mutualAid: null,
  minutesSwapped: null,
  hoursSwapped: null,
  mandatesIssued: null,
  mandatesRecalled: null,
  mandatesForFederation: null,
} as const;

function assemblyRows(federation: FederationState, councils: ReadonlyMap<CouncilId, CouncilState>): AssemblyRow[] {
  const rows: AssemblyRow[] = [];
  const allPledges = federation.alerts.flatMap((a) => a.pledges);
  rows.push({
    assembly: federation.federation ?? "",
    kind: "federation",
    name: federation.name,
    available: true,
    asOf: iso(federation.horizon.ms),
    ...NOT_APPLICABLE,
    ...decisionCounts(federation.proposals.map((p) => p.status)),
    alertsRaised: federation.alerts.length,
    responsesGiven: federation.alerts.reduce((n, a) => n + a.responses.length, 0),
    ...pledgeCounts(allPledges),
    medianResponseMs: lowerMedian(
      federation.alerts.flatMap((a) => (a.firstResponseMs === null ? [] : [a.firstResponseMs])),
    ),
  });
  for (const c of federation.councils) {
    const state = councils.get(c.id);
    const pledges = allPledges.filter((p) => p.council === c.id);
    rows.push({
      assembly: c.id,
      kind: "council",
      name: state?.name ?? c.name ?? "",
      available: state !== undefined,
      asOf: state === undefined ? "" : iso(state.horizon.ms),
      ...(state === undefined ? NOT_APPLICABLE : councilFigures(state, federation)),
      alertsRaised: federation.alerts.filter((a) => a.council === c.id).length,
      responsesGiven: federation.alerts.reduce((n, a) => n + a.responses.filter((r) => r.council === c.id).length, 0),
      ...pledgeCounts(pledges),
      medianResponseMs: lowerMedian(pledges.flatMap((p) => (p.responseMs === null ? [] : [p.responseMs]))),
    });
  }
  return rows;
}

function decisionRows(federation: FederationState): FederationDecisionRow[] {
  return [...federation.proposals]
    .sort((a, b) => a.openedAt.ms - b.openedAt.ms || a.openedAt.c - b.openedAt.c || (a.id < b.id ? -1 : 1))
    .map((p) => ({
      id: p.id,
      title: p.title,
      council: p.council,
      method: p.method,
      topic: p.topic,
      opened: iso(p.openedAt.ms),
      closes: iso(p.closesAt),
      status: p.status,
      electorate: p.electorate.length,
      votesCounted: Object.keys(p.votes).length,
      outOfMandate: federation.conflicts.filter((c) => c.type === "out-of-mandate" && c.target === p.id).length,
      passing: p.result?.passed ?? null,
      summary: p.result?.reason ?? "",
      effect: p.effect.type,
      effectApplied: p.effectOutcome?.applied ?? null,
      effectDetail: p.effectOutcome?.detail ?? "",
    }));
}

function alertRows(federation: FederationState): AlertRow[] {
  return [...federation.alerts]
    .sort((a, b) => a.raisedAt.ms - b.raisedAt.ms || a.raisedAt.c - b.raisedAt.c || (a.id < b.id ? -1 : 1))
    .map((a) => {
      const count = (s: string) => a.pledges.filter((p) => p.status === s).length;
      return {
        alert: a.id,
        council: a.council,
        raised: iso(a.raisedAt.ms),
        counter: a.raisedAt.c,
        what: a.what,
        needs: a.needs,
        pledgeWindowMs: a.pledgeWindowMs,
        responses: a.responses.length,
        firstResponseMs: a.firstResponseMs,
        met: count("met"),
        late: count("late"),
        missed: count("missed"),
        pending: count("pending"),
      };
    });
}

function pledgeRows(federation: FederationState): PledgeRow[] {
  // In the order of the alerts table, then by council.
  const order = new Map(alertRows(federation).map((a, i) => [a.alert, i]));
  return [...federation.alerts]
    .sort((a, b) => order.get(a.id)! - order.get(b.id)!)
    .flatMap((a) =>
      a.pledges.map((p) => ({
        alert: a.id,
        raisedBy: a.council,
        raised: iso(a.raisedAt.ms),
        council: p.council,
        status: p.status,
        responseMs: p.responseMs,
      })),
    );
}

function convergenceRows(federation: FederationState): ConvergenceRow[] {
  return [...federation.convergences]
    .sort((a, b) => a.startsAt - b.startsAt || (a.id < b.id ? -1 : 1))
    .map((c) => {
      const uncounted = (type: string) =>
        federation.conflicts.filter((x) => x.type === type && x.target === c.id).length;
      return {
        id: c.id,
        title: c.title,
        topic: c.topic,
        starts: iso(c.startsAt),
        ends: iso(c.endsAt),
        status: c.status,
        ratifications: c.actions.map((a) => `${a.action}: ${a.ratifiedBy.length}`).join("; "),
        outsideWindow: uncounted("outside-window"),
        outOfMandate: uncounted("out-of-mandate"),
      };
    });
}

/** The autonomy ledger of a federation's state and its member councils' states: equal inputs give equal ledgers. */
export function autonomyLedger(
  federation: FederationState,
  councils: ReadonlyMap<CouncilId, CouncilState>,
): AutonomyLedger {
  return {
    federation: federation.federation,
    name: federation.name,
    horizon: iso(federation.horizon.ms),
    horizonCounter: federation.horizon.c,
    records: federation.records,
    tables: {
      assemblies: assemblyRows(federation, councils),
      federationDecisions: decisionRows(federation),
      alerts: alertRows(federation),
      pledges: pledgeRows(federation),
      convergences: convergenceRows(federation),
    },
  };
}

/** The ledger as canonical JSON text (sorted keys): byte-identical on every peer holding the same records. */
export function exportAutonomyJson(ledger: AutonomyLedger): string {
  return canonicalJson(ledger);
}

/** One table of the ledger as RFC 4180 CSV: a header row, then one line per row; formulas escaped as `exportCsv` does. */
export function exportAutonomyCsv(ledger: AutonomyLedger, table: AutonomyTable, options: CsvOptions = {}): string {
  if (!Object.hasOwn(AUTONOMY_COLUMNS, table))
    throw new InvalidInputError(`unknown autonomy table ${String(table)}`, [
      `expected one of ${AUTONOMY_TABLES.join(", ")}`,
    ]);
  const columns = AUTONOMY_COLUMNS[table] as readonly string[];
  return toCsv(columns, ledger.tables[table] as unknown as Record<string, CsvValue>[], {
    formulas: options.formulas ?? "escape",
  });
}

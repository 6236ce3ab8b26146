import { describe, expect, it } from "vitest";
import type { CouncilDoc, CouncilState, Identity, LedgerDoc, ReportTable } from "../src/index.js";
import {
  Council,
  createIdentity,
  csvField,
  exportCsv,
  exportJson,
  exportReport,
  foundCouncil,
  InvalidInputError,
  PlainDocument,
  REPORT_COLUMNS,
  REPORT_TABLES,
  reportRows,
} from "../src/index.js";

const START = Date.UTC(2025, 4, 1, 8, 0, 0);
const DAY = 24 * 60 * 60 * 1000;

/** A strict RFC 4180 reader: it throws on anything a writer should have quoted, so lax quoting cannot pass. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let i = 0;
  while (i < text.length) {
    let field = "";
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) throw new Error("unterminated quoted field");
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += text[i++];
      }
    } else {
      while (i < text.length && text[i] !== "," && text[i] !== "\r") {
        if (text[i] === '"' || text[i] === "\n") throw new Error(`unquoted ${JSON.stringify(text[i])} at ${i}`);
        field += text[i++];
      }
    }
    row.push(field);
    if (text[i] === ",") i++;
    else if (text[i] === "\r" && text[i + 1] === "\n") {
      rows.push(row);
      row = [];
      i += 2;
    } else throw new Error(`expected a separator or CRLF at ${i}`);
  }
  if (row.length > 0) throw new Error("the last line has no CRLF");
  return rows;
}

/** A parsed CSV as objects keyed by the header. */
function csvObjects(text: string): Record<string, string>[] {
  const [header, ...rows] = parseCsv(text);
  return rows.map((r) => {
    expect(r).toHaveLength(header!.length);
    return Object.fromEntries(header!.map((h, i) => [h, r[i]!]));
  });
}

function clock(start = START) {
  let t = start;
  return {
    now: () => (t += 1000),
    jump: (ms: number) => {
      t += ms;
    },
    get ms() {
      return t;
    },
  };
}

interface Cast {
  alice: Identity;
  bob: Identity;
  carol: Identity;
}

async function cast(): Promise<Cast> {
  return { alice: await createIdentity(), bob: await createIdentity(), carol: await createIdentity() };
}

/** A council with money in and out (one expense held), a mandate, a failed vote, a role and a time swap. */
async function activeCouncil(people: Cast, memo = "Paint, brushes") {
  const c = clock();
  const docs = await foundCouncil(people.alice, {
    name: "Corner Shop Collective",
    founders: [people.bob.member, people.carol.member],
    charter: { pettyCashLimit: 1_000 },
    now: c.now,
  });
  const sources = { council: new PlainDocument(docs.council), ledger: new PlainDocument(docs.ledger) };
  const alice = await Council.open(sources, { identity: people.alice, now: c.now });
  const bob = await Council.open(sources, { identity: people.bob, now: c.now });
  const carol = await Council.open(sources, { identity: people.carol, now: c.now });
  await alice.ledger.createFund("general", "cash");
  await alice.ledger.createFund("hours", "time");
  await alice.ledger.donate("general", 5_000, "Street fair");
  const paint = await bob.ledger.spend("general", 800, "Hardware store", "petty", memo);
  const tooMuch = await bob.ledger.spend("general", 2_000, "Sign maker", "petty", "New sign");
  const mandate = await alice.proposeMandate({
    delegate: people.bob.member,
    body: "city-federation",
    instructions: "Support the rent strike motion.",
    positions: { "*": ["yes", "no"] },
    allowance: { fund: "general", amount: 1_500 },
    startsAt: c.ms,
    expiresAt: c.ms + 30 * DAY,
    recall: { ratio: { num: 1, den: 2 }, of: "eligible", cmp: ">" },
    closesAt: c.ms + 60_000,
  });
  await alice.vote(mandate, { method: "majority", choice: "yes" });
  await bob.vote(mandate, { method: "majority", choice: "yes" });
  const pink = await carol.propose({ title: "Paint the shop pink", closesAt: c.ms + 60_000 });
  await carol.vote(pink, { method: "majority", choice: "no" });
  c.jump(120_000);
  await alice.tick();
  const travel = await bob.ledger.spend("general", 1_200, "Rail company", { mandate: mandate as never }, "Train fare");
  const role = await carol.assignRole("June assembly", "facilitator", people.alice.member);
  const swap = await carol.ledger.swap("hours", people.alice.member, 60, "Fixed the till");
  return {
    sources,
    alice,
    state: await alice.state(),
    ids: { paint, tooMuch, mandate, pink, travel, role, swap },
  };
}

describe("reports", () => {
  it("exports the rows a council's activity implies", async () => {
    const people = await cast();
    const { state, ids } = await activeCouncil(people);
    const report = exportReport(state);
    const { alice, bob, carol } = { alice: people.alice.member, bob: people.bob.member, carol: people.carol.member };

    expect(report.name).toBe("Corner Shop Collective");
    expect(report.council).toBe(state.council);
    expect(report.records).toBe(state.records);

    const ledger = report.tables.ledger;
    expect(ledger.map((r) => [r.record, r.fund, r.type, r.amount, r.status])).toEqual([
      [expect.any(String), "general", "donation", 5_000, "applied"],
      [ids.paint, "general", "expense", 800, "applied"],
      [ids.tooMuch, "general", "expense", 2_000, "held"],
      [ids.travel, "general", "expense", 1_200, "applied"],
      [ids.swap, "hours", "swap", 60, "applied"],
    ]);
    expect(ledger[0]).toMatchObject({ by: alice, counterparty: "Street fair", memo: "", reason: "" });
    expect(ledger[1]).toMatchObject({ by: bob, counterparty: "Hardware store", memo: "Paint, brushes" });
    expect(ledger[2]!.reason).toBe("over the petty-cash limit of 1000");
    expect(ledger[4]).toMatchObject({ by: carol, counterparty: alice, memo: "Fixed the till" });
    // at is the record clock as ISO time, counter its HLC tie-breaker.
    const spent = state.ledger.find((e) => e.record === ids.paint)!;
    expect(ledger[1]!.at).toBe(new Date(spent.at.ms).toISOString());
    expect(ledger[1]!.counter).toBe(spent.at.c);

    expect(report.tables.decisions).toHaveLength(2);
    const [issued, pink] = report.tables.decisions;
    expect(issued).toMatchObject({
      id: ids.mandate,
      method: "majority",
      status: "passed",
      electorate: 3,
      participation: 2,
      quorumMet: true,
      passing: true,
      counts: "abstain: 0; no: 0; yes: 2",
      effect: "mandate",
      effectApplied: true,
      effectDetail: `mandate issued to ${bob}`,
      // Alice's lone vote missed quorum (failing), Bob's made it pass: one change.
      outcomeChanges: 1,
    });
    expect(issued!.summary).toMatch(/^Passed/);
    expect(pink).toMatchObject({
      id: ids.pink,
      title: "Paint the shop pink",
      status: "failed",
      participation: 1,
      quorumMet: false,
      passing: false,
      effect: "none",
      effectApplied: null,
      effectDetail: "",
      outcomeChanges: 0,
    });
    expect(new Date(pink!.closes).getTime()).toBe(state.proposals.find((p) => p.id === ids.pink)!.closesAt);

    expect(report.tables.mandates).toEqual([
      expect.objectContaining({
        id: ids.mandate,
        delegate: bob,
        body: "city-federation",
        allowanceFund: "general",
        allowance: 1_500,
        spent: 1_200,
        recalledAt: "",
      }),
    ]);
    expect(report.tables.rotations).toEqual([
      expect.objectContaining({ role: "facilitator", meeting: "June assembly", holder: alice, violation: false }),
    ]);
    expect(report.tables.funds).toEqual([
      { id: "general", type: "cash", balance: 5_000 - 800 - 1_200, parent: "" },
      { id: "hours", type: "time", balance: 0, parent: "" },
    ]);
    expect(report.tables.members.map((m) => [m.id, m.status, m.how])).toEqual(
      [alice, bob, carol].sort().map((id) => [id, "member", "genesis"]),
    );
    expect(report.tables.members.find((m) => m.id === alice)!.devices).toBe(people.alice.device.id);
    expect(report.tables.conflicts).toEqual([
      expect.objectContaining({ type: "unapproved-held", record: ids.tooMuch }),
    ]);
  });

  it("writes each table as CSV with its header and the same values as the JSON rows", async () => {
    const { state } = await activeCouncil(await cast());
    for (const table of REPORT_TABLES) {
      const csv = exportCsv(state, table);
      expect(csv.split("\r\n")[0]).toBe(REPORT_COLUMNS[table].join(","));
      const rows = reportRows(state, table) as unknown as Record<string, unknown>[];
      const parsed = csvObjects(csv);
      expect(parsed).toHaveLength(rows.length);
      // Every field of the row type has a column, and each cell holds the JSON value as text.
      for (const [i, row] of rows.entries()) {
        expect(Object.keys(row).sort()).toEqual([...REPORT_COLUMNS[table]].sort());
        expect(parsed[i]).toEqual(
          Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v === null ? "" : String(v)])),
        );
      }
    }
    expect(csvObjects(exportCsv(state, "mandates"))[0]!.allowance).toBe("1500");
  });

  it("round-trips a memo holding a comma, quotes and line breaks through CSV", async () => {
    const memo = 'Flour, yeast and "organic" salt\nfrom the mill,\r\nsee receipt ""42"" ';
    const { alice, ids } = await activeCouncil(await cast(), memo);
    // Each hazard alone too, so one quoted for another reason cannot hide a missing rule.
    const alone = ["only\nnewline", "only\rreturn", 'only "quotes"', "only, comma", "trailing space "];
    const more = new Map<string, string>();
    for (const m of alone) more.set(await alice.ledger.spend("general", 1, "Corner shop", "petty", m), m);
    const state = await alice.state();
    const csv = exportCsv(state, "ledger");
    const row = csvObjects(csv).find((r) => r.record === ids.paint)!;
    expect(row.memo).toBe(memo);
    expect(row.amount).toBe("800");
    expect(row.counterparty).toBe("Hardware store");
    for (const [id, m] of more) expect(csvObjects(csv).find((r) => r.record === id)!.memo).toBe(m);
    // The memo's own line breaks stay inside one quoted field, so the table keeps one line per entry.
    expect(csvObjects(csv)).toHaveLength(state.ledger.length);
  });

  it("escapes text a spreadsheet would run as a formula, unless asked to keep it", async () => {
    const { alice } = await activeCouncil(await cast(), "receipt");
    const payee = '=HYPERLINK("http://example.invalid","refund")';
    const id = await alice.ledger.spend("general", 1, payee, "petty", "@SUM(A1:A9)");
    const state = await alice.state();
    const escaped = csvObjects(exportCsv(state, "ledger")).find((r) => r.record === id)!;
    expect(escaped.counterparty).toBe(`'${payee}`);
    expect(escaped.memo).toBe("'@SUM(A1:A9)");
    expect(escaped.amount).toBe("1");
    const kept = csvObjects(exportCsv(state, "ledger", { formulas: "keep" })).find((r) => r.record === id)!;
    expect(kept.counterparty).toBe(payee);
    expect(kept.memo).toBe("@SUM(A1:A9)");
  });

  it("escapes exactly the text that starts a formula", () => {
    const escaping = { formulas: "escape" } as const;
    for (const start of ["=", "+", "-", "@"]) expect(csvField(`${start}1`, escaping)).toBe(`'${start}1`);
    expect(csvField("\tcmd", escaping)).toBe("'\tcmd");
    expect(csvField("\rcmd", escaping)).toBe(`"'\rcmd"`);
    expect(csvField(-5, escaping)).toBe("-5"); // a number is a number
    expect(csvField("a=b", escaping)).toBe("a=b");
    expect(csvField("=1")).toBe("=1");
  });

  it("quotes exactly the fields that need it", () => {
    expect(csvField("plain")).toBe("plain");
    expect(csvField(42)).toBe("42");
    expect(csvField(false)).toBe("false");
    expect(csvField(null)).toBe("");
    expect(csvField("a,b")).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField("two\nlines")).toBe('"two\nlines"');
    expect(csvField("cr\r")).toBe('"cr\r"');
    expect(csvField(" padded")).toBe('" padded"');
  });

  it("gives byte-identical exports for the same records, however they were derived", async () => {
    const people = await cast();
    const { sources, state } = await activeCouncil(people);
    // From scratch on loaded bytes, with frequent checkpoints, against the incremental state built act by act.
    const loaded = {
      council: PlainDocument.load<CouncilDoc>(sources.council.save()),
      ledger: PlainDocument.load<LedgerDoc>(sources.ledger.save()),
    };
    const fresh = await (await Council.open(loaded, { checkpointEvery: 3 })).state();
    expect(fresh).not.toBe(state);
    expect(exportJson(fresh)).toBe(exportJson(state));
    for (const table of REPORT_TABLES) expect(exportCsv(fresh, table)).toBe(exportCsv(state, table));
    expect(exportJson(state)).toBe(exportJson(state));
  });

  it("gives byte-identical exports on both sides of a merged partition", async () => {
    const people = await cast();
    const c = clock();
    const docs = await foundCouncil(people.alice, {
      name: "Split",
      founders: [people.bob.member],
      charter: { pettyCashLimit: 1_000 },
      now: c.now,
    });
    const p = { council: new PlainDocument(docs.council), ledger: new PlainDocument(docs.ledger) };
    const alice = await Council.open(p, { identity: people.alice, now: c.now });
    await alice.ledger.createFund("general", "cash");
    await alice.ledger.donate("general", 1_000);
    const q = { council: p.council.fork(), ledger: p.ledger.fork() };
    const bob = await Council.open(q, { identity: people.bob, now: c.now });
    // Interleaved clocks: each side's records land between the other's after the merge.
    await alice.ledger.spend("general", 600, "Baker", "petty", "bread, rolls");
    await bob.ledger.spend("general", 700, "Miller", "petty", "flour");
    await alice.assignRole("m1", "facilitator", people.alice.member);
    await bob.assignRole("m1", "facilitator", people.bob.member);
    p.council.merge(q.council);
    p.ledger.merge(q.ledger);
    q.council.merge(p.council);
    q.ledger.merge(p.ledger);
    const [a, b] = [await alice.state(), await bob.state()];
    expect(a.conflicts.map((x) => x.type)).toEqual(["overdraft-held", "rotation-conflict"]);
    expect(exportJson(a)).toBe(exportJson(b));
    for (const table of REPORT_TABLES) expect(exportCsv(a, table)).toBe(exportCsv(b, table));
  });

  it("never throws on a clock beyond the range of dates, and names an unknown table", async () => {
    const { state } = await activeCouncil(await cast());
    const far = 2 ** 53 - 1;
    const odd: CouncilState = {
      ...state,
      ledger: state.ledger.map((e, i) => (i === 0 ? { ...e, at: { ms: far, c: 3 } } : e)),
    };
    const row = exportReport(odd).tables.ledger[0]!;
    expect(row.at).toBe(String(far));
    expect(row.counter).toBe(3);
    expect(() => exportCsv(state, "budgets" as ReportTable)).toThrow(InvalidInputError);
  });
});

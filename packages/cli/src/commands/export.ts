/**
 * `federa export`: a council's report as canonical JSON, or one of its tables as CSV. With `--json` and `--out`, stdout
 * says where it went; CSV printed on stdout is not JSON, so `--format csv --json` needs `--out`.
 */
import { writeFile } from "node:fs/promises";
import { REPORT_TABLES, type ReportTable } from "@federa/core";
import type { Command } from "commander";
import { parseChoice, parseReference } from "../args.js";
import { UsageError } from "../errors.js";
import { execute } from "../session.js";
import { type CommonOptions, common, contextOf, oneCouncil } from "./common.js";

interface ExportOptions extends CommonOptions {
  readonly council?: string;
  readonly format: string;
  readonly table: string;
  readonly out?: string;
}

export function registerExport(program: Command): void {
  common(
    program
      .command("export")
      .description("export a council's report: the whole as JSON, or one table as CSV")
      .argument("[council]", "council id or a unique prefix (optional with one council)", (v: string) =>
        parseReference(v, "the council"),
      )
      .option("-f, --format <format>", "json or csv", "json")
      .option("--table <table>", `CSV table: ${REPORT_TABLES.join(", ")}`, "ledger")
      .option("--out <file>", "write to a file instead of stdout (with --json, print where it went as JSON)"),
    { council: true },
  ).action(async (council: string | undefined, options: ExportOptions) => {
    const { dir, out } = contextOf(options);
    const format = parseChoice(options.format, ["json", "csv"] as const, "--format");
    const table = parseChoice(options.table, REPORT_TABLES, "--table") as ReportTable;
    if (format === "csv" && options.json === true && options.out === undefined)
      throw new UsageError("--json promises JSON on stdout, not CSV: drop --json, or pass --out FILE as well");
    const { result } = await execute(
      dir,
      { op: "export", council: oneCouncil(council, options.council), format, table },
      out.progress,
    );
    const text = String(result.text);
    if (options.out !== undefined) {
      await writeFile(options.out, text);
      out.result({ council: result.council, format, file: options.out }, options.out);
    } else out.raw(text);
  });
}

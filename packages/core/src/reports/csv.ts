/** RFC 4180 CSV text from rows of plain values: a header row, CRLF line breaks, and quoting where a field needs it. */

/** A value a CSV cell can hold; null becomes an empty field. */
export type CsvValue = string | number | boolean | null;

// A field is quoted when it holds a separator, a quote or a line break (RFC 4180 §2.6), or edge spaces some readers trim.
const NEEDS_QUOTES = /[",\r\n]|^\s|\s$/;

/** How text that a spreadsheet would run as a formula is written. */
export interface CsvOptions {
  /**
   * `"escape"`: a text field starting with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`, so a
   * spreadsheet shows it as text rather than running it (members write memos, titles and payees: anyone's text reaches
   * the treasurer's sheet). `"keep"` (the default): written as it is, so the text reads back to exactly the data.
   */
  readonly formulas?: "escape" | "keep";
}

// OWASP's list of characters that start a formula in common spreadsheets.
const FORMULA_START = /^[=+\-@\t\r]/;

/** One field, quoted and with inner quotes doubled when needed; text that starts a formula escaped if asked. */
export function csvField(value: CsvValue, options: CsvOptions = {}): string {
  let text = value === null ? "" : String(value);
  if (options.formulas === "escape" && typeof value === "string" && FORMULA_START.test(text)) text = `'${text}`;
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/**
 * CSV text of `rows` under `columns`: the header first, each row's values in column order, every line ended by CRLF.
 * Values are written as they are unless `options.formulas` is `"escape"`.
 */
export function toCsv<C extends string>(
  columns: readonly C[],
  rows: readonly Readonly<Record<C, CsvValue>>[],
  options: CsvOptions = {},
): string {
  const lines = [columns.map((c) => csvField(c, options)).join(",")];
  for (const row of rows) lines.push(columns.map((c) => csvField(row[c], options)).join(","));
  return `${lines.join("\r\n")}\r\n`;
}

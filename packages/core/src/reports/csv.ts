/** RFC 4180 CSV text from rows of plain values: a header row, CRLF line breaks, and quoting where a field needs it. */

/** A value a CSV cell can hold; null becomes an empty field. */
export type CsvValue = string | number | boolean | null;

// A field is quoted when it holds a separator, a quote or a line break (RFC 4180 §2.6), or edge spaces some readers trim.
const NEEDS_QUOTES = /[",\r\n]|^\s|\s$/;

/** One field, quoted and with inner quotes doubled when needed. */
export function csvField(value: CsvValue): string {
  const text = value === null ? "" : String(value);
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/**
 * CSV text of `rows` under `columns`: the header first, each row's values in column order, every line ended by CRLF.
 * Values are written as they are (no formula escaping), so the text reads back to exactly the data exported.
 */
export function toCsv<C extends string>(columns: readonly C[], rows: readonly Readonly<Record<C, CsvValue>>[]): string {
  const lines = [columns.map(csvField).join(",")];
  for (const row of rows) lines.push(columns.map((c) => csvField(row[c])).join(","));
  return `${lines.join("\r\n")}\r\n`;
}

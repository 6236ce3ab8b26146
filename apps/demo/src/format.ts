/** How the page writes money, minutes, clocks and the people behind ids. */

/** Minor units as money: 23000 → "230.00". */
export function money(minor: number): string {
  const sign = minor < 0 ? "−" : "";
  return `${sign}${(Math.abs(minor) / 100).toFixed(2)}`;
}

/** Minutes as hours: 90 → "+1h30". */
export function hours(minutes: number): string {
  const sign = minutes < 0 ? "−" : "+";
  const m = Math.abs(minutes);
  return `${sign}${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}`;
}

/** A virtual time as "Sat 09:42". */
export function clockTime(ms: number): string {
  const d = new Date(ms);
  const day = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][d.getUTCDay()];
  return `${day} ${String(d.getUTCHours()).padStart(2, "0")}:${String(d.getUTCMinutes()).padStart(2, "0")}`;
}

/** A duration as "3h 02m" or "45m". */
export function duration(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  const h = Math.floor(minutes / 60);
  return h > 0 ? `${h}h ${String(minutes % 60).padStart(2, "0")}m` : `${minutes}m`;
}

const PEER_ID = /12D3KooW[1-9A-HJ-NP-Za-km-z]{44}/g;
const RECORD_ID = /\b[0-9a-f]{64}\b/g;

/**
 * Makes a derived text readable: member and device ids become names, council and record ids names or short ids, and
 * amounts (minor units in derived text) money.
 */
export function readable(text: string, nameOf: (id: string) => string): string {
  return text
    .replace(PEER_ID, (id) => nameOf(id))
    .replace(RECORD_ID, (id) => nameOf(id))
    .replace(/\b(of|balance) (\d{3,})\b/g, (_, word: string, n: string) => `${word} ${money(Number(n))}`)
    .replace(/: (\d{3,}) → (\d+)$/, (_, a: string, b: string) => `: ${money(Number(a))} → ${money(Number(b))}`);
}

/** The first characters of a hash or id. */
export function short(id: string, n = 6): string {
  return id.slice(0, n);
}

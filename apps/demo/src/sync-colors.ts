/** Which places hold the same version of a document: each distinct set of heads gets a colour and a short label. */
import type { CouncilKey, PlaceId } from "./peers/cast.js";
import { PLACE_IDS } from "./peers/cast.js";
import type { PlaceHeads } from "./peers/place-node.js";
import type { WorldSnapshot } from "./peers/world.js";

const COLORS = ["#2f6f5e", "#b25e09", "#6b4fa0", "#2f6f9e"];

export interface HeadsBadge {
  /** A few characters of the heads' hash: equal labels, equal documents. */
  readonly label: string;
  readonly color: string;
  /** True when every place holds exactly these heads. */
  readonly everywhere: boolean;
  readonly count: number;
}

export type DocKey = CouncilKey | "federation";

function headsOf(heads: PlaceHeads, doc: DocKey): string[] {
  if (doc === "federation") return [...heads.federation];
  return [...heads[doc].council, ...heads[doc].ledger];
}

/** Per place, the badge of the heads it holds of `doc`. */
export function headsBadges(snapshot: WorldSnapshot, doc: DocKey): Partial<Record<PlaceId, HeadsBadge>> {
  const keys = new Map<PlaceId, string[]>();
  for (const place of PLACE_IDS) {
    const view = snapshot.places[place].view;
    if (view !== null) keys.set(place, headsOf(view.heads, doc));
  }
  const distinct: string[] = [];
  for (const heads of keys.values()) if (!distinct.includes(heads.join())) distinct.push(heads.join());
  const out: Partial<Record<PlaceId, HeadsBadge>> = {};
  for (const [place, heads] of keys) {
    const i = distinct.indexOf(heads.join());
    out[place] = {
      label: heads.map((h) => h.slice(0, 4)).join("+"),
      color: COLORS[i % COLORS.length]!,
      everywhere: distinct.length === 1 && keys.size === PLACE_IDS.length,
      count: heads.length,
    };
  }
  return out;
}

/** The network the demo controls: which places are online, which links between them are up, and each place's latency. */
import type { PlaceId } from "./cast.js";
import { PLACE_IDS } from "./cast.js";

/** A link between two places, named with the places in the demo's order. */
export interface Link {
  readonly a: PlaceId;
  readonly b: PlaceId;
}

export function linkKey(x: PlaceId, y: PlaceId): string {
  return PLACE_IDS.indexOf(x) < PLACE_IDS.indexOf(y) ? `${x}-${y}` : `${y}-${x}`;
}

/** Every pair of places. */
export const LINKS: readonly Link[] = PLACE_IDS.flatMap((a, i) => PLACE_IDS.slice(i + 1).map((b) => ({ a, b })));

/** The switches of the network panel; the nodes' connection gaters ask it before every connection. */
export class Links {
  readonly #cut = new Set<string>();
  readonly #offline = new Set<PlaceId>();
  readonly #latency = new Map<PlaceId, number>();

  /** True when the link is switched on (whatever the places' own state). */
  isUp(x: PlaceId, y: PlaceId): boolean {
    return !this.#cut.has(linkKey(x, y));
  }

  isOnline(place: PlaceId): boolean {
    return !this.#offline.has(place);
  }

  latency(place: PlaceId): number {
    return this.#latency.get(place) ?? 0;
  }

  /** True when the two places may be connected now. */
  allows(x: PlaceId, y: PlaceId): boolean {
    return x !== y && this.isOnline(x) && this.isOnline(y) && this.isUp(x, y);
  }

  setUp(x: PlaceId, y: PlaceId, up: boolean): void {
    if (up) this.#cut.delete(linkKey(x, y));
    else this.#cut.add(linkKey(x, y));
  }

  setOnline(place: PlaceId, online: boolean): void {
    if (online) this.#offline.delete(place);
    else this.#offline.add(place);
  }

  setLatency(place: PlaceId, ms: number): void {
    this.#latency.set(place, ms);
  }

  /**
   * Which end of a link dials: the one with less latency, so the connection goes to the slower place's listener and
   * carries its latency (a link is as slow as its slower end).
   */
  dialer(x: PlaceId, y: PlaceId): { from: PlaceId; to: PlaceId } {
    const lx = this.latency(x);
    const ly = this.latency(y);
    if (lx !== ly) return lx < ly ? { from: x, to: y } : { from: y, to: x };
    return PLACE_IDS.indexOf(x) < PLACE_IDS.indexOf(y) ? { from: x, to: y } : { from: y, to: x };
  }

  /** The places reachable from `place` over links that are up (its side of a partition). */
  component(place: PlaceId): PlaceId[] {
    const seen = new Set<PlaceId>([place]);
    const queue = [place];
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      for (const other of PLACE_IDS) {
        if (!seen.has(other) && this.allows(next, other)) {
          seen.add(other);
          queue.push(other);
        }
      }
    }
    return PLACE_IDS.filter((p) => seen.has(p));
  }
}

/** Seeded randomness: independent named streams of xoroshiro128+ (pure-rand), so one seed gives one run. */
import { uniformFloat64 } from "pure-rand/distribution/uniformFloat64";
import { uniformInt } from "pure-rand/distribution/uniformInt";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";

type Generator = ReturnType<typeof xoroshiro128plus>;

/** FNV-1a over the seed and the stream's name: streams of one seed never share a sequence. */
function streamSeed(seed: number, stream: string): number {
  let h = 0x811c9dc5;
  for (const ch of `${seed >>> 0}:${stream}`) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}

/**
 * One stream of random choices. Each purpose (network, workload, identities...) draws from its own stream, so a
 * change in how often one is used (say, a lossier network) does not shift what the others draw.
 */
export class Random {
  readonly #rng: Generator;

  constructor(seed: number, stream: string) {
    this.#rng = xoroshiro128plus(streamSeed(seed, stream));
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min >= max ? min : uniformInt(this.#rng, min, max);
  }

  /** A float in [0, 1). */
  float(): number {
    return uniformFloat64(this.#rng);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return p > 0 && (p >= 1 || this.float() < p);
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError("pick from an empty list");
    return items[this.int(0, items.length - 1)]!;
  }

  /** A key drawn with probability proportional to its weight (keys in sorted order, so the draw is stable). */
  weighted(weights: Readonly<Record<string, number>>): string {
    const keys = Object.keys(weights).sort();
    const total = keys.reduce((s, k) => s + (weights[k] ?? 0), 0);
    let x = this.float() * total;
    for (const k of keys) {
      x -= weights[k] ?? 0;
      if (x < 0) return k;
    }
    return keys[keys.length - 1]!;
  }

  /** An exponentially distributed delay with the given mean, rounded to whole ms (Poisson arrivals). */
  exponential(mean: number): number {
    return Math.round(-mean * Math.log(1 - this.float()));
  }

  /** A new array in a random order (Fisher-Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }

  /** n random bytes. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(0, 255);
    return out;
  }
}

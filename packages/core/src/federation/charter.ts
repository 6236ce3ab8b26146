/** The federation charter's defaults: a 48-hour solidarity pledge, three-day convergences, and majority votes. */
import type { FederationCharter } from "../records/schemas.js";

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;

/** A federation charter with the defaults most federations start from, overridden field by field. */
export function defaultFederationCharter(overrides: Partial<FederationCharter> = {}): FederationCharter {
  return {
    pledgeWindowMs: 48 * HOUR,
    convergenceMs: 3 * DAY,
    method: "majority",
    threshold: { ratio: { num: 1, den: 2 }, of: "cast", cmp: ">" },
    quorum: { ratio: { num: 1, den: 2 }, cmp: ">=" },
    votingWindowMs: 7 * DAY,
    ...overrides,
  };
}

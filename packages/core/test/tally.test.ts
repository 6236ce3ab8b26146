import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { meetsRatio, tally } from "../src/council/tally.js";
import type { Ballot, Quorum, TallyInput, Threshold, VoteMethod } from "../src/council/tally-types.js";

const HALF_MORE: Threshold = { ratio: { num: 1, den: 2 }, of: "cast", cmp: ">" };
const ANY_QUORUM: Quorum = { ratio: { num: 0, den: 1 }, cmp: ">=" };

/** Voter ids v01, v02, … in sorted order. */
function voters(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `v${String(i + 1).padStart(2, "0")}`);
}

/** A tally input whose electorate defaults to exactly the voters who cast `ballots`. */
function input(
  method: VoteMethod,
  ballots: readonly Ballot[],
  extra: Partial<Omit<TallyInput, "method" | "ballots">> = {},
): TallyInput {
  const ids = voters(Math.max(ballots.length, extra.electorate?.length ?? 0));
  return {
    method,
    options: [],
    threshold: HALF_MORE,
    quorum: ANY_QUORUM,
    electorate: ids,
    ballots: new Map(ballots.map((ballot, i) => [ids[i]!, ballot])),
    ...extra,
  };
}

function times(n: number, ballot: Ballot): Ballot[] {
  return Array.from({ length: n }, () => ballot);
}

const yes: Ballot = { method: "majority", choice: "yes" };
const no: Ballot = { method: "majority", choice: "no" };
const abstain: Ballot = { method: "majority", choice: "abstain" };
const ranked = (...ranking: string[]): Ballot => ({ method: "ranked", ranking });
/** Casts an intentionally malformed value as a ballot, as a buggy or hostile peer might send. */
const odd = (value: unknown): Ballot => value as Ballot;

describe("meetsRatio", () => {
  it("compares exact fractions without floating point", () => {
    expect(meetsRatio(1, 3, { num: 1, den: 3 }, ">=")).toBe(true);
    expect(meetsRatio(1, 3, { num: 1, den: 3 }, ">")).toBe(false);
    expect(meetsRatio(2, 3, { num: 2, den: 3 }, ">=")).toBe(true);
    expect(meetsRatio(2, 3, { num: 66_666_667, den: 100_000_000 }, ">=")).toBe(false);
    const big = Number.MAX_SAFE_INTEGER;
    expect(meetsRatio(big - 1, big, { num: big - 1, den: big }, ">=")).toBe(true);
    expect(meetsRatio(big - 2, big, { num: big - 1, den: big }, ">=")).toBe(false);
  });

  it("fails closed on an empty base or an invalid ratio", () => {
    expect(meetsRatio(0, 0, { num: 0, den: 1 }, ">=")).toBe(false);
    expect(meetsRatio(1, 2, { num: 1, den: 0 }, ">=")).toBe(false);
    expect(meetsRatio(1, 2, { num: Number.NaN, den: 2 }, ">=")).toBe(false);
    expect(meetsRatio(1, 2, { num: 0.5, den: 1 }, ">=")).toBe(false);
  });
});

describe("majority and supermajority", () => {
  it("passes 3 yes to 2 no with more than half", () => {
    const result = tally(input("majority", [yes, yes, yes, no, no]));
    expect(result).toMatchObject({ passed: true, quorumMet: true, participation: 5 });
    expect(result.counts).toEqual({ abstain: 0, no: 2, yes: 3 });
    expect(Object.keys(result.counts)).toEqual(["abstain", "no", "yes"]);
    expect(result.reason).toMatch(/^Passed/);
  });

  it("fails at exactly 50% with > but passes with >=", () => {
    const ballots = [yes, yes, no, no];
    const strict = tally(input("majority", ballots));
    expect(strict.passed).toBe(false);
    expect(strict.reason).toMatch(/not more than the 1\/2 required/);
    const lenient = tally(input("majority", ballots, { threshold: { ...HALF_MORE, cmp: ">=" } }));
    expect(lenient.passed).toBe(true);
  });

  it("fails without quorum but still reports the counts", () => {
    const result = tally(
      input("majority", [yes, yes, yes], {
        electorate: voters(10),
        quorum: { ratio: { num: 1, den: 2 }, cmp: ">=" },
      }),
    );
    expect(result).toMatchObject({ passed: false, quorumMet: false, participation: 3 });
    expect(result.counts).toEqual({ abstain: 0, no: 0, yes: 3 });
    expect(result.reason).toMatch(/quorum was not met/);
  });

  it("meets quorum exactly at the ratio with >= and not with >", () => {
    const ballots = [yes, yes, yes, yes, yes];
    const atLeast = tally(
      input("majority", ballots, { electorate: voters(10), quorum: { ratio: { num: 1, den: 2 }, cmp: ">=" } }),
    );
    expect(atLeast).toMatchObject({ passed: true, quorumMet: true });
    const moreThan = tally(
      input("majority", ballots, { electorate: voters(10), quorum: { ratio: { num: 1, den: 2 }, cmp: ">" } }),
    );
    expect(moreThan).toMatchObject({ passed: false, quorumMet: false });
  });

  it("leaves abstentions out of a cast base but counts them in an eligible base", () => {
    const ballots = [yes, yes, yes, no, abstain, abstain];
    const cast = tally(input("majority", ballots));
    expect(cast.passed).toBe(true);
    expect(cast.counts).toEqual({ abstain: 2, no: 1, yes: 3 });
    expect(cast.reason).toMatch(/3 yes out of 4 votes cast/);
    const eligible = tally(input("majority", ballots, { threshold: { ...HALF_MORE, of: "eligible" } }));
    expect(eligible.passed).toBe(false);
    expect(eligible.reason).toMatch(/3 yes out of 6 eligible members/);
  });

  it("fails when everyone abstains, since the cast base is empty", () => {
    const result = tally(input("majority", [abstain, abstain], { threshold: { ...HALF_MORE, cmp: ">=" } }));
    expect(result.passed).toBe(false);
    expect(result.reason).toMatch(/no votes were cast/);
  });

  it("passes a 2/3 supermajority at exactly two thirds with >= and fails one vote short", () => {
    const twoThirds: Threshold = { ratio: { num: 2, den: 3 }, of: "cast", cmp: ">=" };
    const s = (choice: "yes" | "no"): Ballot => ({ method: "supermajority", choice });
    const six = [...times(6, s("yes")), ...times(3, s("no"))];
    expect(tally(input("supermajority", six, { threshold: twoThirds })).passed).toBe(true);
    expect(tally(input("supermajority", six, { threshold: { ...twoThirds, cmp: ">" } })).passed).toBe(false);
    const five = [...times(5, s("yes")), ...times(4, s("no"))];
    expect(tally(input("supermajority", five, { threshold: twoThirds })).passed).toBe(false);
  });
});

describe("consent", () => {
  const c = (choice: "consent" | "object" | "stand-aside"): Ballot => ({ method: "consent", choice });

  it("passes with consents and a stand-aside", () => {
    const result = tally(input("consent", [c("consent"), c("consent"), c("stand-aside")]));
    expect(result.passed).toBe(true);
    expect(result.counts).toEqual({ consent: 2, object: 0, "stand-aside": 1 });
  });

  it("fails on a single objection", () => {
    const result = tally(input("consent", [c("consent"), c("consent"), c("consent"), c("object")]));
    expect(result.passed).toBe(false);
    expect(result.counts).toEqual({ consent: 3, object: 1, "stand-aside": 0 });
    expect(result.reason).toBe("Failed because 1 objection stands.");
  });

  it("fails when everyone stands aside", () => {
    expect(tally(input("consent", [c("stand-aside"), c("stand-aside")])).passed).toBe(false);
  });
});

describe("consensus", () => {
  const c = (choice: "agree" | "abstain" | "disagree" | "block"): Ballot => ({ method: "consensus", choice });
  const twoThirds: Threshold = { ratio: { num: 2, den: 3 }, of: "cast", cmp: ">=" };

  it("is blocked by one block however many agree", () => {
    const result = tally(input("consensus", [c("agree"), c("agree"), c("agree"), c("agree"), c("block")]));
    expect(result.passed).toBe(false);
    expect(result.counts).toEqual({ abstain: 0, agree: 4, block: 1, disagree: 0 });
    expect(result.reason).toMatch(/blocked/);
  });

  it("counts disagreement in the base without blocking", () => {
    const enough = tally(
      input("consensus", [c("agree"), c("agree"), c("disagree"), c("abstain")], { threshold: twoThirds }),
    );
    expect(enough.passed).toBe(true);
    const short = tally(input("consensus", [c("agree"), c("disagree"), c("abstain")], { threshold: twoThirds }));
    expect(short.passed).toBe(false);
  });
});

describe("ranked (instant runoff)", () => {
  // Round 1: A 4, B 2, C 2, D 1 → D out; round 2: A 4, B 2, C 3 → B out; round 3: A 4, C 5 → C wins 5/9.
  const irv = [
    ranked("A", "B"),
    ranked("A"),
    ranked("A", "C"),
    ranked("A", "D", "C"),
    ranked("B", "Z", "B", "C"), // unknown Z and the repeated B are skipped
    ranked("B", "C", "A"),
    ranked("C"),
    ranked("C", "A"),
    ranked("D", "C"),
  ];
  const options = ["D", "C", "B", "A"];

  it("eliminates the last option each round until one has a majority", () => {
    const result = tally(input("ranked", irv, { options }));
    expect(result.rounds).toEqual([
      { counts: { A: 4, B: 2, C: 2, D: 1 }, eliminated: ["D"] },
      { counts: { A: 4, B: 2, C: 3 }, eliminated: ["B"] },
      { counts: { A: 4, C: 5 }, eliminated: [] },
    ]);
    expect(result).toMatchObject({ passed: true, winner: "C", counts: { A: 4, C: 5 } });
    expect(result.reason).toMatch(/C won in round 3 with 5 of 9/);
  });

  it("shrinks the cast base as ballots exhaust but keeps an eligible base fixed", () => {
    // Against 12 eligible members C's 5 is not enough, so A goes too; its ballots flow to C or exhaust.
    const result = tally(
      input("ranked", irv, { options, electorate: voters(12), threshold: { ...HALF_MORE, of: "eligible" } }),
    );
    expect(result.rounds?.map((r) => r.eliminated)).toEqual([["D"], ["B"], ["A"], []]);
    expect(result.rounds?.[3]?.counts).toEqual({ C: 7 });
    expect(result).toMatchObject({ passed: true, winner: "C" });

    const tooFew = tally(
      input("ranked", irv, { options, electorate: voters(15), threshold: { ...HALF_MORE, of: "eligible" } }),
    );
    expect(tooFew.rounds).toHaveLength(4);
    expect(tooFew.passed).toBe(false);
    expect(tooFew.winner).toBeUndefined();
    expect(tooFew.reason).toMatch(/last option standing/);
  });

  it("eliminates every option tied for last at once", () => {
    const later = tally(
      input("ranked", [ranked("A"), ranked("A"), ranked("B", "C"), ranked("C", "B"), ranked("D", "B")], {
        options: ["A", "B", "C", "D"],
      }),
    );
    expect(later.rounds?.[0]).toEqual({ counts: { A: 2, B: 1, C: 1, D: 1 }, eliminated: ["B", "C", "D"] });
    expect(later.rounds?.[1]).toEqual({ counts: { A: 2 }, eliminated: [] });
    expect(later).toMatchObject({ passed: true, winner: "A" });
  });

  it("reports a tie it cannot break", () => {
    const result = tally(
      input("ranked", [ranked("A", "B"), ranked("B", "C"), ranked("C", "A")], { options: ["A", "B", "C"] }),
    );
    expect(result.passed).toBe(false);
    expect(result.tied).toEqual(["A", "B", "C"]);
    expect(result.winner).toBeUndefined();
    expect(result.rounds).toEqual([{ counts: { A: 1, B: 1, C: 1 }, eliminated: [] }]);
    expect(result.reason).toMatch(/tied/);
  });

  it("reports a tie when two options both reach an at-least-half threshold", () => {
    const atLeastHalf: Threshold = { ...HALF_MORE, cmp: ">=" };
    const ballots = [ranked("A"), ranked("A", "B"), ranked("B"), ranked("B", "A")];
    const result = tally(input("ranked", ballots, { options: ["A", "B"], threshold: atLeastHalf }));
    expect(result).toMatchObject({ passed: false, tied: ["A", "B"] });
    expect(result.rounds).toEqual([{ counts: { A: 2, B: 2 }, eliminated: [] }]);
    expect(result.reason).toMatch(/tied at the top in round 1/);
  });

  it("lists options with no first preferences in the first round", () => {
    const result = tally(input("ranked", [ranked("A"), ranked("A"), ranked("B")], { options: ["A", "B", "C"] }));
    expect(result.rounds?.[0]?.counts).toEqual({ A: 2, B: 1, C: 0 });
    expect(result.winner).toBe("A");
  });
});

describe("score", () => {
  const score = (scores: Record<string, number>): Ballot => ({ method: "score", scores });
  const atLeastHalf: Threshold = { ratio: { num: 1, den: 2 }, of: "cast", cmp: ">=" };

  it("picks the highest total when it reaches the threshold of the points possible", () => {
    const ballots = [score({ X: 5, Y: 2 }), score({ X: 4, Y: 5, Z: 1 }), score({ X: 3, Y: 1, Z: 0 })];
    const result = tally(input("score", ballots, { options: ["X", "Y", "Z"], threshold: atLeastHalf }));
    expect(result).toMatchObject({ passed: true, winner: "X", counts: { X: 12, Y: 8, Z: 1 } });
    expect(result.reason).toMatch(/X led with 12 of 15 points possible/);
    // 12 of 15 is exactly 4/5: enough with >=, not with >.
    const fourFifths: Threshold = { ratio: { num: 4, den: 5 }, of: "cast", cmp: ">=" };
    expect(tally(input("score", ballots, { options: ["X", "Y", "Z"], threshold: fourFifths })).passed).toBe(true);
    const short = tally(input("score", ballots, { options: ["X", "Y", "Z"], threshold: { ...fourFifths, cmp: ">" } }));
    expect(short).toMatchObject({ passed: false, counts: { X: 12, Y: 8, Z: 1 } });
    expect(short.winner).toBeUndefined();
  });

  it("honours a custom maxScore", () => {
    const ballots = [score({ X: 10 }), score({ X: 7, Y: 9 })];
    const result = tally(input("score", ballots, { options: ["X", "Y"], threshold: atLeastHalf, maxScore: 10 }));
    expect(result).toMatchObject({ passed: true, winner: "X", counts: { X: 17, Y: 9 } });
    // With the default maxScore of 5 every ballot is over the limit and ignored.
    expect(tally(input("score", ballots, { options: ["X", "Y"], threshold: atLeastHalf })).counts).toEqual({
      X: 0,
      Y: 0,
    });
  });

  it("fails on a tie at the top", () => {
    const ballots = [score({ X: 5, Y: 3 }), score({ X: 3, Y: 5 })];
    const result = tally(input("score", ballots, { options: ["X", "Y"], threshold: atLeastHalf }));
    expect(result).toMatchObject({ passed: false, tied: ["X", "Y"], counts: { X: 8, Y: 8 } });
    expect(result.winner).toBeUndefined();
    expect(result.reason).toMatch(/tied at the top/);
  });
});

describe("dot", () => {
  const dot = (dots: Record<string, number>): Ballot => ({ method: "dot", dots });

  it("ignores over-budget ballots, which would otherwise have tied the vote", () => {
    const ballots = [dot({ A: 3 }), dot({ A: 2, B: 1 }), dot({ B: 1, C: 1 }), dot({ C: 4 }), dot({ A: 2, B: 3 })];
    const result = tally(input("dot", ballots, { options: ["A", "B", "C"] }));
    expect(result).toMatchObject({ passed: true, winner: "A", participation: 5, counts: { A: 5, B: 2, C: 1 } });
    expect(result.reason).toMatch(/A led with 5 of 8 dots cast/);
    const bigger = tally(input("dot", ballots, { options: ["A", "B", "C"], dotsPerVoter: 4 }));
    expect(bigger).toMatchObject({ passed: false, tied: ["A", "C"], counts: { A: 5, B: 2, C: 5 } });
  });

  it("measures an eligible threshold against every dot the electorate could spend", () => {
    const ballots = [dot({ A: 3 }), dot({ A: 3 })];
    const eligible: Threshold = { ratio: { num: 1, den: 2 }, of: "eligible", cmp: ">=" };
    expect(
      tally(input("dot", ballots, { options: ["A", "B"], threshold: eligible, electorate: voters(4) })).passed,
    ).toBe(true);
    expect(
      tally(input("dot", ballots, { options: ["A", "B"], threshold: eligible, electorate: voters(5) })).passed,
    ).toBe(false);
  });
});

describe("odd ballots", () => {
  it("ignores malformed score and dot ballots without throwing but counts them as participation", () => {
    const scores = [
      { method: "score", scores: { X: Number.NaN } },
      { method: "score", scores: { X: -1 } },
      { method: "score", scores: { X: 2.5 } },
      { method: "score", scores: { X: 6 } },
      { method: "score", scores: { Q: 1 } },
      { method: "score", scores: null },
      { method: "score", scores: [5] },
      { method: "dot", dots: { X: 1 } },
      { method: "majority", choice: "yes" },
      null,
      "yes",
      { method: "score", scores: { X: 1, Y: 3 } },
    ].map(odd);
    const result = tally(input("score", scores, { options: ["X", "Y"], threshold: HALF_MORE }));
    expect(result).toMatchObject({ participation: 12, counts: { X: 1, Y: 3 }, winner: "Y", passed: true });

    const dots = [
      { method: "dot", dots: { A: Number.POSITIVE_INFINITY } },
      { method: "dot", dots: { A: 0.5 } },
      { method: "dot", dots: { A: -2, B: 3 } },
      { method: "dot", dots: { A: 1, nope: 1 } },
      { method: "dot" },
      { method: "dot", dots: { B: 1 } },
    ].map(odd);
    expect(tally(input("dot", dots, { options: ["A", "B"] }))).toMatchObject({
      participation: 6,
      counts: { A: 0, B: 1 },
    });
  });

  it("treats wrong-method and unknown-choice ballots as abstentions", () => {
    const ballots = [
      yes,
      { method: "consent", choice: "consent" },
      { method: "supermajority", choice: "no" },
      { method: "majority", choice: "maybe" },
      { method: "majority" },
      { method: "ranked", ranking: "A" },
      undefined,
      42,
    ].map(odd);
    const result = tally(input("majority", ballots, { quorum: { ratio: { num: 1, den: 1 }, cmp: ">=" } }));
    expect(result).toMatchObject({
      passed: true,
      quorumMet: true,
      participation: 8,
      counts: { abstain: 0, no: 0, yes: 1 },
    });
  });

  it("ignores ranked ballots that are not lists", () => {
    const ballots = [
      ranked("A"),
      odd({ method: "ranked", ranking: "B" }),
      odd({ method: "ranked", ranking: [1, null, "B"] }),
    ];
    const result = tally(input("ranked", ballots, { options: ["A", "B"] }));
    expect(result.rounds?.[0]?.counts).toEqual({ A: 1, B: 1 });
    expect(result.tied).toEqual(["A", "B"]);
  });
});

describe("properties", () => {
  const methods: VoteMethod[] = ["consent", "majority", "supermajority", "consensus", "ranked", "score", "dot"];
  const ids = ["A", "B", "C", "D", "10", "2", "constructor", "__proto__"];
  const weirdNumber = fc.oneof(
    fc.integer({ min: -2, max: 7 }),
    fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -0, 0.5, 2 ** 60),
  );
  const record = fc
    .array(fc.tuple(fc.constantFrom(...ids, "Z"), weirdNumber), { maxLength: 5 })
    .map((entries) => Object.fromEntries(entries));
  const ballot: fc.Arbitrary<Ballot> = fc.oneof(
    fc
      .record({
        method: fc.constantFrom(...methods),
        choice: fc.constantFrom(
          "consent",
          "object",
          "stand-aside",
          "yes",
          "no",
          "abstain",
          "agree",
          "disagree",
          "block",
          "nope",
        ),
      })
      .map(odd),
    fc
      .record({
        method: fc.constantFrom<VoteMethod>("ranked", "score"),
        ranking: fc.array(fc.constantFrom(...ids, "Z"), { maxLength: 6 }),
      })
      .map(odd),
    fc.record({ method: fc.constantFrom<VoteMethod>("score", "dot"), scores: record }).map(odd),
    fc.record({ method: fc.constantFrom<VoteMethod>("dot", "score"), dots: record }).map(odd),
    fc.constantFrom(null, undefined, 7, "ballot", {}).map(odd),
  );
  const ratio = fc.oneof(
    { weight: 9, arbitrary: fc.record({ num: fc.integer({ min: 0, max: 5 }), den: fc.integer({ min: 1, max: 5 }) }) },
    { weight: 1, arbitrary: fc.record({ num: weirdNumber, den: weirdNumber }) },
  );
  const cmp = fc.constantFrom<">" | ">=">(">", ">=");
  const tallyInput: fc.Arbitrary<TallyInput> = fc
    .record({
      method: fc.constantFrom(...methods),
      options: fc.array(fc.constantFrom(...ids), { maxLength: 6 }),
      threshold: fc.record({ ratio, of: fc.constantFrom<"cast" | "eligible">("cast", "eligible"), cmp }),
      quorum: fc.record({ ratio, cmp }),
      electorate: fc.uniqueArray(fc.string({ minLength: 1, maxLength: 3 }), { maxLength: 12 }),
      maxScore: fc.option(weirdNumber, { nil: undefined }),
      dotsPerVoter: fc.option(weirdNumber, { nil: undefined }),
      votes: fc.array(ballot, { maxLength: 12 }),
    })
    .map(({ electorate, votes, ...rest }) => {
      const sorted = [...electorate].sort();
      return {
        ...rest,
        electorate: sorted,
        ballots: new Map(votes.slice(0, sorted.length).map((b, i) => [sorted[i]!, b])),
      };
    });

  it("never throws, is deterministic whatever the ballot order, and only passes with quorum", () => {
    fc.assert(
      fc.property(tallyInput, (tallyIn) => {
        const result = tally(tallyIn);
        expect(tally(tallyIn)).toEqual(result);
        const reversed: TallyInput = { ...tallyIn, ballots: new Map([...tallyIn.ballots].reverse()) };
        expect(tally(reversed)).toEqual(result);
        expect(JSON.stringify(tally(reversed))).toBe(JSON.stringify(result));
        if (result.passed) expect(result.quorumMet).toBe(true);
        expect(result.participation).toBe(tallyIn.ballots.size);
        expect(typeof result.reason).toBe("string");
      }),
      { numRuns: 500 },
    );
  });
});

/** Same scenario and seed, same metrics, byte for byte; another seed, another run. */

import { fileURLToPath } from "node:url";
import { canonicalJson } from "@federa/core";
import { describe, expect, it } from "vitest";
import { loadScenario, parseScenario, runScenario } from "../src/index.js";

// Small, but it draws from every stream: identities, workload, latency, loss, churn and a partition.
const scenario = parseScenario({
  name: "determinism",
  duration: "3h",
  drain: "1h",
  councils: {
    count: 2,
    members: 3,
    charter: { pettyCashLimit: 3000 },
    funds: [
      { name: "common", type: "cash", balance: 3000 },
      { name: "hours", type: "time" },
    ],
  },
  federation: { name: "Pair", pledgeWindow: "1h" },
  network: {
    topology: { type: "mesh", degree: 2 },
    latency: ["10ms", "200ms"],
    loss: 0.1,
    partitions: [{ from: "1h", to: "2h", groups: [["council:0"], ["council:1"]] }],
    churn: { every: "40m", fraction: 0.2, for: "15m" },
  },
  workload: {
    council: {
      donate: { rate: 1, amount: [100, 900], fund: "common" },
      spend: { rate: 1.5, amount: [200, 1500], fund: "common" },
      swap: { rate: 1, minutes: [15, 90], fund: "hours" },
      propose: { rate: 0.5, window: "1h", turnout: 0.9, yes: 0.5 },
    },
    federation: {
      propose: { rate: 0.7, window: "1h", positions: { yes: 2, no: 1 } },
      alert: { rate: 0.7, respond: 1, delay: ["1m", "30m"] },
    },
  },
});

describe("determinism", { timeout: 60_000 }, () => {
  it("gives identical metrics for one seed and different ones for another", async () => {
    const first = await runScenario(scenario, { seed: 42 });
    const again = await runScenario(scenario, { seed: 42 });
    expect(canonicalJson(again)).toBe(canonicalJson(first));
    const run = first.runs[0]!;
    // The run did something worth comparing: traffic, retransmissions, acts, a heal.
    expect(run.traffic.messages).toBeGreaterThan(100);
    expect(run.traffic.retransmissions).toBeGreaterThan(0);
    expect(run.heals.length).toBeGreaterThan(1);
    expect(run.convergence.consistent).toBe(true);

    const other = await runScenario(scenario, { seed: 43 });
    expect(other.seed).toBe(43);
    expect(other.runs[0]!.traffic).not.toEqual(run.traffic);
    expect(other.runs[0]!.acts).not.toEqual(run.acts);
  });
});

describe("determinism with relays", { timeout: 60_000 }, () => {
  it("gives identical metrics when delegates act through relay replicas", async () => {
    const scenario = await loadScenario(fileURLToPath(new URL("../scenarios/federation-1000.json", import.meta.url)));
    const first = await runScenario(scenario, { scale: 0.01 });
    const again = await runScenario(scenario, { scale: 0.01 });
    expect(first.runs[0]!.acts.written["fed-vote"]).toBeGreaterThan(0);
    expect(canonicalJson(again)).toBe(canonicalJson(first));
  });
});

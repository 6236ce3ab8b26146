/** The scenario format: defaults, durations, and errors that name the path and the problem. */
import { describe, expect, it } from "vitest";
import { parseDuration, parseScenario, parseScenarioText, ScenarioError, scaleScenario } from "../src/index.js";

const minimal = {
  name: "tiny",
  duration: "2h",
  councils: { count: 2, members: 3 },
};

function issuesOf(data: unknown): string[] {
  try {
    parseScenario(data, "test.json");
  } catch (error) {
    expect(error).toBeInstanceOf(ScenarioError);
    return [...(error as ScenarioError).issues];
  }
  throw new Error("the scenario was accepted");
}

describe("scenario schema", () => {
  it("fills in defaults and turns durations into milliseconds", () => {
    const s = parseScenario(minimal);
    expect(s.duration).toBe(7_200_000);
    expect(s.seed).toBe(1);
    expect(s.start).toBe(Date.parse("2026-03-01T09:00:00Z"));
    expect(s.network.topology).toEqual({ type: "mesh" });
    expect(s.network.latency).toEqual({ min: 20, max: 80 });
    expect(s.councils.placement).toBe("member");
    expect(s.councils.funds).toEqual([{ name: "common", type: "cash", balance: 10_000 }]);
    expect(parseDuration("2h30m")).toBe(9_000_000);
    expect(parseDuration("250ms")).toBe(250);
    expect(parseDuration("1.5d")).toBe(129_600_000);
  });

  it("names the path of each field it refuses", () => {
    const issues = issuesOf({
      ...minimal,
      duration: "two hours",
      councils: { count: 0, members: 3 },
      network: { loss: 2, partitions: [{ from: "1h", to: "30m", groups: [["all"]] }] },
    });
    expect(issues.some((i) => i.startsWith("duration:") && i.includes('"2h30m"'))).toBe(true);
    expect(issues.some((i) => i.startsWith("councils.count:"))).toBe(true);
    expect(issues.some((i) => i.startsWith("network.loss:"))).toBe(true);
    expect(issues).toContain("network.partitions.0: a partition ends (to) after it starts (from)");
  });

  it("lists the acts a script step may take when one is unknown", () => {
    const issues = issuesOf({ ...minimal, script: [{ at: "1h", act: "teleport", council: 0 }] });
    expect(issues.join("\n")).toMatch(/script\.0\.act: an act: donate, spend, .*alert/);
  });

  it("checks indices, funds, references and selectors across fields", () => {
    const issues = issuesOf({
      ...minimal,
      network: {
        partitions: [
          { from: "1h", to: "2h", groups: [["council:5"]] },
          { from: "1h", to: "90m", groups: [["hub"]] },
        ],
      },
      script: [
        { at: "10m", act: "spend", council: 3, member: 0, fund: "strike", amount: 5 },
        { at: "20m", act: "vote", council: 0, member: 9, proposal: "nothing", choice: "yes" },
        { at: "30m", act: "fed-vote", council: 0, proposal: "p", position: "yes" },
      ],
    });
    const text = issues.join("\n");
    expect(text).toContain('"council:5" names council 5 but there are 2');
    expect(text).toContain('"hub" needs a hub or relays topology');
    expect(text).toContain("script[0].council: council 3 but there are 2");
    expect(text).toContain('script[0].fund: no fund "strike" in councils.funds');
    expect(text).toContain("script[1].member: member 9 but councils have 3");
    expect(text).toContain('script[1].proposal: "nothing" is not the id of an earlier step');
    expect(text).toContain('script[2].act: "fed-vote" needs a federation section');
  });

  it("refuses relay replicas without relays, and rates on funds of the wrong kind", () => {
    const issues = issuesOf({
      ...minimal,
      federation: { replicas: "relays" },
      workload: { council: { swap: { rate: 1, minutes: 30, fund: "common" } } },
    });
    expect(issues.join("\n")).toContain('federation.replicas: "relays" needs a hub or relays topology');
    expect(issues.join("\n")).toContain('fund "common" is a cash fund, not time');
  });

  it("reads YAML and says which format failed to parse", () => {
    const s = parseScenarioText("name: tiny\nduration: 90m\ncouncils:\n  count: 2\n  members: 2\n", "tiny.yaml");
    expect(s.duration).toBe(5_400_000);
    expect(() => parseScenarioText("{ not json", "broken.json")).toThrow(
      /invalid scenario broken\.json:\n {2}- not valid JSON/,
    );
  });

  it("scales the number of councils and keeps share selectors valid", () => {
    const s = parseScenario({
      ...minimal,
      councils: { count: 100, members: 2 },
      network: { partitions: [{ from: "1h", to: "90m", groups: [["councils:0%-50%"], ["councils:50%-100%"]] }] },
    });
    expect(scaleScenario(s, 0.1).councils.count).toBe(10);
    expect(scaleScenario(s, 0.001).councils.count).toBe(2);
    expect(() =>
      scaleScenario(
        parseScenario({ ...minimal, network: { partitions: [{ from: 0, to: 1, groups: [["councils:0-1"]] }] } }),
        0.4,
      ),
    ).not.toThrow();
  });
});

describe("docs/research.md", () => {
  it("shows a scenario that parses", async () => {
    const { readFile } = await import("node:fs/promises");
    const text = await readFile(new URL("../../../docs/research.md", import.meta.url), "utf8");
    const block = /```json\n([\s\S]*?)```/.exec(text)?.[1];
    expect(block).toBeDefined();
    const s = parseScenarioText(block!, "research.md example");
    expect(s.name).toBe("my-scenario");
    expect(s.network.partitions[0]?.groups).toEqual([["member:0.0", "member:0.1"], ["member:0.2"]]);
  });
});

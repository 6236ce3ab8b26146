/** The merge banner: "nothing changed" only once the places agree; an unsettled merge says so instead. */
import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { MergeHighlights } from "../src/components/MergeHighlights.js";
import type { MergeReport } from "../src/peers/merge-report.js";

const quiet = { councils: { bakery: [], tenants: [] }, federation: [] };

function banner(status: MergeReport["status"]): string {
  const report: MergeReport = {
    id: 1,
    places: ["north", "south"],
    at: 0,
    status,
    changes: [{ place: "north", ...quiet }],
  };
  return renderToStaticMarkup(
    createElement(MergeHighlights, { merges: [report], council: "bakery", nameOf: (id: string) => id }),
  );
}

describe("the merge banner", () => {
  it("says nothing changed only when the merge settled with no change", () => {
    expect(banner("merged")).toContain("Nothing changed");
    expect(banner("merged")).not.toContain("merge-unsettled");
  });

  it("does not call an unsettled merge quiet: the places may still differ", () => {
    const html = banner("timed-out");
    expect(html).not.toContain("Nothing changed");
    expect(html).toContain('data-testid="merge-unsettled"');
    expect(html).toContain("not settled yet");
  });

  it("says nothing while syncing", () => {
    const html = banner("syncing");
    expect(html).not.toContain("Nothing changed");
    expect(html).not.toContain("merge-unsettled");
  });
});

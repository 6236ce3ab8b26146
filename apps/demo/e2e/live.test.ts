/**
 * Live mode in Chromium: the page's own Federa node dials a `federa node` on this machine over ws://127.0.0.1 (the
 * connection gater lets it), applies with an invitation token, is admitted by the member's vote from the terminal,
 * and then shows the node's council as it changes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Served } from "./support/browser.js";
import { artifact, openDemo, serveDemo, text } from "./support/browser.js";
import type { RunningNode } from "./support/federa-cli.js";
import { councilDir, federa, startNode } from "./support/federa-cli.js";

describe("live mode", () => {
  let served: Served;
  let home: Awaited<ReturnType<typeof councilDir>>;
  let node: RunningNode;
  beforeAll(async () => {
    served = await serveDemo({ built: true });
    home = await councilDir("4s");
    node = await startNode(home.dir);
  });
  afterAll(async () => {
    await served?.close();
    await node?.stop();
    await home?.remove();
  });

  it("joins a federa node's council from the page and follows it", async () => {
    const errors: string[] = [];
    const page = await openDemo(served, errors);
    await page.click('[data-testid="tab-live"]');
    const token = await federa(["invite", "--dir", home.dir]);
    await page.fill('[data-testid="live-token"]', token);
    await page.click('[data-testid="live-join"]');
    await page.waitForSelector('[data-testid="live-status"][data-phase="waiting"]', { timeout: 30_000 });
    const proposal = await text(page.getByTestId("live-proposal"));
    expect(proposal).toMatch(/^[0-9a-f]{64}$/);

    await federa(["vote", proposal, "--choice", "yes", "--dir", home.dir]);
    await new Promise((resolve) => setTimeout(resolve, 4_500));
    await federa(["tick", "--dir", home.dir]);
    await page.waitForSelector('[data-testid="live-status"][data-phase="live"]', { timeout: 30_000 });
    await expect
      .poll(() => text(page.locator('[data-testid="live-mode"] .place-head .name')))
      .toBe("Live: Night Shift Assembly");

    // What the node does next shows up in the page.
    await federa(["propose", "--title", "Buy a second kettle", "--dir", home.dir]);
    await page.waitForSelector('[data-testid="live-mode"] [data-testid="proposal"][data-title="Buy a second kettle"]', {
      timeout: 20_000,
    });
    await artifact(page, "demo-live.png");

    // Looking at another tab and coming back keeps the session: still live, and still following the node.
    await page.click('[data-testid="tab-councils"]');
    await federa(["propose", "--title", "Fix the rota board", "--dir", home.dir]);
    await page.click('[data-testid="tab-live"]');
    await page.waitForSelector('[data-testid="live-status"][data-phase="live"]', { timeout: 5_000 });
    await page.waitForSelector('[data-testid="live-mode"] [data-testid="proposal"][data-title="Fix the rota board"]', {
      timeout: 20_000,
    });
    expect(errors).toEqual([]);
    await page.close();
  });
});

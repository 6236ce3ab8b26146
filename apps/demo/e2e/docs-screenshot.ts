/**
 * Makes docs/images/demo.png: the page after the overdraft story, at 1280×800. Run it with `./dev demo:screenshot`
 * after changing the page.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { openDemo, serveDemo } from "./support/browser.js";
import { REPO_ROOT } from "./support/paths.js";

const served = await serveDemo();
try {
  const page = await openDemo(served);
  await page.selectOption('[data-testid="story-select"]', "overdraft");
  await page.waitForSelector('[data-testid="story-step"]:not([disabled])', { timeout: 60_000 });
  await page.click('[data-testid="story-play"]');
  await page.waitForSelector('[data-testid="story-step"]:has-text("the end")', { timeout: 90_000 });
  await page.waitForSelector('[data-testid="merge-report"][data-status="merged"]', { timeout: 30_000 });
  await page.waitForTimeout(300);
  const dir = join(REPO_ROOT, "docs", "images");
  mkdirSync(dir, { recursive: true });
  const path = join(dir, "demo.png");
  await page.screenshot({ path });
  process.stdout.write(`${path}\n`);
} finally {
  await served.close();
}

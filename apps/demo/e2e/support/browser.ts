/** Builds the demo, serves it with Vite's preview server on a free port, and drives it in Debian's Chromium. */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Locator, Page } from "playwright-core";
import { chromium } from "playwright-core";
import type { PreviewServer } from "vite";
import { build, preview } from "vite";
import { ARTIFACTS, DEMO_ROOT } from "./paths.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** Flags for a headless Chromium that never reaches out to Google's services. */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-quic",
  "--no-first-run",
];

export interface Served {
  readonly url: string;
  readonly browser: Browser;
  close(): Promise<void>;
}

/** Serves the production bundle (built first unless `built`), and launches Chromium. */
export async function serveDemo(options: { built?: boolean } = {}): Promise<Served> {
  const configFile = join(DEMO_ROOT, "vite.config.ts");
  const outDir = join(DEMO_ROOT, "dist");
  // The test run's global setup has built it; a script run on its own builds it here.
  if (options.built !== true) await build({ root: DEMO_ROOT, configFile, logLevel: "warn" });
  const server: PreviewServer = await preview({
    root: DEMO_ROOT,
    configFile,
    logLevel: "warn",
    build: { outDir },
    preview: { host: "127.0.0.1", port: 0, strictPort: false },
  });
  const url = server.resolvedUrls?.local[0];
  if (url === undefined) throw new Error("the preview server has no address");
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  return {
    url,
    browser,
    async close() {
      await browser.close();
      await server.close();
    },
  };
}

/** Opens the demo in a new page and waits until every place holds every document. */
export async function openDemo(served: Served, errors: string[] = []): Promise<Page> {
  const page = await served.browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(served.url);
  await page.waitForSelector('[data-testid="app"][data-phase="ready"]', { timeout: 60_000 });
  return page;
}

/** Saves a screenshot under test-artifacts/. */
export async function artifact(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, name);
  await page.screenshot({ path, fullPage: false });
  return path;
}

/** What the act form needs for one act. */
export interface ActInput {
  readonly person: string;
  readonly place: "north" | "south" | "hall";
  readonly kind: string;
  readonly fund?: string;
  readonly amount?: string;
  readonly text?: string;
  readonly proposal?: string;
  readonly choice?: string;
}

/** Fills the act form and submits it, then waits for the page to be idle again. */
export async function act(page: Page, input: ActInput): Promise<void> {
  await page.selectOption('[data-testid="act-person"]', input.person);
  await page.selectOption('[data-testid="act-place"]', input.place);
  await page.selectOption('[data-testid="act-kind"]', input.kind);
  if (input.fund !== undefined) await page.selectOption('[data-testid="act-fund"]', input.fund);
  if (input.amount !== undefined) await page.fill('[data-testid="act-amount"]', input.amount);
  if (input.text !== undefined) await page.fill('[data-testid="act-text"]', input.text);
  if (input.proposal !== undefined) await page.selectOption('[data-testid="act-proposal"]', { label: input.proposal });
  if (input.choice !== undefined) await page.selectOption('[data-testid="act-choice"]', input.choice);
  const before = await page.locator('[data-testid="activity-log"] > div').count();
  await page.click('[data-testid="act-submit"]');
  // Every act, done or refused, adds a line to the activity log.
  await page.waitForFunction(
    (n) => document.querySelectorAll('[data-testid="activity-log"] > div').length > n,
    before,
    { timeout: 20_000 },
  );
  const error = await page.locator('[data-testid="act-error"]').count();
  if (error > 0) throw new Error(`the act was refused: ${await text(page.locator('[data-testid="act-error"]'))}`);
  await page.waitForSelector('[data-testid="act-submit"]:not([disabled])');
}

/** Clicks a link of the network panel and waits until it shows the wanted state. */
export async function setLink(page: Page, a: string, b: string, up: boolean): Promise<void> {
  const link = page.locator(`[data-testid="link-${a}-${b}"]`);
  if ((await link.getAttribute("data-up")) !== String(up)) await link.click();
  await page.waitForSelector(`[data-testid="link-${a}-${b}"][data-up="${up}"][data-live="${up}"]`, { timeout: 20_000 });
}

/** The trimmed text of the first element a locator finds. */
export async function text(locator: Locator): Promise<string> {
  return ((await locator.first().textContent()) ?? "").trim();
}

/** The text of a fund's balance at a place. */
export function balance(page: Page, place: string, fund: string): Promise<string> {
  return text(page.locator(`[data-testid="balance-${place}-${fund}"]`));
}

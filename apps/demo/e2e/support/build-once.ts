/** Vitest's global setup for the demo's tests: builds the production bundle once for every browser test file. */
import { join } from "node:path";
import { build } from "vite";
import { DEMO_ROOT } from "./paths.js";

export default async function buildOnce(): Promise<void> {
  await build({ root: DEMO_ROOT, configFile: join(DEMO_ROOT, "vite.config.ts"), logLevel: "warn" });
}

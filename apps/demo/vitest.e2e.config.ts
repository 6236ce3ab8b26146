/** The demo's tests: the world in Node (test/) and the built page in Chromium (e2e/). */
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    root: import.meta.dirname,
    include: ["test/**/*.test.ts", "e2e/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    fileParallelism: false,
    globalSetup: ["e2e/support/build-once.ts"],
  },
});

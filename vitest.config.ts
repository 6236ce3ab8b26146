import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["packages/*/test/**/*.test.ts", "docs/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});

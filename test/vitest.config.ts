import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

export default defineConfig({
  root: fileURLToPath(new URL("..", import.meta.url)),
  test: {
    include: ["test/**/*.test.ts"],
    // The long trials run with `npm run test:chaos` (test/vitest.chaos.config.ts) and in CI.
    exclude: ["test/**/*.trial.test.ts", "**/node_modules/**"],
    setupFiles: ["test/support/setup.ts"],
    globalSetup: ["test/support/buildBundle.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // CLI tests mostly wait on real processes they start: a third worker keeps both cores busy
    // (the long trials, many processes each, keep to two: test/vitest.chaos.config.ts).
    maxWorkers: 3,
    minWorkers: 1
  }
})

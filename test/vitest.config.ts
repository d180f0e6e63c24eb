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
    // CLI and concurrency tests start real processes: keep the 2-core machine from thrashing.
    maxWorkers: 2,
    minWorkers: 1
  }
})

/** `npm run test:chaos`: the long trials (random kills, faulty appliances, many processes at once). */
import { defineConfig } from "vitest/config"
import base from "./vitest.config.js"

export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ["test/**/*.trial.test.ts"],
    exclude: ["**/node_modules/**"],
    // A trial runs hundreds of real processes: bounded, but by the work, not by the machine's speed.
    testTimeout: 900_000,
    // Each trial is many processes already.
    maxWorkers: 2
  }
})

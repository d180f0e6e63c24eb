/** `reconcile --watch`'s wait between passes: the interval, doubled per outage in a row, up to five minutes (or the interval). */
import { describe, expect, it } from "@effect/vitest"
import { MAX_BACKOFF_MS, watchDelayMs } from "../../src/reconciler/watchDelay.js"

describe("watchDelayMs", () => {
  it("is the interval after a pass that reached every appliance", () => {
    expect(watchDelayMs(60_000, 0)).toBe(60_000)
    expect(watchDelayMs(1_000, 0)).toBe(1_000)
  })

  it("doubles with each outage in a row after the first, up to five minutes", () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => watchDelayMs(60_000, n))).toEqual([60_000, 120_000, 240_000, MAX_BACKOFF_MS, MAX_BACKOFF_MS, MAX_BACKOFF_MS])
    expect([1, 2, 3].map((n) => watchDelayMs(1_000, n))).toEqual([1_000, 2_000, 4_000])
    expect(watchDelayMs(1_000, 10_000)).toBe(MAX_BACKOFF_MS)
  })

  it("never waits less than the interval, however long it is", () => {
    expect(watchDelayMs(3_600_000, 5)).toBe(3_600_000)
  })
})

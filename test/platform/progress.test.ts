import { describe, expect, it } from "@effect/vitest"
import { terminalReporter } from "../../src/platform/Progress.js"

/** A terminal that keeps what was written, and a clock the test moves. */
const setup = (isTTY: boolean) => {
  const written: string[] = []
  let now = 1_000_000
  const reporter = terminalReporter({ isTTY, write: (text) => written.push(text) }, { delayMs: 500, everyMs: 200, now: () => now })
  return { written, reporter, advance: (ms: number) => (now += ms) }
}

describe("progress on a terminal", () => {
  it("stays silent for short work, then redraws one line at most every 200 ms and erases it at the end", () => {
    const { written, reporter, advance } = setup(true)
    const bar = reporter.start("applying changes on the LoadMaster", 10_000)
    advance(100)
    bar.update(100)
    expect(written).toEqual([])
    advance(500)
    bar.update(1_200)
    expect(written).toEqual(["\r\x1b[2Kapplying changes on the LoadMaster: 1,200 of 10,000 (12%), 2,000/s"])
    advance(50)
    bar.update(1_300)
    expect(written).toHaveLength(1)
    advance(200)
    bar.update(2_500)
    expect(written.at(-1)).toBe("\r\x1b[2Kapplying changes on the LoadMaster: 2,500 of 10,000 (25%), 2,941/s")
    bar.finish()
    expect(written.at(-1)).toBe("\r\x1b[2K")
  })

  it("without a total it counts; work that ends before the delay leaves nothing behind", () => {
    const { written, reporter, advance } = setup(true)
    const quick = reporter.start("reading the log")
    quick.update(5_000)
    quick.finish()
    expect(written).toEqual([])
    const long = reporter.start("reading the log")
    advance(1_000)
    long.update(200_000)
    expect(written).toEqual(["\r\x1b[2Kreading the log: 200,000, 200,000/s"])
  })

  it("writes nothing at all when the output is not a terminal (cron, Flowmon, a pipe)", () => {
    const { written, reporter, advance } = setup(false)
    const bar = reporter.start("reading the log", 10)
    advance(10_000)
    bar.update(5)
    bar.finish()
    expect(written).toEqual([])
  })
})

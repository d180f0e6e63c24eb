/**
 * Flowmon starts one `append` per detection, and a burst of detections starts many at once.
 * Every one of them must succeed and nothing may be lost or duplicated.
 */
import { describe, expect, it } from "@effect/vitest"
import * as path from "node:path"
import { jsonLines, runCli, runCliSlowly, summaryLine, tempDir } from "../support/cli.js"
import { adsLine } from "../support/fixtures.js"

describe("concurrent appends", () => {
  it("16 processes x 50 events: all 800 stored, every process exits 0, the chain verifies", async () => {
    const db = path.join(tempDir(), "events.db")
    const processes = 16
    const perProcess = 50
    // Each process is a slow producer (a line every 30 ms, longer than start-up takes), so it commits many small transactions
    // and the processes contend for the write lock the whole time, including while the first
    // ones create and migrate the database.
    const runs = await Promise.all(
      Array.from({ length: processes }, (_, p) =>
        runCliSlowly(
          ["append", "--db", db, "--instance", "fm1"],
          Array.from({ length: perProcess }, (_, i) => adsLine(p * 1000 + i, `192.0.2.${p + 1}`)),
          30
        )
      )
    )
    for (const run of runs) {
      expect(run.stderr).not.toMatch(/SQLITE_BUSY|locked/i)
      expect(summaryLine(run)).toBe(`mitigator append: ${perProcess} stored, 0 duplicate, 0 rejected`)
      expect(run.code).toBe(0)
    }

    const events = jsonLines((await runCli(["replay", "--events", "--json", "--db", db])).stdout)
    expect(events).toHaveLength(processes * perProcess)
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: processes * perProcess }, (_, i) => i + 1))
    const ids = new Set(events.map((e) => e.payload.eventId))
    expect(ids.size).toBe(processes * perProcess)
    // The test is only worth something if the writers really contended. Writers taking turns
    // would give one transaction (one recordedAt) per process and 15 changes of source along
    // the log; interleaved writers give more of both (on a quiet machine several times more; on
    // a loaded one fewer, so the bound is the sequential case, not a guess at timing).
    const transactions = new Set(events.map((e) => e.recordedAt)).size
    const switches = events.filter((e, i) => i > 0 && e.payload.source !== events[i - 1]!.payload.source).length
    expect(transactions, "transactions").toBeGreaterThan(processes)
    expect(switches, "changes of writer along the log").toBeGreaterThan(processes - 1)

    const verify = await runCli(["verify", "--db", db])
    expect(verify.code).toBe(0)
    expect(verify.stdout).toContain(`verify: ok, ${processes * perProcess} events, chain intact`)
  }, 120_000)
})

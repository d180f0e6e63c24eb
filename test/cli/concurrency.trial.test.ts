/**
 * Flowmon starts one `append` per detection, and a burst of detections starts many at once.
 * Every one of them must succeed and nothing may be lost or duplicated.
 */
import { describe, expect, it } from "@effect/vitest"
import * as path from "node:path"
import Database from "better-sqlite3"
import type { Writable } from "node:stream"
import { jsonLines, runCli, runCliFed, summaryLine, tempDir } from "../support/cli.js"
import { adsLine } from "../support/fixtures.js"

/** Waits until the log holds `count` rows (the file and its table may not exist yet); bounded generously. */
const rowsReach = async (db: string, count: number): Promise<void> => {
  const deadline = Date.now() + 60_000
  let seen = 0
  while (Date.now() < deadline) {
    try {
      const raw = new Database(db, { readonly: true, fileMustExist: true })
      try {
        seen = (raw.prepare("SELECT count(*) AS n FROM events").get() as { n: number }).n
      } finally {
        raw.close()
      }
      if (seen >= count) return
    } catch {
      // not created or migrated yet
    }
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  throw new Error(`the log holds ${seen} rows after 60 s, expected ${count}`)
}

describe("concurrent appends", () => {
  it("16 processes x 50 events: all 800 stored, every process exits 0, the chain verifies", async () => {
    const db = path.join(tempDir(), "events.db")
    const processes = 16
    const perProcess = 50
    // The processes are fed in lock-step: line r goes to all of them at once, and line r + 1 only
    // when every line r is in the log. So they contend for the write lock on every line, from
    // the first one (while the first ones create and migrate the database) to the last, however
    // fast or loaded the machine is.
    const stdins: Writable[] = []
    const running = Promise.all(
      Array.from({ length: processes }, (_, p) => runCliFed(["append", "--db", db, "--instance", "fm1"], (stdin) => void (stdins[p] = stdin)))
    )
    for (let round = 0; round < perProcess; round++) {
      stdins.forEach((stdin, p) => stdin.write(adsLine(p * 1000 + round, `192.0.2.${p + 1}`) + "\n"))
      await rowsReach(db, (round + 1) * processes)
    }
    for (const stdin of stdins) stdin.end()
    const runs = await running
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
    // the log; interleaved writers give more of both.
    const transactions = new Set(events.map((e) => e.recordedAt)).size
    const switches = events.filter((e, i) => i > 0 && e.payload.source !== events[i - 1]!.payload.source).length
    expect(transactions, "transactions").toBeGreaterThan(processes)
    expect(switches, "changes of writer along the log").toBeGreaterThan(processes - 1)

    const verify = await runCli(["verify", "--db", db])
    expect(verify.code).toBe(0)
    expect(verify.stdout).toContain(`verify: ok, ${processes * perProcess} events, chain intact`)
  }, 120_000)
})

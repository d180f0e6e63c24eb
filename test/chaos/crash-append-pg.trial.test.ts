/**
 * As crash-append.trial.test.ts, with the log in PostgreSQL: SIGKILL `append` at random moments,
 * 40 times. Whatever an `append` acknowledged (exit 0) is in the log, the chain verifies after
 * every trial, nothing is stored twice, and seq has no gap (a killed writer's transaction leaves
 * none behind).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { runCli, seededRandom, startAppendKillable } from "../support/crash.js"
import { adsLine } from "../support/fixtures.js"
import { usePostgres } from "../support/usePostgres.js"

const TRIALS = 40
const LINES = 60

const server = usePostgres()

describe("append on a PostgreSQL log, killed at random moments", () => {
  it(`${TRIALS} trials: acknowledged events are all there, the chain verifies each time, seq has no gap`, async () => {
    const db = await server().createDatabase()
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mitigator-crash-pg-"))
    try {
      const random = seededRandom(20261202)
      const args = ["append", "--defer", "--instance", "fm1", "--db", db.url]
      const options = { env: db.env, cwd: dir }
      // The schema exists from the start (a first trial killed before creating it has nothing to verify).
      expect((await runCli(args, { ...options, stdin: "" })).code).toBe(0)
      const acknowledged = new Set<string>()
      const linesOf = (trial: number) => Array.from({ length: LINES }, (_, i) => adsLine(trial * 1000 + i, `10.${trial}.${Math.floor(i / 4)}.${(i % 4) + 1}`))
      // How long one whole append takes here is measured first, so that the kill lands anywhere
      // from start-up to well after the end, however fast or loaded the machine is.
      const startedAt = Date.now()
      const whole = await startAppendKillable(args, dir, linesOf(TRIALS), 6, 25, db.env).done
      const wholeMs = Date.now() - startedAt
      expect(whole.code, "the calibrating append").toBe(0)
      for (let i = 0; i < LINES; i++) acknowledged.add(String(TRIALS * 1000 + i))
      let killed = 0
      for (let trial = 0; trial < TRIALS; trial++) {
        const victim = startAppendKillable(args, dir, linesOf(trial), 6, 25, db.env)
        const timer = setTimeout(victim.kill, 20 + Math.floor(random() * wholeMs * 1.5))
        const ended = await victim.done
        clearTimeout(timer)
        if (ended.code === 0) for (let i = 0; i < LINES; i++) acknowledged.add(String(trial * 1000 + i))
        else {
          expect(ended.signal, `trial ${trial} ended with code ${ended.code}`).toBe("SIGKILL")
          killed++
        }
        const verify = await runCli(["verify", "--db", db.url], options)
        expect(verify.code, `trial ${trial}: ${verify.stdout}${verify.stderr}`).toBe(0)
      }
      expect(killed, "trials killed before they finished").toBeGreaterThan(TRIALS / 5)
      expect(TRIALS - killed, "trials that finished").toBeGreaterThan(TRIALS / 10)

      // Read behind the log's back, as the superuser: what is stored, and the seqs.
      const stored = server()
        .admin(db.name, "SELECT payload::jsonb ->> 'eventId' FROM events WHERE type = 'FlowmonEventReceived' ORDER BY seq")
        .map((row) => row[0]!)
      expect(new Set(stored).size, "no event stored twice").toBe(stored.length)
      expect([...acknowledged].filter((id) => !stored.includes(id)), "acknowledged but not in the log").toEqual([])
      const [[count, max]] = server().admin(db.name, "SELECT count(*), max(seq) FROM events") as [[string, string]]
      expect(Number(max), "seq without gaps").toBe(Number(count))
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }, 600_000)
})

/**
 * SIGKILL `append` at random moments, 100 times: before it has read anything, while it records,
 * between batches, after it is done. Whatever an `append` acknowledged (exit 0) is in the log,
 * the chain verifies after every trial, nothing is stored twice, and the next reconcile makes the
 * LoadMaster match what the log decided.
 */
import { describe, expect, it } from "@effect/vitest"
import { runCli, seededRandom, startAppendKillable } from "../support/crash.js"
import { adsLine } from "../support/fixtures.js"
import { lmWorkspace, withEmulator } from "../support/loadmaster.js"

const TRIALS = 100
const LINES = 60

describe("append killed at random moments", () => {
  it(`${TRIALS} trials: acknowledged events are all there, the chain verifies each time, reconcile converges after`, () =>
    withEmulator(async (emulator) => {
      const ws = lmWorkspace(emulator, { ttl: "1h", caps: { maxAddsPerPass: 10_000 } })
      const random = seededRandom(20261121)
      // The log exists from the start (a first trial killed before creating it has nothing to verify).
      expect((await ws.cmd(["append", "--defer", "--instance", "fm1"], { stdin: "" })).code).toBe(0)
      const acknowledged = new Set<string>()
      const linesOf = (trial: number) => Array.from({ length: LINES }, (_, i) => adsLine(trial * 1000 + i, `10.${trial}.${Math.floor(i / 4)}.${(i % 4) + 1}`))
      const args = ["append", "--defer", "--instance", "fm1", "--db", ws.db, "--config", ws.config]
      // 6 lines every 25 ms: the input arrives over ~250 ms after start-up. How long one whole
      // append takes on this machine (loaded or not) is measured first, so that the kill lands
      // anywhere from start-up to well after the end, however fast the machine is.
      const calibration = TRIALS
      const startedAt = Date.now()
      const whole = await startAppendKillable(args, ws.dir, linesOf(calibration), 6, 25).done
      const wholeMs = Date.now() - startedAt
      expect(whole.code, "the calibrating append").toBe(0)
      for (let i = 0; i < LINES; i++) acknowledged.add(`ads:fm1:${calibration * 1000 + i}`)
      let killed = 0
      for (let trial = 0; trial < TRIALS; trial++) {
        const victim = startAppendKillable(args, ws.dir, linesOf(trial), 6, 25)
        const timer = setTimeout(victim.kill, 20 + Math.floor(random() * wholeMs * 1.5))
        const ended = await victim.done
        clearTimeout(timer)
        if (ended.code === 0) for (let i = 0; i < LINES; i++) acknowledged.add(`ads:fm1:${trial * 1000 + i}`)
        else {
          expect(ended.signal, `trial ${trial} ended with code ${ended.code}`).toBe("SIGKILL")
          killed++
        }
        const verify = await runCli(["verify", "--db", ws.db])
        expect(verify.code, `trial ${trial}: ${verify.stdout}${verify.stderr}`).toBe(0)
      }
      // Both outcomes happened often enough for the test to mean something.
      expect(killed, "trials killed before they finished").toBeGreaterThan(TRIALS / 5)
      expect(TRIALS - killed, "trials that finished").toBeGreaterThan(TRIALS / 10)

      const events = await ws.events()
      const stored = events.filter((e) => e.type === "FlowmonEventReceived").map((e) => `ads:fm1:${e.payload.eventId}`)
      expect(new Set(stored).size, "no event stored twice").toBe(stored.length)
      const missing = [...acknowledged].filter((key) => !stored.includes(key))
      expect(missing, "acknowledged but not in the log").toEqual([])
      // Each stored detection has its decision: recording and deciding are one transaction.
      const decided = new Set(events.filter((e) => e.type === "BlockDecided").map((e) => e.payload.cause.eventId))
      expect(stored.length).toBeGreaterThanOrEqual(acknowledged.size)
      expect(decided.size).toBe(stored.length)
      console.log(`append crash trials: one append takes ${wholeMs} ms here; ${killed} killed, ${TRIALS - killed} finished; ${stored.length} events stored, ${acknowledged.size} acknowledged`)

      const converge = await ws.reconcile()
      expect(converge.code, converge.stdout + converge.stderr).toBe(0)
      const desired = JSON.parse((await ws.cmd(["status", "--json"])).stdout).ipBlocks.map((b: { cidr: string }) => b.cidr).sort()
      expect(emulator.entries("global").map((e) => e.addr).sort()).toEqual(desired)
      expect(desired).toHaveLength(stored.length)
    }), 300_000)
})

/**
 * A burst: 32 `append` processes at once (half applying their blocks at once, half deferring),
 * while `reconcile --watch` runs its passes: nothing is lost or stored twice, no SQLITE_BUSY
 * reaches anyone, the chain is intact, and the LoadMaster ends up holding each block once.
 */
import { describe, expect, it } from "@effect/vitest"
import { runCli, runCliSlowly, summaryLine } from "../support/cli.js"
import { adsLine } from "../support/fixtures.js"
import { lmWorkspace, startCli, waitFor, withEmulator } from "../support/loadmaster.js"

const PROCESSES = 32
const PER_PROCESS = 20

describe("32 concurrent appends with reconcile --watch running", () => {
  it("all stored once, every append exits 0, the watcher converges, the chain verifies", () =>
    withEmulator(async (emulator) => {
      const ws = lmWorkspace(emulator, { ttl: "1h", caps: { maxAddsPerPass: 10_000 } })
      const watcher = startCli(["reconcile", "--watch", "--interval", "1s", "--db", ws.db, "--config", ws.config], { cwd: ws.dir })
      try {
        // Started before the first append: it waits for the log instead of failing.
        await waitFor("the watcher to wait for the log", () => watcher.stdout().includes("waiting for the first append"), 20_000)
        const runs = await Promise.all(
          Array.from({ length: PROCESSES }, (_, p) =>
            runCliSlowly(
              // A generous deadline for applying at once: what is tested is that the watcher lets
              // the appliers in between its passes, not how fast a loaded machine is.
              ["append", ...(p % 2 === 0 ? ["--defer"] : ["--apply-timeout", "90s"]), "--instance", "fm1", "--db", ws.db, "--config", ws.config],
              Array.from({ length: PER_PROCESS }, (_, i) => adsLine(p * 1000 + i, `10.${p}.${i}.1`)),
              20,
              { cwd: ws.dir }
            )
          )
        )
        for (const [p, run] of runs.entries()) {
          expect(run.stderr, `append ${p}`).not.toMatch(/SQLITE_BUSY|database is locked/i)
          expect(run.stderr, `append ${p}`).toContain(`mitigator append: ${PER_PROCESS} stored, 0 duplicate, 0 rejected, ${PER_PROCESS} blocks decided`)
          expect(run.code, `append ${p}: ${summaryLine(run)}`).toBe(0)
          // The watcher holds the lock only during its passes: applying at once still works.
          if (p % 2 === 1) expect(run.stderr, `append ${p}`).toContain("mitigator append: applied at once:")
        }
        const total = PROCESSES * PER_PROCESS
        await waitFor("the watcher to put every block on the LoadMaster", () => emulator.entries("global").length >= total, 60_000).catch((e: Error) => {
          throw new Error(`${e.message}; ${emulator.entries("global").length} there; the watcher said:\n${watcher.stdout().slice(-2000)}${watcher.stderr().slice(-1000)}`)
        })
        const listed = emulator.entries("global").map((e) => e.addr)
        expect(new Set(listed).size, "each block once").toBe(listed.length)
        expect(listed).toHaveLength(total)
      } finally {
        watcher.child.kill("SIGTERM")
      }
      const stopped = await watcher.done
      expect(stopped.code).toBe(130)
      expect(stopped.stdout).toMatch(/^\S+Z mitigator reconcile: no event log at \S+ yet: waiting for the first append to create it$/m)
      expect(stopped.stdout + stopped.stderr).not.toMatch(/SQLITE_BUSY|database is locked|pass failed/i)

      const events = await ws.events()
      const stored = events.filter((e) => e.type === "FlowmonEventReceived")
      expect(stored).toHaveLength(PROCESSES * PER_PROCESS)
      expect(new Set(stored.map((e) => e.payload.eventId)).size).toBe(PROCESSES * PER_PROCESS)
      const added = events.filter((e) => e.type === "TargetChanged" && e.payload.op === "add")
      expect(added, "each entry added (and recorded) once").toHaveLength(PROCESSES * PER_PROCESS)
      const verify = await runCli(["verify", "--db", ws.db])
      expect(verify.stdout).toContain(`chain intact`)
      expect(verify.code).toBe(0)
    }), 180_000)
})

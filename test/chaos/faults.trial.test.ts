/**
 * Converging 1,000 blocks through a bad network: 30% of calls answered 503, 5% of connections
 * reset before the command runs, 5% of answers lost after it ran, 5% of calls delayed by
 * 300 ms. Every pass records its failures; the passes converge; no entry is added twice; the
 * 50 entries somebody else made are untouched.
 */
import { describe, expect, it } from "@effect/vitest"
import { adsLine } from "../support/fixtures.js"
import { lmWorkspace, withEmulator } from "../support/loadmaster.js"

const BLOCKS = 1000
const FOREIGN = 50
const address = (i: number) => `10.${Math.floor(i / 250)}.${i % 250}.${1 + (i % 7)}`

describe("convergence under faults", () => {
  it(`${BLOCKS} blocks: every pass records its failures, the passes converge, no duplicates, foreign entries untouched`, () =>
    withEmulator(async (emulator) => {
      const ws = lmWorkspace(emulator, { ttl: "1h", caps: { maxAddsPerPass: 10_000 } })
      for (let i = 0; i < FOREIGN; i++) emulator.seed("global", `203.0.113.${i + 1}`, `firewall team #${i}`)
      const foreignBefore = emulator.entries("global")
      const lines = Array.from({ length: BLOCKS }, (_, i) => adsLine(10_000 + i, address(i))).join("\n") + "\n"
      const append = await ws.cmd(["append", "--defer", "--instance", "fm1"], { stdin: lines })
      expect(append.code, append.stderr).toBe(0)

      emulator.setFaults({ failRate: 0.3, resetRate: 0.05, lostAnswerRate: 0.05, spikeRate: 0.05, spikeMs: 300 })
      const passes: Array<{ code: number | null; failures: number }> = []
      let failuresSoFar = 0
      for (let pass = 0; pass < 12; pass++) {
        const run = await ws.reconcile(["--concurrency", "8"])
        const failures = (await ws.events()).filter((e) => e.type === "TargetChangeFailed").length
        passes.push({ code: run.code, failures: failures - failuresSoFar })
        if (run.code !== 0) {
          expect(run.code, run.stdout + run.stderr).toBe(1)
          expect(failures - failuresSoFar, `pass ${pass} failed without recording why`).toBeGreaterThan(0)
          expect(run.stdout).toContain("not converged")
        }
        failuresSoFar = failures
        if (run.code === 0) break
      }
      const faulted = emulator.counts()["faulted"] ?? 0
      emulator.setFaults({})
      console.log(`faults: ${faulted} faulted calls; passes ${passes.map((p) => `exit ${p.code} (${p.failures} failures recorded)`).join(", ")}`)
      expect(faulted).toBeGreaterThan(BLOCKS / 5)
      expect(passes.at(-1)?.code, "converged within 12 passes").toBe(0)

      const listed = emulator.entries("global")
      const addrs = listed.map((e) => e.addr)
      expect(new Set(addrs).size, "no entry twice").toBe(addrs.length)
      expect(listed).toHaveLength(BLOCKS + FOREIGN)
      for (const entry of foreignBefore) expect(listed).toContainEqual(entry)
      const ours = listed.filter((e) => !e.addr.startsWith("203.0.113."))
      expect(ours.map((e) => e.addr).sort()).toEqual(Array.from({ length: BLOCKS }, (_, i) => `${address(i)}/32`).sort())

      // Every entry of ours is in the ledger (added, or adopted after its answer was lost), so
      // the next expiry or unblock can lift it; the foreign ones are not.
      const status = JSON.parse((await ws.cmd(["status", "--json"])).stdout)
      expect(status.owned).toHaveLength(BLOCKS)
      const events = await ws.events()
      const added = events.filter((e) => e.type === "TargetChanged" && e.payload.op === "add").length
      const adopted = events.filter((e) => e.type === "DriftObserved" && e.payload.kind === "adopted").length
      expect(added + adopted).toBe(BLOCKS)
      expect(adopted, "lost answers were taken back by their marker").toBeGreaterThan(0)

      // Calm again: a pass with nothing to do, and an unblock lifts ours and only ours.
      expect((await ws.reconcile()).stdout).toContain("0 to add, 0 to remove")
      expect((await ws.cmd(["unblock", "--defer", "10.0.0.0/8", "--reason", "incident closed"])).code).toBe(0)
      // 1,000 removals at once are over the cap: refused until forced.
      const refused = await ws.reconcile(["--concurrency", "8"])
      expect(refused.code).toBe(1)
      expect(refused.stdout).toContain("plan refused: 1000 removals exceed maxRemovesPerPass (500)")
      expect(emulator.entries("global")).toHaveLength(BLOCKS + FOREIGN)
      const lift = await ws.reconcile(["--concurrency", "8", "--force"])
      expect(lift.code, lift.stdout + lift.stderr).toBe(0)
      expect(emulator.entries("global")).toEqual(foreignBefore)
    }), 300_000)
})

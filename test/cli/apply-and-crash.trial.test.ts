/**
 * A long trial (`npm run test:chaos`): `reconcile` killed at any moment leaves nothing behind that
 * the next pass cannot put right.
 */
import { describe, expect, it } from "@effect/vitest"
import { runCli, startCliKillable } from "../support/crash.js"
import { adsLine } from "../support/fixtures.js"
import { addrs, lmWorkspace, withEmulator } from "../support/loadmaster.js"

describe("reconcile killed at random moments", () => {
  it("50 trials: SIGKILL during a pass, then the next pass converges with no duplicates and the chain verifies", () =>
    withEmulator(async (emulator) => {
      const ws = lmWorkspace(emulator, { ttl: "1h" })
      let seed = 7
      const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
      for (let trial = 0; trial < 50; trial++) {
        const lines = Array.from({ length: 8 }, (_, i) => adsLine(trial * 100 + i, `198.51.${trial}.${i + 1}`)).join("\n")
        expect((await ws.cmd(["append", "--defer", "--instance", "fm1"], { stdin: lines })).code).toBe(0)
        if (trial % 4 === 3) await ws.cmd(["unblock", "--defer", `198.51.${trial - 1}.0/24`, "--reason", "trial"])
        // A slow appliance and one change at a time: the pass takes ~0.5 s after start-up, and
        // the kill lands anywhere in it (before, between, or right after the changes).
        emulator.setFaults({ latencyMs: 40 })
        const victim = startCliKillable(["reconcile", "--db", ws.db, "--config", ws.config, "--concurrency", "1"], ws.dir)
        await new Promise((r) => setTimeout(r, 150 + Math.floor(random() * 550)))
        victim.kill()
        await victim.done
        emulator.setFaults({ latencyMs: 0 })

        const after = await ws.reconcile()
        expect(after.code, after.stdout + after.stderr).toBe(0)
        const onAppliance = addrs(emulator)
        expect(new Set(onAppliance).size).toBe(onAppliance.length)
        const status = JSON.parse((await ws.cmd(["status", "--json"])).stdout)
        const desired = status.ipBlocks.filter((b: { target: string }) => b.target === "loadmaster:global").map((b: { cidr: string }) => b.cidr)
        expect([...onAppliance].sort()).toEqual([...desired].sort())
        // Everything on the appliance is in the ledger: a later expiry or unblock can remove it.
        expect(status.owned.map((o: { cidr: string }) => o.cidr).sort()).toEqual([...onAppliance].sort())
        const verify = await runCli(["verify", "--db", ws.db, "--config", ws.config])
        expect(verify.code).toBe(0)
      }
      // The kills did land between applying and recording: entries were taken back by their marker.
      const adopted = (await ws.events()).filter((e) => e.type === "DriftObserved" && e.payload.kind === "adopted")
      console.log(`crash trials: ${adopted.length} entries adopted after a kill between applying and recording`)
      expect(adopted.length).toBeGreaterThan(0)
    }), 900_000)
})

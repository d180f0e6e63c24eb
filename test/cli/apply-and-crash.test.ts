/**
 * `append` blocks an attacker at once (reconcile killed at random moments: the trial in
 * apply-and-crash.trial.test.ts, run by `npm run test:chaos`).
 */
import { describe, expect, it } from "@effect/vitest"
import { jsonLines, runCli } from "../support/crash.js"
import { adsLine } from "../support/fixtures.js"
import * as fs from "node:fs"
import { addrs, lmWorkspace, withEmulator } from "../support/loadmaster.js"

describe("append without --defer", () => {
  it("puts the new block on the LoadMaster before it exits", () =>
    withEmulator(async (emulator) => {
      const ws = lmWorkspace(emulator, { ttl: "1h" })
      const run = await ws.cmd(["append", "--instance", "fm1"], { stdin: adsLine(1, "192.0.2.31") })
      expect(run.code).toBe(0)
      expect(run.stderr).toContain("applied at once: 1 change(s) on the LoadMaster")
      expect(addrs(emulator)).toEqual(["192.0.2.31/32"])
      // One add, and nothing else: no fold of the log and no list of the block lists on the way.
      expect(emulator.counts()).toEqual({ add: 1 })
      // Recorded as mitigator's, with the comment it carries.
      const [changed] = (await ws.events()).filter((e) => e.type === "TargetChanged")
      expect(changed!.payload).toMatchObject({ op: "add", cidr: "192.0.2.31/32", comment: emulator.entries("global")[0]!.comment })
      expect(changed!.payload.comment).toMatch(/^mitigator fm1 [0-9]+ ads SSHDICT$/)
      // Nothing left for reconcile to do.
      expect((await ws.plan()).code).toBe(0)
    }))

  it("an address already on the list is no error: recorded, and the next reconcile decides whose it is", () =>
    withEmulator(async (emulator) => {
      const ws = lmWorkspace(emulator, { ttl: "1h" })
      emulator.seed("global", "192.0.2.31/32", "by hand")
      const run = await ws.cmd(["append", "--instance", "fm1"], { stdin: adsLine(1, "192.0.2.31") })
      expect(run.code, run.stderr).toBe(0)
      expect(run.stderr).toContain("applied at once: 0 change(s) on the LoadMaster; 1 already on the list (the next reconcile decides whose)")
      const events = await ws.events()
      expect(events.filter((e) => e.type === "TargetChanged")).toEqual([])
      expect(events.filter((e) => e.type === "TargetChangeFailed").map((e) => e.payload)).toMatchObject([{ cidr: "192.0.2.31/32", op: "add", reason: "exists" }])
      // Not mitigator's: reconcile neither adds nor, once unblocked, removes it.
      expect((await ws.reconcile()).code).toBe(0)
      expect((await ws.cmd(["unblock", "192.0.2.31", "--reason", "fp"])).code).toBe(0)
      expect((await ws.reconcile()).code).toBe(0)
      expect(emulator.entries("global")).toEqual([{ addr: "192.0.2.31/32", comment: "by hand" }])
    }))

  it("a repeat detection of a block mitigator holds already adds nothing and records nothing more", () =>
    withEmulator(async (emulator) => {
      const ws = lmWorkspace(emulator, { ttl: "1h" })
      expect((await ws.cmd(["append", "--instance", "fm1"], { stdin: adsLine(1, "192.0.2.31") })).code).toBe(0)
      const before = (await ws.events()).filter((e) => e.type.startsWith("Target")).length
      emulator.resetCounts()
      const again = await ws.cmd(["append", "--instance", "fm1"], { stdin: adsLine(2, "192.0.2.31") })
      expect(again.code, again.stderr).toBe(0)
      expect(again.stderr).toContain("applied at once: 0 change(s) on the LoadMaster; 1 already mitigator's")
      expect(emulator.counts()).toEqual({})
      expect((await ws.events()).filter((e) => e.type.startsWith("Target")).length).toBe(before)
    }))

  it("what an operator unblocks while append waits for the lock is not applied after all", () =>
    withEmulator(async (emulator) => {
      const ws = lmWorkspace(emulator, { ttl: "1h" })
      // A reconcile pass (this test process) holds the lock while the detection comes in.
      const lock = `${ws.db}.reconcile.lock`
      fs.writeFileSync(lock, String(process.pid))
      const waiting = ws.cmd(["append", "--instance", "fm1", "--apply-timeout", "120s"], { stdin: adsLine(1, "192.0.2.31") })
      const deadline = Date.now() + 60_000
      const decided = async () => {
        const replay = await runCli(["replay", "--events", "--json", "--db", ws.db])
        return replay.code === 0 && jsonLines(replay.stdout).some((e) => e.type === "BlockDecided")
      }
      while (!(await decided())) {
        expect(Date.now(), "the detection to be recorded").toBeLessThan(deadline)
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      expect((await ws.cmd(["unblock", "--defer", "192.0.2.31", "--reason", "false positive"])).code).toBe(0)
      fs.rmSync(lock)
      const run = await waiting
      expect(run.code, run.stderr).toBe(0)
      expect(run.stderr).toContain("1 left to the next reconcile")
      expect(emulator.counts()["add"] ?? 0).toBe(0)
      expect(emulator.entries("global")).toEqual([])
    }))

  it("applies nothing an operator's allow holds back, and nothing over the caps (reconcile holds those to them)", () =>
    withEmulator(async (emulator) => {
      const ws = lmWorkspace(emulator, { ttl: "1h", caps: { maxAddsPerPass: 2 } })
      expect((await ws.cmd(["allow", "192.0.2.0/24", "--reason", "lab"])).code).toBe(0)
      const allowed = await ws.cmd(["append", "--instance", "fm1"], { stdin: adsLine(1, "192.0.2.31") })
      expect(allowed.code, allowed.stderr).toBe(0)
      expect(emulator.counts()["add"] ?? 0).toBe(0)

      const burst = await ws.cmd(["append", "--instance", "fm1"], { stdin: [2, 3, 4].map((i) => adsLine(i, `198.51.100.${i}`)).join("\n") })
      expect(burst.code, burst.stderr).toBe(0)
      expect(burst.stderr).toContain(
        "blocks not applied now (3 additions exceed maxAddsPerPass (2)): loadmaster:global 198.51.100.2/32, loadmaster:global 198.51.100.3/32, loadmaster:global 198.51.100.4/32; the next reconcile applies them"
      )
      expect(emulator.counts()["add"] ?? 0).toBe(0)
    }))

  it("still stores (exit 0) when the LoadMaster is down, and says reconcile will apply", () =>
    withEmulator(async (emulator) => {
      const ws = lmWorkspace(emulator, { ttl: "1h" })
      await emulator.close()
      const run = await ws.cmd(["append", "--instance", "fm1", "--apply-timeout", "1s"], { stdin: adsLine(2, "192.0.2.32") })
      expect(run.code).toBe(0)
      expect(run.stderr).toContain("1 stored")
      // A refused connection is said at once, with the address it was for.
      expect(run.stderr).toMatch(/not applied: loadmaster:global 192\.0\.2\.32\/32: cannot reach the LoadMaster at \S+: connection refused \(ECONNREFUSED\); the next reconcile retries/)
      const events = await ws.events()
      expect(events.filter((e) => e.type === "BlockDecided")).toHaveLength(1)
    }))
})

describe("two event logs sharing one LoadMaster", () => {
  it("neither adopts nor removes the other's entries, marker or not", () =>
    withEmulator(async (emulator) => {
      const first = lmWorkspace(emulator, { ttl: "1h" })
      const second = lmWorkspace(emulator, { ttl: "1h" })
      expect((await first.cmd(["append", "--instance", "fm1"], { stdin: adsLine(1, "192.0.2.1") })).code).toBe(0)
      await first.cmd(["block", "203.0.113.0/24", "--ttl", "1h", "--reason", "first log's operator block"])
      expect((await first.reconcile()).code).toBe(0)
      // The second log blocks something else, then lifts everything it has.
      expect((await second.cmd(["append", "--instance", "fm2"], { stdin: adsLine(1, "192.0.2.2") })).code).toBe(0)
      expect((await second.reconcile()).code).toBe(0)
      await second.cmd(["unblock", "0.0.0.0/0", "--reason", "lift everything of this log"])
      expect((await second.reconcile()).code).toBe(0)
      expect(addrs(emulator)).toEqual(["192.0.2.1/32", "203.0.113.0/24"])
      const adopted = (await second.events()).filter((e) => e.type === "DriftObserved")
      expect(adopted).toEqual([])
    }))
})

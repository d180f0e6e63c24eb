/**
 * A wrong clock on one run (issue 14: "time is a fact, order is seq"): real processes, one of them
 * with its wall clock a day ahead (test/support/clockShift.cjs, as an NTP step or a VM restore
 * leaves it), against the LoadMaster emulator over HTTP.
 *
 * - the blocks decided before that run are not lifted early by the runs after it;
 * - the blocks decided after the clock is right again are not stretched to the wrong clock;
 * - the runs after it say so, and the log records it once (ClockSkewObserved);
 * - a reconcile run with that clock checks it against the LoadMaster's `Date` and lifts nothing.
 */
import { describe, expect, it } from "@effect/vitest"
import { clockAhead } from "../support/clock.js"
import { adsLine } from "../support/fixtures.js"
import { HOUR, MINUTE } from "../support/configs.js"
import { addrs, lmWorkspace, withEmulator } from "../support/loadmaster.js"
import { adsLineWithUser, csWorkspace, seedUser, sid, withCryptoSpike } from "../support/cryptospike.js"

const DAY = 24 * HOUR

describe("a clock a day ahead on one run", () => {
  it("given blocks decided with a right clock, when one append runs a day ahead, then later runs neither lift the earlier blocks nor stretch the later ones", async () => {
    await withEmulator(async (emulator) => {
      const w = lmWorkspace(emulator, { ttl: "6h" })
      const append = (id: number, source: string, env: Record<string, string> = {}) =>
        w.cmd(["append", "--defer", "--instance", "fm1"], { stdin: `${adsLine(id, source)}\n`, env })

      // Given: a block decided and applied with the right clock.
      const first = await append(1, "203.0.113.10")
      expect(first.code, first.stderr).toBe(0)
      expect((await w.reconcile()).code).toBe(0)
      expect(addrs(emulator)).toEqual(["203.0.113.10/32"])

      // When: one append runs with its clock a day ahead (its own block is decided from that clock) ...
      const ahead = await append(2, "203.0.113.20", clockAhead(DAY))
      expect(ahead.code, ahead.stderr).toBe(0)
      // ... and the clock is right again for the next detection and the reconcile after it.
      const before = Date.now()
      const later = await append(3, "203.0.113.30")
      expect(later.code, later.stderr).toBe(0)
      expect(later.stderr).toMatch(/warning: this clock \(\S+Z\) is (?:1d 0h|23h \d+m) behind the log's newest event \(\S+Z\): expiries are counted from this clock/)
      const pass = await w.reconcile()
      expect(pass.code, pass.stdout + pass.stderr).toBe(0)

      // Then: the first block is still there (it has 6 h to go), and so are the two others.
      expect(addrs(emulator)).toEqual(["203.0.113.10/32", "203.0.113.20/32", "203.0.113.30/32"])
      const events = await w.events()
      expect(events.filter((e) => e.type === "TargetChanged" && e.payload.op === "remove")).toEqual([])

      // The block decided with the right clock again ends 6 h after it was decided, not a day later.
      const decided = events.filter((e) => e.type === "BlockDecided")
      const untilOf = (source: string) => Date.parse(decided.find((e) => e.payload.cause.source === source)!.payload.until as string)
      expect(untilOf("203.0.113.30")).toBeGreaterThanOrEqual(before + 6 * HOUR - MINUTE)
      expect(untilOf("203.0.113.30")).toBeLessThanOrEqual(Date.now() + 6 * HOUR)
      // (the one decided by the clock that was ahead ends a day late: that run could not know)
      expect(untilOf("203.0.113.20")).toBeGreaterThan(Date.now() + DAY)

      // The skew is a fact in the log, recorded once by the first run that met it.
      const skews = events.filter((e) => e.type === "ClockSkewObserved")
      expect(skews).toHaveLength(1)
      expect(skews[0]!.payload.behindMs).toBeGreaterThan(DAY - 10 * MINUTE)

      // status reads the blocks at this clock, and warns about it.
      const status = await w.cmd(["status", "--json"])
      expect(status.code, status.stderr).toBe(0)
      expect((JSON.parse(status.stdout).ipBlocks as Array<{ cidr: string }>).map((b) => b.cidr)).toEqual([
        "203.0.113.10/32",
        "203.0.113.20/32",
        "203.0.113.30/32"
      ])
      expect(status.stderr).toMatch(/^mitigator status: warning: this clock \(\S+Z\) is (?:1d 0h|23h \d+m) behind the log's newest event/m)
    })
  })

  it("given a block with hours to go, when reconcile runs with its clock a day ahead, then the LoadMaster's Date gives it away: nothing is lifted, the pass says why and exits 1", async () => {
    await withEmulator(async (emulator) => {
      const w = lmWorkspace(emulator, { ttl: "6h" })
      const first = await w.cmd(["append", "--defer", "--instance", "fm1"], { stdin: `${adsLine(1, "203.0.113.10")}\n` })
      expect(first.code, first.stderr).toBe(0)
      expect((await w.reconcile()).code).toBe(0)
      expect(addrs(emulator)).toEqual(["203.0.113.10/32"])

      // At this clock the block expired 18 h ago: without the check, it would be removed.
      const ahead = await w.reconcile([], { env: clockAhead(DAY) })
      expect(ahead.code, ahead.stdout + ahead.stderr).toBe(1)
      expect(ahead.stdout + ahead.stderr).toMatch(/this clock \(\S+Z\) is (?:1d 0h|23h \d+m) ahead of the LoadMaster's \(\S+Z\): 1 removal\(s\) held until they agree/)
      expect(addrs(emulator)).toEqual(["203.0.113.10/32"])
      expect(emulator.counts()["del"] ?? 0).toBe(0)

      const events = await w.events()
      const skews = events.filter((e) => e.type === "ClockSkewObserved")
      expect(skews.map((e) => e.payload.against)).toEqual(["loadmaster"])
      expect(skews[0]!.payload.behindMs).toBeLessThan(-(DAY - 10 * MINUTE))

      // With the right clock, the same pass converges and the block stays (it still has hours to go).
      const right = await w.reconcile()
      expect(right.code, right.stdout + right.stderr).toBe(0)
      expect(addrs(emulator)).toEqual(["203.0.113.10/32"])
    })
  })

  it("given escalation, when one of a source's detections is recorded by a clock a day ahead, then every earlier offence still counts: the ttls grow 1h, 4h, 16h, 64h", async () => {
    await withEmulator(async (emulator) => {
      const w = lmWorkspace(emulator, { ttl: "1h", escalation: { window: "7d", factor: 4, maxTtl: "30d" } })
      for (const [id, env] of [[1, {}], [2, clockAhead(DAY)], [3, {}], [4, {}]] as const) {
        const run = await w.cmd(["append", "--defer", "--instance", "fm1"], { stdin: `${adsLine(id, "203.0.113.40")}\n`, env })
        expect(run.code, run.stderr).toBe(0)
      }
      const decided = (await w.events()).filter((e) => e.type === "BlockDecided").map((e) => [e.payload.offence, e.payload.ttl])
      expect(decided).toEqual([
        [1, "1h"],
        [2, "4h"],
        [3, "16h"],
        [4, "64h"]
      ])
    })
  })

  it("given a user blocked on CryptoSpike with hours to go, when reconcile runs with its clock a day ahead, then CryptoSpike's Date gives it away: nobody is unblocked, the pass says why and exits 1", async () => {
    await withCryptoSpike(
      async (emulator) => {
        const w = csWorkspace(emulator, { ttl: "6h" })
        expect((await w.append([adsLineWithUser(1, "192.0.2.31", "CORP\\user1")])).code).toBe(0)
        const blocked = await w.reconcile()
        expect(blocked.code, blocked.stdout + blocked.stderr).toBe(0)
        expect(emulator.user(sid(1))!.blocked, blocked.stdout + blocked.stderr).toBe(true)

        const ahead = await w.reconcile([], { env: clockAhead(DAY) })
        expect(ahead.code, ahead.stdout + ahead.stderr).toBe(1)
        expect(ahead.stdout + ahead.stderr).toMatch(/this clock \(\S+Z\) is (?:1d 0h|23h \d+m) ahead of CryptoSpike's \(\S+Z\): 1 unblock\(s\) held until they agree/)
        expect(emulator.user(sid(1))!.blocked).toBe(true)
        const events = await w.events()
        expect(events.filter((e) => e.type === "UserBlockChanged").map((e) => e.payload.op)).toEqual(["block"])
        expect(events.filter((e) => e.type === "ClockSkewObserved").map((e) => e.payload.against)).toEqual(["cryptospike"])
      },
      { seed: { users: [seedUser(1)] } }
    )
  })
})

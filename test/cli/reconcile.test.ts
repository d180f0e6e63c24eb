/**
 * `reconcile` and `plan` end to end: real CLI processes talking HTTP to the LoadMaster emulator,
 * which runs in the test process on loopback. Convergence, expiry and unblock, foreign entries,
 * drift, caps, faults, authentication, the lock, and the key's configuration.
 */
import { describe, expect, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { adsLine } from "../support/fixtures.js"
import { addrs, deleteOnAppliance, lmWorkspace, sleep, startCli, waitFor, withEmulator } from "../support/loadmaster.js"

const lines = (...items: ReadonlyArray<string>) => items.join("\n") + "\n"

/** A rule blocking SSHDICT sources on the global list (1h) and on virtual service 3 (2h). */
const globalAndVs3 = { ttl: "1h", extraActions: ["{ loadmaster: { vs: 3 }, ttl: 2h }"] }

type Events = Awaited<ReturnType<ReturnType<typeof lmWorkspace>["events"]>>

const ofType = (events: Events, type: string) => events.filter((e) => e.type === type)

describe("reconcile against the LoadMaster emulator", () => {
  it("converges from empty, then is a no-op; plan says what is pending and then 'in sync'", async () => {
    await withEmulator(async (emulator) => {
      const w = lmWorkspace(emulator, globalAndVs3)
      const append = await w.cmd(["append", "--defer", "--instance", "fm1"], {
        stdin: lines(adsLine(1, "192.0.2.31"), adsLine(2, "192.0.2.32"), adsLine(3, "192.0.2.33"))
      })
      expect(append.code).toBe(0)
      const sources = ["192.0.2.31/32", "192.0.2.32/32", "192.0.2.33/32"]

      const pending = await w.plan()
      expect(pending.code, pending.stderr).toBe(2)
      const planned = pending.stdout.trim().split("\n")
      expect(planned).toHaveLength(6)
      for (const cidr of sources) {
        expect(planned.some((l) => l.startsWith(`+ loadmaster:global ${cidr} until `))).toBe(true)
        expect(planned.some((l) => l.startsWith(`+ loadmaster:vs:3 ${cidr} until `))).toBe(true)
      }
      // plan --json: the same plan, machine-readable.
      const asJson = await w.plan(["--json"])
      expect(asJson.code).toBe(2)
      const planJson = JSON.parse(asJson.stdout)
      expect(planJson.adds.map((a: any) => `${a.target} ${a.cidr}`)).toEqual([
        ...sources.map((c) => `loadmaster:global ${c}`),
        ...sources.map((c) => `loadmaster:vs:3 ${c}`)
      ])
      expect(planJson.removes).toEqual([])
      // plan changed nothing on the appliance or in the log.
      expect(emulator.entries("global")).toEqual([])
      expect(emulator.entries(3)).toEqual([])
      expect(emulator.counts()["add"] ?? 0).toBe(0)
      expect(emulator.counts()["addvs"] ?? 0).toBe(0)
      const beforeReconcile = await w.events()
      expect(ofType(beforeReconcile, "TargetChanged")).toEqual([])

      const first = await w.reconcile()
      expect(first.code, first.stdout + first.stderr).toBe(0)
      expect(first.stdout).toContain("6 to add, 0 to remove, 6 applied, 0 failed")
      expect(first.stdout).toContain("converged")
      for (const scope of ["global", 3] as const) {
        const entries = emulator.entries(scope)
        expect(entries.map((e) => e.addr).sort()).toEqual(sources)
        for (const e of entries) expect(e.comment).toMatch(/^mitigator /)
      }
      const events = await w.events()
      const changed = ofType(events, "TargetChanged")
      expect(changed).toHaveLength(6)
      const decided = ofType(events, "BlockDecided")
      for (const c of changed) {
        expect(c.payload).toMatchObject({ op: "add" })
        expect(c.payload.comment).toBe(`mitigator fm1 ${c.payload.causeSeq} ads SSHDICT`)
        const decision = decided.find((d) => d.payload.target === c.payload.target && d.payload.subject.cidr === c.payload.cidr)
        expect(decision, `${c.payload.target} ${c.payload.cidr}`).toBeDefined()
        expect(c.payload.causeSeq).toBe(decision!.seq)
      }
      const owned = JSON.parse((await w.cmd(["status", "--json"])).stdout).owned
      expect(owned).toHaveLength(6)

      // Again: one list call per scope, nothing changed, nothing recorded.
      emulator.resetCounts()
      const second = await w.reconcile()
      expect(second.code, second.stdout + second.stderr).toBe(0)
      expect(second.stdout).toContain("0 to add, 0 to remove, 0 applied, 0 failed")
      const counts = emulator.counts()
      expect(counts).toEqual({ list: 1, listvs: 1 })
      expect(await w.events()).toEqual(events)

      const synced = await w.plan()
      expect(synced.code, synced.stderr).toBe(0)
      expect(synced.stdout).toContain("in sync")
    })
  })

  it("removes a block when it expires, and when it is unblocked", async () => {
    await withEmulator(async (emulator) => {
      const w = lmWorkspace(emulator)
      // Long enough to still be in force when the first reconcile runs on a loaded machine; short
      // enough that the clock moved past it stays within the LoadMaster's Date tolerance (a minute).
      const short = await w.cmd(["block", "--defer", "203.0.113.5", "--ttl", "40s", "--reason", "short", "--actor", "alice"])
      expect(short.code, short.stderr).toBe(0)
      const long = await w.cmd(["block", "--defer", "203.0.113.9", "--ttl", "1h", "--reason", "long", "--actor", "bob"])
      expect(long.code, long.stderr).toBe(0)
      const until = ofType(await w.events(), "BlockRequested")[0]!.payload.until as string

      const added = await w.reconcile()
      expect(added.code, added.stdout + added.stderr).toBe(0)
      expect(addrs(emulator)).toEqual(["203.0.113.5/32", "203.0.113.9/32"])
      const comments = emulator.entries("global").map((e) => e.comment).sort()
      expect(comments[0]).toMatch(/^mitigator [A-Za-z0-9._-]+ [0-9]+ op alice$/)
      expect(comments[1]).toMatch(/^mitigator [A-Za-z0-9._-]+ [0-9]+ op bob$/)

      // Expiry: time passes until just after `until`, for every later run (no waiting).
      w.clock.passUntilAfter(until)
      const expired = await w.reconcile()
      expect(expired.code, expired.stdout + expired.stderr).toBe(0)
      expect(expired.stdout).toContain("0 to add, 1 to remove, 1 applied")
      expect(addrs(emulator)).toEqual(["203.0.113.9/32"])

      // Unblock.
      const unblock = await w.cmd(["unblock", "--defer", "203.0.113.9", "--reason", "x"])
      expect(unblock.code, unblock.stderr).toBe(0)
      const removed = await w.reconcile()
      expect(removed.code, removed.stdout + removed.stderr).toBe(0)
      expect(emulator.entries("global")).toEqual([])

      const changes = ofType(await w.events(), "TargetChanged").map((e) => [e.payload.op, e.payload.cidr])
      expect(changes).toEqual([
        ["add", "203.0.113.5/32"],
        ["add", "203.0.113.9/32"],
        ["remove", "203.0.113.5/32"],
        ["remove", "203.0.113.9/32"]
      ])
      const owned = JSON.parse((await w.cmd(["status", "--json"])).stdout).owned
      expect(owned).toEqual([])
      expect((await w.plan()).code).toBe(0)
    })
  })

  it("an entry an administrator re-made by hand is theirs: plan and reconcile say so, unblock removes nothing, status shows who holds it", async () => {
    await withEmulator(async (emulator) => {
      const w = lmWorkspace(emulator)
      expect((await w.cmd(["append", "--defer", "--instance", "fm1"], { stdin: lines(adsLine(1, "192.0.2.31")) })).code).toBe(0)
      expect((await w.reconcile()).code).toBe(0)
      expect(emulator.entries("global")).toEqual([{ addr: "192.0.2.31/32", comment: expect.stringMatching(/^mitigator fm1 [0-9]+ ads SSHDICT$/) }])
      await deleteOnAppliance(emulator, "192.0.2.31/32")
      emulator.seed("global", "192.0.2.31/32", "admin permanent ticket 99")

      const planned = await w.plan()
      expect(planned.code, planned.stderr).toBe(0)
      expect(planned.stdout).toContain(
        `! loadmaster:global 192.0.2.31/32 is held by someone else now (comment "admin permanent ticket 99"): no longer mitigator's, it will not be removed`
      )
      expect(planned.stdout).toContain("in sync: nothing to change")
      const reconciled = await w.reconcile()
      expect(reconciled.code, reconciled.stderr).toBe(0)
      expect(reconciled.stdout).toContain("1 held by someone else now (left alone)")

      // The operator lifts mitigator's block: the administrator's entry stays.
      expect((await w.cmd(["unblock", "--defer", "192.0.2.31", "--reason", "done"])).code).toBe(0)
      emulator.resetCounts()
      const lifted = await w.reconcile()
      expect(lifted.code, lifted.stderr).toBe(0)
      expect(emulator.counts()["del"] ?? 0).toBe(0)
      expect(emulator.entries("global")).toEqual([{ addr: "192.0.2.31/32", comment: "admin permanent ticket 99" }])
      const status = await w.cmd(["status"])
      expect(status.stdout).toContain("Made by mitigator, held by someone else now (mitigator will not remove them):")
      expect(status.stdout).toMatch(/loadmaster:global {2}192\.0\.2\.31\/32 {2}by someone else, comment "admin permanent ticket 99" \[seq [0-9]+\]/)
      expect(JSON.parse((await w.cmd(["status", "--json"])).stdout).owned).toEqual([])
    })
  })

  it("never touches entries it does not own, even equal to desired ones", async () => {
    await withEmulator(async (emulator) => {
      const w = lmWorkspace(emulator)
      // Foreign, not desired.
      emulator.seed("global", "198.51.100.99/32", "firewall team")
      emulator.seed(3, "198.51.100.98/32", "")
      // Hand-made, equal to desired ones (one written bare: compared by canonical CIDR).
      emulator.seed("global", "192.0.2.31/32", "by hand")
      emulator.seed("global", "192.0.2.33", "by hand, bare")
      for (const ip of ["192.0.2.31", "192.0.2.32", "192.0.2.33"]) {
        expect((await w.cmd(["block", "--defer", ip, "--ttl", "1h", "--reason", "r"])).code).toBe(0)
      }
      expect((await w.cmd(["block", "--defer", "192.0.2.40", "--ttl", "1h", "--reason", "r", "--target", "loadmaster:vs:3"])).code).toBe(0)

      const pending = await w.plan()
      expect(pending.code).toBe(2)
      expect(pending.stdout.trim().split("\n").sort()).toEqual([
        expect.stringMatching(/^\+ loadmaster:global 192\.0\.2\.32\/32 until /),
        expect.stringMatching(/^\+ loadmaster:vs:3 192\.0\.2\.40\/32 until /)
      ])

      emulator.resetCounts()
      const first = await w.reconcile()
      expect(first.code, first.stdout + first.stderr).toBe(0)
      expect(emulator.counts()["add"]).toBe(1)
      expect(emulator.counts()["del"] ?? 0).toBe(0)
      expect(emulator.counts()["delvs"] ?? 0).toBe(0)
      expect(emulator.entries("global")).toEqual([
        { addr: "198.51.100.99/32", comment: "firewall team" },
        { addr: "192.0.2.31/32", comment: "by hand" },
        { addr: "192.0.2.33", comment: "by hand, bare" },
        { addr: "192.0.2.32/32", comment: expect.stringMatching(/^mitigator /) }
      ])
      expect(addrs(emulator, 3)).toEqual(["192.0.2.40/32", "198.51.100.98/32"])
      expect(ofType(await w.events(), "TargetChanged").map((e) => e.payload.cidr)).toEqual(["192.0.2.32/32", "192.0.2.40/32"])

      // Unblocking everything removes only what mitigator added.
      for (const ip of ["192.0.2.31", "192.0.2.32", "192.0.2.33", "192.0.2.40"]) {
        expect((await w.cmd(["unblock", "--defer", ip, "--reason", "done"])).code).toBe(0)
      }
      const after = await w.reconcile()
      expect(after.code, after.stdout + after.stderr).toBe(0)
      expect(after.stdout).toContain("0 to add, 2 to remove, 2 applied")
      expect(emulator.entries("global")).toEqual([
        { addr: "198.51.100.99/32", comment: "firewall team" },
        { addr: "192.0.2.31/32", comment: "by hand" },
        { addr: "192.0.2.33", comment: "by hand, bare" }
      ])
      expect(emulator.entries(3)).toEqual([{ addr: "198.51.100.98/32", comment: "" }])
      const removes = ofType(await w.events(), "TargetChanged").filter((e) => e.payload.op === "remove")
      expect(removes.map((e) => e.payload.cidr)).toEqual(["192.0.2.32/32", "192.0.2.40/32"])

      // And again: nothing desired, nothing owned: no scope to look at, no call at all.
      emulator.resetCounts()
      expect((await w.reconcile()).code).toBe(0)
      expect(emulator.counts()).toEqual({})
      expect((await w.plan()).code).toBe(0)
    })
  })

  it("repairs drift: an owned entry deleted on the appliance is recorded and added again", async () => {
    await withEmulator(async (emulator) => {
      const w = lmWorkspace(emulator)
      for (const ip of ["192.0.2.31", "192.0.2.32", "192.0.2.50"]) {
        expect((await w.cmd(["block", "--defer", ip, "--ttl", "1h", "--reason", "r"])).code).toBe(0)
      }
      expect((await w.reconcile()).code).toBe(0)
      expect(addrs(emulator)).toEqual(["192.0.2.31/32", "192.0.2.32/32", "192.0.2.50/32"])
      const before = await w.events()

      // Someone deletes an owned, still desired entry on the appliance.
      await deleteOnAppliance(emulator, "192.0.2.31/32")
      // And an owned entry that is no longer desired disappears before mitigator removes it.
      expect((await w.cmd(["unblock", "--defer", "192.0.2.50", "--reason", "done"])).code).toBe(0)
      await deleteOnAppliance(emulator, "192.0.2.50/32")
      expect(addrs(emulator)).toEqual(["192.0.2.32/32"])

      const pending = await w.plan(["--json"])
      expect(pending.code).toBe(2)
      expect(JSON.parse(pending.stdout)).toMatchObject({ drift: 2, removes: [], adds: [expect.objectContaining({ cidr: "192.0.2.31/32" })] })

      emulator.resetCounts()
      const repaired = await w.reconcile()
      expect(repaired.code, repaired.stdout + repaired.stderr).toBe(0)
      expect(repaired.stdout).toContain("2 drifted")
      expect(addrs(emulator)).toEqual(["192.0.2.31/32", "192.0.2.32/32"])
      expect(emulator.counts()["del"] ?? 0).toBe(0)

      const added = (await w.events()).slice(before.length)
      const drift = ofType(added, "DriftObserved")
      expect(drift.map((e) => e.payload)).toEqual([
        { target: "loadmaster:global", cidr: "192.0.2.31/32", kind: "missing", repair: true },
        { target: "loadmaster:global", cidr: "192.0.2.50/32", kind: "missing", repair: false }
      ])
      const changed = ofType(added, "TargetChanged")
      expect(changed.map((e) => [e.payload.op, e.payload.cidr])).toEqual([["add", "192.0.2.31/32"]])
      expect(changed[0]!.seq).toBeGreaterThan(drift[0]!.seq)
      const owned = JSON.parse((await w.cmd(["status", "--json"])).stdout).owned
      expect(owned.map((o: any) => o.cidr)).toEqual(["192.0.2.31/32", "192.0.2.32/32"])

      // Repaired: the next pass is quiet.
      const again = await w.reconcile()
      expect(again.code).toBe(0)
      expect(again.stdout).not.toContain("drifted")
      expect((await w.plan()).code).toBe(0)
    })
  })

  it("refuses a plan over the caps (recorded), and applies it with --force", async () => {
    await withEmulator(async (emulator) => {
      const w = lmWorkspace(emulator, { caps: { maxAddsPerPass: 1 } })
      for (const ip of ["192.0.2.31", "192.0.2.32"]) {
        expect((await w.cmd(["block", "--defer", ip, "--ttl", "1h", "--reason", "r"])).code).toBe(0)
      }
      const pending = await w.plan()
      expect(pending.code).toBe(2)
      expect(pending.stdout).toContain("over the caps: 2 additions exceed maxAddsPerPass (1)")

      emulator.resetCounts()
      const refused = await w.reconcile()
      expect(refused.code).toBe(1)
      expect(refused.stdout + refused.stderr).toContain("plan refused")
      expect(refused.stdout + refused.stderr).toContain("2 additions exceed maxAddsPerPass (1)")
      expect(emulator.entries("global")).toEqual([])
      expect(emulator.counts()).toEqual({ list: 1 })
      const events = await w.events()
      expect(ofType(events, "PlanRefused").map((e) => e.payload)).toEqual([
        { adds: 2, removes: 0, reason: "2 additions exceed maxAddsPerPass (1)" }
      ])
      expect(ofType(events, "TargetChanged")).toEqual([])

      const forced = await w.reconcile(["--force"])
      expect(forced.code, forced.stdout + forced.stderr).toBe(0)
      expect(addrs(emulator)).toEqual(["192.0.2.31/32", "192.0.2.32/32"])
      expect(ofType(await w.events(), "TargetChanged")).toHaveLength(2)
      expect((await w.plan()).code).toBe(0)
    })
  })

  it("converges through transient faults, without duplicates", async () => {
    await withEmulator(async (emulator) => {
      const w = lmWorkspace(emulator)
      const sources = Array.from({ length: 20 }, (_, i) => `192.0.2.${i + 1}`)
      const append = await w.cmd(["append", "--defer", "--instance", "fm1"], { stdin: lines(...sources.map((s, i) => adsLine(100 + i, s))) })
      expect(append.code, append.stderr).toBe(0)
      const desired = sources.map((s) => `${s}/32`).sort()

      emulator.setFaults({ failRate: 0.3, resetRate: 0.1 })
      const codes: Array<number | null> = []
      for (let attempt = 0; attempt < 6; attempt++) {
        const run = await w.reconcile()
        codes.push(run.code)
        if (run.code === 0) break
        expect(run.code, run.stdout + run.stderr).toBe(1)
      }
      // The faults did happen (the client's retries and the next passes got through them).
      expect(emulator.counts()["faulted"] ?? 0).toBeGreaterThan(0)
      emulator.setFaults({})
      expect(codes.at(-1), `exit codes: ${codes.join(", ")}`).toBe(0)

      const listed = emulator.entries("global").map((e) => e.addr)
      expect(listed.length).toBe(new Set(listed).size)
      expect([...listed].sort()).toEqual(desired)
      const events = await w.events()
      for (const failed of ofType(events, "TargetChangeFailed")) {
        expect(failed.payload.errorClass, JSON.stringify(failed.payload)).toBe("transient")
      }
      // Each desired entry was added once (no add recorded twice).
      const adds = ofType(events, "TargetChanged").filter((e) => e.payload.op === "add").map((e) => e.payload.cidr)
      expect([...adds].sort()).toEqual(desired)
      expect((await w.plan()).code).toBe(0)
    })
  }, 60_000)

  it("stops at once on an authentication failure, naming it, without a retry storm", async () => {
    await withEmulator(async (emulator) => {
      const w = lmWorkspace(emulator, globalAndVs3)
      expect((await w.cmd(["append", "--defer", "--instance", "fm1"], { stdin: adsLine(1) })).code).toBe(0)
      emulator.setFaults({ authFailures: true })
      emulator.resetCounts()
      const run = await w.reconcile()
      expect(run.code).toBe(1)
      // No retry storm: at most one list per block list, no add (counted, not timed).
      const counts = emulator.counts()
      expect(counts["list"] ?? 0).toBeLessThanOrEqual(1)
      expect(counts["listvs"] ?? 0).toBeLessThanOrEqual(1)
      expect(counts["add"] ?? 0).toBe(0)
      expect(counts["addvs"] ?? 0).toBe(0)
      const failed = ofType(await w.events(), "TargetChangeFailed")
      expect(failed.length).toBeGreaterThan(0)
      for (const f of failed) expect(f.payload).toMatchObject({ errorClass: "auth", reason: "auth" })
      expect(failed[0]!.payload.message).toContain("refused the API key")
      expect(emulator.entries("global")).toEqual([])
      // The operator is told why: the key was refused (today only "not reachable" is printed,
      // and the reason is in the log alone).
      expect(run.stdout + run.stderr).toMatch(/auth|401|unauthori[sz]ed|api key/i)
    })
  })

  it("one reconcile at a time: the lock, SIGTERM on --watch, a stale lock taken over", async () => {
    await withEmulator(async (emulator) => {
      const w = lmWorkspace(emulator)
      expect((await w.cmd(["block", "--defer", "192.0.2.31", "--ttl", "1h", "--reason", "r"])).code).toBe(0)
      const lock = `${w.db}.reconcile.lock`

      const watcher = startCli(["reconcile", "--watch", "--interval", "1s", "--lock-wait", "1s", "--db", w.db, "--config", w.config], { cwd: w.dir })
      try {
        await waitFor("the watcher's first pass", () => watcher.stdout().includes("mitigator reconcile:"), 20_000)
        expect(addrs(emulator)).toEqual(["192.0.2.31/32"])
        // The watcher holds the lock only during a pass: between passes another reconcile (or an
        // append applying at once) gets it.
        await waitFor("the watcher to release the lock between passes", () => !fs.existsSync(lock), 5_000)
        const between = await w.reconcile()
        expect(between.code, between.stdout + between.stderr).toBe(0)

        // A pass that does not end (here: the lock held by a live process) is waited for, up to
        // --lock-wait, then named.
        fs.writeFileSync(lock, String(process.pid))
        const second = await w.reconcile(["--lock-wait", "1s"])
        expect(second.code).toBe(1)
        expect(second.stderr).toContain(`another reconcile (pid ${process.pid}) is running`)
        // Meanwhile the watcher's passes wait too, and say so; they go on once it is free.
        expect((await w.cmd(["block", "--defer", "192.0.2.32", "--ttl", "1h", "--reason", "r"])).code).toBe(0)
        await waitFor("the watcher to report the held lock", () => watcher.stdout().includes(`pass failed: another reconcile (pid ${process.pid})`), 60_000)
        expect(addrs(emulator)).toEqual(["192.0.2.31/32"])
        fs.rmSync(lock)
        await waitFor("the watcher to add the second block", () => addrs(emulator).length === 2, 15_000)
      } finally {
        watcher.child.kill("SIGTERM")
      }
      const stopped = await Promise.race([watcher.done, sleep(15_000).then(() => undefined)])
      expect(stopped, "the watcher did not stop within 15 s of SIGTERM").toBeDefined()
      expect(stopped!.code, stopped!.stdout + stopped!.stderr).toBe(130)
      expect(stopped!.stdout).toMatch(/^\S+ mitigator reconcile: /m)
      expect(fs.existsSync(lock)).toBe(false)
      // Stopping never unblocks anything.
      expect(addrs(emulator)).toEqual(["192.0.2.31/32", "192.0.2.32/32"])

      const after = await w.reconcile()
      expect(after.code, after.stdout + after.stderr).toBe(0)
      expect(fs.existsSync(lock)).toBe(false)

      // A lock left by a process that is gone is taken over.
      const dead = spawnSync(process.execPath, ["-e", ""]).pid
      expect(() => process.kill(dead, 0)).toThrow()
      fs.writeFileSync(lock, String(dead))
      expect((await w.cmd(["unblock", "--defer", "192.0.2.32", "--reason", "x"])).code).toBe(0)
      const stale = await w.reconcile()
      expect(stale.code, stale.stdout + stale.stderr).toBe(0)
      expect(addrs(emulator)).toEqual(["192.0.2.31/32"])
      expect(fs.existsSync(lock)).toBe(false)

      // 999999 as well (when no such process exists here).
      let alive = true
      try {
        process.kill(999999, 0)
      } catch {
        alive = false
      }
      if (!alive) {
        fs.writeFileSync(lock, "999999\n")
        const taken = await w.reconcile()
        expect(taken.code, taken.stdout + taken.stderr).toBe(0)
        expect(fs.existsSync(lock)).toBe(false)
      }
    })
  }, 60_000)

  it("needs a loadmaster section and a private key file; the key is never printed", async () => {
    await withEmulator(async (emulator) => {
      const w = lmWorkspace(emulator)
      expect((await w.cmd(["block", "--defer", "192.0.2.31", "--ttl", "1h", "--reason", "r"])).code).toBe(0)

      const bare = w.writeConfig({ noLoadMaster: true }, "no-loadmaster.yaml")
      for (const command of ["reconcile", "plan"]) {
        const run = await w.cmd([command], { config: bare })
        expect(run.code, command).toBe(1)
        expect(run.stderr, command).toContain("no `loadmaster` section")
      }

      fs.chmodSync(w.keyFile, 0o644)
      emulator.resetCounts()
      for (const command of ["reconcile", "plan"]) {
        const run = await w.cmd([command])
        expect(run.code, command).toBe(1)
        expect(run.stderr, command).toContain("chmod 600")
        expect(run.stderr, command).toContain(w.keyFile)
      }
      // Refused before any call to the appliance.
      expect(emulator.counts()).toEqual({})
      expect(emulator.entries("global")).toEqual([])

      // A missing key file is named too.
      const missing = path.join(w.dir, "missing.yaml")
      fs.writeFileSync(missing, fs.readFileSync(w.config, "utf8").replace("apiKeyFile: lm.key", "apiKeyFile: nope.key"))
      const noKey = await w.cmd(["reconcile"], { config: missing })
      expect(noKey.code).toBe(1)
      expect(noKey.stderr).toContain("nope.key")

      // Private again: it works, and the key is in no output of any run (checked on every run too).
      fs.chmodSync(w.keyFile, 0o600)
      const ok = await w.reconcile()
      expect(ok.code, ok.stdout + ok.stderr).toBe(0)
      expect(addrs(emulator)).toEqual(["192.0.2.31/32"])
      for (const output of w.outputs) expect(output).not.toContain(emulator.apiKey)
      // Nor in the event log's text.
      const replay = await w.run(["replay", "--events", "--db", w.db])
      expect(replay.stdout).not.toContain(emulator.apiKey)
    })
  })
})

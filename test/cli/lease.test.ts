/**
 * The reconcile lease as the commands meet it: a lease whose pid now names another process, or
 * that expired, is taken over (and the takeover is in the log); a live holder is respected,
 * through a symlink to the log too; append's immediate apply takes a stale lease over like
 * reconcile does. Real processes against the LoadMaster emulator over loopback.
 */
import { describe, expect, it } from "@effect/vitest"
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { onTestFinished } from "vitest"
import { bootId, startTicks } from "../../src/platform/ProcessIdentity.js"
import type { LeaseRecord } from "../../src/reconciler/lock.js"
import { runCli } from "../support/cli.js"
import { adsLine } from "../support/fixtures.js"
import { lmWorkspace, startCli, waitFor, withEmulator } from "../support/loadmaster.js"

const HOUR = 3_600_000

/** A live process that is not mitigator (killed when the test ends). */
const otherProcess = (): number => {
  const child = spawn("sleep", ["600"], { stdio: "ignore" })
  onTestFinished(() => void child.kill("SIGKILL"))
  return child.pid!
}

/** A lease as a holder on this machine writes it (by default: that process, this boot, for an hour). */
const writeLease = (file: string, fields: Partial<LeaseRecord> & { readonly pid: number }): void => {
  const record: LeaseRecord = {
    startTicks: startTicks(fields.pid),
    bootId: bootId(),
    host: os.hostname(),
    token: "feedfacefeedfacefeedfacefeedface",
    acquiredAt: new Date(Date.now() - 1000).toISOString(),
    expiresAt: new Date(Date.now() + HOUR).toISOString(),
    ...fields
  }
  fs.writeFileSync(file, JSON.stringify(record) + "\n", { mode: 0o600 })
}

const addrs = (emulator: { entries: (scope: "global") => ReadonlyArray<{ addr: string }> }) => emulator.entries("global").map((e) => e.addr)

describe("the reconcile lease, from the command line", () => {
  it("a lease whose pid now belongs to another process is taken over: the pass runs, and the takeover is recorded and shown", () =>
    withEmulator(async (emulator) => {
      const w = lmWorkspace(emulator)
      expect((await w.cmd(["block", "--defer", "192.0.2.31", "--ttl", "1h", "--reason", "r"])).code).toBe(0)
      const lease = `${w.db}.reconcile.lock`
      // The pid is alive, but that process started at another time than the lease's holder did.
      const reused = otherProcess()
      writeLease(lease, { pid: reused, startTicks: "1" })

      const run = await w.reconcile()
      expect(run.code, run.stdout + run.stderr).toBe(0)
      expect(run.stdout + run.stderr).toContain(`took over the reconcile lease ${lease}: pid ${reused} now belongs to another process`)
      expect(addrs(emulator)).toEqual(["192.0.2.31/32"])
      expect(fs.existsSync(lease)).toBe(false)

      const taken = (await w.events()).filter((e) => e.type === "LeaseTakenOver")
      expect(taken).toHaveLength(1)
      expect(taken[0]!.payload).toMatchObject({ lease, reason: "pid-reused", previous: { pid: reused, host: os.hostname() }, host: os.hostname() })
      expect(taken[0]!.payload.pid).not.toBe(reused)
      const replay = await runCli(["replay", "--events", "--db", w.db])
      expect(replay.stdout).toMatch(new RegExp(`\\tLeaseTakenOver\\t${lease.replace(/[.]/g, "\\.")} taken by pid \\d+ from pid ${reused} \\(pid-reused\\)`))
      // The projection does not read it: the state is what it was.
      expect((await w.plan()).code).toBe(0)
    }))

  it("a live holder is respected through a symlink to the log: the lease lies beside the log's real path", () =>
    withEmulator(async (emulator) => {
      const w = lmWorkspace(emulator)
      expect((await w.cmd(["block", "--defer", "192.0.2.31", "--ttl", "1h", "--reason", "r"])).code).toBe(0)
      const link = path.join(w.dir, "link-to-events.db")
      fs.symlinkSync(w.db, link)
      const holder = otherProcess()
      writeLease(`${w.db}.reconcile.lock`, { pid: holder })

      const blocked = await w.run(["reconcile", "--lock-wait", "1s", "--db", link, "--config", w.config])
      expect(blocked.code).toBe(1)
      expect(blocked.stderr).toContain(`another reconcile (pid ${holder}) is running on this event log; it holds ${w.db}.reconcile.lock`)
      expect(fs.existsSync(`${link}.reconcile.lock`)).toBe(false)
      expect(addrs(emulator)).toEqual([])

      // Once the holder has let go, the same path works.
      fs.rmSync(`${w.db}.reconcile.lock`)
      const free = await w.run(["reconcile", "--db", link, "--config", w.config])
      expect(free.code, free.stdout + free.stderr).toBe(0)
      expect(addrs(emulator)).toEqual(["192.0.2.31/32"])
      expect((await w.events()).filter((e) => e.type === "LeaseTakenOver")).toEqual([])
    }))

  it("an expired lease whose holder on this host still runs (paused, or the clock stepped) is not taken over", () =>
    withEmulator(async (emulator) => {
      const w = lmWorkspace(emulator)
      expect((await w.cmd(["block", "--defer", "192.0.2.31", "--ttl", "1h", "--reason", "r"])).code).toBe(0)
      const paused = otherProcess()
      writeLease(`${w.db}.reconcile.lock`, { pid: paused, expiresAt: new Date(Date.now() - 60_000).toISOString() })
      const run = await w.reconcile(["--lock-wait", "1s"])
      expect(run.code, run.stdout + run.stderr).toBe(1)
      expect(run.stderr).toContain(`another reconcile (pid ${paused}) is running on this event log`)
      expect(run.stderr).toContain("but its process still runs")
      expect(addrs(emulator)).toEqual([])
      expect((await w.events()).filter((e) => e.type === "LeaseTakenOver")).toEqual([])
    }))

  it("a pass whose lease is taken by another holder midway stops before its next appliance call and exits 1", () =>
    withEmulator(
      async (emulator) => {
        // Given 60 pending blocks, and a LoadMaster that takes 250 ms per call (one call at a time: 15 s at least)
        const planned = 60
        const w = lmWorkspace(emulator, { ttl: "1h" })
        const lines = Array.from({ length: planned }, (_, i) => adsLine(100 + i, `198.18.${Math.floor(i / 200)}.${(i % 200) + 1}`)).join("\n") + "\n"
        expect((await w.cmd(["append", "--defer", "--instance", "fm1"], { stdin: lines })).code).toBe(0)
        emulator.resetCounts()
        const lease = `${w.db}.reconcile.lock`
        const pass = startCli(["reconcile", "--concurrency", "1", "--db", w.db, "--config", w.config], { cwd: w.dir })
        // When another holder's lease replaces this pass's after its first add
        await waitFor("the first add", () => (emulator.counts()["add"] ?? 0) >= 1, 60_000)
        const other = otherProcess()
        writeLease(lease, { pid: other })
        // Then the pass stops, names the lease and what happened, and exits 1
        const done = await pass.done
        expect(done.code, done.stdout + done.stderr).toBe(1)
        expect(done.stderr).toContain(`the reconcile lease ${lease} was lost while this pass ran: it is another holder's now (pid ${other}`)
        const adds = emulator.counts()["add"] ?? 0
        expect(adds).toBeGreaterThanOrEqual(1)
        expect(adds).toBeLessThan(planned)
        // and made no record after its last call: what it recorded applied is at most what reached the LoadMaster
        const applied = (await w.events()).filter((e) => e.type === "TargetChanged")
        expect(applied.length).toBeLessThanOrEqual(adds)
        // The other holder's lease is left as it is
        expect((JSON.parse(fs.readFileSync(lease, "utf8")) as LeaseRecord).pid).toBe(other)
      },
      { faults: { latencyMs: 250 } }
    ), 120_000)

  it("under --watch, a pass that loses its lease fails alone: the next pass takes the lease anew and converges", () =>
    withEmulator(
      async (emulator) => {
        // Given 30 pending blocks, a LoadMaster that takes 250 ms per call, and reconcile --watch
        const planned = 30
        const w = lmWorkspace(emulator, { ttl: "1h" })
        const lines = Array.from({ length: planned }, (_, i) => adsLine(300 + i, `198.18.1.${i + 1}`)).join("\n") + "\n"
        expect((await w.cmd(["append", "--defer", "--instance", "fm1"], { stdin: lines })).code).toBe(0)
        emulator.resetCounts()
        const lease = `${w.db}.reconcile.lock`
        const watch = startCli(["reconcile", "--watch", "--interval", "1s", "--lock-wait", "120s", "--concurrency", "1", "--db", w.db, "--config", w.config], { cwd: w.dir })
        onTestFinished(() => void watch.child.kill("SIGKILL"))
        const output = () => watch.stdout() + watch.stderr()
        // When another holder takes the lease after the first add
        await waitFor("the first add", () => (emulator.counts()["add"] ?? 0) >= 1, 60_000)
        writeLease(lease, { pid: otherProcess() })
        // Then that pass fails, naming the lost lease
        await waitFor("the pass to fail on the lost lease", () => output().includes(`pass failed: the reconcile lease ${lease} was lost while this pass ran`), 60_000)
        expect(addrs(emulator).length).toBeLessThan(planned)
        // and once the other holder is done, the next pass takes the lease and puts every block on the list
        fs.rmSync(lease)
        await waitFor("every block on the LoadMaster", () => addrs(emulator).length === planned, 90_000)
        watch.child.kill("SIGTERM")
        const done = await watch.done
        expect(done.code, output()).toBe(130)
        expect(fs.existsSync(lease)).toBe(false)
      },
      { faults: { latencyMs: 250 } }
    ), 240_000)

  it("append's immediate apply takes over a lease left by a process that is gone, and records it", () =>
    withEmulator(async (emulator) => {
      const w = lmWorkspace(emulator, { ttl: "1h" })
      const gone = spawnSync(process.execPath, ["-e", ""]).pid!
      writeLease(`${w.db}.reconcile.lock`, { pid: gone, startTicks: "42" })
      const run = await w.cmd(["append", "--instance", "fm1"], { stdin: adsLine(1, "192.0.2.31") })
      expect(run.code, run.stderr).toBe(0)
      expect(run.stderr).toContain("applied at once: 1 change(s) on the LoadMaster")
      expect(addrs(emulator)).toEqual(["192.0.2.31/32"])
      const taken = (await w.events()).filter((e) => e.type === "LeaseTakenOver")
      expect(taken.map((e) => [e.payload.reason, e.payload.previous.pid])).toEqual([["owner-gone", gone]])
      expect(fs.existsSync(`${w.db}.reconcile.lock`)).toBe(false)
    }))

  it("six reconciles started at once against a stale lease: one takeover, every pass runs alone and succeeds", () =>
    withEmulator(async (emulator) => {
      const w = lmWorkspace(emulator)
      expect((await w.cmd(["block", "--defer", "192.0.2.31", "--ttl", "1h", "--reason", "r"])).code).toBe(0)
      writeLease(`${w.db}.reconcile.lock`, { pid: otherProcess(), startTicks: "1" })
      const runs = await Promise.all(Array.from({ length: 6 }, () => w.reconcile(["--lock-wait", "120s"])))
      for (const run of runs) expect(run.code, run.stdout + run.stderr).toBe(0)
      // Had two of them each replaced "the stale lease" (one of them the other's fresh one), there would be two.
      expect((await w.events()).filter((e) => e.type === "LeaseTakenOver")).toHaveLength(1)
      expect((await w.events()).filter((e) => e.type === "TargetChanged")).toHaveLength(1)
      expect(addrs(emulator)).toEqual(["192.0.2.31/32"])
      expect(fs.existsSync(`${w.db}.reconcile.lock`)).toBe(false)
      expect(fs.existsSync(`${w.db}.reconcile.lock.takeover`)).toBe(false)
    }), 120_000)
})

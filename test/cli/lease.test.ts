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
import { lmWorkspace, withEmulator } from "../support/loadmaster.js"

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
      expect((await w.cmd(["block", "192.0.2.31", "--ttl", "1h", "--reason", "r"])).code).toBe(0)
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
      expect((await w.cmd(["block", "192.0.2.31", "--ttl", "1h", "--reason", "r"])).code).toBe(0)
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

  it("an expired lease is taken over even though its holder still runs (a holder that hangs)", () =>
    withEmulator(async (emulator) => {
      const w = lmWorkspace(emulator)
      expect((await w.cmd(["block", "192.0.2.31", "--ttl", "1h", "--reason", "r"])).code).toBe(0)
      const hung = otherProcess()
      writeLease(`${w.db}.reconcile.lock`, { pid: hung, expiresAt: new Date(Date.now() - 60_000).toISOString() })
      const run = await w.reconcile(["--lock-wait", "1s"])
      expect(run.code, run.stdout + run.stderr).toBe(0)
      expect(addrs(emulator)).toEqual(["192.0.2.31/32"])
      const taken = (await w.events()).filter((e) => e.type === "LeaseTakenOver")
      expect(taken.map((e) => [e.payload.reason, e.payload.previous.pid])).toEqual([["expired", hung]])
    }))

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
      expect((await w.cmd(["block", "192.0.2.31", "--ttl", "1h", "--reason", "r"])).code).toBe(0)
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

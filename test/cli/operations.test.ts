/**
 * Running it unattended: `reconcile --metrics-file` (Prometheus text, replaced atomically),
 * the pass record `status` reads (last successful reconcile, a warning when overdue), and
 * structured log lines (`--log-format`, `--log-file`). Real processes, the LoadMaster emulator.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { adsLine } from "../support/fixtures.js"
import { lmWorkspace, startCli, waitFor, withEmulator } from "../support/loadmaster.js"

const lines = (...items: ReadonlyArray<string>) => items.join("\n") + "\n"

/** `name{labels} value` samples of a Prometheus text file, by series. */
const samples = (text: string): Map<string, number> =>
  new Map(
    text
      .split("\n")
      .filter((l) => l !== "" && !l.startsWith("#"))
      .map((l) => {
        const space = l.lastIndexOf(" ")
        return [l.slice(0, space), Number(l.slice(space + 1))] as const
      })
  )

describe("reconcile --metrics-file", () => {
  it("writes desired, actual, drift, applied and failed per target, the last success and the duration after each pass", async () => {
    await withEmulator(async (emulator) => {
      const w = lmWorkspace(emulator, { ttl: "1h", extraActions: ["{ loadmaster: { vs: 3 }, ttl: 2h }"] })
      emulator.seed("global", "203.0.113.5", "hand-made")
      const append = await w.cmd(["append", "--defer", "--instance", "fm1"], { stdin: lines(adsLine(1, "192.0.2.31"), adsLine(2, "192.0.2.32")) })
      expect(append.code, append.stderr).toBe(0)
      const metricsFile = path.join(w.dir, "mitigator.prom")

      const before = Date.now()
      const first = await w.reconcile(["--metrics-file", metricsFile])
      expect(first.code, first.stdout + first.stderr).toBe(0)
      const text = fs.readFileSync(metricsFile, "utf8")
      expect(text).toContain("# TYPE mitigator_desired_entries gauge")
      expect(text).toContain("# HELP mitigator_last_success_timestamp_seconds ")
      const m = samples(text)
      expect(m.get('mitigator_desired_entries{target="loadmaster:global"}')).toBe(2)
      expect(m.get('mitigator_desired_entries{target="loadmaster:vs:3"}')).toBe(2)
      // Listed before the pass changed anything: the hand-made entry only.
      expect(m.get('mitigator_actual_entries{target="loadmaster:global"}')).toBe(1)
      expect(m.get('mitigator_actual_entries{target="loadmaster:vs:3"}')).toBe(0)
      expect(m.get('mitigator_drift_entries{target="loadmaster:global"}')).toBe(2)
      expect(m.get('mitigator_applied_changes{target="loadmaster:global"}')).toBe(2)
      expect(m.get('mitigator_applied_changes{target="loadmaster:vs:3"}')).toBe(2)
      expect(m.get('mitigator_failed_changes{target="loadmaster:global"}')).toBe(0)
      expect(m.get("mitigator_last_pass_converged")).toBe(1)
      expect(m.get("mitigator_reconcile_interval_seconds")).toBe(60)
      const success = m.get("mitigator_last_success_timestamp_seconds")! * 1000
      expect(success).toBeGreaterThanOrEqual(before - 1000)
      expect(success).toBeLessThanOrEqual(Date.now())
      expect(m.get("mitigator_last_pass_duration_seconds")).toBeGreaterThan(0)
      expect(m.get("mitigator_last_pass_duration_seconds")).toBeLessThan(30)
      // Replaced by rename: no temporary file is left beside it.
      expect(fs.readdirSync(w.dir).filter((f) => f.includes("mitigator.prom"))).toEqual(["mitigator.prom"])

      // The second pass: in sync, nothing applied.
      const second = await w.reconcile(["--metrics-file", metricsFile])
      expect(second.code).toBe(0)
      const again = samples(fs.readFileSync(metricsFile, "utf8"))
      expect(again.get('mitigator_actual_entries{target="loadmaster:global"}')).toBe(3)
      expect(again.get('mitigator_drift_entries{target="loadmaster:global"}')).toBe(0)
      expect(again.get('mitigator_applied_changes{target="loadmaster:global"}')).toBe(0)

      // A pass that cannot list: failed counted, not converged, the last success kept, no actual figure.
      emulator.setFaults({ authFailures: true })
      const failing = await w.reconcile(["--metrics-file", metricsFile])
      expect(failing.code).toBe(1)
      const failed = samples(fs.readFileSync(metricsFile, "utf8"))
      expect(failed.get("mitigator_last_pass_converged")).toBe(0)
      expect(failed.get('mitigator_failed_changes{target="loadmaster:global"}')).toBe(1)
      expect(failed.has('mitigator_actual_entries{target="loadmaster:global"}')).toBe(false)
      expect(failed.get('mitigator_desired_entries{target="loadmaster:global"}')).toBe(2)
      expect(failed.get("mitigator_last_success_timestamp_seconds")).toBe(again.get("mitigator_last_success_timestamp_seconds"))
      expect(failed.get("mitigator_last_pass_timestamp_seconds")).toBeGreaterThan(again.get("mitigator_last_pass_timestamp_seconds")!)
    })
  })
})

describe("status: the last successful reconcile", () => {
  it("shows it, and warns once it is older than 3 intervals", async () => {
    await withEmulator(async (emulator) => {
      const w = lmWorkspace(emulator)
      expect((await w.cmd(["append", "--defer", "--instance", "fm1"], { stdin: lines(adsLine(1, "192.0.2.31")) })).code).toBe(0)
      const never = await w.cmd(["status"])
      expect(never.stdout).toContain("Last reconcile: none recorded beside this log")
      expect(never.stderr).toContain("mitigator status: warning: no reconcile has run against this log yet")

      // Cron every 10 seconds, as far as status knows (3 intervals: room for a loaded machine).
      expect((await w.reconcile(["--interval", "10s"])).code).toBe(0)
      const fresh = await w.cmd(["status"])
      expect(fresh.stdout).toMatch(/^Last successful reconcile: \S+Z \(\d+s ago\); last pass \S+Z \(\d+s ago\) converged$/m)
      expect(fresh.stderr).toBe("")
      // --json stays the log's desired state only.
      expect(JSON.parse((await w.cmd(["status", "--json"])).stdout)).not.toHaveProperty("lastReconcile")

      // Time passes (for every later run): 31 s, more than 3 intervals of 10 s.
      w.clock.pass(31_000)
      const stale = await w.cmd(["status"])
      expect(stale.stderr).toMatch(/mitigator status: warning: the last successful reconcile was \d+s ago, more than 3 intervals of 10s/)

      // A pass that fails does not count as a success.
      emulator.setFaults({ authFailures: true })
      expect((await w.reconcile(["--interval", "10s"])).code).toBe(1)
      const failing = await w.cmd(["status"])
      expect(failing.stdout).toMatch(/last pass \S+Z \(\d+s ago\) did not converge/)
      expect(failing.stderr).toContain("the last successful reconcile was")
    })
  })
})

describe("structured log lines", () => {
  it("reconcile --watch --log-format json: one JSON object per line with time, level, message and figures; --log-file gets them too", async () => {
    await withEmulator(async (emulator) => {
      const w = lmWorkspace(emulator)
      expect((await w.cmd(["append", "--defer", "--instance", "fm1"], { stdin: lines(adsLine(1, "192.0.2.31")) })).code).toBe(0)
      const logFile = path.join(w.dir, "reconcile.log")
      const watcher = startCli(["reconcile", "--watch", "--interval", "1s", "--log-format", "json", "--log-file", logFile, "--db", w.db, "--config", w.config], {
        cwd: w.dir
      })
      try {
        await waitFor("two passes", () => watcher.stdout().trim().split("\n").length >= 2, 20_000)
      } finally {
        watcher.child.kill("SIGTERM")
      }
      await watcher.done
      const records = watcher.stdout().trim().split("\n").map((l) => JSON.parse(l))
      expect(records[0]).toMatchObject({
        level: "info",
        target: "loadmaster",
        converged: true,
        applied: 1,
        desired: 1,
        failed: 0,
        msg: expect.stringMatching(/^mitigator reconcile: 1 to add, 0 to remove, 1 applied, 0 failed; converged$/)
      })
      expect(records[1]).toMatchObject({ level: "info", applied: 0, drift: 0 })
      expect(Date.parse(records[1].time)).toBeGreaterThan(Date.parse(records[0].time))
      const filed = fs.readFileSync(logFile, "utf8").trim().split("\n").map((l) => JSON.parse(l))
      expect(filed.slice(0, 2)).toEqual(records.slice(0, 2))

      // A failing pass is a warning, with the reason in the message.
      emulator.setFaults({ authFailures: true })
      const failing = await w.reconcile(["--log-format", "logfmt"])
      expect(failing.code).toBe(1)
      expect(failing.stdout.trim()).toMatch(/^time=\S+ level=warn msg="mitigator reconcile: .*not converged.*" applied=0 converged=false desired=1 drift=0 failed=1 target=loadmaster$/)
    })
  })
})

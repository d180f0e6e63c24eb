/**
 * Progress on a real terminal: `reconcile` run inside a pseudo-terminal (util-linux `script`)
 * against a slow LoadMaster emulator shows how far the first convergence is; the same run on
 * pipes (cron, systemd) shows nothing of it.
 */
import { describe, expect, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import { promisify } from "node:util"
import { adsLine } from "../support/fixtures.js"
import { BUNDLE } from "../support/cli.js"
import { lmWorkspace, withEmulator } from "../support/loadmaster.js"

const run = promisify(execFile)

describe("progress while converging", () => {
  it("is drawn on a terminal and absent on pipes", async () => {
    await withEmulator(async (emulator) => {
      const w = lmWorkspace(emulator)
      const sources = Array.from({ length: 40 }, (_, i) => adsLine(500 + i, `192.0.2.${i + 1}`))
      expect((await w.cmd(["append", "--defer", "--instance", "fm1"], { stdin: sources.join("\n") + "\n" })).code).toBe(0)
      emulator.setFaults({ latencyMs: 40 })

      const command = [process.execPath, BUNDLE, "reconcile", "--concurrency", "1", "--db", w.db, "--config", w.config].join(" ")
      const onTerminal = await run("script", ["-qec", command, "/dev/null"], { cwd: w.dir, env: { PATH: process.env["PATH"] ?? "", TERM: "dumb" } })
      expect(onTerminal.stdout).toMatch(/\r\x1b\[2Kapplying changes on the LoadMaster: \d+ of 40 \(\d+%\), \d+\/s/)
      expect(onTerminal.stdout).toContain("40 to add, 0 to remove, 40 applied, 0 failed; converged")
      expect(emulator.entries("global")).toHaveLength(40)

      // Nothing to show on pipes, even for long work.
      emulator.setFaults({ latencyMs: 40 })
      expect((await w.cmd(["unblock", "--defer", "192.0.2.0/24", "--reason", "test over"])).code).toBe(0)
      const onPipes = await w.reconcile(["--concurrency", "1"])
      expect(onPipes.stdout).toContain("0 to add, 40 to remove, 40 applied, 0 failed; converged")
      expect(onPipes.stdout + onPipes.stderr).not.toContain("\x1b[")
    })
  })
})

/**
 * Deploying: the tarball `npm run package` makes, unpacked into a directory as on an appliance,
 * driven the way Flowmon drives it: the ADS custom script as a real process, with its
 * parameters as name/value pairs and the events on standard input; then the cron line and the
 * systemd unit's command exactly as shipped (paths moved into the test's directory).
 */
import { describe, expect, it } from "@effect/vitest"
import { execFile, execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { adsLine } from "../support/fixtures.js"
import { runProcess, tempDir } from "../support/cli.js"
import { loadMasterYaml, waitFor, withEmulator } from "../support/loadmaster.js"

const root = fileURLToPath(new URL("../..", import.meta.url))

/** Packs the built bundle and unpacks it into a fresh directory: the installation's home. */
const install = (): string => {
  const dir = tempDir("mitigator-deploy-")
  const output = execFileSync(path.join(root, "node_modules/.bin/tsx"), [path.join(root, "src/build/package.ts"), "--out", dir], { encoding: "utf8" })
  const tarball = output.trim().split(" ")[0]!
  execFileSync("tar", ["-xzf", tarball, "-C", dir])
  return path.join(dir, "mitigator-0.1.0")
}

/** The ADS custom script as uploaded: `bash mitigator-ads.sh NAME VALUE …` with events on stdin. */
const adsScript = (home: string, pairs: ReadonlyArray<string>, stdin: string) =>
  runProcess("bash", [path.join(home, "deploy/flowmon/mitigator-ads.sh"), ...pairs], { env: { MITIGATOR_HOME: home }, stdin })

const spooled = (home: string) => (fs.existsSync(path.join(home, "spool")) ? fs.readdirSync(path.join(home, "spool")).sort() : [])

describe("deployment from the package", () => {
  it("the ADS custom script records Flowmon's events, applies the blocks, logs, and keeps events it could not record", async () => {
    await withEmulator(async (emulator) => {
      const home = install()
      fs.writeFileSync(path.join(home, "lm.key"), `${emulator.apiKey}\n`, { mode: 0o600 })
      fs.writeFileSync(path.join(home, "mitigator.yaml"), loadMasterYaml(emulator.url, "lm.key", { database: "mitigator.db" }))

      // ADS passes parameters as name/value pairs, with or without dashes; a secret is refused.
      const events = `${adsLine(1, "192.0.2.31")}\n${adsLine(2, "192.0.2.32")}\nnot a flowmon line\n`
      const first = await adsScript(home, ["--instance", "fm1", "apikey", "SECRET-IN-ARGV", "colour", "blue"], events)
      expect(first.code, first.stderr).toBe(3)
      expect(emulator.entries("global").map((e) => e.addr).sort()).toEqual(["192.0.2.31/32", "192.0.2.32/32"])
      expect(spooled(home)).toEqual([])

      // No /data/components/apps/log here: the log file is in the installation's home.
      const logged = fs.readFileSync(path.join(home, "mitigator.log"), "utf8")
      expect(logged).toContain(`level=warn msg="parameter 'apikey' refused: secrets do not belong in script parameters`)
      expect(logged).toContain(`level=warn msg="unknown parameter 'colour': ignored`)
      expect(logged).not.toContain("SECRET-IN-ARGV")
      expect(logged).toMatch(/level=info msg=stored line=1 seq=\d+ key=ads:fm1:1/)
      expect(logged).toMatch(/level=warn msg=rejected line=3 /)
      expect(logged).toMatch(/level=warn msg="mitigator append: 2 stored, 0 duplicate, 1 rejected, 2 blocks decided .*" decided=2 duplicate=0 rejected=1 stored=2/)
      expect(logged).toMatch(/level=info msg="mitigator append: applied at once: 2 change\(s\) on the LoadMaster" target=loadmaster/)

      // The log cannot be opened: append fails, the events stay in the spool, the log says why.
      const lost = `${adsLine(3, "192.0.2.33")}\n${adsLine(4, "192.0.2.34")}\n`
      const failed = await adsScript(home, ["instance", "fm1", "log-level", "warning", "db", path.join(home, "no-such-folder", "x.db")], lost)
      expect(failed.code).toBe(1)
      const kept = spooled(home)
      expect(kept).toHaveLength(1)
      expect(kept[0]).toMatch(/^failed-\d{8}T\d{6}Z-\d+\.events$/)
      const keptFile = path.join(home, "spool", kept[0]!)
      expect(fs.readFileSync(keptFile, "utf8")).toBe(lost)
      expect(fs.readFileSync(path.join(home, "mitigator.log"), "utf8")).toMatch(
        /level=error msg="mitigator append failed \(exit 1\): mitigator: .*no-such-folder.*; the events are kept in .*failed-.*\.events; record them with: mitigator append/
      )

      // Recorded later, as the log line says (through the installed launcher).
      const recovered = await runProcess(path.join(home, "bin/mitigator"), ["append", "--config", path.join(home, "mitigator.yaml"), "--instance", "fm1"], {
        stdin: fs.readFileSync(keptFile, "utf8")
      })
      expect(recovered.code, recovered.stderr).toBe(0)
      expect(recovered.stderr).toContain("mitigator append: 2 stored, 0 duplicate, 0 rejected, 2 blocks decided")
      const verify = await runProcess(path.join(home, "bin/mitigator"), ["verify", "--config", path.join(home, "mitigator.yaml")])
      expect(verify.stdout).toMatch(/^verify: ok, \d+ events, chain intact/)
    })
  })

  it("the shipped cron line and systemd command run as written", async () => {
    await withEmulator(async (emulator) => {
      const home = install()
      const logDir = tempDir("mitigator-apps-log-")
      fs.writeFileSync(path.join(home, "lm.key"), `${emulator.apiKey}\n`, { mode: 0o600 })
      fs.writeFileSync(path.join(home, "mitigator.yaml"), loadMasterYaml(emulator.url, "lm.key", { database: "mitigator.db" }))
      const appended = await runProcess(path.join(home, "bin/mitigator"), ["append", "--defer", "--config", path.join(home, "mitigator.yaml"), "--instance", "fm1"], {
        stdin: `${adsLine(1, "192.0.2.31")}\n`
      })
      expect(appended.code, appended.stderr).toBe(0)
      const moved = (text: string) => text.replaceAll("/home/flowmon/mitigator", home).replaceAll("/data/components/apps/log", logDir)

      // cron.d: "minute hour day month weekday user command"
      const cronLine = fs.readFileSync(path.join(home, "deploy/cron/mitigator"), "utf8").split("\n").find((l) => l.startsWith("* * * * *"))!
      const cronCommand = moved(cronLine.split(/\s+/).slice(6).join(" "))
      const cron = await runProcess("/bin/sh", ["-c", cronCommand])
      expect(cron.code, cron.stderr).toBe(0)
      expect(emulator.entries("global").map((e) => e.addr)).toEqual(["192.0.2.31/32"])
      expect(fs.readFileSync(path.join(logDir, "mitigator.log"), "utf8")).toMatch(
        /^time=\S+ level=info msg="mitigator reconcile: 1 to add, 0 to remove, 1 applied, 0 failed; converged" applied=1 converged=true desired=1 drift=1 failed=0 target=loadmaster$/m
      )
      expect(fs.readFileSync(path.join(home, "mitigator.prom"), "utf8")).toContain("mitigator_last_pass_converged 1")

      // systemd: ExecStart (with its continuation lines) runs until SIGTERM.
      const unit = fs.readFileSync(path.join(home, "deploy/systemd/mitigator-reconcile.service"), "utf8")
      const execStart = moved(unit.match(/^ExecStart=((?:.*\\\n)*.*)$/m)![1]!.replace(/\\\n\s*/g, ""))
      const [program, ...args] = execStart.trim().split(/\s+/)
      const watcher = execFile(program!, args, { env: { PATH: process.env["PATH"] ?? "" } })
      let out = ""
      watcher.stdout!.on("data", (b: Buffer) => (out += b.toString()))
      const exited = new Promise<number | null>((resolve) => watcher.on("close", (code) => resolve(code)))
      try {
        await waitFor("the service's first pass", () => out.includes("mitigator reconcile:"), 20_000)
      } finally {
        watcher.kill("SIGTERM")
      }
      expect(await exited).toBe(130)
      expect(out).toMatch(/^time=\S+ level=info msg="mitigator reconcile: 0 to add, 0 to remove, 0 applied, 0 failed; converged"/)
    })
  })
})

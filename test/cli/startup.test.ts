/**
 * What a start loads. Flowmon starts `append` once per detection, so an append with nothing to
 * apply at once must not load the HTTP and TLS stack, the emulators or the other commands, and
 * the native SQLite addon is required by its path (not searched for by the `bindings` package).
 * Checked on the bundle users run, through a preload that lists every module it requires.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { BUNDLE, runProcess, tempDir } from "../support/cli.js"
import { adsLine } from "../support/fixtures.js"
import { policyYaml } from "../support/configs.js"

const HEAVY = ["node:https", "node:http", "node:tls", "node:net", "node:child_process", "node:dns/promises", "bindings"]

/** Runs the CLI with a preload that writes the modules it requires, in order, to `listFile`. */
const runListingModules = (args: ReadonlyArray<string>, stdin: string) => {
  const dir = tempDir()
  const preload = path.join(dir, "list-modules.cjs")
  const listFile = path.join(dir, "modules.json")
  fs.writeFileSync(
    preload,
    [
      'const Module = require("node:module")',
      "const load = Module._load",
      "const seen = []",
      "Module._load = function (request) { seen.push(request); return load.apply(this, arguments) }",
      `process.on("exit", () => require("node:fs").writeFileSync(${JSON.stringify(listFile)}, JSON.stringify(seen)))`
    ].join("\n")
  )
  return runProcess(process.execPath, ["--require", preload, BUNDLE, ...args], { stdin }).then((result) => ({
    result,
    modules: JSON.parse(fs.readFileSync(listFile, "utf8")) as string[],
    dir
  }))
}

describe("start-up: a run loads what its command needs", () => {
  it("given a deferred append, then it records the event without loading HTTP, TLS, DNS, child processes or bindings", async () => {
    const dir = tempDir()
    const { result, modules } = await runListingModules(["append", "--defer", "--db", path.join(dir, "log.db"), "--instance", "fm1"], `${adsLine(1)}\n`)
    expect(result.code).toBe(0)
    expect(result.stderr).toContain("1 stored")
    expect(modules).toContain("better-sqlite3/build/Release/better_sqlite3.node")
    expect(modules.filter((m) => HEAVY.includes(m))).toEqual([])
  })

  it("given an append whose rule decides a block but --defer, then it still loads nothing to talk to an appliance", async () => {
    const dir = tempDir()
    const config = path.join(dir, "mitigator.yaml")
    // An appliance in the config: its address is an IP literal, so no lookup is needed either.
    fs.writeFileSync(config, `${policyYaml()}loadmaster: { url: "https://192.0.2.250", apiKeyFile: ${path.join(dir, "lm.key")} }\n`)
    const { result, modules } = await runListingModules(
      ["append", "--defer", "--db", path.join(dir, "log.db"), "--config", config, "--instance", "fm1"],
      `${adsLine(1, "198.51.100.7")}\n`
    )
    expect(result.code).toBe(0)
    expect(result.stderr).toContain("1 blocks decided")
    expect(modules.filter((m) => HEAVY.includes(m))).toEqual([])
  })

  it("given --help, then every command is there (the whole tree is loaded for help)", async () => {
    const { result } = await runListingModules(["--help"], "")
    expect(result.code).toBe(0)
    for (const command of ["append", "status", "reconcile", "plan", "replay", "block", "unblock", "allow", "import", "verify", "demo", "doctor", "emulate"]) {
      expect(result.stdout).toContain(command)
    }
  })

  it("given a misspelt command, then it names the commands there are and fails", async () => {
    const { result } = await runListingModules(["apend"], "")
    expect(result.code).not.toBe(0)
    expect(result.stdout + result.stderr).toMatch(/append/)
  })

  it("given --completions=bash after a command, then the script completes every command, as --completions bash does", async () => {
    const { result: joined } = await runListingModules(["status", "--completions=bash"], "")
    const { result: spaced } = await runListingModules(["status", "--completions", "bash"], "")
    expect(joined.code).toBe(0)
    expect(joined.stdout).toContain("doctor")
    expect(joined.stdout).toBe(spaced.stdout)
  })

  it("given an install without its code cache, then only an append writes a new one (the command Flowmon starts per detection)", async () => {
    const dir = tempDir()
    const install = path.join(dir, "dist")
    fs.mkdirSync(install)
    for (const file of ["mitigator.cjs", "mitigator-cli.cjs"]) fs.copyFileSync(path.join(path.dirname(BUNDLE), file), path.join(install, file))
    // better-sqlite3 is found beside the install, as in a package.
    fs.symlinkSync(path.resolve(path.dirname(BUNDLE), "..", "node_modules"), path.join(dir, "node_modules"))
    const cache = path.join(install, "mitigator-cli.cjs.cache")
    const launcher = path.join(install, "mitigator.cjs")
    expect((await runProcess(process.execPath, [launcher, "--version"])).code).toBe(0)
    expect((await runProcess(process.execPath, [launcher, "status", "--db", path.join(dir, "none.db")])).code).not.toBe(70)
    expect(fs.existsSync(cache)).toBe(false)
    const appended = await runProcess(process.execPath, [launcher, "append", "--defer", "--db", path.join(dir, "log.db"), "--instance", "fm1"], { stdin: `${adsLine(1)}\n` })
    expect(appended.code).toBe(0)
    expect(fs.statSync(cache).size).toBeGreaterThan(0)
  })
})

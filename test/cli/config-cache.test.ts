/**
 * The validated config is cached beside the log so each Flowmon-started `append` skips parsing
 * YAML. The cache must never change what happens: a changed, invalid or tampered config (or
 * cache) behaves exactly as without it.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { jsonLines, runCli, tempDir } from "../support/cli.js"
import { policyYaml } from "../support/configs.js"
import { adsLine } from "../support/fixtures.js"

const setup = () => {
  const dir = tempDir()
  const db = path.join(dir, "events.db")
  const config = path.join(dir, "mitigator.yaml")
  fs.writeFileSync(config, policyYaml({ ttl: "1h" }))
  const append = (id: number) => runCli(["append", "--db", db, "--config", config, "--instance", "fm1"], { stdin: adsLine(id) })
  const decisions = async () =>
    jsonLines((await runCli(["replay", "--events", "--json", "--db", db, "--config", config])).stdout).filter(
      (e) => e.type === "BlockDecided"
    )
  return { dir, db, config, cache: `${db}.config-cache.json`, append, decisions }
}

describe("the config cache beside the log", () => {
  it("is written once the log exists, readable by its owner only", async () => {
    const t = setup()
    expect((await t.append(1)).code).toBe(0)
    expect(fs.existsSync(t.cache)).toBe(false) // the log did not exist before this run
    expect((await t.append(2)).code).toBe(0)
    expect(fs.statSync(t.cache).mode & 0o777).toBe(0o600)
  })

  it("follows every change of the config file: the new policy applies at once", async () => {
    const t = setup()
    await t.append(1)
    await t.append(2)
    fs.writeFileSync(t.config, policyYaml({ ttl: "3h" }))
    await t.append(3)
    expect((await t.decisions()).map((d) => d.payload.ttl)).toEqual(["1h", "1h", "3h"])
  })

  it("never caches an invalid config: it keeps stopping the command", async () => {
    const t = setup()
    await t.append(1)
    fs.writeFileSync(t.config, policyYaml({ ttl: "6 hours" }))
    for (const id of [2, 3]) {
      const run = await t.append(id)
      expect(run.code).toBe(1)
      expect(run.stderr).toContain("policy.rules[0].actions[0].ttl")
    }
  })

  it("ignores a cache that does not match the config's content", async () => {
    const t = setup()
    await t.append(1)
    await t.append(2)
    // Someone edits the cached policy (a longer ttl) without touching the config file.
    const entry = JSON.parse(fs.readFileSync(t.cache, "utf8"))
    entry.config.policy.rules[0].actions[0].ttl = "30d"
    entry.sha256 = "0".repeat(64)
    fs.writeFileSync(t.cache, JSON.stringify(entry))
    await t.append(3)
    expect((await t.decisions()).map((d) => d.payload.ttl)).toEqual(["1h", "1h", "1h"])
  })

  it("is not written beside a log that does not exist", async () => {
    const t = setup()
    const run = await runCli(["status", "--db", t.db, "--config", t.config])
    expect(run.code).toBe(1)
    expect(fs.existsSync(t.cache)).toBe(false)
  })
})

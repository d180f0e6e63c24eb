/**
 * Secrets stay secret: every command run with a LoadMaster API key and a CryptoSpike token
 * configured (from files, from the environment, from the warned-about flags, and wrong ones), and
 * then every byte it left behind is searched for them: stdout, stderr, the log files, the metrics,
 * the pass record, the config cache, the event log's file and its replay. Key and token files
 * readable by group or others are refused with a clear message.
 */
import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import * as fs from "node:fs"
import * as path from "node:path"
import { runCli, tempDir, type RunResult } from "../support/cli.js"
import { seedUser, sid, withCryptoSpike } from "../support/cryptospike.js"
import { adsLine } from "../support/fixtures.js"
import { withEmulator } from "../support/loadmaster.js"

const activity = (ip: string) => [{ userId: sid(1), ip, time: "2025-11-03T15:12:00.000Z", path: "\\\\fs01\\share\\a.docx", action: "WRITE" }]

describe("secrets never leak", () => {
  it("no command writes the key or the token anywhere: output, log files, metrics, the event log", () =>
    withEmulator((lm) =>
      withCryptoSpike(
        async (cs) => {
          const dir = tempDir("mitigator-secrets-")
          const db = path.join(dir, "events.db")
          fs.writeFileSync(path.join(dir, "lm.key"), `${lm.apiKey}\n`, { mode: 0o600 })
          fs.writeFileSync(path.join(dir, "cs.token"), `${cs.token}\n`, { mode: 0o600 })
          const config = path.join(dir, "mitigator.yaml")
          fs.writeFileSync(
            config,
            [
              "loadmaster:", `  url: ${lm.url}`, "  apiKeyFile: lm.key", "  rateLimit: 1000",
              "cryptospike:", `  url: ${cs.url}`, "  tokenFile: cs.token",
              "policy:", "  rules:", "    - name: brute-force", "      match: { methods: [SSHDICT] }",
              "      actions: [{ loadmaster: global, ttl: 1h }, { cryptospike: user, ttl: 1h }]", ""
            ].join("\n")
          )
          const legacy = path.join(dir, "lm-block.db")
          const old = new Database(legacy)
          old.exec("CREATE TABLE data (ip TEXT PRIMARY KEY, event TEXT NOT NULL, vsid integer, ttl integer NOT NULL)")
          old.prepare("INSERT INTO data VALUES (?, ?, ?, ?)").run("198.51.100.7", "1", null, 48)
          old.close()

          const wrongKey = "WRONG-KEY-4bd7c1e09a"
          const wrongToken = "WRONG-TOKEN-77e0d2f51c"
          const secrets = [lm.apiKey, cs.token, wrongKey, wrongToken]
          const runs: Array<{ args: ReadonlyArray<string>; result: RunResult }> = []
          const run = async (args: ReadonlyArray<string>, options: { stdin?: string; env?: Record<string, string> } = {}) => {
            const result = await runCli(args, { cwd: dir, ...options })
            runs.push({ args, result })
            return result
          }
          const g = ["--db", db, "--config", config]
          const logFile = path.join(dir, "mitigator.log")
          const metrics = path.join(dir, "mitigator.prom")

          expect((await run(["append", "--instance", "fm1", "--log-file", logFile, ...g], { stdin: `${adsLine(1, "192.0.2.31")}\n` })).code).toBe(0)
          expect((await run(["append", "--defer", "--instance", "fm1", "--log-format", "json", "--log-file", logFile, ...g], { stdin: `${adsLine(2, "192.0.2.32")}\nbroken line\n` })).code).toBe(3)
          for (const args of [
            ["status"], ["status", "--json"], ["replay", "--events"], ["replay", "--events", "--json"], ["replay", "--at", new Date().toISOString()],
            ["plan"], ["plan", "--json"], ["reconcile", "--dry-run"], ["reconcile", "--metrics-file", metrics, "--log-file", logFile],
            ["block", "203.0.113.9", "--ttl", "1h", "--reason", "r"], ["allow", "203.0.113.0/24", "--reason", "r", "--ttl", "1h"],
            ["unblock", "203.0.113.9", "--reason", "r"], ["verify"], ["doctor"], ["import", "lm-timeout", legacy, "--dry-run"],
            ["import", "lm-timeout", legacy], ["reconcile", "--log-format", "logfmt"]
          ]) {
            const result = await run([...args, ...g])
            expect([0, 2], `${args.join(" ")}: ${result.stdout}${result.stderr}`).toContain(result.code)
          }
          // The secrets from the environment, and from the flags (warned about), work the same way.
          const noFiles = path.join(dir, "no-files.yaml")
          fs.writeFileSync(noFiles, fs.readFileSync(config, "utf8").replace("  apiKeyFile: lm.key\n", "").replace("  tokenFile: cs.token\n", ""))
          const fromEnv = await run(["reconcile", "--db", db, "--config", noFiles], { env: { LOADMASTER_API_KEY: lm.apiKey, CRYPTOSPIKE_API_TOKEN: cs.token } })
          expect(fromEnv.code, fromEnv.stdout + fromEnv.stderr).toBe(0)
          const fromFlags = await run(["reconcile", "--db", db, "--config", noFiles, "--api-key", lm.apiKey, "--cs-token", cs.token])
          expect(fromFlags.code, fromFlags.stdout + fromFlags.stderr).toBe(0)
          expect(fromFlags.stderr).toContain("--api-key puts")
          // Wrong ones: refused by the appliances, and the refusal does not repeat them.
          const wrong = await run(["reconcile", "--db", db, "--config", noFiles, "--api-key", wrongKey, "--cs-token", wrongToken])
          expect(wrong.code).toBe(1)
          const wrongDoctor = await run(["doctor", "--db", db, "--config", noFiles, "--api-key", wrongKey, "--cs-token", wrongToken])
          expect(wrongDoctor.code).toBe(1)
          const wrongAppend = await run(["append", "--instance", "fm1", "--db", db, "--config", noFiles, "--api-key", wrongKey, "--cs-token", wrongToken, "--log-file", logFile], {
            stdin: `${adsLine(3, "192.0.2.33")}\n`
          })
          expect(wrongAppend.code).toBe(0)
          // Bad command lines with a secret in them are not echoed either.
          await run(["block", "-1h", "--api-key", wrongKey])
          await run(["reconcile", "--interval", "soon", "--api-key", wrongKey, ...g])

          // It all worked: blocks on both appliances.
          expect(lm.entries("global").length).toBeGreaterThan(0)
          expect(cs.user(sid(1))!.blocked).toBe(true)

          for (const { args, result } of runs) {
            for (const secret of secrets) {
              expect(result.stdout + result.stderr, `${args.join(" ")} printed a secret`).not.toContain(secret)
            }
          }
          // Every file it left behind, the event log's bytes included (WAL checkpointed or not).
          const left = fs.readdirSync(dir).filter((f) => !["lm.key", "cs.token"].includes(f))
          expect(left).toEqual(expect.arrayContaining(["events.db", "mitigator.log", "mitigator.prom", "events.db.reconcile.json", "events.db.config-cache.json"]))
          for (const file of left) {
            const bytes = fs.readFileSync(path.join(dir, file)).toString("latin1")
            for (const secret of secrets) expect(bytes.includes(secret), `${file} holds a secret`).toBe(false)
          }
          expect(fs.readFileSync(logFile, "utf8")).toContain("applied at once")
        },
        { seed: { users: [seedUser(1)], fileActivity: [...activity("192.0.2.31"), ...activity("192.0.2.32"), ...activity("192.0.2.33")] } }
      )
    ), 180_000)

  it("key and token files readable by group or others are refused, with the fix", () =>
    withEmulator(async (lm) => {
      const dir = tempDir("mitigator-secrets-")
      const keyFile = path.join(dir, "lm.key")
      fs.writeFileSync(keyFile, `${lm.apiKey}\n`)
      const config = path.join(dir, "mitigator.yaml")
      fs.writeFileSync(config, ["loadmaster:", `  url: ${lm.url}`, "  apiKeyFile: lm.key", "policy:", "  rules: []", ""].join("\n"))
      const db = path.join(dir, "events.db")
      expect((await runCli(["append", "--db", db, "--instance", "fm1"], { stdin: "" })).code).toBe(0)
      for (const mode of [0o640, 0o604, 0o644]) {
        fs.chmodSync(keyFile, mode)
        const run = await runCli(["reconcile", "--db", db, "--config", config])
        expect(run.code).toBe(1)
        expect(run.stderr).toContain(`${keyFile} (the LoadMaster API key) can be read by group or others (mode ${mode.toString(8)}): run chmod 600 ${keyFile}`)
        expect(run.stderr).not.toContain(lm.apiKey)
      }
      fs.chmodSync(keyFile, 0o600)
      expect((await runCli(["reconcile", "--db", db, "--config", config])).code).toBe(0)
    }))
})

/**
 * The CLI on a log in PostgreSQL (a throwaway server): append, status, replay and verify through
 * --db postgres://… with the password in PGPASSFILE, and through `database:` in the config with
 * `databasePasswordFile:`; a password in the URL is refused and never printed.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { runCli } from "../support/cli.js"
import { adsLine } from "../support/fixtures.js"
import { usePostgres } from "../support/usePostgres.js"

const server = usePostgres()
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mitigator-pg-cli-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

describe("the CLI on a PostgreSQL log", () => {
  it("appends, shows the status, replays and verifies through --db postgres://… with the password in PGPASSFILE", async () => {
    const db = await server().createDatabase()
    const env = db.env
    const cwd = dir
    const appended = await runCli(["append", "--db", db.url, "--instance", "fm01"], { stdin: `${adsLine(1)}\n${adsLine(2)}\n${adsLine(1)}\n`, env, cwd })
    expect(appended.stderr).toMatch(/2 stored, 1 duplicate, 0 rejected/)
    expect(appended.code).toBe(0)

    const status = await runCli(["status", "--db", db.url], { env, cwd })
    expect(status.code, status.stderr).toBe(0)
    expect(status.stdout).toMatch(/no address blocks in force/)

    const replay = await runCli(["replay", "--events", "--db", db.url], { env, cwd })
    expect(replay.code, replay.stderr).toBe(0)
    expect(replay.stdout.trim().split("\n").map((line) => line.split("\t")[0])).toStrictEqual(["1", "2"])

    const verify = await runCli(["verify", "--db", db.url], { env, cwd })
    expect(verify.code, verify.stderr).toBe(0)
    expect(verify.stdout).toMatch(/verify: ok, 2 events, chain intact/)
    // Nothing was written beside a URL (no config cache, no head file) in the working directory.
    expect(appended.stderr).not.toMatch(/warning|deprecat/i)
    expect(fs.readdirSync(dir)).toStrictEqual([])
  })

  it("opens the log the config's `database:` names, with the password from `databasePasswordFile:`", async () => {
    const db = await server().createDatabase()
    const config = path.join(dir, "mitigator.yaml")
    fs.writeFileSync(config, `database: ${db.url}\ndatabasePasswordFile: ${path.basename(db.passwordFile)}\n`)
    fs.copyFileSync(db.passwordFile, path.join(dir, path.basename(db.passwordFile)))
    try {
      const appended = await runCli(["append", "--config", config, "--instance", "fm01"], { stdin: `${adsLine(7)}\n` })
      expect(appended.code, appended.stderr).toBe(0)
      const verify = await runCli(["verify", "--config", config])
      expect(verify.code, verify.stderr).toBe(0)
      expect(verify.stdout).toMatch(/verify: ok, \d+ events, chain intact/)
    } finally {
      fs.rmSync(config)
      fs.rmSync(path.join(dir, path.basename(db.passwordFile)))
    }
  })

  it("doctor on a database that holds no log yet says the first append makes it (not that it is broken)", async () => {
    const db = await server().createDatabase()
    const doctor = await runCli(["doctor", "--db", db.url], { env: db.env, cwd: dir })
    expect(doctor.stdout + doctor.stderr).toContain(`no event log yet in ${db.url}: it is created (and migrated) at the first append`)
    expect(doctor.stdout + doctor.stderr).not.toMatch(/restore .* from a backup/)
  })

  it("refuses a URL that holds a password, printing it redacted; without any password it says where one goes", async () => {
    const db = await server().createDatabase()
    const withPassword = db.url.replace("mitigator@", `mitigator:${server().password}@`)
    const refused = await runCli(["verify", "--db", withPassword])
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toMatch(/holds a password: refused/)
    expect(refused.stderr).toContain("mitigator:***@")
    expect(refused.stderr + refused.stdout).not.toContain(server().password)

    const none = await runCli(["append", "--db", db.url], { stdin: `${adsLine(1)}\n`, env: { PGPASSFILE: path.join(dir, "absent") } })
    expect(none.code).not.toBe(0)
    expect(none.stderr).toMatch(/no password found \(set databasePasswordFile in the config, or PGPASSFILE/)
  })

  it("refuses to read a database that holds no log yet, and makes none there", async () => {
    const db = await server().createDatabase()
    const verify = await runCli(["verify", "--db", db.url], { env: db.env })
    expect(verify.code).not.toBe(0)
    expect(verify.stderr).toMatch(/no event log in postgres:\/\/mitigator@127\.0\.0\.1:\d+\/log_\w+/)
    expect(server().admin(db.name, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")).toStrictEqual([["0"]])
  })
})

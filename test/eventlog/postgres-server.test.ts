/** The test harness itself: what the PostgreSQL tests rely on from their throwaway server. */
import { spawnSync } from "node:child_process"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { PG_ROLE, pgBinDir, type PgDatabase } from "../support/postgres.js"
import { usePostgres } from "../support/usePostgres.js"

const server = usePostgres()

/** psql as the log's role, over TCP, with the password from `env`. */
const asRole = (db: PgDatabase, text: string, env: Record<string, string>) =>
  spawnSync(path.join(pgBinDir(), "psql"), ["-h", "127.0.0.1", "-p", String(server().port), "-U", PG_ROLE, "-d", db.name, "-X", "-A", "-t", "-w", "-c", text], {
    encoding: "utf8",
    env: { PATH: process.env["PATH"] ?? "", ...env }
  })

describe("the throwaway PostgreSQL server", () => {
  it("gives each test a database of its own, owned by a role that is no superuser and logs in with its password", async () => {
    const db = await server().createDatabase()
    const result = asRole(db, "SELECT current_user, rolsuper, current_database() FROM pg_roles WHERE rolname = current_user", db.env)
    expect(result.stderr).toBe("")
    expect(result.stdout.trim()).toBe(`${PG_ROLE}|f|${db.name}`)
    expect(asRole(db, "CREATE TABLE t (x int)", db.env).status).toBe(0)
  })

  it("refuses the role without its password", async () => {
    const db = await server().createDatabase()
    const result = asRole(db, "SELECT 1", { PGPASSWORD: "wrong" })
    expect(result.status).not.toBe(0)
    expect(result.stderr).toMatch(/password authentication failed/)
  })
})

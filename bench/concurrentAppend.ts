/**
 * Three (or more) writer processes appending single-event transactions to one log at once, on
 * SQLite and on PostgreSQL with both ways of taking the head (the head row FOR UPDATE, or an
 * advisory lock): how PgEventLog's HEAD_LOCK_DEFAULT was chosen. The bench's `postgres` step
 * measures SQLite against the default on a durable server.
 *   tsx bench/concurrentAppend.ts [--writers 3] [--appends 300] [--durable]
 * Needs the PostgreSQL server binaries (see test/support/postgres.ts).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { startPostgres } from "../test/support/postgres.js"
import { concurrentAppends, type WriterKind } from "./lib/concurrentAppend.js"

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`)
  return i === -1 ? fallback : Number(process.argv[i + 1])
}

const writers = arg("writers", 3)
const appends = arg("appends", 300)

const server = await startPostgres({ durable: process.argv.includes("--durable") })
try {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mitigator-bench-"))
  const results: Array<[WriterKind, number]> = []
  for (const kind of ["sqlite", "pg-row", "pg-advisory", "pg-row", "pg-advisory"] as const) {
    if (kind === "sqlite") {
      results.push([kind, await concurrentAppends(kind, path.join(dir, "events.db"), { writers, appends })])
    } else {
      const db = await server.createDatabase()
      results.push([kind, await concurrentAppends(kind, db.url, { writers, appends, passwordFile: db.passwordFile })])
    }
  }
  fs.rmSync(dir, { recursive: true, force: true })
  for (const [kind, perSecond] of results) console.log(`${kind.padEnd(12)} ${writers} writers x ${appends} single-event appends: ${Math.round(perSecond)} events/s`)
} finally {
  server.stop()
}

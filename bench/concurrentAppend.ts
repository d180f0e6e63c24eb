/**
 * Three (or more) writer processes appending single-event transactions to one log at once: the
 * throughput of the shared log, on SQLite and on PostgreSQL (and for PostgreSQL, both ways of
 * taking the head: the head row FOR UPDATE, or an advisory lock). Writers open the log first,
 * then all start at one instant; the figure is all events over the wall time from that instant
 * to the last writer's end.
 *   tsx bench/concurrentAppend.ts [--writers 3] [--appends 300]
 * Needs the PostgreSQL server binaries (see test/support/postgres.ts).
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import { EventLog } from "../src/eventlog/EventLog.js"
import * as PgEventLog from "../src/eventlog/PgEventLog.js"
import * as SqliteEventLog from "../src/eventlog/SqliteEventLog.js"
import { startPostgres } from "../test/support/postgres.js"

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`)
  return i === -1 ? fallback : Number(process.argv[i + 1])
}

if (process.argv[2] === "--writer") {
  // tsx bench/concurrentAppend.ts --writer <kind> <target> <id> <appends> <startAtMs>
  const [, , , kind, target, id, appends, startAt] = process.argv as unknown as [string, string, string, string, string, string, string, string]
  const layer =
    kind === "sqlite"
      ? SqliteEventLog.layer({ filename: target, create: true })
      : PgEventLog.layer({ url: target, passwordFile: process.env["PW_FILE"], create: true, headLock: kind === "pg-advisory" ? "advisory" : "row" })
  await Effect.runPromise(
    Effect.gen(function* () {
      const log = yield* EventLog
      yield* Effect.sleep(Math.max(0, Number(startAt) - Date.now()))
      for (let i = 0; i < Number(appends); i++) {
        yield* log.append([{ type: "InputRejected", dedupeKey: `w${id}-${i}`, payload: { instance: "bench", line: i, reason: "bench", format: null, raw: "x".repeat(600), rawBytes: 600, truncated: false } }])
      }
      console.log(Date.now())
    }).pipe(Effect.provide(layer))
  )
  process.exit(0)
}

const writers = arg("writers", 3)
const appends = arg("appends", 300)
const self = new URL(import.meta.url).pathname

const round = (kind: string, target: string, env: Record<string, string>) =>
  new Promise<number>((resolve, reject) => {
    const startAt = Date.now() + 4000
    const ends: number[] = []
    let left = writers
    for (let w = 0; w < writers; w++) {
      const child = spawn(process.execPath, ["--import", "tsx", self, "--writer", kind, target, String(w), String(appends), String(startAt)], {
        env: { ...process.env, ...env },
        stdio: ["ignore", "pipe", "inherit"]
      })
      let out = ""
      child.stdout.on("data", (b: Buffer) => (out += b.toString()))
      child.on("close", (code) => {
        if (code !== 0) return reject(new Error(`${kind} writer exited ${code}`))
        ends.push(Number(out.trim()))
        if (--left === 0) resolve((writers * appends) / ((Math.max(...ends) - startAt) / 1000))
      })
    }
  })

const server = await startPostgres()
try {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mitigator-bench-"))
  const results: Array<[string, number]> = []
  for (const kind of ["sqlite", "pg-row", "pg-advisory", "pg-row", "pg-advisory"]) {
    if (kind === "sqlite") {
      results.push([kind, await round(kind, path.join(dir, "events.db"), {})])
    } else {
      const db = await server.createDatabase()
      results.push([kind, await round(kind, db.url, { PW_FILE: db.passwordFile })])
    }
  }
  fs.rmSync(dir, { recursive: true, force: true })
  for (const [kind, perSecond] of results) console.log(`${kind.padEnd(12)} ${writers} writers x ${appends} single-event appends: ${Math.round(perSecond)} events/s`)
} finally {
  server.stop()
}

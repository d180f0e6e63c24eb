/**
 * The fold floor: reading the rows the projection folds, with nothing but Node and better-sqlite3,
 * so the first-fold figure of `status` has a baseline from the same run and machine.
 *
 *   node bench/floors/fold-floor.mjs <db> '<JSON array of the projection's event types>'
 *
 * The query is the one src/eventlog/SqliteEventLog.ts runs for `read({ only: "projection" })`
 * (the same columns, the same literal IN list, so SQLite reads the same partial index), from the
 * start of the log, as one statement stepped row by row (`iterate`) instead of pages of LIMIT
 * rows, and each payload goes through JSON.parse, as the log's reader does. The bench passes
 * the type list from src/eventlog/EventLog.ts, so the two never drift apart. What this floor does
 * not do is the fold itself: mitigator's figure over this one is the price of folding.
 */
import Database from "better-sqlite3"

const [file, typesJson] = process.argv.slice(2)
const types = typesJson === undefined ? [] : JSON.parse(typesJson)
if (file === undefined || !Array.isArray(types) || types.length === 0) throw new Error("usage: fold-floor.mjs <db> '<types JSON>'")

const db = new Database(file)
db.pragma("busy_timeout = 5000")
const projectionTypes = `(${types.map((t) => `'${t}'`).join(", ")})`
const rows = db
  .prepare(
    `SELECT seq, recorded_at, type, payload, dedupe_key, hash FROM events
     WHERE seq > ? AND type IN ${projectionTypes} ORDER BY seq`
  )
  .iterate(0)

// Something depends on every row and payload, so nothing is optimised away.
let count = 0
let keys = 0
let last = 0
for (const row of rows) {
  const payload = JSON.parse(row.payload)
  keys += typeof payload === "object" && payload !== null ? 1 : 0
  last = row.seq
  count++
}
db.close()
process.stdout.write(`${JSON.stringify({ rows: count, objects: keys, lastSeq: last })}\n`)

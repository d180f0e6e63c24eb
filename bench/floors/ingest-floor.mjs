/**
 * The ingest floor: what recording lines in a hash-chained SQLite log costs with nothing but Node
 * and better-sqlite3, so `append`'s ingest figure has a baseline from the same run and machine.
 *
 *   node bench/floors/ingest-floor.mjs <db> <lines per transaction>   < lines
 *
 * It makes the same durability promises as mitigator's log (src/eventlog/SqliteEventLog.ts: WAL,
 * synchronous=FULL, page_size 16384, BEGIN IMMEDIATE that reads the chain's head first) and
 * commits as many lines per transaction as `append` batches (BATCH_LINES in
 * src/commands/append.ts). Each line is stored as is with hash = sha256(previous hash + line):
 * no parsing, no validation, no dedupe index, no decisions. That is the point of a floor:
 * mitigator's figure over this one is the price of everything it does beyond storing the bytes.
 */
import Database from "better-sqlite3"
import { createHash } from "node:crypto"

const [file, batchText] = process.argv.slice(2)
const batchLines = Number(batchText)
if (file === undefined || !(batchLines > 0)) throw new Error("usage: ingest-floor.mjs <db> <lines per transaction>")

const db = new Database(file)
db.pragma("busy_timeout = 5000")
db.pragma("page_size = 16384")
db.pragma("journal_mode = WAL")
db.pragma("synchronous = FULL")
db.exec("CREATE TABLE IF NOT EXISTS lines (seq INTEGER PRIMARY KEY, recorded_at TEXT NOT NULL, line TEXT NOT NULL, hash TEXT NOT NULL) STRICT")

const head = db.prepare("SELECT seq, hash FROM lines ORDER BY seq DESC LIMIT 1")
const insert = db.prepare("INSERT INTO lines (seq, recorded_at, line, hash) VALUES (?, ?, ?, ?)")
const GENESIS = "0".repeat(64)

const record = db.transaction((lines) => {
  const last = head.get()
  let seq = last?.seq ?? 0
  let previous = last?.hash ?? GENESIS
  const recordedAt = new Date().toISOString()
  for (const line of lines) {
    previous = createHash("sha256").update(previous).update(line).digest("hex")
    insert.run(++seq, recordedAt, line, previous)
  }
})

let batch = []
let rest = ""
process.stdin.setEncoding("utf8") // a character split between two reads stays whole
for await (const chunk of process.stdin) {
  const parts = (rest + chunk).split("\n")
  rest = parts.pop() ?? ""
  for (const line of parts) {
    if (line.length === 0) continue
    batch.push(line)
    if (batch.length === batchLines) {
      record.immediate(batch)
      batch = []
    }
  }
}
if (rest.length > 0) batch.push(rest)
if (batch.length > 0) record.immediate(batch)
db.close()

/**
 * The fold floor: reading and checking the rows a first fold reads, with nothing but Node and
 * better-sqlite3, so the first-fold figure of `status` has a baseline from the same run and machine.
 *
 *   node bench/floors/fold-floor.mjs <db> '<JSON array of the projection's event types>'
 *
 * A fold checks the hash chain of every row it reads (src/eventlog/FoldReader.ts): from the start
 * of the log, every row, whatever its type, is read and its sha256 recomputed from the row before
 * (the formula of rowHash in src/eventlog/HashChain.ts, copied here; a row whose hash does not come
 * out the same stops the floor, so the copy cannot drift unnoticed), and the payload of each row
 * of the projection's types goes through JSON.parse, as the log's reader does. The query is the
 * reader's (the same columns, by seq), as one statement stepped row by row (`iterate`) instead of
 * batches of LIMIT rows. The bench passes the type list from src/eventlog/EventLog.ts, so the two
 * never drift apart. What this floor does not do is the fold itself: mitigator's figure over this
 * one is the price of folding.
 */
import Database from "better-sqlite3"
import { hash } from "node:crypto"

const [file, typesJson] = process.argv.slice(2)
const types = typesJson === undefined ? [] : JSON.parse(typesJson)
if (file === undefined || !Array.isArray(types) || types.length === 0) throw new Error("usage: fold-floor.mjs <db> '<types JSON>'")
const projection = new Set(types)

const field = (text) => `${text.length}:${text}`
const rowHash = (previousHash, seq, recordedAt, type, payloadJson, dedupeKey) =>
  hash(
    "sha256",
    `mitigator-chain-v1|${previousHash}|${seq}|${field(recordedAt)}|${field(type)}|` +
      `${dedupeKey === null ? "-" : field(dedupeKey)}|${field(payloadJson)}`,
    "hex"
  )

const db = new Database(file)
db.pragma("busy_timeout = 5000")
const rows = db.prepare("SELECT seq, recorded_at, type, payload, dedupe_key, hash FROM events WHERE seq > ? ORDER BY seq").raw(true).iterate(0)

// Something depends on every row and payload, so nothing is optimised away.
let previous = "0".repeat(64)
let count = 0
let folded = 0
let keys = 0
let last = 0
for (const [seq, recordedAt, type, payloadJson, dedupeKey, stored] of rows) {
  if (seq !== last + 1 || rowHash(previous, seq, recordedAt, type, payloadJson, dedupeKey) !== stored) {
    throw new Error(`fold-floor: row ${seq} does not chain (a broken log, or HashChain.ts changed its formula)`)
  }
  previous = stored
  if (projection.has(type)) {
    const payload = JSON.parse(payloadJson)
    keys += typeof payload === "object" && payload !== null ? 1 : 0
    folded++
  }
  last = seq
  count++
}
db.close()
process.stdout.write(`${JSON.stringify({ rows: count, projectionRows: folded, objects: keys, lastSeq: last })}\n`)

/**
 * Folds over the log, row by row: a better-sqlite3 connection of its own, because @effect/sql's
 * client hands a query's rows over only as one array (a million rows in memory at once, or pages
 * of them that outlive a young-generation collection), where `iterate()` hands over one row at a
 * time. The rows are read in batches of FOLD_BATCH by seq, each batch run to its end inside one
 * synchronous step, so no statement stays open across a yield of the fiber. Reads only.
 */
import Database from "better-sqlite3"
import { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import type { EventLogError, FoldedEvent, FoldEnd, FoldRange } from "./EventLog.js"

/** Rows per query: large enough that a query's set-up is lost in the rows, small enough to yield often. */
const FOLD_BATCH = 5000

const READER_CACHE_KIB = 1024

type Row = [seq: number, recordedAt: string, type: string, payload: string]

interface Cursor {
  seq: number
  recordedAt: string
  folded: number
  done: boolean
}

export interface FoldReader {
  readonly fold: (
    range: FoldRange,
    step: (event: FoldedEvent) => void,
    progress?: (folded: number) => void
  ) => Effect.Effect<FoldEnd, EventLogError>
  readonly close: () => void
}

export interface FoldReaderOptions {
  readonly filename: string
  readonly busyTimeoutMs: number
  /** the projection's event types as an SQL list: literal text, so SQLite sees the partial index events_projection fits */
  readonly projectionTypes: string
  /** turns a driver error into the log's error (and marks SQLITE_BUSY as such) */
  readonly readError: (e: SqlError) => EventLogError
  /** runs a batch again while the database is busy */
  readonly retryWhileBusy: <A>(effect: Effect.Effect<A, EventLogError>) => Effect.Effect<A, EventLogError>
  /** rows per query (default FOLD_BATCH) */
  readonly batch?: number
}

export const makeFoldReader = (options: FoldReaderOptions): FoldReader => {
  const { readError, retryWhileBusy } = options
  const batchSize = options.batch ?? FOLD_BATCH
  let db: Database.Database | undefined
  let statements: { all: Database.Statement; projection: Database.Statement; hash: Database.Statement } | undefined

  const open = () => {
    if (statements !== undefined) return statements
    const opened = new Database(options.filename, { fileMustExist: true })
    try {
      statements = prepare(opened)
    } catch (e) {
      opened.close() // not left open for the next attempt to open another
      throw e
    }
    db = opened
    return statements
  }

  const prepare = (db: Database.Database) => {
    db.pragma(`busy_timeout = ${options.busyTimeoutMs}`)
    // A fold reads each page once, in order: a page cache (16 MiB by default in better-sqlite3's
    // build) would only add to the process's memory, not save a read.
    db.pragma(`cache_size = -${READER_CACHE_KIB}`)
    const select = (filter: string) => db.prepare(`SELECT seq, recorded_at, type, payload FROM events WHERE seq > ? ${filter} ORDER BY seq LIMIT ?`).raw(true)
    return {
      all: select(""),
      projection: select(`AND type IN ${options.projectionTypes}`),
      hash: db.prepare("SELECT hash FROM events WHERE seq = ?").pluck(true)
    }
  }

  /** Runs `f`; a driver error becomes the log's error, anything else (thrown by `step`) stays a defect. */
  const attempt = <A>(f: () => A): Effect.Effect<A, EventLogError> =>
    Effect.suspend(() => {
      try {
        return Effect.succeed(f())
      } catch (cause) {
        return cause instanceof Database.SqliteError
          ? Effect.fail(readError(new SqlError({ cause, message: "Failed to execute statement" })))
          : Effect.die(cause)
      }
    })

  /** One batch, folded as it is read; the cursor moves with every event folded, so a retry resumes after it. */
  const foldBatch = (statement: Database.Statement, cursor: Cursor, until: string | undefined, step: (event: FoldedEvent) => void) => {
    let read = 0
    for (const row of statement.iterate(cursor.seq, batchSize) as IterableIterator<Row>) {
      read++
      const recordedAt = row[1]
      // recorded_at never decreases along seq: the rows up to a time are a prefix of the log.
      if (until !== undefined && recordedAt > until) {
        cursor.done = true
        return
      }
      step({ seq: row[0], recordedAt, type: row[2], payload: JSON.parse(row[3]) as unknown })
      cursor.seq = row[0]
      cursor.recordedAt = recordedAt
      cursor.folded++
    }
    if (read < batchSize) cursor.done = true
  }

  const fold: FoldReader["fold"] = (range, step, progress) =>
    Effect.gen(function* () {
      const { all, projection, hash } = yield* attempt(open)
      const statement = range.only === "projection" ? projection : all
      const cursor: Cursor = { seq: range.afterSeq ?? 0, recordedAt: "", folded: 0, done: false }
      while (!cursor.done) {
        yield* retryWhileBusy(attempt(() => foldBatch(statement, cursor, range.until, step)))
        progress?.(cursor.folded)
      }
      if (cursor.folded === 0) return { folded: 0, last: undefined }
      const lastHash = (yield* retryWhileBusy(attempt(() => hash.get(cursor.seq)))) as string
      return { folded: cursor.folded, last: { seq: cursor.seq, recordedAt: cursor.recordedAt, hash: lastHash } }
    })

  return {
    fold,
    close: () => {
      db?.close()
      db = undefined
      statements = undefined
    }
  }
}

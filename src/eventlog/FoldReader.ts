/**
 * Folds over the log, row by row: a better-sqlite3 connection of its own, because @effect/sql's
 * client hands a query's rows over only as one array (a million rows in memory at once, or pages
 * of them that outlive a young-generation collection), where `iterate()` hands over one row at a
 * time. The rows are read in batches of FOLD_BATCH by seq, each batch run to its end inside one
 * synchronous step, so no statement stays open across a yield of the fiber. Reads only.
 *
 * Every row of the range is read and its hash recomputed from the one before, also the rows the
 * fold does not hand over (the chain links consecutive rows): a command never acts on a row that
 * is not as it was written. Before the first row, the log is compared with its head file, so a
 * log cut short (or a lost -wal) is refused too.
 */
import Database from "better-sqlite3"
import { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import { alteredRow, missingRow, tampered, type ChainBreak } from "./ChainBreak.js"
import type { EventLogError, FoldedEvent, FoldEnd, FoldRange } from "./EventLog.js"
import { GENESIS_HASH, rowHash } from "./HashChain.js"
import { compareWithHead, headFileOf, readHeadFile, unreadableHead } from "./HeadFile.js"

/** Rows per query: large enough that a query's set-up is lost in the rows, small enough to yield often. */
const FOLD_BATCH = 5000

const READER_CACHE_KIB = 1024

type Row = [seq: number, recordedAt: string, type: string, payload: string, dedupeKey: string | null, hash: string]

interface Cursor {
  /** the last row checked, and its hash: where the chain (and a retried batch) goes on from */
  seq: number
  hash: string
  recordedAt: string
  folded: number
  checked: number
  done: boolean
  /** the anchor row (`afterSeq`) is not in the log: the first row after it is a break */
  anchorMissing: boolean
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
  /** the event types a fold with `only: "projection"` hands over */
  readonly projectionTypes: ReadonlyArray<string>
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
  const headFile = headFileOf(options.filename)
  const projection = new Set(options.projectionTypes)
  let db: Database.Database | undefined
  let statements: { rows: Database.Statement; hash: Database.Statement; newest: Database.Statement } | undefined

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
    return {
      rows: db.prepare("SELECT seq, recorded_at, type, payload, dedupe_key, hash FROM events WHERE seq > ? ORDER BY seq LIMIT ?").raw(true),
      hash: db.prepare("SELECT hash FROM events WHERE seq = ?").pluck(true),
      newest: db.prepare("SELECT max(seq) FROM events").pluck(true)
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

  /** The log against its head file (read first: see HeadFile.ts). */
  const checkHead = (s: NonNullable<typeof statements>): ChainBreak | undefined => {
    const recorded = readHeadFile(headFile)
    // Missing: adopted (or not) when the log was opened; Forbidden: said so when it was opened.
    if (recorded._tag === "Missing" || recorded._tag === "Forbidden") return undefined
    const newest = (s.newest.get() as number | null) ?? 0
    if (recorded._tag === "Unreadable") return unreadableHead(headFile, recorded.problem, newest)
    return compareWithHead(headFile, recorded.head, newest, s.hash.get(recorded.head.seq) as string | undefined)
  }

  /**
   * One batch, checked and folded as it is read; the cursor moves with every row checked, so a
   * retry resumes after it. Returns the first break in the chain, if any (the rows before it are
   * folded, the bad one is not).
   */
  const foldBatch = (
    statement: Database.Statement,
    cursor: Cursor,
    range: FoldRange,
    step: (event: FoldedEvent) => void
  ): ChainBreak | undefined => {
    const { until, keep } = range
    const all = range.only !== "projection"
    let read = 0
    for (const row of statement.iterate(cursor.seq, batchSize) as IterableIterator<Row>) {
      read++
      const [seq, recordedAt, type, payload, dedupeKey, hash] = row
      // recorded_at never decreases along seq: the rows up to a time are a prefix of the log.
      if (until !== undefined && recordedAt > until) {
        cursor.done = true
        return undefined
      }
      if (cursor.anchorMissing) return missingRow(cursor.seq, seq)
      if (seq !== cursor.seq + 1) return missingRow(cursor.seq + 1, seq)
      if (rowHash(cursor.hash, { seq, recordedAt, type, payloadJson: payload, dedupeKey }) !== hash) return alteredRow(seq)
      if ((all || projection.has(type)) && (keep === undefined || keep(type, payload))) {
        step({ seq, recordedAt, type, payload: JSON.parse(payload) as unknown, hash })
        cursor.folded++
      }
      cursor.seq = seq
      cursor.hash = hash
      cursor.recordedAt = recordedAt
      cursor.checked++
    }
    if (read < batchSize) cursor.done = true
    return undefined
  }

  const fold: FoldReader["fold"] = (range, step, progress) =>
    Effect.gen(function* () {
      const s = yield* attempt(open)
      const headBreak = yield* retryWhileBusy(attempt(() => checkHead(s)))
      if (headBreak !== undefined) return yield* tampered(options.filename, headBreak)
      const afterSeq = range.afterSeq ?? 0
      const anchor =
        afterSeq === 0 ? GENESIS_HASH : (range.afterHash ?? ((yield* retryWhileBusy(attempt(() => s.hash.get(afterSeq)))) as string | undefined))
      const cursor: Cursor = {
        seq: afterSeq,
        hash: anchor ?? "",
        recordedAt: "",
        folded: 0,
        checked: 0,
        done: false,
        anchorMissing: anchor === undefined
      }
      while (!cursor.done) {
        const broken = yield* retryWhileBusy(attempt(() => foldBatch(s.rows, cursor, range, step)))
        if (broken !== undefined) return yield* tampered(options.filename, broken)
        progress?.(cursor.checked)
      }
      return {
        folded: cursor.folded,
        checked: cursor.checked,
        last: cursor.checked === 0 ? undefined : { seq: cursor.seq, recordedAt: cursor.recordedAt, hash: cursor.hash }
      }
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

/**
 * The event log on one SQLite file, safe for many concurrent writer processes (Flowmon starts one
 * `append` per event, possibly many at once):
 * - WAL, so readers never block the writer;
 * - synchronous=FULL, so a committed (acknowledged) append survives a power cut, not only a crash;
 * - every write transaction is BEGIN IMMEDIATE: it takes the write lock before reading anything,
 *   so it never fails with SQLITE_BUSY_SNAPSHOT half-way (the v3 client's withTransaction issues
 *   a deferred BEGIN, which can), and the busy timeout applies while it waits for the lock;
 * - a bounded, jittered retry on SQLITE_BUSY* for whatever the busy timeout did not absorb.
 * Nothing is acted on or extended unchecked: opening compares the log with its head file
 * (HeadFile.ts), each write transaction checks the newest rows and the head file before it
 * extends the chain and moves the head file on after its commit, folds check every row they read
 * (FoldReader.ts). New log files are mode 0600.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as Clock from "effect/Clock"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as fs from "node:fs"
import * as path from "node:path"
import { latestMigrationId, migrations } from "../../migrations/index.js"
import { canonicalJson } from "../domain/CanonicalJson.js"
import { checkpointDedupeKey, type NewEvent } from "../domain/Events.js"
import { CLOCK_TOLERANCE_MS } from "../domain/Time.js"
import { EventLog, EventLogError, PROJECTION_EVENT_TYPES, type AppendOutcome, type EventLogService, type LogTransaction } from "./EventLog.js"
import { alteredRow, missingRow, tampered } from "./ChainBreak.js"
import { makeFoldReader } from "./FoldReader.js"
import { followsIn, GENESIS_HASH, rowHash } from "./HashChain.js"
import { chained, checkedCheckpoint, newestCheckpointRow, sha256, tailBreak, toStored, type EventRow } from "./EventRows.js"
import { compareWithHead, forbiddenHead, GENESIS_HEAD, headFileOf, readHeadFile, unreadableHead, writeHeadFile, type ChainHead } from "./HeadFile.js"

export interface SqliteEventLogOptions {
  readonly filename: string
  /** create the file when it does not exist (append); readers (replay, verify) refuse a missing log */
  readonly create: boolean
  /** rows per query of a fold (default FoldReader's; tests use small ones to cross batch boundaries) */
  readonly foldBatch?: number
  /**
   * Compare the log with its head file when it is opened and refuse a cut or rewritten log
   * (default true). `verify` and `doctor` turn it off: they report what they find instead.
   */
  readonly checkHead?: boolean
  /**
   * Write the head file at most this often (default 0: after every commit that adds rows). A head
   * file behind the log is allowed (it proves the log holds at least that much), so a process
   * that commits hundreds of times a second (`serve`) need not fsync it each time; the newest
   * head is written when the log is closed.
   */
  readonly headEveryMs?: number
  /**
   * Checkpoint the WAL once it holds this many pages (SQLite's default 1000, 16 MiB here): a
   * checkpoint runs in the commit that crosses it, so a process that must answer within
   * milliseconds (`serve`) takes smaller ones more often.
   */
  readonly walAutocheckpointPages?: number
}

const BUSY_TIMEOUT_MS = 5000
/** Checkpoints kept beside the newest ones: one per this many events of the log. */
const CHECKPOINT_BUCKET = 100_000
const CHECKPOINTS_KEPT = 3
const INSERT_CHUNK = 150
const IN_CHUNK = 500
/**
 * Rows at the end of the log that each write transaction checks before it extends the chain (the
 * newest TAIL_CHECKED, each against the one before it): a fixed cost, whatever the log's size.
 */
const TAIL_CHECKED = 8

const errorCode = (e: SqlError): string => {
  const code = (e.cause as { code?: unknown } | undefined)?.code
  return typeof code === "string" ? code : ""
}

const isBusy = (e: SqlError): boolean => /^SQLITE_(BUSY|LOCKED)/.test(errorCode(e))

/** The insert hit an event already in the log (same dedupe key). */
const isDedupeConflict = (e: SqlError): boolean =>
  errorCode(e) === "SQLITE_CONSTRAINT_UNIQUE" && e.cause instanceof Error && e.cause.message.includes("events.dedupe_key")

const describe = (e: SqlError): string => {
  const cause = e.cause instanceof Error ? e.cause.message : String(e.cause)
  const code = errorCode(e)
  const hint = /^SQLITE_(FULL|IOERR)/.test(code)
    ? ": is the disk (or the file system's quota, or the process's file size limit) full?"
    : /^SQLITE_READONLY/.test(code)
      ? ": the log or its folder is read-only (permissions, or a read-only mount)"
      : ""
  return code === "" ? cause : `${cause} (${code})${hint}`
}

// 20 ms doubling, capped at 1 s (a union takes the shorter delay), at most 12 retries; each
// attempt itself waits up to BUSY_TIMEOUT_MS for the lock.
const retryBusy = Schedule.exponential("20 millis", 2).pipe(
  Schedule.jittered,
  Schedule.union(Schedule.spaced("1 second")),
  Schedule.intersect(Schedule.recurs(12))
)

const toEventLogError =
  (reason: EventLogError["reason"], what: string) =>
  (e: SqlError): EventLogError =>
    new EventLogError({
      reason: isBusy(e) ? "busy" : reason,
      message: isBusy(e) ? `${what}: the database stayed locked by other writers (${describe(e)})` : `${what}: ${describe(e)}`,
      cause: e
    })

/** SQLite's errors as the log's (other errors, already the log's, pass through). */
const sqlErrors = <A, E, R>(effect: Effect.Effect<A, E, R>, reason: EventLogError["reason"], what: string) =>
  Effect.mapError(effect, (e) => (e instanceof SqlError ? toEventLogError(reason, what)(e) : e)) as Effect.Effect<A, Exclude<E, SqlError> | EventLogError, R>

const isBusyError = (e: unknown): boolean => e instanceof EventLogError && e.reason === "busy"

/** Runs again (whole) while SQLite reports the database busy. */
const retryWhileBusy = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.retry(effect, { schedule: retryBusy, while: isBusyError })

const withBusyRetry = <A, R>(effect: Effect.Effect<A, SqlError, R>, reason: EventLogError["reason"], what: string) =>
  retryWhileBusy(sqlErrors(effect, reason, what))

// A fixed statement text per chunk size, so it is prepared once and reused from the cache
// (building it through the template compiler cost more than the insert itself).
const insertStatements = new Map<number, string>()
export const insertStatement = (rows: number): string => {
  let text = insertStatements.get(rows)
  if (text === undefined) {
    text = `INSERT INTO events (seq, recorded_at, type, payload, dedupe_key, hash) VALUES ${Array(rows).fill("(?, ?, ?, ?, ?, ?)").join(", ")}`
    insertStatements.set(rows, text)
  }
  return text
}

/** A transaction that starts with BEGIN IMMEDIATE (see the module comment). */
export const immediateTransaction = (sql: SqlClient.SqlClient) =>
  SqlClient.makeWithTransaction({
    transactionTag: SqlClient.TransactionConnection,
    spanAttributes: [],
    acquireConnection: Effect.flatMap(Scope.make(), (scope) =>
      Effect.map(Scope.extend(sql.reserve, scope), (conn) => [scope, conn] as const)
    ),
    begin: (conn) => conn.executeUnprepared("BEGIN IMMEDIATE", [], undefined),
    savepoint: (conn, id) => conn.executeUnprepared(`SAVEPOINT effect_sql_${id}`, [], undefined),
    // A failed COMMIT (SQLITE_FULL, SQLITE_IOERR: the disk is full) may leave the transaction
    // open: roll it back, so that a long-running process can go on once there is room again.
    commit: (conn) =>
      conn.executeUnprepared("COMMIT", [], undefined).pipe(
        Effect.tapError(() => Effect.ignore(conn.executeUnprepared("ROLLBACK", [], undefined)))
      ),
    // No transaction is left to roll back when BEGIN IMMEDIATE itself failed (SQLITE_BUSY once the
    // busy timeout ran out) or SQLite already rolled back on its own (SQLITE_FULL, SQLITE_IOERR):
    // the failing ROLLBACK would turn the original, possibly retryable, error into a defect.
    rollback: (conn) =>
      conn.executeUnprepared("ROLLBACK", [], undefined).pipe(
        Effect.catchIf(
          (e) => e.cause instanceof Error && /no transaction is active/.test(e.cause.message),
          () => Effect.void
        )
      ),
    rollbackSavepoint: (conn, id) => conn.executeUnprepared(`ROLLBACK TO SAVEPOINT effect_sql_${id}`, [], undefined)
  })

/**
 * A new log file, mode 0600 whatever the umask, before SQLite opens it (an empty file is an empty
 * database): SQLite gives its -wal and -shm files the database file's mode.
 */
const createPrivately = (filename: string): void => {
  let fd: number
  try {
    fd = fs.openSync(filename, "wx", 0o600)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return // another append created it first
    throw e
  }
  try {
    fs.fchmodSync(fd, 0o600)
  } finally {
    fs.closeSync(fd)
  }
}

const checkPath = (options: SqliteEventLogOptions) =>
  Effect.try({
    try: () => {
      if (fs.existsSync(options.filename)) return
      if (!options.create) {
        throw new EventLogError({
          reason: "missing",
          message: `no event log at ${options.filename} (nothing has been appended yet, or --db / MITIGATOR_DB points elsewhere)`
        })
      }
      const dir = path.dirname(path.resolve(options.filename))
      if (!fs.existsSync(dir)) {
        throw new EventLogError({ reason: "open", message: `cannot create the event log ${options.filename}: directory ${dir} does not exist` })
      }
      // A head file without its log: the log was deleted or moved, not new.
      const headFile = headFileOf(options.filename)
      const recorded = readHeadFile(headFile)
      if (recorded._tag === "Recorded" && recorded.head.seq > 0) {
        throw tampered(options.filename, {
          seq: 1,
          reason: `the log does not exist, but its head file ${headFile} records seq ${recorded.head.seq}: it was deleted or moved (to start a new log on purpose, remove ${headFile} too)`
        })
      }
      createPrivately(options.filename)
    },
    catch: (e) => (e instanceof EventLogError ? e : new EventLogError({ reason: "open", message: `cannot create the event log ${options.filename}: ${String(e)}`, cause: e }))
  })

/** The event types of the ownership ledger, in the order of the partial index events_ledger. */
export const LEDGER_EVENT_TYPES = ["TargetChanged", "DriftObserved", "OwnershipLost"] as const

/**
 * A condition on `type` as the partial indexes spell it (migration 0007): `(type = 'A' OR type =
 * 'B')`, not an IN list, which SQLite would turn into a lookup table for every row it inserts.
 */
export const typeFilter = (types: ReadonlyArray<string>): string => `(${types.map((t) => `type = '${t}'`).join(" OR ")})`

const make = (options: SqliteEventLogOptions) =>
  Effect.gen(function* () {
    yield* checkPath(options)
    const sql = yield* SqliteClient.make({ filename: options.filename, disableWAL: true }).pipe(
      Effect.catchAllDefect((defect) =>
        Effect.fail(
          new EventLogError({
            reason: "open",
            message: `cannot open the event log ${options.filename}: ${defect instanceof Error ? defect.message : String(defect)}`,
            cause: defect
          })
        )
      )
    )
    const immediate = immediateTransaction(sql)
    // Literal text, not parameters, in the partial index's own words: only then can SQLite see
    // that the query matches events_projection (migration 0007) and read just those rows.
    const projectionTypes = sql.literal(typeFilter(PROJECTION_EVENT_TYPES))

    yield* withBusyRetry(
      Effect.gen(function* () {
        yield* sql.unsafe(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`)
        // Payloads are about 1 KiB: larger pages make ingest ~25% faster. Takes effect only
        // on a new, empty database (before WAL is switched on), and is harmless otherwise.
        yield* sql.unsafe("PRAGMA page_size = 16384")
        yield* sql.unsafe("PRAGMA journal_mode = WAL")
        yield* sql.unsafe("PRAGMA synchronous = FULL")
        if (options.walAutocheckpointPages !== undefined) yield* sql.unsafe(`PRAGMA wal_autocheckpoint = ${options.walAutocheckpointPages}`)
      }),
      "open",
      `cannot open the event log ${options.filename}`
    )

    // Most runs find the schema current and skip the migrator (and its transaction) entirely.
    const applied = yield* sql<{ id: number | null }>`SELECT max(migration_id) AS id FROM effect_sql_migrations`.pipe(
      Effect.map((rows) => rows[0]?.id ?? 0),
      Effect.orElseSucceed(() => 0)
    )
    if (applied > latestMigrationId) {
      return yield* new EventLogError({
        reason: "schema",
        message: `the event log ${options.filename} has schema version ${applied}, newer than this mitigator knows (${latestMigrationId}): upgrade mitigator`
      })
    }
    if (applied < latestMigrationId) {
      yield* Migrator.make({})({ loader: Migrator.fromRecord(migrations) }).pipe(
        immediate,
        Effect.provideService(SqlClient.SqlClient, sql),
        Effect.catchTag("MigrationError", (e) =>
          Effect.fail(new EventLogError({ reason: "schema", message: `migrating the event log: ${e.message}`, cause: e }))
        ),
        (effect) => withBusyRetry(effect as Effect.Effect<unknown, SqlError>, "schema", "migrating the event log")
      )
    }

    const headFile = headFileOf(options.filename)
    const newestRow = sql<{ seq: number; hash: string }>`SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1`.pipe(Effect.map((rows) => rows[0]))
    const hashAt = (seq: number) => sql<{ hash: string }>`SELECT hash FROM events WHERE seq = ${seq}`.pipe(Effect.map((rows) => rows[0]?.hash))
    const writeHead = (head: ChainHead) =>
      Effect.try({
        try: () => writeHeadFile(headFile, head, options.filename),
        catch: (e) => new EventLogError({ reason: "write", message: `cannot write the head file ${headFile}: ${e instanceof Error ? e.message : String(e)}`, cause: e })
      })

    let forbiddenSaid = false
    const sayForbidden = (problem: string) =>
      Effect.suspend(() => (forbiddenSaid ? Effect.void : ((forbiddenSaid = true), Console.error(forbiddenHead(headFile, problem)))))

    /**
     * The head file against the log. Missing: an empty log starts one at the genesis (before its
     * first row, so no row ever exists without one); a log written by an earlier build adopts its
     * newest row, saying so once. Needs the write lock (the caller's transaction).
     */
    const checkHeadLocked = (newest: ChainHead | undefined, hashThere: (seq: number) => Effect.Effect<string | undefined, SqlError>) =>
      Effect.gen(function* () {
        const recorded = readHeadFile(headFile)
        if (recorded._tag === "Unreadable") return yield* tampered(options.filename, unreadableHead(headFile, recorded.problem, newest?.seq ?? 0))
        if (recorded._tag === "Forbidden") return yield* sayForbidden(recorded.problem)
        if (recorded._tag === "Missing") {
          yield* writeHead(newest ?? GENESIS_HEAD)
          if (newest !== undefined) {
            yield* Console.error(
              `mitigator: warning: the event log ${options.filename} had no head file: adopted its newest row (seq ${newest.seq}) as the head in ${headFile}. ` +
                "A cut of the newest rows made before now cannot be detected; from now on it is."
            )
          }
          return
        }
        const newestSeq = newest?.seq ?? 0
        const there = recorded.head.seq === 0 || recorded.head.seq > newestSeq ? undefined : yield* hashThere(recorded.head.seq)
        const problem = compareWithHead(headFile, recorded.head, newestSeq, there)
        if (problem !== undefined) return yield* tampered(options.filename, problem)
      })

    /**
     * The head file against the log, when it is opened (read the file first: see HeadFile.ts).
     * Without a file beside a non-empty log, the write lock is taken to adopt the log's head.
     */
    const checkHeadOnOpen = Effect.gen(function* () {
      const recorded = readHeadFile(headFile)
      const newest = yield* sqlErrors(newestRow, "read", "reading the event log")
      if (recorded._tag === "Recorded") {
        const there = recorded.head.seq === 0 || newest === undefined || recorded.head.seq > newest.seq ? undefined : yield* sqlErrors(hashAt(recorded.head.seq), "read", "reading the event log")
        const problem = compareWithHead(headFile, recorded.head, newest?.seq ?? 0, there)
        if (problem !== undefined) return yield* tampered(options.filename, problem)
        return
      }
      if (recorded._tag === "Unreadable") return yield* tampered(options.filename, unreadableHead(headFile, recorded.problem, newest?.seq ?? 0))
      if (recorded._tag === "Forbidden") return yield* sayForbidden(recorded.problem)
      if (newest === undefined) return // the first append starts the head file
      // Under the lock, the file may have appeared (a first append between the two reads) or not.
      yield* retryWhileBusy(
        sqlErrors(immediate(Effect.flatMap(newestRow, (locked) => checkHeadLocked(locked, hashAt))), "write", "adopting the log's head")
      ).pipe(
        Effect.catchIf(
          (e) => !(e instanceof EventLogError && e.reason === "tampered"),
          (e) => Console.error(`mitigator: warning: the event log ${options.filename} has no head file, and none could be written (${e.message}): a cut of its newest rows would go unnoticed`)
        )
      )
    })
    if (options.checkHead !== false) yield* retryWhileBusy(checkHeadOnOpen)

    /** The transaction's view: its own seq, hash and dedupe bookkeeping, shared by every append in it. */
    const openTransaction = Effect.gen(function* () {
      // Before extending the chain: its newest rows and the head file (the lock is held: nobody
      // changes either meanwhile). A fixed number of rows, however long the log.
      const tail = (yield* sql<EventRow>`
        SELECT seq, recorded_at, type, payload, dedupe_key, hash FROM events ORDER BY seq DESC LIMIT ${TAIL_CHECKED + 1}`).toReversed()
      const brokenTail = tailBreak(tail)
      if (brokenTail !== undefined) return yield* tampered(options.filename, brokenTail)
      const head = tail[tail.length - 1]
      yield* checkHeadLocked(head, (seq) => {
        const inTail = tail.find((row) => row.seq === seq)
        return inTail === undefined ? hashAt(seq) : Effect.succeed(inTail.hash)
      })
      const startSeq = head?.seq ?? 0
      // The lock is held: read the clock now, and never let recorded_at go backwards along seq,
      // so "the log up to time T" is always a prefix of the log.
      const now = new Date(yield* Clock.currentTimeMillis).toISOString()
      const recordedAt = head !== undefined && head.recorded_at > now ? head.recorded_at : now
      let seq = head?.seq ?? 0
      let previousHash = head?.hash ?? GENESIS_HASH
      /** dedupe key → seq, for keys stored earlier in this transaction */
      const storedNow = new Map<string, number>()

      // Events go through in chunks of INSERT_CHUNK (serialise, hash, insert), so only one
      // chunk's payloads are alive at a time however large the input.
      /** A chunk's rows and outcomes, given the dedupe keys already in the log; changes nothing yet. */
      const prepareChunk = (chunk: ReadonlyArray<NewEvent>, existing: ReadonlyMap<string, number>) => {
        const outcomes: AppendOutcome[] = []
        const params: Array<string | number | null> = []
        const added = new Map<string, number>()
        let nextSeq = seq
        let hash = previousHash
        for (const event of chunk) {
          if (event.dedupeKey !== null) {
            const duplicateOf = existing.get(event.dedupeKey) ?? storedNow.get(event.dedupeKey) ?? added.get(event.dedupeKey)
            if (duplicateOf !== undefined) {
              outcomes.push({ _tag: "Duplicate", seq: duplicateOf })
              continue
            }
            added.set(event.dedupeKey, nextSeq + 1)
          }
          nextSeq++
          const payloadJson = canonicalJson(event.payload)
          hash = rowHash(hash, { seq: nextSeq, recordedAt, type: event.type, payloadJson, dedupeKey: event.dedupeKey })
          params.push(nextSeq, recordedAt, event.type, payloadJson, event.dedupeKey, hash)
          outcomes.push({ _tag: "Stored", seq: nextSeq })
        }
        return { outcomes, params, added, nextSeq, hash }
      }

      const insertRows = (params: ReadonlyArray<string | number | null>) =>
        params.length === 0 ? Effect.void : Effect.asVoid(sql.unsafe(insertStatement(params.length / 6), params))

      const appendInTransaction = (events: Iterable<NewEvent>) =>
        Effect.gen(function* () {
          const outcomes: AppendOutcome[] = []
          const iterator = events[Symbol.iterator]()
          for (let done = false; !done; ) {
            const chunk: NewEvent[] = []
            while (chunk.length < INSERT_CHUNK) {
              const next = iterator.next()
              if (next.done === true) {
                done = true
                break
              }
              chunk.push(next.value)
            }
            if (chunk.length === 0) break
            // Optimistic: new events rarely repeat a dedupe key already in the log, so insert
            // first; only when the UNIQUE index says otherwise (the failed statement alone is
            // rolled back) look the keys up and prepare the chunk again.
            let prepared = prepareChunk(chunk, new Map())
            const inserted = yield* insertRows(prepared.params).pipe(
              Effect.as(true),
              Effect.catchIf(isDedupeConflict, () => Effect.succeed(false))
            )
            if (!inserted) {
              const existing = new Map<string, number>()
              const keys = chunk.flatMap((e) => (e.dedupeKey === null || storedNow.has(e.dedupeKey) ? [] : [e.dedupeKey]))
              const rows = yield* sql<{ seq: number; dedupe_key: string }>`
                SELECT seq, dedupe_key FROM events WHERE dedupe_key IN ${sql.in(keys)}`
              for (const row of rows) existing.set(row.dedupe_key, row.seq)
              prepared = prepareChunk(chunk, existing)
              yield* insertRows(prepared.params)
            }
            seq = prepared.nextSeq
            previousHash = prepared.hash
            for (const [key, at] of prepared.added) storedNow.set(key, at)
            outcomes.push(...prepared.outcomes)
          }
          return outcomes as ReadonlyArray<AppendOutcome>
        })

      const clockBehindMs = head !== undefined && head.recorded_at > now ? Date.parse(head.recorded_at) - Date.parse(now) : 0
      // Recorded by whichever writer meets it first (append, an operator command, reconcile), once
      // per newest-row time: the clamped rows after it keep that time, so the key stays the same.
      let skewNoted = !(clockBehindMs > CLOCK_TOLERANCE_MS)
      const noteSkew = Effect.suspend(() => {
        if (skewNoted) return Effect.void
        skewNoted = true
        const skew: NewEvent = {
          type: "ClockSkewObserved",
          dedupeKey: `clock-behind:${recordedAt}`,
          payload: { against: "log", behindMs: clockBehindMs, clock: now, reference: recordedAt }
        }
        return Effect.asVoid(appendInTransaction([skew]))
      })

      const tx: LogTransaction = {
        recordedAt,
        clock: now,
        clockBehindMs,
        append: (events) => sqlErrors(Effect.zipRight(noteSkew, appendInTransaction(events)), "write", "appending to the event log"),
        // INDEXED BY: events_projection covers these types too (its ORs let SQLite see that), and
        // without statistics the planner may walk it instead: every projection row of the log.
        latestPolicy: sqlErrors(
          sql<EventRow>`
            SELECT seq, recorded_at, type, payload, dedupe_key, hash FROM events INDEXED BY events_policy
            WHERE type = 'PolicyActivated' ORDER BY seq DESC LIMIT 1`.pipe(Effect.map((rows) => rows.map(toStored)[0])),
          "read",
          "reading the policy in force"
        ),
        operatorAllows: sqlErrors(
          sql<{ cidr: string; until: string | null }>`
            SELECT json_extract(payload, '$.cidr') AS cidr, json_extract(payload, '$.until') AS until
            FROM events INDEXED BY events_allow WHERE type = 'AllowRequested' ORDER BY seq`,
          "read",
          "reading the operators' allows"
        ),
        offencesSince: (sources, since) =>
          sqlErrors(
            Effect.gen(function* () {
              const found = new Map<string, Set<string>>()
              for (let i = 0; i < sources.length; i += IN_CHUNK) {
                // One offence per detection: a detection with several actions has several rows.
                const rows = yield* sql<{ source: string; cause: number; recorded_at: string }>`
                  SELECT json_extract(payload, '$.cause.source') AS source, json_extract(payload, '$.cause.seq') AS cause,
                         min(recorded_at) AS recorded_at
                  FROM events
                  WHERE type = 'BlockDecided' AND json_extract(payload, '$.cause.source') IN ${sql.in(sources.slice(i, i + IN_CHUNK))}
                    AND recorded_at > ${since}
                  GROUP BY source, cause`
                for (const row of rows) {
                  const times = found.get(row.source) ?? new Set<string>()
                  times.add(`${row.recorded_at}|${row.cause}`)
                  found.set(row.source, times)
                }
              }
              return new Map([...found].map(([source, times]) => [source, [...times].map((t) => t.slice(0, t.indexOf("|"))).sort()]))
            }),
            "read",
            "reading earlier offences"
          )
      }
      return { tx, appended: () => seq > startSeq }
    })

    /**
     * After a commit that added rows: the log's head into the head file, under the write lock
     * again (so heads only move forward, whichever writer gets there first). Not writing it is no
     * failure of the write (that is committed): the file stays behind, and the next write catches
     * it up.
     */
    const publishHead = retryWhileBusy(
      sqlErrors(
        immediate(
          Effect.gen(function* () {
            const recorded = readHeadFile(headFile)
            const newest = yield* newestRow
            // Never over a head file that is not this log's any more: the next command reports it.
            if (newest === undefined || recorded._tag === "Unreadable" || recorded._tag === "Forbidden") return
            if (recorded._tag === "Recorded" && recorded.head.seq >= newest.seq) return
            yield* writeHead(newest)
          })
        ),
        "write",
        "updating the head file"
      )
    ).pipe(
      Effect.catchAll((e) =>
        Console.error(`mitigator: warning: ${e instanceof EventLogError ? e.message : String(e)}; the next write to the log updates it`)
      )
    )

    // When the head file was last written, by the monotonic clock; whether a commit since has not moved it.
    let headWrittenAt = Number.NEGATIVE_INFINITY
    let headBehind = false
    const publishHeadSoon = Effect.suspend(() => {
      const now = performance.now()
      if (now - headWrittenAt < (options.headEveryMs ?? 0)) {
        headBehind = true
        return Effect.void
      }
      headWrittenAt = now
      headBehind = false
      return publishHead
    })
    yield* Effect.addFinalizer(() => Effect.suspend(() => (headBehind ? publishHead : Effect.void)))

    const transaction: EventLogService["transaction"] = (use) =>
      Effect.gen(function* () {
        let appended = false
        const result = yield* retryWhileBusy(
          immediate(
            Effect.flatMap(sqlErrors(openTransaction, "write", "starting a write"), (opened) =>
              Effect.tap(use(opened.tx), () => {
                appended = opened.appended()
              })
            )
          ).pipe(
            // BEGIN IMMEDIATE itself fails with a SqlError (SQLITE_BUSY once the busy timeout ran out).
            Effect.mapError((e) => (e instanceof SqlError ? toEventLogError("write", "writing to the event log")(e) : e)),
            // @effect/sql turns a failed COMMIT into a defect; it is an error like any other write's.
            Effect.catchSomeDefect((defect) =>
              defect instanceof SqlError ? Option.some(Effect.fail(toEventLogError("write", "committing to the event log")(defect))) : Option.none()
            )
          )
        )
        if (appended) yield* publishHeadSoon
        return result
      })

    const append: EventLogService["append"] = (events) => transaction((tx) => tx.append(events))

    // recorded_at never decreases along seq, so the rows up to a time are a prefix of the log:
    // a page stops at the first row recorded later.
    const read: EventLogService["read"] = (page) =>
      withBusyRetry(
        sql<EventRow>`
          SELECT seq, recorded_at, type, payload, dedupe_key, hash FROM events
          WHERE seq > ${page.afterSeq ?? 0}${page.only === "projection" ? sql` AND ${projectionTypes}` : sql``}${
            page.types === undefined ? sql`` : sql` AND type IN ${sql.in(page.types)}`
          } ORDER BY seq LIMIT ${page.limit}`,
        "read",
        "reading the event log"
      ).pipe(
        Effect.map((rows) => {
          const until = page.until
          const end = until === undefined ? rows.length : rows.findIndex((row) => row.recorded_at > until)
          return (end === -1 ? rows : rows.slice(0, end)).map(toStored)
        })
      )

    const newestProjectionTime: EventLogService["newestProjectionTime"] = withBusyRetry(
      sql<{ recorded_at: string }>`SELECT recorded_at FROM events WHERE ${projectionTypes} ORDER BY seq DESC LIMIT 1`,
      "read",
      "reading the event log"
    ).pipe(Effect.map((rows) => rows[0]?.recorded_at))

    const verify: EventLogService["verify"] = withBusyRetry(
      Effect.gen(function* () {
        // The head file first: the rows walked afterwards reach at least as far (see HeadFile.ts).
        const recorded = readHeadFile(headFile)
        const recordedSeq = recorded._tag === "Recorded" ? recorded.head.seq : -1
        let hashAtRecorded: string | undefined
        let previous = { seq: 0, hash: GENESIS_HASH }
        for (;;) {
          const rows = yield* sql<EventRow>`
            SELECT seq, recorded_at, type, payload, dedupe_key, hash FROM events
            WHERE seq > ${previous.seq} ORDER BY seq LIMIT 5000`
          for (const row of rows) {
            const link = followsIn(previous, chained(row))
            const broken = link === "missing" ? missingRow(previous.seq + 1, row.seq) : link === "altered" ? alteredRow(row.seq) : undefined
            if (broken !== undefined) return { _tag: "Broken", ...broken, checked: previous.seq } as const
            if (row.seq === recordedSeq) hashAtRecorded = row.hash
            previous = { seq: row.seq, hash: row.hash }
          }
          if (rows.length < 5000) break
        }
        const count = previous.seq
        const head = count === 0 ? null : previous
        if (recorded._tag === "Unreadable" || recorded._tag === "Forbidden") {
          return { _tag: "Broken", ...unreadableHead(headFile, recorded.problem, count), checked: count } as const
        }
        if (recorded._tag === "Missing") return { _tag: "Intact", count, head, headFile: null } as const
        const problem = compareWithHead(headFile, recorded.head, count, hashAtRecorded)
        if (problem !== undefined) return { _tag: "Broken", ...problem, checked: Math.min(count, problem.seq - 1) } as const
        return { _tag: "Intact", count, head, headFile: recorded.head.seq } as const
      }),
      "read",
      "verifying the event log"
    )

    // Only a checkpoint bound to the chain counts, and its rows are checked (EventRows.ts).
    const latestCheckpoint: EventLogService["latestCheckpoint"] = (version, notAfter) =>
      withBusyRetry(newestCheckpointRow(sql, version, notAfter), "read", "reading the projection's checkpoint").pipe(
        Effect.flatMap((rows) => {
          const checked = checkedCheckpoint(rows[0])
          return "broken" in checked ? Effect.fail(tampered(options.filename, checked.broken)) : Effect.succeed(checked.checkpoint)
        })
      )

    // The same condition and expressions as the partial index events_ledger (migration 0007), as literal text.
    const ledgerTypes = sql.literal(typeFilter(LEDGER_EVENT_TYPES))
    const latestLedgerEvent: EventLogService["latestLedgerEvent"] = (target, cidr) =>
      withBusyRetry(
        sql<EventRow>`
          SELECT seq, recorded_at, type, payload, dedupe_key, hash FROM events
          WHERE ${ledgerTypes} AND json_extract(payload, '$.target') = ${target} AND json_extract(payload, '$.cidr') = ${cidr}
          ORDER BY seq DESC LIMIT 1`,
        "read",
        "reading the ownership ledger"
      ).pipe(Effect.map((rows) => rows.map(toStored)[0]))

    // Bound to the chain (see latestCheckpoint): its CheckpointSaved event is appended in the same
    // write transaction, through the path every write takes (tail and head file checked first,
    // the head file moved on after the commit). Kept: the newest few, and the first of every
    // CHECKPOINT_BUCKET events (for replay --at far back).
    const saveCheckpoint: EventLogService["saveCheckpoint"] = (c) =>
      transaction((tx) =>
        sqlErrors(
          Effect.gen(function* () {
            const stateSha256 = sha256(c.state)
            const [outcome] = yield* tx.append([
              { type: "CheckpointSaved", dedupeKey: checkpointDedupeKey(c.version, c.seq), payload: { version: c.version, seq: c.seq, stateSha256 } }
            ])
            if (outcome?._tag === "Duplicate") {
              // Saved before at this seq: its event vouches for the state saved then, and only
              // that; another text (the same state serialised otherwise) would read as tampered.
              const bound = yield* sql<{ sha: unknown }>`SELECT json_extract(payload, '$.stateSha256') AS sha FROM events WHERE seq = ${outcome.seq}`
              if (bound[0]?.sha !== stateSha256) return
            }
            yield* sql`
              INSERT OR REPLACE INTO checkpoints (version, seq, recorded_at, event_hash, state)
              VALUES (${c.version}, ${c.seq}, ${c.recordedAt}, ${c.eventHash}, ${c.state})`
            // Another version's (a build still running during an upgrade): only its newest stays.
            yield* sql`
              DELETE FROM checkpoints WHERE version <> ${c.version}
                AND seq < (SELECT max(seq) FROM checkpoints AS newest WHERE newest.version = checkpoints.version)`
            yield* sql`
              DELETE FROM checkpoints WHERE version = ${c.version}
                AND seq NOT IN (SELECT seq FROM checkpoints WHERE version = ${c.version} ORDER BY seq DESC LIMIT ${CHECKPOINTS_KEPT})
                AND seq NOT IN (SELECT min(seq) FROM checkpoints WHERE version = ${c.version} GROUP BY CAST(seq / ${CHECKPOINT_BUCKET} AS INTEGER))`
          }),
          "write",
          "saving the projection's checkpoint"
        )
      )

    const foldReader = makeFoldReader({
      filename: options.filename,
      busyTimeoutMs: BUSY_TIMEOUT_MS,
      projectionTypes: PROJECTION_EVENT_TYPES,
      readError: toEventLogError("read", "reading the event log"),
      retryWhileBusy,
      ...(options.foldBatch === undefined ? {} : { batch: options.foldBatch })
    })
    yield* Effect.addFinalizer(() => Effect.sync(foldReader.close))

    return EventLog.of({ append, transaction, read, fold: foldReader.fold, newestProjectionTime, verify, latestCheckpoint, latestLedgerEvent, saveCheckpoint })
  }).pipe(Effect.provide(Reactivity.layer))

export const layer = (options: SqliteEventLogOptions): Layer.Layer<EventLog, EventLogError> =>
  Layer.scoped(EventLog, make(options))

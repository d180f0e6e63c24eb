/**
 * LogCopy (LogCopy.ts) on a SQLite log, on a connection of its own beside the EventLog's (WAL:
 * it reads while others write). Opened after SqliteEventLog.layer, which creates and migrates the
 * file. Each imported batch is one BEGIN IMMEDIATE transaction that first checks the log still ends
 * where the copy left it (its newest row and its head file); the head file is moved on after the
 * commit, as every write does (HeadFile.ts: a file behind the log is fine, never ahead).
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import { SqlError } from "@effect/sql/SqlError"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { EventLogError } from "./EventLog.js"
import { headFileOf, readHeadFile, writeHeadFile } from "./HeadFile.js"
import { copyReaders, endAfter, importProblem, type ChainEnd, type LogCopyService } from "./LogCopy.js"
import { immediateTransaction, insertStatement } from "./SqliteEventLog.js"

const BUSY_TIMEOUT_MS = 5000
/** Rows per INSERT statement (6 parameters each, well under SQLite's limit). */
const INSERT_CHUNK = 150

export const make = (filename: string): Effect.Effect<LogCopyService, EventLogError, Scope.Scope> =>
  Effect.gen(function* () {
    const failed = (reason: EventLogError["reason"], what: string) => (e: unknown) =>
      e instanceof EventLogError
        ? e
        : new EventLogError({ reason, message: `${what} (${filename}): ${e instanceof SqlError && e.cause instanceof Error ? e.cause.message : String(e)}`, cause: e })
    const sql = yield* SqliteClient.make({ filename, disableWAL: true }).pipe(
      Effect.catchAllDefect((defect) => Effect.fail(defect)),
      Effect.mapError(failed("open", "cannot open the event log"))
    )
    yield* sql.unsafe(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`).pipe(Effect.zipRight(sql.unsafe("PRAGMA synchronous = FULL")), Effect.mapError(failed("open", "cannot open the event log")))
    const immediate = immediateTransaction(sql)
    const headFile = headFileOf(filename)

    /** An immediate transaction whose failed COMMIT (a defect in @effect/sql) is an error like any other. */
    const inTransaction = <A, E>(effect: Effect.Effect<A, E>, what: string) =>
      immediate(effect).pipe(
        Effect.mapError(failed("write", what)),
        Effect.catchSomeDefect((defect) => (defect instanceof SqlError ? Option.some(Effect.fail(failed("write", what)(defect))) : Option.none()))
      )

    const newest = sql<{ seq: number; hash: string; recorded_at: string }>`SELECT seq, hash, recorded_at FROM events ORDER BY seq DESC LIMIT 1`.pipe(
      Effect.map((rows): ChainEnd | undefined => (rows[0] === undefined ? undefined : { seq: rows[0].seq, hash: rows[0].hash, recordedAt: rows[0].recorded_at }))
    )

    const refuse = (message: string) => Effect.fail(new EventLogError({ reason: "write", message: `importing into the event log ${filename}: ${message}; nothing of this batch was written` }))

    const importRows: LogCopyService["importRows"] = (after, batch) =>
      Effect.gen(function* () {
        const end = endAfter(after, batch)
        yield* inTransaction(
          Effect.gen(function* () {
            // The lock is held: nobody moves the log or its head file meanwhile.
            const now = yield* newest
            if ((now?.seq ?? 0) !== after.seq || (now !== undefined && now.hash !== after.hash)) {
              return yield* refuse(`it ends at seq ${now?.seq ?? 0}, not where the copy left it (seq ${after.seq}): something else wrote to it`)
            }
            const recorded = readHeadFile(headFile)
            if (recorded._tag === "Unreadable" || recorded._tag === "Forbidden") return yield* refuse(`its head file ${headFile} cannot be read (${recorded.problem})`)
            if (recorded._tag === "Missing" ? after.seq !== 0 : recorded.head.seq !== after.seq || (after.seq !== 0 && recorded.head.hash !== after.hash)) {
              return yield* refuse(`its head file ${headFile} does not record where the copy left it (seq ${after.seq})`)
            }
            const problem = importProblem(after, batch)
            if (problem !== undefined) return yield* refuse(problem)
            for (let i = 0; i < batch.length; i += INSERT_CHUNK) {
              const chunk = batch.slice(i, i + INSERT_CHUNK)
              yield* sql.unsafe(
                insertStatement(chunk.length),
                chunk.flatMap((r) => [r.seq, r.recordedAt, r.type, r.payloadJson, r.dedupeKey, r.hash])
              )
            }
          }),
          "importing into the event log"
        )
        if (batch.length === 0) return end
        // After the commit, under the lock again (heads only move forward), as SqliteEventLog does.
        yield* inTransaction(
          Effect.gen(function* () {
            const now = yield* newest
            if (now === undefined) return
            const recorded = readHeadFile(headFile)
            if (recorded._tag === "Recorded" && recorded.head.seq >= now.seq) return
            yield* Effect.try({ try: () => writeHeadFile(headFile, now, filename), catch: failed("write", `cannot write the head file ${headFile}`) })
          }),
          "updating the head file"
        )
        return end
      })

    const importCheckpoint: LogCopyService["importCheckpoint"] = (c) =>
      inTransaction(
        sql`INSERT INTO checkpoints (version, seq, recorded_at, event_hash, state) VALUES (${c.version}, ${c.seq}, ${c.recordedAt}, ${c.eventHash}, ${c.state})`,
        "importing a checkpoint"
      ).pipe(Effect.asVoid)

    return { ...copyReaders(sql, failed), importRows, importCheckpoint } satisfies LogCopyService
  }).pipe(Effect.provide(Reactivity.layer))

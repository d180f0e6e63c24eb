/**
 * LogCopy (LogCopy.ts) on a PostgreSQL log, on a pool of its own beside the EventLog's. Opened
 * after PgEventLog.layer, which creates and migrates the schema. Each imported batch is one
 * transaction under the head lock writers take (the advisory lock, and the head row FOR UPDATE,
 * so it waits for either kind of writer): it checks the log still ends where the copy left it,
 * then inserts the rows and moves the head row in one statement, as appends do.
 */
import { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Reactivity from "@effect/experimental/Reactivity"
import { EventLogError } from "./EventLog.js"
import { copyReaders, endAfter, importProblem, type LogCopyService } from "./LogCopy.js"
import { commitFailureAsError, makePgClient, pgTransaction, redactedUrl, type PgTarget } from "./PgConnection.js"
import { HEAD_LOCK_KEY } from "./PgEventLog.js"

const describe = (e: unknown): string => {
  const cause = e instanceof SqlError ? e.cause : e
  const message = cause instanceof Error ? cause.message : String(cause)
  const code = (cause as { code?: unknown } | undefined)?.code
  return typeof code === "string" ? `${message} (${code})` : message
}

export const make = (target: PgTarget): Effect.Effect<LogCopyService, EventLogError, Scope.Scope> =>
  Effect.gen(function* () {
    const label = redactedUrl(target.url)
    const failed = (reason: EventLogError["reason"], what: string) => (e: unknown) =>
      e instanceof EventLogError ? e : new EventLogError({ reason, message: `${what} (${label}): ${describe(e)}`, cause: e })
    const sql = yield* makePgClient({ ...target, applicationName: "mitigator copy-log", maxConnections: 2 }).pipe(
      Effect.mapError((e) => new EventLogError({ reason: "open", message: e.message, cause: e }))
    )

    const transact = pgTransaction(sql)
    /** One transaction; a failed COMMIT is an error like any other. */
    const inTransaction = <A, E>(effect: Effect.Effect<A, E>, what: string) =>
      commitFailureAsError(transact(effect)).pipe(Effect.mapError(failed("write", what)))

    const refuse = (message: string) =>
      Effect.fail(new EventLogError({ reason: "write", message: `importing into the event log ${label}: ${message}; nothing of this batch was written` }))

    const importRows: LogCopyService["importRows"] = (after, batch) =>
      inTransaction(
        Effect.gen(function* () {
          // Both ways writers take turns at the head (PgEventLog.ts HEAD_LOCK_DEFAULT), in the order they take them.
          yield* sql`SELECT pg_advisory_xact_lock(${HEAD_LOCK_KEY})`
          const head = (yield* sql<{ seq: number; hash: string }>`SELECT seq, hash FROM events_head FOR UPDATE`)[0]
          const newest = Number((yield* sql<{ seq: number | null }>`SELECT max(seq) AS seq FROM events`)[0]?.seq ?? 0)
          if (head === undefined) return yield* refuse("its head row (table events_head) is missing")
          if (Number(head.seq) !== after.seq || newest !== after.seq || (after.seq !== 0 && head.hash !== after.hash)) {
            return yield* refuse(`it ends at seq ${newest}, not where the copy left it (seq ${after.seq}): something else wrote to it`)
          }
          const problem = importProblem(after, batch)
          if (problem !== undefined) return yield* refuse(problem)
          const end = endAfter(after, batch)
          if (batch.length === 0) return end
          // The rows and the head row in one statement, as an append moves them.
          yield* sql.unsafe(
            `WITH stored AS (
               INSERT INTO events (seq, recorded_at, type, payload, dedupe_key, hash)
               SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]))
             UPDATE events_head SET seq = $7, hash = $8, recorded_at = $9`,
            [
              batch.map((r) => r.seq),
              batch.map((r) => r.recordedAt),
              batch.map((r) => r.type),
              batch.map((r) => r.payloadJson),
              batch.map((r) => r.dedupeKey),
              batch.map((r) => r.hash),
              end.seq,
              end.hash,
              end.recordedAt
            ]
          )
          return end
        }),
        "importing into the event log"
      )

    const importCheckpoint: LogCopyService["importCheckpoint"] = (c) =>
      inTransaction(
        sql`INSERT INTO checkpoints (version, seq, recorded_at, event_hash, state) VALUES (${c.version}, ${c.seq}, ${c.recordedAt}, ${c.eventHash}, ${c.state})`,
        "importing a checkpoint"
      ).pipe(Effect.asVoid)

    return { ...copyReaders(sql, failed), importRows, importCheckpoint } satisfies LogCopyService
  }).pipe(Effect.provide(Reactivity.layer))

/**
 * What `copy-log` needs of a log beyond the EventLog port: its rows and checkpoints exactly as
 * stored (the payload's text as hashed, byte for byte), and a bulk import that takes rows with
 * their seq and hash as given instead of appending them anew (an append would give them new
 * times and hashes: the copy would no longer be the same chain).
 *
 * The import is kept safe by what it accepts, not by trust in its caller: each batch is one
 * transaction that starts only where the log's head is now (the genesis for the first: only into
 * an empty log), recomputes every row's hash from the one before it, and moves the log's head (the
 * head file, or the head row) with the rows. A batch that does not continue the chain writes
 * nothing. Each backend implements it on its own connection (SqliteLogCopy.ts, PgLogCopy.ts).
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type { EventLogError } from "./EventLog.js"
import { chained, type EventRow } from "./EventRows.js"
import { followsIn, GENESIS_HASH } from "./HashChain.js"

/** One row as stored. */
export interface RawEvent {
  readonly seq: number
  readonly recordedAt: string
  readonly type: string
  /** the payload's text exactly as stored and hashed */
  readonly payloadJson: string
  readonly dedupeKey: string | null
  readonly hash: string
}

/** One checkpoint as stored (see EventLog.ts Checkpoint). */
export interface RawCheckpoint {
  readonly version: string
  readonly seq: number
  readonly recordedAt: string
  readonly eventHash: string
  readonly state: string
}

/** Where a log's chain ends: the genesis for an empty log. */
export interface ChainEnd {
  readonly seq: number
  readonly hash: string
  /** the newest row's recording time ("" for an empty log): the rows after it may not go back */
  readonly recordedAt: string
}

export const EMPTY_END: ChainEnd = { seq: 0, hash: GENESIS_HASH, recordedAt: "" }

export interface LogCopyService {
  /** How many rows and checkpoints the log holds (a copy goes only into a log with neither). */
  readonly contents: Effect.Effect<{ readonly events: number; readonly checkpoints: number }, EventLogError>
  /** At most `limit` rows after `afterSeq` and at or before `throughSeq`, in seq order, as stored. */
  readonly rows: (afterSeq: number, throughSeq: number, limit: number) => Effect.Effect<ReadonlyArray<RawEvent>, EventLogError>
  /** The keys of the checkpoints at or before `throughSeq` (their states are read one at a time: each may be large). */
  readonly checkpointKeys: (throughSeq: number) => Effect.Effect<ReadonlyArray<{ readonly version: string; readonly seq: number }>, EventLogError>
  readonly checkpoint: (version: string, seq: number) => Effect.Effect<RawCheckpoint | undefined, EventLogError>
  /**
   * One transaction: appends `rows` as given, only when the log ends at `after` now and every row
   * follows the one before it in the chain (else fails, reason "write", writing nothing). Returns
   * the new end.
   */
  readonly importRows: (after: ChainEnd, rows: ReadonlyArray<RawEvent>) => Effect.Effect<ChainEnd, EventLogError>
  /** Stores a checkpoint as given (fails when one of that version and seq is there). */
  readonly importCheckpoint: (checkpoint: RawCheckpoint) => Effect.Effect<void, EventLogError>
}

/** Why a copy was refused or failed; the message says what to do. */
export class LogCopyError extends Data.TaggedError("LogCopyError")<{
  readonly reason: "source-broken" | "target-not-empty" | "target-mismatch"
  readonly message: string
}> {}

/**
 * The first reason `rows` do not continue the chain from `after` (pure: both backends' imports
 * run it inside their transaction, before writing).
 */
export const importProblem = (after: ChainEnd, rows: ReadonlyArray<RawEvent>): string | undefined => {
  let previous = after
  for (const row of rows) {
    const link = followsIn(previous, row)
    if (link === "missing") return `row ${row.seq} does not follow seq ${previous.seq}`
    if (link === "altered") return `row ${row.seq} does not match its hash (from the row before it)`
    if (row.recordedAt < previous.recordedAt) return `row ${row.seq} is recorded before the row before it`
    previous = { seq: row.seq, hash: row.hash, recordedAt: row.recordedAt }
  }
  return undefined
}

/** The end of the chain after `rows` (the last of them), or `after` when there are none. */
export const endAfter = (after: ChainEnd, rows: ReadonlyArray<RawEvent>): ChainEnd => {
  const last = rows[rows.length - 1]
  return last === undefined ? after : { seq: last.seq, hash: last.hash, recordedAt: last.recordedAt }
}

/**
 * The reading half of a LogCopy, the same statements on both backends (`failed` names the log in
 * the error). Rows come back as stored, in the chain's terms (EventRows.chained).
 */
export const copyReaders = (
  sql: SqlClient.SqlClient,
  failed: (reason: EventLogError["reason"], what: string) => (e: unknown) => EventLogError
): Pick<LogCopyService, "contents" | "rows" | "checkpointKeys" | "checkpoint"> => ({
  contents: sql<{ events: number; checkpoints: number }>`
    SELECT (SELECT count(*) FROM events) AS events, (SELECT count(*) FROM checkpoints) AS checkpoints`.pipe(
    Effect.map((found) => ({ events: Number(found[0]?.events ?? 0), checkpoints: Number(found[0]?.checkpoints ?? 0) })),
    Effect.mapError(failed("read", "reading the event log"))
  ),
  rows: (afterSeq, throughSeq, limit) =>
    sql<EventRow>`
      SELECT seq, recorded_at, type, payload, dedupe_key, hash FROM events
      WHERE seq > ${afterSeq} AND seq <= ${throughSeq} ORDER BY seq LIMIT ${limit}`.pipe(
      Effect.map((found) => found.map(chained)),
      Effect.mapError(failed("read", "reading the event log"))
    ),
  checkpointKeys: (throughSeq) =>
    sql<{ version: string; seq: number }>`SELECT version, seq FROM checkpoints WHERE seq <= ${throughSeq} ORDER BY seq, version`.pipe(
      Effect.map((found) => found.map((k) => ({ version: k.version, seq: Number(k.seq) }))),
      Effect.mapError(failed("read", "reading the checkpoints"))
    ),
  checkpoint: (version, seq) =>
    sql<{ version: string; seq: number; recorded_at: string; event_hash: string; state: string }>`
      SELECT version, seq, recorded_at, event_hash, state FROM checkpoints WHERE version = ${version} AND seq = ${seq}`.pipe(
      Effect.map((found) => {
        const c = found[0]
        return c === undefined ? undefined : { version: c.version, seq: Number(c.seq), recordedAt: c.recorded_at, eventHash: c.event_hash, state: c.state }
      }),
      Effect.mapError(failed("read", "reading the checkpoints"))
    )
})

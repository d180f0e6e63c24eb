import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"

/**
 * Checkpoints of the projection's fold, so a command folds only the events after the newest one.
 * Keyed by the projection's version (a change to the fold makes old ones unused) and the seq of
 * the last folded event, whose hash is kept: a checkpoint counts only while that row is intact.
 * Derived data, not history: no append-only triggers, and pruned as new ones are written.
 * Also an index of the operators' allows, which `append` checks before it applies a block at once.
 */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE checkpoints (
      version TEXT NOT NULL,
      seq INTEGER NOT NULL,
      recorded_at TEXT NOT NULL,
      event_hash TEXT NOT NULL,
      state TEXT NOT NULL,
      PRIMARY KEY (version, seq)
    )`
  yield* sql`CREATE INDEX events_allow ON events (seq) WHERE type = 'AllowRequested'`
})

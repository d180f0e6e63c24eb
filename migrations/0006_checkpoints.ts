import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"

/**
 * Checkpoints of the projection's fold, so a command folds only the events after the newest one.
 * Keyed by the projection's version (a change to the fold makes old ones unused) and the seq of
 * the last folded event, whose hash is kept: a checkpoint counts only while that row is intact.
 * Derived data, not history: no append-only triggers, and pruned as new ones are written.
 * Also what `append` looks up before it applies a block at once, without folding: the operators'
 * allows, and the newest ledger event of one address on one target.
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
  yield* sql`
    CREATE INDEX events_ledger ON events (json_extract(payload, '$.target'), json_extract(payload, '$.cidr'), seq)
    WHERE type IN ('TargetChanged', 'DriftObserved', 'OwnershipLost')`
})

import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"

/** The one append-only table. Triggers refuse UPDATE and DELETE, so history cannot be edited in place. */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE events (
      seq INTEGER PRIMARY KEY,
      recorded_at TEXT NOT NULL,
      type TEXT NOT NULL,
      payload TEXT NOT NULL,
      dedupe_key TEXT UNIQUE,
      hash TEXT NOT NULL
    ) STRICT`
  // No index on recorded_at: it never decreases along seq (the writer guarantees it), so reads
  // "up to time T" walk seq and stop at the first later row. Every index slows ingest.
  yield* sql`
    CREATE TRIGGER events_refuse_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'events are append-only: UPDATE refused'); END`
  yield* sql`
    CREATE TRIGGER events_refuse_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'events are append-only: DELETE refused'); END`
})

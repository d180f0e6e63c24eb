import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"

/**
 * The log on PostgreSQL: the same rows as SQLite's (migrations 0001-0007 there), in one step.
 * - payload is TEXT, not jsonb: the canonical JSON exactly as hashed (jsonb would reformat it);
 *   the indexes read it through `payload::jsonb`.
 * - events_head, one row: the seq, hash and time of the newest row, moved in the same statement
 *   as the rows it covers (writers take turns under an advisory lock, see PgEventLog.ts); it plays the part of SQLite's head file: a log cut off at its end, or rewritten, no longer
 *   meets it.
 * - triggers refuse UPDATE and DELETE of events (plpgsql, built in: no extension).
 * Nothing here needs a superuser: the role that owns the database runs it.
 */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE events (
      seq BIGINT PRIMARY KEY,
      recorded_at TEXT NOT NULL,
      type TEXT NOT NULL,
      payload TEXT NOT NULL,
      dedupe_key TEXT UNIQUE,
      hash TEXT NOT NULL
    )`
  yield* sql`
    CREATE TABLE events_head (
      id BOOLEAN PRIMARY KEY DEFAULT true CHECK (id),
      seq BIGINT NOT NULL,
      hash TEXT NOT NULL,
      recorded_at TEXT NOT NULL
    )`
  yield* sql`INSERT INTO events_head (id, seq, hash, recorded_at) VALUES (true, 0, ${"0".repeat(64)}, '')`
  yield* sql.unsafe(`
    CREATE FUNCTION events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'events are append-only: % refused', TG_OP; END $$`)
  yield* sql`CREATE TRIGGER events_refuse_update BEFORE UPDATE OR DELETE ON events FOR EACH ROW EXECUTE FUNCTION events_refuse_change()`
  yield* sql`CREATE TRIGGER events_refuse_truncate BEFORE TRUNCATE ON events FOR EACH STATEMENT EXECUTE FUNCTION events_refuse_change()`
  yield* sql`CREATE INDEX events_policy ON events (seq) WHERE type = 'PolicyActivated'`
  yield* sql`CREATE INDEX events_allow ON events (seq) WHERE type = 'AllowRequested'`
  yield* sql`
    CREATE INDEX events_decided_source ON events (((payload::jsonb) -> 'cause' ->> 'source'), recorded_at)
    WHERE type = 'BlockDecided'`
  yield* sql`
    CREATE INDEX events_projection ON events (seq)
    WHERE type IN ('PolicyActivated', 'BlockDecided', 'BlockRequested', 'UnblockRequested', 'AllowRequested', 'TargetChanged', 'DriftObserved', 'OwnershipLost', 'UserResolved', 'UserResolutionFailed', 'UserBlockChanged', 'UserBlockLifted')`
  yield* sql`
    CREATE INDEX events_ledger ON events (((payload::jsonb) ->> 'target'), ((payload::jsonb) ->> 'cidr'), seq)
    WHERE type IN ('TargetChanged', 'DriftObserved', 'OwnershipLost')`
  yield* sql`
    CREATE TABLE checkpoints (
      version TEXT NOT NULL,
      seq BIGINT NOT NULL,
      recorded_at TEXT NOT NULL,
      event_hash TEXT NOT NULL,
      state TEXT NOT NULL,
      PRIMARY KEY (version, seq)
    )`
})

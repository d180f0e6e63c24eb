import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"

/**
 * The reconcile lease of a log on PostgreSQL (src/reconciler/PgLease.ts): one row per lease name
 * ("reconcile"), taken and renewed by one statement each, its expiry judged by the server's clock.
 * - holder: who holds it now (host/pid/random of one process), NULL once released;
 * - fencing_token: raised by every take; recorded with every change the holder records, and
 *   checked (it must still be the holder's) before each change and in the transaction that
 *   records its outcomes: a paused holder that wakes up after a takeover can do neither;
 * - previous_*: the row as the last take found it (a takeover is recorded in the log from them).
 * Nothing here needs a superuser.
 */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE reconcile_lease (
      name TEXT PRIMARY KEY,
      holder TEXT,
      host TEXT,
      pid INTEGER,
      fencing_token BIGINT NOT NULL,
      acquired_at TIMESTAMPTZ,
      renewed_at TIMESTAMPTZ,
      expires_at TIMESTAMPTZ,
      previous_holder TEXT,
      previous_host TEXT,
      previous_pid INTEGER,
      previous_acquired_at TIMESTAMPTZ,
      previous_expires_at TIMESTAMPTZ
    )`
})

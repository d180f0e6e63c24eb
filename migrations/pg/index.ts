/**
 * The PostgreSQL log's migrations (its own list: SQLite's DDL does not carry over), imported
 * statically so the bundle carries them. Keys are `<number>_<name>`; never edit or renumber a
 * released migration, add a new one. Run by src/eventlog/PgMigrations.ts.
 */
import m0001 from "./0001_create_events.js"
import m0002 from "./0002_reconcile_lease.js"

export const pgMigrations = {
  "0001_create_events": m0001,
  "0002_reconcile_lease": m0002
}

export const latestPgMigrationId = Math.max(...Object.keys(pgMigrations).map((k) => parseInt(k, 10)))

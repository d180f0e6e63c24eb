/**
 * Brings a PostgreSQL log's schema up to date: the first command that opens the log with a newer
 * mitigator does it (or `mitigator migrate`, ahead of an upgrade of the other hosts). One
 * transaction for all of it, under an advisory lock, so two hosts opening the log at once migrate
 * it once; run by the role that owns the database (no superuser, no extension). Applied
 * migrations are listed in `mitigator_migrations`.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import { latestPgMigrationId, pgMigrations } from "../../migrations/pg/index.js"

/** pg_advisory_xact_lock key of the migration (any constant of mitigator's own). */
const MIGRATION_LOCK = 0x6d697467 // "mitg"

export type SchemaState =
  | { readonly _tag: "Current"; readonly version: number }
  | { readonly _tag: "Newer"; readonly version: number; readonly known: number }
  | { readonly _tag: "Migrated"; readonly from: number; readonly to: number }

/** The schema version applied (0: no log in this database yet). */
export const appliedVersion = (sql: SqlClient.SqlClient): Effect.Effect<number, SqlError> =>
  sql<{ id: number | null; present: boolean }>`
    SELECT to_regclass('mitigator_migrations') IS NOT NULL AS present`.pipe(
    Effect.flatMap((rows) =>
      rows[0]?.present === true
        ? Effect.map(sql<{ id: number | null }>`SELECT max(id) AS id FROM mitigator_migrations`, (r) => Number(r[0]?.id ?? 0))
        : Effect.succeed(0)
    )
  )

/**
 * Applies what is missing (in `transaction`, which must run it on one connection in one
 * transaction), or reports a schema newer than this build knows (nothing changed).
 */
export const migrate = (
  sql: SqlClient.SqlClient,
  transaction: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | SqlError, R>
): Effect.Effect<SchemaState, SqlError> =>
  Effect.gen(function* () {
    const before = yield* appliedVersion(sql)
    if (before === latestPgMigrationId) return { _tag: "Current", version: before } as const
    if (before > latestPgMigrationId) return { _tag: "Newer", version: before, known: latestPgMigrationId } as const
    return yield* transaction(
      Effect.gen(function* () {
        yield* sql`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`
        yield* sql`
          CREATE TABLE IF NOT EXISTS mitigator_migrations (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
          )`
        // Under the lock: another host may have migrated meanwhile.
        const from = yield* appliedVersion(sql)
        if (from > latestPgMigrationId) return { _tag: "Newer", version: from, known: latestPgMigrationId } as const
        for (const [key, migration] of Object.entries(pgMigrations).sort(([a], [b]) => parseInt(a, 10) - parseInt(b, 10))) {
          const id = parseInt(key, 10)
          if (id <= from) continue
          yield* Effect.provideService(migration, SqlClient.SqlClient, sql)
          yield* sql`INSERT INTO mitigator_migrations (id, name) VALUES (${id}, ${key.replace(/^\d+_/, "")})`
        }
        return from === latestPgMigrationId
          ? ({ _tag: "Current", version: from } as const)
          : ({ _tag: "Migrated", from, to: latestPgMigrationId } as const)
      })
    )
  })

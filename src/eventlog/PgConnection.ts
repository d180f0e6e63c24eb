/**
 * A `postgres://` URL and a password source made into a PgClient (@effect/sql-pg): the plumbing
 * every PostgreSQL-backed part shares (the event log, and later the reconcile lease and copy-log).
 *
 * The password never travels in the URL (argv and process listings would show it, and logs print
 * the URL): a URL that holds one is refused. It comes from, in order: the config's
 * `databasePasswordFile` (the file's first line), else what libpq-style clients read themselves
 * (`pg` does): PGPASSWORD, then PGPASSFILE or ~/.pgpass. Every message names the URL as
 * `redactedUrl` prints it.
 *
 * Loaded only when a log is on PostgreSQL (the CLI imports it dynamically): a SQLite `append`
 * never pays for `pg`.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as fs from "node:fs"
import * as os from "node:os"
import { passwordFromPassFile } from "./PgPassFile.js"
import { isPostgresUrl, redactedUrl } from "./PgUrl.js"

export { isPostgresUrl, redactedUrl }

export class PgConnectionError extends Error {
  readonly _tag = "PgConnectionError"
}

export interface PgTarget {
  readonly url: string
  /** a file whose first line is the role's password (the config's `databasePasswordFile`) */
  readonly passwordFile?: string | undefined
  /** what the server's pg_stat_activity and logs name this client */
  readonly applicationName?: string
  /** connections kept at most (default 4: a command runs one transaction at a time, plus a fold) */
  readonly maxConnections?: number
}

/** Where to connect, from the URL; refuses a password in it. */
export interface PgEndpoint {
  readonly host: string
  readonly port: number
  readonly database: string
  readonly user: string | undefined
  readonly ssl: boolean | { readonly rejectUnauthorized: boolean }
}

export const parsePgUrl = (url: string): PgEndpoint => {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new PgConnectionError(`${redactedUrl(url)} is not a valid postgres:// URL`)
  }
  if (!isPostgresUrl(url)) throw new PgConnectionError(`${redactedUrl(url)} is not a postgres:// or postgresql:// URL`)
  if (parsed.password !== "") {
    throw new PgConnectionError(
      `the database URL ${redactedUrl(url)} holds a password: refused (a URL shows up in process listings, shell history and logs). ` +
        "Put the password in the file named by the config's `databasePasswordFile`, in PGPASSFILE / ~/.pgpass, or in PGPASSWORD"
    )
  }
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ""))
  if (database === "") throw new PgConnectionError(`the database URL ${redactedUrl(url)} names no database (postgres://USER@HOST:PORT/DATABASE)`)
  // ?host=/run/postgresql: a unix socket directory, as libpq spells it.
  const socketDir = parsed.searchParams.get("host")
  const hostname = parsed.hostname.replace(/^\[(.*)\]$/, "$1") || "localhost"
  // Without an sslmode: TLS, verified, to any host but this one (a socket, loopback). libpq's
  // default, `prefer`, falls back to clear text, and pg cannot try one and then the other.
  const local = socketDir !== null || hostname === "localhost" || /^127\./.test(hostname) || hostname === "::1"
  const sslmode = parsed.searchParams.get("sslmode") ?? (local ? "disable" : "verify-full")
  const ssl =
    sslmode === "disable" || sslmode === "prefer" || sslmode === "allow"
      ? false
      : sslmode === "require"
        ? { rejectUnauthorized: false }
        : sslmode === "verify-ca" || sslmode === "verify-full"
          ? true
          : undefined
  if (ssl === undefined) throw new PgConnectionError(`the database URL ${redactedUrl(url)} has an unknown sslmode ${sslmode} (disable, require, verify-ca, verify-full)`)
  return {
    host: socketDir ?? hostname,
    port: parsed.port === "" ? 5432 : Number(parsed.port),
    database,
    user: parsed.username === "" ? undefined : decodeURIComponent(parsed.username),
    ssl
  }
}

/** The password from its file (first line), if one is configured; else pg looks for it itself. */
const readPassword = (target: PgTarget): Redacted.Redacted<string> | undefined => {
  if (target.passwordFile === undefined) return undefined
  let text: string
  try {
    text = fs.readFileSync(target.passwordFile, "utf8")
  } catch (e) {
    throw new PgConnectionError(`cannot read the database password file ${target.passwordFile}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`)
  }
  const password = text.split(/\r?\n/)[0] ?? ""
  if (password === "") throw new PgConnectionError(`the database password file ${target.passwordFile} is empty`)
  return Redacted.make(password)
}

/** What the session is set to on every connection (no surprises in the server's logs). */
const SESSION_OPTIONS = [
  // A writer paused or cut off mid-transaction (holding the head lock) is ended by the server.
  "-c idle_in_transaction_session_timeout=60000",
  "-c TimeZone=UTC"
].join(" ")

/** int8 (seq) as a JS number: seqs stay far below 2^53. */
const INT8_OID = 20

/** A pg pool for `target`, closed with the scope. */
const makePool = (target: PgTarget) =>
  Effect.gen(function* () {
    const endpoint = yield* Effect.try({ try: () => parsePgUrl(target.url), catch: (e) => e as PgConnectionError })
    const password = yield* Effect.try({ try: () => readPassword(target), catch: (e) => e as PgConnectionError })
    // pg ships no type declarations (and @types/pg is not a dependency): only Pool and types are used.
    // @ts-ignore
    const Pg = (yield* Effect.promise(() => import("pg"))) as unknown as PgModule
    const pg = Pg.default ?? Pg
    const types = {
      getTypeParser: (oid: number, format?: string) => (oid === INT8_OID ? (text: string) => Number(text) : pg.types.getTypeParser(oid, format))
    }
    const pool = new pg.Pool({
      host: endpoint.host,
      port: endpoint.port,
      database: endpoint.database,
      ...(endpoint.user === undefined ? {} : { user: endpoint.user }),
      // Without a file: PGPASSWORD (pg reads it), else PGPASSFILE / ~/.pgpass, read here.
      ...(password !== undefined
        ? { password: Redacted.value(password) }
        : process.env["PGPASSWORD"] === undefined
          ? { password: async () => passwordFromPassFile({ host: endpoint.host, port: endpoint.port, database: endpoint.database, user: endpoint.user ?? process.env["PGUSER"] ?? os.userInfo().username }) ?? "" }
          : {}),
      ssl: endpoint.ssl,
      options: SESSION_OPTIONS,
      application_name: target.applicationName ?? "mitigator",
      max: target.maxConnections ?? 4,
      connectionTimeoutMillis: 10_000,
      idleTimeoutMillis: 10_000,
      types
    })
    // Errors of idle connections (a server restart) come back on the next query that uses one.
    pool.on("error", () => {})
    return pool
  })

interface PgPool {
  on: (event: "error", f: (e: unknown) => void) => void
  end: () => Promise<void>
  query: (text: string) => Promise<unknown>
}
interface PgModule {
  readonly default?: PgModule
  readonly Pool: new (config: Record<string, unknown>) => PgPool
  readonly types: { getTypeParser: (oid: number, format?: string) => unknown }
}

/** Why a connection failed, in words an operator acts on (the URL redacted, no password). */
export const describeConnectError = (url: string, cause: unknown): string => {
  const e = cause as { code?: unknown; message?: unknown } | undefined
  const code = typeof e?.code === "string" ? e.code : ""
  const message = typeof e?.message === "string" ? e.message : String(cause)
  const hint =
    code === "28P01" || /password authentication failed/.test(message)
      ? ": wrong password (databasePasswordFile, PGPASSFILE / ~/.pgpass or PGPASSWORD)"
      : /client password must be a (non-empty )?string|no password/i.test(message)
        ? ": no password found (set databasePasswordFile in the config, or PGPASSFILE / ~/.pgpass, or PGPASSWORD)"
        : code === "3D000"
          ? ": that database does not exist (create it, owned by the role mitigator connects as)"
          : code === "ECONNREFUSED"
            ? ": nothing listens there (is PostgreSQL running, and the host and port right?)"
            : ""
  return `cannot connect to PostgreSQL at ${redactedUrl(url)}: ${message}${hint}`
}

/**
 * A PgClient (and SqlClient) for `target`, with its pool closed when the scope closes. Connects
 * once up front, so a wrong URL, password or database fails here, in words (`describeConnectError`).
 */
export const makePgClient = (
  target: PgTarget
): Effect.Effect<PgClient.PgClient, PgConnectionError, Scope.Scope | Reactivity.Reactivity> =>
  PgClient.fromPool({
    acquire: Effect.acquireRelease(
      Effect.flatMap(
        Effect.mapError(makePool(target), (e) => new SqlError({ cause: e, message: e.message })),
        (pool) =>
          Effect.tryPromise({
            try: () => pool.query("SELECT 1"),
            catch: (cause) => new SqlError({ cause, message: describeConnectError(target.url, cause) })
          }).pipe(
            Effect.tapError(() => Effect.promise(() => pool.end().catch(() => undefined))),
            Effect.as(pool)
          )
      ),
      (pool) => Effect.promise(() => pool.end().catch(() => undefined))
    ) as unknown as Parameters<typeof PgClient.fromPool>[0]["acquire"],
    applicationName: target.applicationName ?? "mitigator"
  }).pipe(
    Effect.mapError((e) => (e.cause instanceof PgConnectionError ? e.cause : new PgConnectionError(e.message)))
  )

/** As makePgClient, as a layer (PgClient and SqlClient). */
export const pgClientLayer = (target: PgTarget): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, PgConnectionError> =>
  Layer.scopedContext(
    Effect.map(makePgClient(target), (client) => Context.make(PgClient.PgClient, client).pipe(Context.add(SqlClient.SqlClient, client)))
  ).pipe(Layer.provide(Reactivity.layer))

/**
 * BEGIN … COMMIT on one reserved connection of `sql` (READ COMMITTED, the server's default): the
 * transaction every PostgreSQL writer here runs (the event log, copy-log). A failed COMMIT rolls
 * back; after a lost connection there is nothing to roll back, and the original error is kept.
 */
export const pgTransaction = (sql: SqlClient.SqlClient) =>
  SqlClient.makeWithTransaction({
    transactionTag: SqlClient.TransactionConnection,
    spanAttributes: [],
    acquireConnection: Effect.flatMap(Scope.make(), (scope) => Effect.map(Scope.extend(sql.reserve, scope), (conn) => [scope, conn] as const)),
    begin: (conn) => conn.executeUnprepared("BEGIN", [], undefined),
    savepoint: (conn, id) => conn.executeUnprepared(`SAVEPOINT effect_sql_${id}`, [], undefined),
    commit: (conn) => conn.executeUnprepared("COMMIT", [], undefined).pipe(Effect.tapError(() => Effect.ignore(conn.executeUnprepared("ROLLBACK", [], undefined)))),
    rollback: (conn) => Effect.ignore(conn.executeUnprepared("ROLLBACK", [], undefined)),
    rollbackSavepoint: (conn, id) => conn.executeUnprepared(`ROLLBACK TO SAVEPOINT effect_sql_${id}`, [], undefined)
  })

/** @effect/sql turns a failed COMMIT into a defect: here it is a failure like any other SqlError. */
export const commitFailureAsError = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError, R> =>
  Effect.catchSomeDefect(effect, (defect) => (defect instanceof SqlError ? Option.some(Effect.fail(defect)) : Option.none()))

/** Options every subcommand takes, the layers built from them, and the errors the edge turns into exit codes. */
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { loadConfig, type AppConfig, type TlsSettings } from "../config/loadConfig.js"
import type { EventLog, EventLogError } from "../eventlog/EventLog.js"
import { isPostgresUrl } from "../eventlog/PgUrl.js"
import * as SqliteEventLog from "../eventlog/SqliteEventLog.js"
import { fileLease, ReconcileLease } from "../reconciler/Lease.js"
import { resolveSecret, type SecretSources } from "../targets/secrets.js"

/** Bad arguments or environment: the command did not run. */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

/**
 * The command ran and reported what happened; it asks for a non-zero exit code
 * (append: 3 when some lines were rejected; verify: 1 when the chain is broken).
 */
export class ExitCode extends Data.TaggedError("ExitCode")<{ readonly code: number }> {}

/** The configuration the command was started with (validated: nothing starts with an invalid one). */
export class LoadedConfig extends Context.Tag("mitigator/LoadedConfig")<LoadedConfig, AppConfig>() {}


export interface GlobalOptions {
  readonly db: Option.Option<string>
  readonly config: Option.Option<string>
}

/** A path from the config, relative to the config file's directory. */
export const besideConfig = (cfg: AppConfig, file: string | undefined): string | undefined =>
  file === undefined || cfg.source === null ? file : path.resolve(path.dirname(cfg.source), file)

/** An appliance's TLS settings with its CA file resolved beside the config. */
export const tlsBesideConfig = (cfg: AppConfig, tls: TlsSettings): TlsSettings => ({ ...tls, ca: besideConfig(cfg, tls.ca) })

/** An appliance credential from its sources (flag, env, file), warning on stderr about a flag. */
export const credential = (sources: SecretSources) =>
  resolveSecret(sources, (message) => Console.error(`mitigator: warning: ${message}`)).pipe(
    Effect.mapError((e) => new UsageError({ message: e.message }))
  )

/** The log file: --db / MITIGATOR_DB, else the config's `database` (relative to the config file), else ./mitigator.db. */
/** This mitigator's instance name, as `append` resolves it: env MITIGATOR_INSTANCE, else the config's `instance`, else the host name. */
export const instanceOf = (cfg: AppConfig): string => process.env["MITIGATOR_INSTANCE"] || cfg.instance || os.hostname()

/** The log: a file path, or a postgres:// URL (taken as it is, never resolved beside the config). */
export const logPath = (opts: GlobalOptions, cfg: AppConfig): string =>
  Option.getOrElse(opts.db, () =>
    cfg.database !== undefined && isPostgresUrl(cfg.database) ? cfg.database : (besideConfig(cfg, cfg.database) ?? "./mitigator.db")
  )

/**
 * Where this host keeps its local files about the log: beside the SQLite log (its reconcile lease
 * file, the last pass's record); for a log on PostgreSQL, `mitigator-postgres-<database>` beside
 * the config file (else in the working directory), for the last pass's record only (what `status`
 * on this host shows): the lease of a log on PostgreSQL is a row in its database (leaseLayer).
 */
export const localStatePath = (opts: GlobalOptions, cfg: AppConfig): string => {
  const log = logPath(opts, cfg)
  if (!isPostgresUrl(log)) return log
  let database = "log"
  try {
    database = decodeURIComponent(new URL(log).pathname.replace(/^\//, "")) || "log"
  } catch {
    // refused with its reason when the log is opened
  }
  const dir = cfg.source === null ? process.cwd() : path.dirname(cfg.source)
  return path.join(dir, `mitigator-postgres-${database.replace(/[^A-Za-z0-9_.-]/g, "_")}`)
}

/** Beside an existing log file given by --db / MITIGATOR_DB (never beside a log that is not there, nor beside a URL). */
const configCacheFile = (opts: GlobalOptions): string | undefined =>
  Option.match(opts.db, { onNone: () => undefined, onSome: (db) => (!isPostgresUrl(db) && fs.existsSync(db) ? `${db}.config-cache.json` : undefined) })

/**
 * The log's layer: on PostgreSQL for a postgres:// URL (its modules loaded only then: a SQLite
 * `append`, started once per detection, never loads `pg`), else the SQLite file.
 */
/** How a command wants its log opened (SQLite's options; the PostgreSQL log reads checkHead only). */
export type LogTuning = Pick<SqliteEventLog.SqliteEventLogOptions, "checkHead" | "headEveryMs" | "walAutocheckpointPages">

export const logLayer = (
  target: string,
  cfg: AppConfig,
  options: { readonly create: boolean } & LogTuning
): Layer.Layer<EventLog, EventLogError> =>
  isPostgresUrl(target)
    ? Layer.unwrapEffect(
        Effect.map(
          Effect.promise(() => import("../eventlog/PgEventLog.js")),
          (PgEventLog) => PgEventLog.layer({ url: target, passwordFile: besideConfig(cfg, cfg.databasePasswordFile), ...options })
        )
      )
    : SqliteEventLog.layer({ filename: target, ...options })

/**
 * The reconcile lease of the log at `target` (Lease.ts): a row in the database of a log on
 * PostgreSQL (every host takes turns; PgLease.ts, connected on the first take), else the lease
 * file beside the SQLite log.
 */
export const leaseLayer = (target: string, opts: GlobalOptions, cfg: AppConfig): Layer.Layer<ReconcileLease> =>
  isPostgresUrl(target)
    ? Layer.scoped(
        ReconcileLease,
        Effect.flatMap(
          Effect.promise(() => import("../reconciler/PgLease.js")),
          (PgLease) => PgLease.pgLease({ url: target, passwordFile: besideConfig(cfg, cfg.databasePasswordFile) })
        )
      )
    : Layer.succeed(ReconcileLease, fileLease(localStatePath(opts, cfg)))

/**
 * The config, then the event log it points at: an invalid config stops the command before
 * anything is opened. When the log's path is known up front (--db, MITIGATOR_DB), the validated
 * config is cached beside it: Flowmon starts `append` once per detection.
 */
export const configuredLog = (opts: GlobalOptions, create: boolean, log: LogTuning = {}) =>
  Layer.unwrapEffect(
    Effect.map(loadConfig(Option.getOrUndefined(opts.config), configCacheFile(opts)), (cfg) =>
      Layer.mergeAll(logLayer(logPath(opts, cfg), cfg, { create, ...log }), leaseLayer(logPath(opts, cfg), opts, cfg), Layer.succeed(LoadedConfig, cfg))
    )
  )

/**
 * As `configuredLog` for a reader that runs for good (`reconcile --watch`, started by systemd
 * perhaps before any detection): it waits for the first `append` to create the log, saying so
 * once, rather than failing and being restarted over and over.
 */
export const awaitedLog = (opts: GlobalOptions) =>
  Layer.unwrapEffect(
    Effect.gen(function* () {
      const cfg = yield* loadConfig(Option.getOrUndefined(opts.config), configCacheFile(opts))
      const file = logPath(opts, cfg)
      // On PostgreSQL the schema is made on open: there is nothing to wait for.
      if (isPostgresUrl(file)) return Layer.mergeAll(logLayer(file, cfg, { create: true }), leaseLayer(file, opts, cfg), Layer.succeed(LoadedConfig, cfg))
      if (!fs.existsSync(file)) {
        yield* Effect.logWarning(`mitigator reconcile: no event log at ${file} yet: waiting for the first append to create it`)
        yield* Effect.sleep("1 second").pipe(Effect.repeat({ until: () => fs.existsSync(file) }))
      }
      return Layer.mergeAll(SqliteEventLog.layer({ filename: file, create: false }), leaseLayer(file, opts, cfg), Layer.succeed(LoadedConfig, cfg))
    })
  )

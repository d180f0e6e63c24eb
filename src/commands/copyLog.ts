/**
 * `mitigator copy-log --from DB --to DB [--batch N] [--json]`: a whole log, SQLite → PostgreSQL,
 * back, or the same kind, with its hash chain (src/eventlog/copyWholeLog.ts). Each DB is a SQLite
 * file or a postgres:// URL; passwords come from where --db's do (the config's
 * databasePasswordFile, PGPASSWORD, PGPASSFILE / ~/.pgpass), never from the command line.
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { loadConfig, type AppConfig } from "../config/loadConfig.js"
import { canonicalJson } from "../domain/CanonicalJson.js"
import { copyRows, emptyTarget, verifiedSource, type CopyEnd } from "../eventlog/copyWholeLog.js"
import { EventLog } from "../eventlog/EventLog.js"
import type { LogCopyService } from "../eventlog/LogCopy.js"
import { isPostgresUrl, redactedUrl } from "../eventlog/PgUrl.js"
import * as SqliteLogCopy from "../eventlog/SqliteLogCopy.js"
import { startProgress, ttyProgress } from "../platform/Progress.js"
import { besideConfig, logLayer, UsageError } from "./shared.js"
import { config } from "./options.js"

const from = Options.text("from").pipe(Options.withDescription("the log to copy: a SQLite file or a postgres:// URL (read only)"))
const to = Options.text("to").pipe(Options.withDescription("where to copy it: a new SQLite file, or an empty PostgreSQL database (postgres:// URL)"))
const batch = Options.integer("batch").pipe(Options.withDescription("rows per transaction on the target (default 1000)"), Options.withDefault(1000))
const json = Options.boolean("json").pipe(Options.withDescription("the summary as one JSON object"))

/** One end of the copy: its EventLog (opened as every command opens it) and its LogCopy, closed with the scope. */
const open = (db: string, cfg: AppConfig, options: { readonly create: boolean; readonly checkHead: boolean }) =>
  Effect.gen(function* () {
    const log = Context.get(yield* Layer.build(logLayer(db, cfg, options)), EventLog)
    const copy: LogCopyService = isPostgresUrl(db)
      ? yield* Effect.flatMap(
          Effect.promise(() => import("../eventlog/PgLogCopy.js")),
          (PgLogCopy) => PgLogCopy.make({ url: db, passwordFile: besideConfig(cfg, cfg.databasePasswordFile) })
        )
      : yield* SqliteLogCopy.make(db)
    return { log, copy, label: isPostgresUrl(db) ? redactedUrl(db) : db } satisfies CopyEnd
  })

export const copyLogCommand = Command.make("copy-log", { config, from, to, batch, json }, (opts) =>
  Effect.scoped(
    Effect.gen(function* () {
      if (opts.batch < 1 || opts.batch > 100_000) return yield* new UsageError({ message: "--batch must be between 1 and 100000 rows" })
      if (opts.from === opts.to) return yield* new UsageError({ message: "--from and --to name the same log: nothing to copy" })
      const cfg = yield* loadConfig(Option.getOrUndefined(opts.config), undefined)
      // The source as it is (verify reports a break rather than the open refusing it), verified
      // before the target is opened: a broken source leaves no new file or schema behind.
      const source = yield* open(opts.from, cfg, { create: false, checkHead: false })
      const head = yield* verifiedSource(source)
      const target = yield* open(opts.to, cfg, { create: true, checkHead: true })
      yield* emptyTarget(target)
      const bar = yield* startProgress("copying the log", head?.seq ?? 0)
      const summary = yield* copyRows(source, target, head, { batch: opts.batch, ...(bar === undefined ? {} : { progress: bar.update }) }).pipe(
        Effect.ensuring(Effect.sync(() => bar?.finish()))
      )
      if (opts.json) {
        yield* Console.log(
          canonicalJson({ from: source.label, to: target.label, events: summary.events, checkpoints: summary.checkpoints, head: summary.head, verified: true })
        )
        return
      }
      const ended = summary.head === null ? "both empty" : `head seq ${summary.head.seq}, sha256 ${summary.head.hash}`
      yield* Console.log(
        `copy-log: copied ${summary.events} events and ${summary.checkpoints} checkpoints from ${source.label} to ${target.label}; both verified (${ended})`
      )
    })
  )
).pipe(
  Command.withDescription("Copy a whole event log with its hash chain (SQLite ↔ PostgreSQL) into an empty one, verifying both"),
  Command.provide(ttyProgress)
)

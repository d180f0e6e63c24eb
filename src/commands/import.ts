/**
 * `mitigator import lm-timeout FILE`: takes over the blocks of Progress' `lm-block.py` /
 * `lm-timeout.py` from their SQLite database. Each row becomes an operator block with the hours
 * it had left; reconcile adopts the entry the legacy script added (no second entry) and lifts it
 * when the block ends. Exit 0, or 3 when some rows were rejected (they are recorded).
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as path from "node:path"
import { loadConfig } from "../config/loadConfig.js"
import { importLegacyRows, LEGACY_SOURCE } from "../domain/LegacyImport.js"
import { canonicalJson } from "../domain/CanonicalJson.js"
import { timeLeft } from "../domain/Duration.js"
import { EventLog } from "../eventlog/EventLog.js"
import { readLmTimeoutRows } from "../legacy/lmTimeoutDb.js"
import { actor, actorOf } from "./operator.js"
import { ExitCode, LoadedConfig, logLayer, logPath } from "./shared.js"
import { globalOptions } from "./options.js"

const file = Args.file({ name: "FILE", exists: "yes" }).pipe(
  Args.withDescription("lm-timeout.py's database (on Flowmon: /home/flowmon/lm-mitigation/lm-block.db)")
)

const dryRun = Options.boolean("dry-run").pipe(Options.withDescription("show what would be imported; record nothing"))
const json = Options.boolean("json").pipe(Options.withDescription("what was (or would be) imported, as one JSON object"))

const lmTimeoutCommand = Command.make("lm-timeout", { ...globalOptions, file, dryRun, json, actor }, (opts) =>
  Effect.gen(function* () {
    const database = path.resolve(opts.file)
    const rows = yield* readLmTimeoutRows(database)
    const cfg = yield* LoadedConfig
    const who = actorOf(opts.actor)
    const run = (recordedAt: string) => importLegacyRows(rows, recordedAt, { database, actor: who }).events

    // The log is opened only once the legacy rows are read (a wrong file leaves no new log
    // behind); a dry run opens none and records nothing.
    const now = new Date().toISOString()
    const outcome = opts.dryRun
      ? { recordedAt: now, events: run(now), stored: undefined }
      : yield* Effect.flatMap(EventLog, (log) =>
          log.transaction((tx) => {
            const events = run(tx.clock)
            return Effect.map(tx.append(events), (stored) => ({ recordedAt: tx.clock, events, stored }))
          })
        ).pipe(Effect.provide(logLayer(logPath(opts, cfg), cfg, { create: true })))

    const lines: string[] = [`mitigator import: ${database}: ${rows.length} row(s) from ${LEGACY_SOURCE}`]
    const perTarget = new Map<string, number>()
    let already = 0
    let ended = 0
    const rejected: string[] = []
    const blocks: Array<{ target: string; cidr: string; until: string; left: string; event: string | null }> = []
    outcome.events.forEach((event, i) => {
      if (event.type === "InputRejected") {
        rejected.push(event.payload.reason)
        return
      }
      if (outcome.stored?.[i]?._tag === "Duplicate") {
        already++
        return
      }
      const p = event.payload
      if (p.until <= outcome.recordedAt) ended++
      perTarget.set(p.target, (perTarget.get(p.target) ?? 0) + 1)
      const cidr = p.subject.kind === "ip" ? p.subject.cidr : p.subject.ip
      const left = timeLeft(p.until, outcome.recordedAt)
      blocks.push({ target: p.target, cidr, until: p.until, left, event: p.takeOver?.event ?? null })
      lines.push(`  ${opts.dryRun ? "would import" : "imported"}  ${p.target}  ${cidr}  until ${p.until} (${left})  (ADS event ${p.takeOver?.event ?? "?"})`)
    })
    const imported = [...perTarget.values()].reduce((a, b) => a + b, 0)
    const where = [...perTarget].sort(([a], [b]) => (a < b ? -1 : 1)).map(([t, n]) => `${n} on ${t}`).join(", ")
    lines.push(
      `${opts.dryRun ? "Would import" : "Imported"} ${imported} block(s)${imported > 0 ? ` (${where})` : ""}` +
        `${already > 0 ? `; ${already} already imported before` : ""}${rejected.length > 0 ? `; ${rejected.length} row(s) rejected${opts.dryRun ? "" : " (recorded)"}` : ""}.`
    )
    if (ended > 0) lines.push(`${ended} of them had no hours left: the next reconcile lifts their entries.`)
    for (const reason of rejected) lines.push(`  rejected: ${reason}`)
    if (!opts.dryRun && imported > 0) {
      lines.push(
        "Next: remove lm-timeout.py from cron (it would lift these entries on its own schedule), then run `mitigator reconcile`:",
        "it adopts the entries lm-block.py added (none is added twice) and lifts each one when its time ends."
      )
    }
    yield* Console.log(
      opts.json
        ? canonicalJson({
            database,
            rows: rows.length,
            dryRun: opts.dryRun,
            imported: blocks,
            alreadyImported: already,
            ended,
            rejected
          })
        : lines.join("\n")
    )
    if (cfg.loadmaster === undefined && imported > 0) {
      yield* Console.error("mitigator import: warning: the config has no `loadmaster` section: reconcile cannot take these entries over until it has one")
    }
    if (rejected.length > 0) return yield* new ExitCode({ code: 3 })
  })
).pipe(
  Command.withDescription(`Take over the blocks of ${LEGACY_SOURCE} (Progress' LoadMaster scripts) from its SQLite database`),
  Command.provide((opts) => Layer.effect(LoadedConfig, loadConfig(Option.getOrUndefined(opts.config))))
)

export const importCommand = Command.make("import").pipe(
  Command.withDescription("Take over blocks recorded by another tool"),
  Command.withSubcommands([lmTimeoutCommand])
)

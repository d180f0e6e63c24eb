/**
 * `mitigator status [--json] [--ip A] [--user U] [--rule R] [--since T]`: the blocks in force now,
 * until when, and why; the filters narrow them (all given must hold), in the same shape.
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Clock from "effect/Clock"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { canonicalJson } from "../domain/CanonicalJson.js"
import { policyHash } from "../domain/Policy.js"
import { EventLog } from "../eventlog/EventLog.js"
import { filterState } from "../domain/Filter.js"
import { filterOptions, readFilters } from "./filters.js"
import { desiredStateAt } from "../projection/desiredState.js"
import { renderState } from "./renderState.js"
import { formatDuration } from "../domain/Duration.js"
import { ttyProgress } from "../platform/Progress.js"
import { readPassRecord, type PassRecord } from "../reconciler/passRecord.js"
import { clockBehind, clockBehindWarning } from "./clockSkew.js"
import { configuredLog, LoadedConfig, localStatePath } from "./shared.js"
import { globalOptions } from "./options.js"

/** How long ago, in whole seconds, minutes, hours or days (a person reads it). */
const ago = (fromIso: string, now: string): string => {
  const s = Math.floor(Math.max(0, Date.parse(now) - Date.parse(fromIso)) / 1000)
  return s < 60 ? `${s}s ago` : s < 3600 ? `${Math.floor(s / 60)}m ago` : s < 86_400 ? `${Math.floor(s / 3600)}h ago` : `${Math.floor(s / 86_400)}d ago`
}

/** The status line about the last reconcile, and a warning when it is overdue (older than 3 intervals). */
export const lastReconcile = (record: PassRecord | undefined, now: string): { readonly line: string; readonly warning?: string } => {
  if (record === undefined) {
    return { line: "Last reconcile: none recorded beside this log", warning: "no reconcile has run against this log yet: run `mitigator reconcile` from cron, or `mitigator reconcile --watch`" }
  }
  const last = record.lastPassConverged ? "converged" : "did not converge (see replay --events)"
  const success = record.lastSuccessAt === null ? "none yet" : `${record.lastSuccessAt} (${ago(record.lastSuccessAt, now)})`
  const line = `Last successful reconcile: ${success}; last pass ${record.lastPassAt} (${ago(record.lastPassAt, now)}) ${last}`
  const since = record.lastSuccessAt ?? record.lastPassAt
  const overdue = Date.parse(now) - Date.parse(since) > 3 * record.intervalMs
  if (!overdue) return { line }
  return {
    line,
    warning:
      record.lastSuccessAt === null
        ? `no reconcile has converged yet, and the last pass was ${ago(record.lastPassAt, now)}: check \`mitigator doctor\` and the failures in \`replay --events\``
        : `the last successful reconcile was ${ago(record.lastSuccessAt, now)}, more than 3 intervals of ${formatDuration(record.intervalMs)}: is reconcile still scheduled, and can it reach the targets? (\`mitigator doctor\`)`
  }
}

export const json = Options.boolean("json").pipe(Options.withDescription("the desired state as one JSON object (stable: sorted, byte-identical for the same log and time)"))

export const statusCommand = Command.make("status", { ...globalOptions, json, ...filterOptions }, (opts) =>
  Effect.gen(function* () {
    const log = yield* EventLog
    const cfg = yield* LoadedConfig
    const now = new Date(yield* Clock.currentTimeMillis).toISOString()
    const filters = yield* readFilters(opts, log)
    const state = filterState(yield* desiredStateAt(log, now), filters)
    yield* Console.log(opts.json ? canonicalJson(state) : renderState(state))
    const newest = yield* log.newestProjectionTime
    if (!opts.json && newest !== undefined) yield* Console.log(`Newest event that counts for blocks: ${newest} (${newest > now ? "ahead of this clock" : ago(newest, now)})`)
    const behind = clockBehind(now, newest)
    if (behind !== undefined) yield* Console.error(`mitigator status: ${clockBehindWarning(behind)}`)
    // The pass record is not part of the log: --json stays the log's desired state, byte-stable.
    const reconciled = lastReconcile(readPassRecord(localStatePath(opts, cfg)), now)
    if (!opts.json) yield* Console.log(reconciled.line)
    if (reconciled.warning !== undefined && (cfg.loadmaster !== undefined || cfg.cryptospike !== undefined)) {
      yield* Console.error(`mitigator status: warning: ${reconciled.warning}`)
    }
    if (cfg.source !== null && policyHash(cfg.policy) !== state.policyHash) {
      yield* Console.error(
        `mitigator status: the policy in ${cfg.source} is not the one in force yet; it becomes active with the next append`
      )
    }
  })
).pipe(
  Command.withDescription("Show the blocks in force now: target, address, until when, and why"),
  Command.provide((opts) => Layer.merge(configuredLog(opts, false), ttyProgress))
)

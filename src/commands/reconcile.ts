/**
 * `mitigator reconcile [--watch --interval D] [--dry-run] [--force]`: make the LoadMaster match
 * the desired state; exit 0 converged, 1 otherwise (what failed is in the log, retried next pass).
 * `mitigator plan [--json]`: the same observation and diff, changing nothing; exit 0 in sync,
 * 2 changes pending, 1 error.
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { canonicalJson } from "../domain/CanonicalJson.js"
import { parseDuration } from "../domain/Duration.js"
import { EventLog } from "../eventlog/EventLog.js"
import { reconcileLock } from "../reconciler/lock.js"
import { reconcilePass, type PassResult } from "../reconciler/reconcileLoadMaster.js"
import { apiKeyOption, liveLoadMaster } from "./loadmaster.js"
import { configuredLog, ExitCode, globalOptions, LoadedConfig, logPath, UsageError } from "./shared.js"

const force = Options.boolean("force").pipe(Options.withDescription("apply a plan even when it exceeds the caps"))
const dryRun = Options.boolean("dry-run").pipe(Options.withDescription("observe and plan, change nothing"))
const watch = Options.boolean("watch").pipe(Options.withDescription("repeat every --interval until stopped (SIGTERM stops cleanly)"))
const interval = Options.text("interval").pipe(Options.withDescription("time between passes with --watch (default 60s)"), Options.withDefault("60s"))
const concurrency = Options.integer("concurrency").pipe(Options.withDescription("changes in flight at once (default 4)"), Options.withDefault(4))

const summary = (r: PassResult): string => {
  if (r.refused !== undefined) return `plan refused: ${r.refused} (recorded; --force applies it)`
  const parts = [`${r.plan.adds.length} to add`, `${r.plan.removes.length} to remove`, `${r.applied} applied`, `${r.failed} failed`]
  if (r.drift > 0) parts.push(`${r.drift} drifted`)
  const problems = r.problems.slice(0, 3).map((p) => `\n  ${p}`).join("") + (r.problems.length > 3 ? `\n  … ${r.problems.length - 3} more (replay --events)` : "")
  return `${parts.join(", ")}; ${r.converged ? "converged" : "not converged (failures are in the log and retried next pass)"}${problems}`
}

const planLines = (r: PassResult): string[] => [
  ...r.plan.adds.map((a) => `+ ${a.target} ${a.cidr} until ${a.until}`),
  ...r.plan.removes.map((x) => `- ${x.target} ${x.cidr} (listed as ${x.listed})`)
]

export const reconcileCommand = Command.make(
  "reconcile",
  { ...globalOptions, force, dryRun, watch, interval, concurrency, apiKey: apiKeyOption },
  (opts) =>
    Effect.gen(function* () {
      const cfg = yield* LoadedConfig
      const log = yield* EventLog
      const every = parseDuration(opts.interval)
      if (!every.ok) return yield* new UsageError({ message: `--interval ${every.error}` })
      if (opts.concurrency < 1) return yield* new UsageError({ message: "--concurrency must be at least 1" })
      yield* reconcileLock(logPath(opts, cfg)).pipe(Effect.mapError((e) => new UsageError({ message: e.message })))
      const lm = yield* liveLoadMaster(cfg, opts.apiKey)
      const pass = reconcilePass(log, lm, { caps: cfg.policy.caps, force: opts.force, dryRun: opts.dryRun, concurrency: opts.concurrency })
      if (!opts.watch) {
        const result = yield* pass
        if (opts.dryRun) for (const line of planLines(result)) yield* Console.log(line)
        yield* Console.log(`mitigator reconcile: ${summary(result)}`)
        if (!opts.dryRun && !result.converged) return yield* new ExitCode({ code: 1 })
        return
      }
      // --watch: pass after pass; stopping (SIGTERM) interrupts between or inside a pass and
      // never unblocks anything: what is applied stays, and the next start picks up from the log.
      for (;;) {
        const result = yield* Effect.either(pass)
        yield* Console.log(
          `${new Date().toISOString()} mitigator reconcile: ${result._tag === "Right" ? summary(result.right) : `pass failed: ${result.left.message}`}`
        )
        yield* Effect.sleep(Duration.millis(every.value))
      }
    }).pipe(Effect.scoped)
).pipe(
  Command.withDescription("Make the LoadMaster block lists match the desired state (add what is missing, remove what mitigator owns and no longer wants)"),
  Command.provide((opts) => configuredLog(opts, false))
)

const json = Options.boolean("json").pipe(Options.withDescription("the plan as one JSON object"))

export const planCommand = Command.make("plan", { ...globalOptions, json, apiKey: apiKeyOption }, (opts) =>
  Effect.gen(function* () {
    const cfg = yield* LoadedConfig
    const log = yield* EventLog
    const lm = yield* liveLoadMaster(cfg, opts.apiKey)
    const result = yield* reconcilePass(log, lm, { caps: cfg.policy.caps, force: false, dryRun: true, concurrency: 1 })
    if (opts.json) {
      yield* Console.log(
        canonicalJson({ adds: result.plan.adds, removes: result.plan.removes, drift: result.drift, refusedByCaps: result.refused ?? null, unreachable: result.unobserved })
      )
    } else {
      const lines = planLines(result)
      yield* Console.log(lines.length === 0 ? "in sync: nothing to change" : lines.join("\n"))
      if (result.refused !== undefined) yield* Console.log(`over the caps: ${result.refused} (reconcile would refuse it without --force)`)
    }
    if (result.unobserved.length > 0) {
      yield* Console.error(`mitigator plan: ${result.problems.join("; ")}`)
      return yield* new ExitCode({ code: 1 })
    }
    if (result.plan.adds.length + result.plan.removes.length > 0) return yield* new ExitCode({ code: 2 })
  }).pipe(Effect.scoped)
).pipe(
  Command.withDescription("Show what reconcile would change; exit 0 in sync, 2 changes pending, 1 error"),
  Command.provide((opts) => configuredLog(opts, false))
)


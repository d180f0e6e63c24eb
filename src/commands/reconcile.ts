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
import { reconcileCryptoSpikePass, type CryptoSpikePassResult } from "../reconciler/reconcileCryptoSpike.js"
import { liveCryptoSpike, tokenOption } from "./cryptospike.js"
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

const userSummary = (r: CryptoSpikePassResult): string => {
  if (r.refused !== undefined) return `plan refused: ${r.refused} (recorded; --force applies it)`
  const parts = [`${r.resolved} users resolved`, `${r.unresolved} not resolvable`, `${r.toBlock.length} to block`, `${r.toUnblock.length} to unblock`, `${r.applied} applied`, `${r.failed} failed`]
  if (r.lifted > 0) parts.push(`${r.lifted} lifted by hand`)
  const problems = r.problems.slice(0, 3).map((p) => `\n  ${p}`).join("")
  return `${parts.join(", ")}; ${r.converged ? "converged" : "not converged (failures are in the log and retried next pass)"}${problems}`
}

const userPlanLines = (r: CryptoSpikePassResult): string[] => [
  ...r.toBlock.map((u) => `+ cryptospike user ${u}`),
  ...r.toUnblock.map((u) => `- cryptospike user ${u}`)
]

const planLines = (r: PassResult): string[] => [
  ...r.plan.adds.map((a) => `+ ${a.target} ${a.cidr} until ${a.until}`),
  ...r.plan.removes.map((x) => `- ${x.target} ${x.cidr} (listed as ${x.listed})`)
]

export const reconcileCommand = Command.make(
  "reconcile",
  { ...globalOptions, force, dryRun, watch, interval, concurrency, apiKey: apiKeyOption, csToken: tokenOption },
  (opts) =>
    Effect.gen(function* () {
      const cfg = yield* LoadedConfig
      const log = yield* EventLog
      const every = parseDuration(opts.interval)
      if (!every.ok) return yield* new UsageError({ message: `--interval ${every.error}` })
      if (opts.concurrency < 1) return yield* new UsageError({ message: "--concurrency must be at least 1" })
      if (cfg.loadmaster === undefined && cfg.cryptospike === undefined) {
        return yield* new UsageError({ message: "the config has no `loadmaster` section and no `cryptospike` section: there is nothing to reconcile" })
      }
      yield* reconcileLock(logPath(opts, cfg)).pipe(Effect.mapError((e) => new UsageError({ message: e.message })))
      const lm = cfg.loadmaster === undefined ? undefined : yield* liveLoadMaster(cfg, opts.apiKey)
      const cs = cfg.cryptospike === undefined ? undefined : yield* liveCryptoSpike(cfg, opts.csToken)
      const settings = cfg.cryptospike
      // One pass over each configured target; converged only when every one is.
      const pass = Effect.gen(function* () {
        const lines: string[] = []
        let converged = true
        if (lm !== undefined) {
          const r = yield* reconcilePass(log, lm, { caps: cfg.policy.caps, force: opts.force, dryRun: opts.dryRun, concurrency: opts.concurrency })
          if (opts.dryRun) lines.push(...planLines(r))
          lines.push(`mitigator reconcile: ${cs === undefined ? "" : "loadmaster: "}${summary(r)}`)
          converged &&= r.converged
        }
        if (cs !== undefined && settings !== undefined) {
          const r = yield* reconcileCryptoSpikePass(log, cs, {
            caps: cfg.policy.caps,
            force: opts.force,
            dryRun: opts.dryRun,
            lookbackMs: settings.lookbackMs,
            graceMs: settings.graceMs,
            repairDrift: settings.repairDrift
          })
          if (opts.dryRun) lines.push(...userPlanLines(r))
          lines.push(`mitigator reconcile: cryptospike: ${userSummary(r)}`)
          converged &&= r.converged
        }
        return { lines, converged }
      })
      if (!opts.watch) {
        const result = yield* pass
        for (const line of result.lines) yield* Console.log(line)
        if (!opts.dryRun && !result.converged) return yield* new ExitCode({ code: 1 })
        return
      }
      // --watch: pass after pass; stopping (SIGTERM) interrupts between or inside a pass and
      // never unblocks anything: what is applied stays, and the next start picks up from the log.
      for (;;) {
        const result = yield* Effect.either(pass)
        const stamp = new Date().toISOString()
        if (result._tag === "Right") for (const line of result.right.lines) yield* Console.log(`${stamp} ${line}`)
        else yield* Console.log(`${stamp} mitigator reconcile: pass failed: ${result.left.message}`)
        yield* Effect.sleep(Duration.millis(every.value))
      }
    }).pipe(Effect.scoped)
).pipe(
  Command.withDescription("Make the LoadMaster block lists match the desired state (add what is missing, remove what mitigator owns and no longer wants)"),
  Command.provide((opts) => configuredLog(opts, false))
)

const json = Options.boolean("json").pipe(Options.withDescription("the plan as one JSON object"))

export const planCommand = Command.make("plan", { ...globalOptions, json, apiKey: apiKeyOption, csToken: tokenOption }, (opts) =>
  Effect.gen(function* () {
    const cfg = yield* LoadedConfig
    const log = yield* EventLog
    if (cfg.loadmaster === undefined && cfg.cryptospike === undefined) {
      return yield* new UsageError({ message: "the config has no `loadmaster` section and no `cryptospike` section: there is nothing to plan" })
    }
    let pending = 0
    let unreachable = false
    const problems: string[] = []
    const out: Record<string, unknown> = {}
    const lines: string[] = []
    if (cfg.loadmaster !== undefined) {
      const lm = yield* liveLoadMaster(cfg, opts.apiKey)
      const result = yield* reconcilePass(log, lm, { caps: cfg.policy.caps, force: false, dryRun: true, concurrency: 1 })
      Object.assign(out, { adds: result.plan.adds, removes: result.plan.removes, drift: result.drift, refusedByCaps: result.refused ?? null, unreachable: result.unobserved })
      lines.push(...planLines(result))
      if (result.refused !== undefined) lines.push(`over the caps: ${result.refused} (reconcile would refuse it without --force)`)
      pending += result.plan.adds.length + result.plan.removes.length
      if (result.unobserved.length > 0) {
        unreachable = true
        problems.push(...result.problems)
      }
    }
    const settings = cfg.cryptospike
    if (settings !== undefined) {
      const cs = yield* liveCryptoSpike(cfg, opts.csToken)
      const r = yield* reconcileCryptoSpikePass(log, cs, {
        caps: cfg.policy.caps,
        force: false,
        dryRun: true,
        lookbackMs: settings.lookbackMs,
        graceMs: settings.graceMs,
        repairDrift: settings.repairDrift
      })
      out["users"] = { toResolve: r.resolved + r.unresolved, toBlock: r.toBlock, toUnblock: r.toUnblock, lifted: r.lifted, refusedByCaps: r.refused ?? null }
      lines.push(...userPlanLines(r))
      if (r.resolved + r.unresolved > 0) lines.push(`~ cryptospike: ${r.resolved + r.unresolved} user(s) behind blocked addresses to look up`)
      pending += r.toBlock.length + r.toUnblock.length + r.resolved + r.unresolved
      if (r.problems.length > 0) {
        unreachable = true
        problems.push(...r.problems)
      }
    }
    yield* Console.log(opts.json ? canonicalJson(out) : lines.length === 0 ? "in sync: nothing to change" : lines.join("\n"))
    if (unreachable) {
      yield* Console.error(`mitigator plan: ${problems.join("; ")}`)
      return yield* new ExitCode({ code: 1 })
    }
    if (pending > 0) return yield* new ExitCode({ code: 2 })
  }).pipe(Effect.scoped)
).pipe(
  Command.withDescription("Show what reconcile would change; exit 0 in sync, 2 changes pending, 1 error"),
  Command.provide((opts) => configuredLog(opts, false))
)


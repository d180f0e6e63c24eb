/**
 * `mitigator reconcile [--watch --interval D] [--dry-run] [--force]`: make the LoadMaster match
 * the desired state; exit 0 converged, 1 otherwise (what failed is in the log, retried next pass).
 * `mitigator plan [--json]`: the same observation and diff, changing nothing; exit 0 in sync,
 * 2 changes pending (also a plan over the caps, which reconcile refuses without --force), 1 the
 * plan cannot be trusted: an appliance could not be observed (each named, with why, on stderr),
 * removals held while this clock disagrees with the LoadMaster's, or another error. It says
 * "in sync" only with exit 0.
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Clock from "effect/Clock"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { canonicalJson } from "../domain/CanonicalJson.js"
import { formatSpan, parseDuration, timeLeft } from "../domain/Duration.js"
import { GLOBAL_SCOPE } from "../targets/LoadMasterAcl.js"
import { EventLog, EventLogError, type EventLogService } from "../eventlog/EventLog.js"
import type { AppConfig } from "../config/loadConfig.js"
import { holdingReconcileLease, leaseTtlFor } from "../reconciler/Lease.js"
import { renderMetrics } from "../reconciler/metrics.js"
import { watchDelayMs } from "../reconciler/watchDelay.js"
import { nextPassRecord, passRecordFile, readPassRecord, writePassRecord, type PassRecord, type TargetFigures } from "../reconciler/passRecord.js"
import { writeFileAtomically } from "../platform/AtomicFile.js"
import { ttyProgress } from "../platform/Progress.js"
import { commandLogger } from "./logging.js"
import { reconcilePass, type PassResult } from "../reconciler/reconcileLoadMaster.js"
import { reconcileCryptoSpikePass, type CryptoSpikePassResult } from "../reconciler/reconcileCryptoSpike.js"
import { liveCryptoSpike } from "./cryptospike.js"
import { liveLoadMaster } from "./loadmaster.js"
import { applianceRails } from "./appliances.js"
import { openProjection } from "../projection/desiredState.js"
import { awaitedLog, configuredLog, ExitCode, instanceOf, LoadedConfig, localStatePath, UsageError, type GlobalOptions } from "./shared.js"
import { apiKeyOption, globalOptions, logOptions, tokenOption } from "./options.js"

const force = Options.boolean("force").pipe(Options.withDescription("apply a plan even when it exceeds the caps"))
const dryRun = Options.boolean("dry-run").pipe(Options.withDescription("observe and plan, change nothing"))
const watch = Options.boolean("watch").pipe(Options.withDescription("repeat every --interval until stopped (SIGTERM stops cleanly)"))
const interval = Options.text("interval").pipe(Options.withDescription("time between passes with --watch (default 60s)"), Options.withDefault("60s"))
const lockWait = Options.text("lock-wait").pipe(
  Options.withDescription("how long to wait for another pass (an append applying at once, another reconcile) to end (default 30s)"),
  Options.withDefault("30s")
)
const passJson = Options.boolean("json").pipe(
  Options.withDescription("one pass's outcome as one JSON object on stdout (the log lines go to stderr); not with --watch")
)
const concurrency = Options.integer("concurrency").pipe(Options.withDescription("changes in flight at once (default 4)"), Options.withDefault(4))

const summary = (r: PassResult): string => {
  if (r.refused !== undefined) return `plan refused: ${r.refused} (recorded; --force applies it)`
  const parts = [`${r.plan.adds.length} to add`, `${r.plan.removes.length} to remove`, `${r.applied} applied`, `${r.failed} failed`]
  if (r.drift > 0) parts.push(`${r.drift} drifted`)
  if (r.relinquished.length > 0) parts.push(`${r.relinquished.length} held by someone else now (left alone)`)
  const problems = r.problems.slice(0, 3).map((p) => `\n  ${p}`).join("") + (r.problems.length > 3 ? `\n  … ${r.problems.length - 3} more (replay --events)` : "")
  return `${parts.join(", ")}; ${r.converged ? "converged" : "not converged (failures are in the log and retried next pass)"}${problems}`
}

const userSummary = (r: CryptoSpikePassResult): string => {
  if (r.refused !== undefined) return `plan refused: ${r.refused} (recorded; --force applies it)`
  const parts = [`${r.resolved} users resolved`, `${r.unresolved} not resolvable`, `${r.toBlock.length} to block`, `${r.toUnblock.length} to unblock`, `${r.applied} applied`, `${r.failed} failed`]
  if (r.lifted > 0) parts.push(`${r.lifted} lifted by hand`)
  if (r.heldByOthers.length > 0) parts.push(`${r.heldByOthers.length} blocked again by someone else (left alone)`)
  const problems = r.problems.slice(0, 3).map((p) => `\n  ${p}`).join("")
  return `${parts.join(", ")}; ${r.converged ? "converged" : "not converged (failures are in the log and retried next pass)"}${problems}`
}

const userPlanLines = (r: CryptoSpikePassResult): string[] => [
  ...r.toBlock.map((u) => `+ cryptospike user ${u}`),
  ...r.toUnblock.map((u) => `- cryptospike user ${u}`),
  ...r.heldByOthers.map((h) => heldLine("cryptospike", `user ${h.userId}`, h.comment, h.holder))
]

const planLines = (r: PassResult, now: string): string[] => [
  ...r.plan.adds.map((a) => `+ ${a.target} ${a.cidr} until ${a.until} (${timeLeft(a.until, now)})`),
  ...r.plan.removes.map((x) => `- ${x.target} ${x.cidr} (listed as ${x.listed})`),
  ...r.relinquished.map((x) => heldLine(x.target, x.cidr, x.comment))
]

/** An entry or user block mitigator made and someone else holds now: told, never changed. */
const heldLine = (target: string, what: string, comment: string, holder = "someone else"): string =>
  `! ${target} ${what} is held by ${holder} now (${comment === "" ? "no comment" : `comment "${comment}"`}): no longer mitigator's, it will not be removed`

const metricsFile = Options.text("metrics-file").pipe(
  Options.withDescription("write the last pass's figures in Prometheus text format to this file after each pass (replaced atomically)"),
  Options.optional
)

/** The pass record beside the log (for status), and the metrics file, after a pass; a failure to write is logged, not fatal. */
const recordPass = (logFile: string, metrics: Option.Option<string>, pass: Parameters<typeof nextPassRecord>[1], onRecorded?: (record: PassRecord) => void) =>
  Effect.gen(function* () {
    const record = nextPassRecord(readPassRecord(logFile), pass)
    onRecorded?.(record)
    yield* Effect.try(() => writePassRecord(logFile, record)).pipe(
      Effect.catchAll((e) => Effect.logWarning(`mitigator reconcile: cannot write ${passRecordFile(logFile)}: ${String(e.error)}`))
    )
    if (Option.isSome(metrics)) {
      yield* Effect.try(() => writeFileAtomically(metrics.value, renderMetrics(record))).pipe(
        Effect.catchAll((e) => Effect.logWarning(`mitigator reconcile: cannot write --metrics-file ${metrics.value}: ${String(e.error)}`))
      )
    }
  })

/** One log record per target: info when converged, a warning otherwise, with the figures as fields. */
const logTarget = (line: string, target: string, converged: boolean, figures: ReadonlyArray<readonly [string, TargetFigures]>) => {
  const total = figures.reduce(
    (sum, [, f]) => ({ desired: sum.desired + f.desired, drift: sum.drift + f.drift, applied: sum.applied + f.applied, failed: sum.failed + f.failed }),
    { desired: 0, drift: 0, applied: 0, failed: 0 }
  )
  return (converged ? Effect.logInfo(line) : Effect.logWarning(line)).pipe(Effect.annotateLogs({ target, converged, ...total }))
}

/** What a pass needs besides the config and the log. */
export interface PassOptions extends GlobalOptions {
  readonly force: boolean
  readonly dryRun: boolean
  readonly concurrency: number
  readonly json: boolean
  readonly metricsFile: Option.Option<string>
  readonly apiKey: Option.Option<string>
  readonly csToken: Option.Option<string>
}

export interface PassSettings {
  readonly everyMs: number
  readonly lockWaitMs: number
  /** told each pass record as it is written (serve's /healthz and /metrics) */
  readonly onRecorded?: (record: PassRecord) => void
}

/**
 * One reconcile pass over every configured target, holding the lease for that pass only: the
 * appliances are connected to (and their own addresses resolved) once, here, not per pass.
 * `reconcile` and `serve` run the same pass.
 */
export const preparePass = (cfg: AppConfig, log: EventLogService, opts: PassOptions, settings: PassSettings) =>
  Effect.gen(function* () {
    // A refused connection is retried within the call here (nobody waits for a pass): an
    // appliance restarting its web service or failing over must not fail every change at once.
    const lm = cfg.loadmaster === undefined ? undefined : yield* liveLoadMaster(cfg, opts.apiKey, { retryRefused: true })
    // Once per run (not per pass): a block of an appliance's own address is never applied.
    const appliances = lm === undefined ? undefined : yield* applianceRails(cfg)
    for (const warning of appliances?.warnings ?? []) yield* Effect.logWarning(`mitigator reconcile: ${warning}`)
    const cs = cfg.cryptospike === undefined ? undefined : yield* liveCryptoSpike(cfg, opts.csToken, { retryRefused: true })
    const csSettings = cfg.cryptospike
    const logFile = localStatePath(opts, cfg)
    // One pass over each configured target; converged only when every one is.
    // The lock is held for one pass at a time, not for the life of --watch: append's immediate
    // apply takes it between passes, and waits for the end of a pass at most.
    // A pass that loses the lease midway stops at once (LockError "lease-lost"); under --watch
    // that pass fails and the next one takes the lease anew.
    return Effect.gen(function* () {
      const startedAt = yield* Clock.currentTimeMillis
      const lines: string[] = []
      const logged: Array<Effect.Effect<void>> = []
      const targets: Record<string, TargetFigures> = {}
      // What --json prints: the same facts as the summaries.
      const report: Record<string, unknown> = {}
      let converged = true
      // A target that could not be reached or read this pass (--watch backs off).
      let outage = false
      // One fold per pass, for both targets (each catches it up with what the other recorded).
      const projection = yield* openProjection(log)
      if (lm !== undefined) {
        const r = yield* reconcilePass(log, lm, {
          caps: cfg.policy.caps,
          force: opts.force,
          dryRun: opts.dryRun,
          concurrency: opts.concurrency,
          instance: instanceOf(cfg),
          protect: appliances?.rails ?? []
        }, projection)
        if (opts.dryRun) lines.push(...planLines(r, new Date(startedAt).toISOString()))
        report["loadmaster"] = {
          adds: r.plan.adds,
          removes: r.plan.removes,
          applied: r.applied,
          failed: r.failed,
          drift: r.drift,
          heldByOthers: r.relinquished,
          refusedByCaps: r.refused ?? null,
          unobserved: r.unobserved.map((target) => ({ target, reason: r.whyUnobserved[target] ?? "cannot list" })),
          problems: r.problems,
          converged: r.converged
        }
        logged.push(logTarget(`mitigator reconcile: ${cs === undefined ? "" : "loadmaster: "}${summary(r)}`, "loadmaster", r.converged, Object.entries(r.targets)))
        Object.assign(targets, r.targets)
        converged &&= r.converged
        outage ||= r.unobserved.length > 0
      }
      if (cs !== undefined && csSettings !== undefined) {
        const r = yield* reconcileCryptoSpikePass(
          log,
          cs,
          {
            caps: cfg.policy.caps,
            force: opts.force,
            dryRun: opts.dryRun,
            lookbackMs: csSettings.lookbackMs,
            graceMs: csSettings.graceMs,
            repairDrift: csSettings.repairDrift
          },
          projection
        )
        if (opts.dryRun) lines.push(...userPlanLines(r))
        report["cryptospike"] = {
          resolved: r.resolved,
          unresolved: r.unresolved,
          toBlock: r.toBlock,
          toUnblock: r.toUnblock,
          applied: r.applied,
          failed: r.failed,
          lifted: r.lifted,
          heldByOthers: r.heldByOthers,
          refusedByCaps: r.refused ?? null,
          observed: r.figures.actual !== null,
          problems: r.problems,
          converged: r.converged
        }
        logged.push(logTarget(`mitigator reconcile: cryptospike: ${userSummary(r)}`, "cryptospike", r.converged, [["cryptospike", r.figures]]))
        targets["cryptospike"] = r.figures
        converged &&= r.converged
        outage ||= r.figures.actual === null
      }
      // The plan (dry run) is the report; the summaries are log lines.
      if (opts.json) yield* Console.log(canonicalJson({ dryRun: opts.dryRun, converged: opts.dryRun ? null : converged, ...report }))
      else for (const line of lines) yield* Console.log(line)
      for (const line of logged) yield* line
      if (!opts.dryRun) {
        const endedAt = yield* Clock.currentTimeMillis
        yield* recordPass(logFile, opts.metricsFile, { startedAt, endedAt, converged, intervalMs: settings.everyMs, targets }, settings.onRecorded)
      }
      return { converged, outage }
    }).pipe(holdingReconcileLease(settings.lockWaitMs, { ttlMs: leaseTtlFor(settings.everyMs) }), Effect.scoped)
  })

/**
 * `--watch` (and `serve`): pass after pass until interrupted. A failed pass, even one with a bug
 * (a defect), is logged and recorded and the next one comes; the wait grows after outages. Fails
 * only when the log fails its chain check.
 */
export const watchPasses = <E extends { readonly _tag: string; readonly message: string }, R>(
  pass: Effect.Effect<{ readonly converged: boolean; readonly outage: boolean }, E, R>,
  logFile: string,
  settings: PassSettings & { readonly dryRun: boolean; readonly metricsFile: Option.Option<string> }
) =>
  Effect.gen(function* () {
    let outagesInARow = 0
    for (;;) {
      const startedAt = yield* Clock.currentTimeMillis
      const result = yield* Effect.either(
        Effect.catchAllDefect(pass, (defect) =>
          Effect.fail(new UsageError({ message: `unexpected error (a bug; please report it): ${defect instanceof Error ? defect.message : String(defect)}` }))
        )
      )
      // A log that fails its chain check is not retried: it stays altered until someone looks.
      if (result._tag === "Left" && result.left instanceof EventLogError && result.left.reason === "tampered") return yield* (result.left as EventLogError)
      if (result._tag === "Left") {
        yield* Effect.logError(`mitigator reconcile: pass failed: ${result.left.message}`)
        const endedAt = yield* Clock.currentTimeMillis
        if (!settings.dryRun) yield* recordPass(logFile, settings.metricsFile, { startedAt, endedAt, converged: false, intervalMs: settings.everyMs, targets: {} }, settings.onRecorded)
      }
      // Waiting for another pass (the lock) is no outage: the next pass simply comes.
      const busy = result._tag === "Left" && result.left._tag === "LockError"
      outagesInARow = busy ? outagesInARow : (result._tag === "Left" || result.right.outage) ? outagesInARow + 1 : 0
      const delay = watchDelayMs(settings.everyMs, outagesInARow)
      if (delay > settings.everyMs) {
        yield* Effect.logWarning(`mitigator reconcile: an appliance could not be reached or read (${outagesInARow} passes in a row): next pass in ${Duration.format(Duration.millis(delay))}`)
      }
      yield* Effect.sleep(Duration.millis(delay))
    }
  })

export const reconcileCommand = Command.make(
  "reconcile",
  { ...globalOptions, ...logOptions, force, dryRun, watch, interval, lockWait, concurrency, metricsFile, json: passJson, apiKey: apiKeyOption, csToken: tokenOption },
  (opts) =>
    Effect.gen(function* () {
      const cfg = yield* LoadedConfig
      const log = yield* EventLog
      const every = parseDuration(opts.interval)
      if (!every.ok) return yield* new UsageError({ message: `--interval ${every.error}` })
      if (opts.concurrency < 1) return yield* new UsageError({ message: "--concurrency must be at least 1" })
      if (opts.json && opts.watch) return yield* new UsageError({ message: "--json prints one pass's outcome: not with --watch (use --metrics-file or --log-format json)" })
      if (cfg.loadmaster === undefined && cfg.cryptospike === undefined) {
        return yield* new UsageError({ message: "the config has no `loadmaster` section and no `cryptospike` section: there is nothing to reconcile" })
      }
      const lockWait = parseDuration(opts.lockWait)
      if (!lockWait.ok) return yield* new UsageError({ message: `--lock-wait ${lockWait.error}` })
      const pass = yield* preparePass(cfg, log, opts, { everyMs: every.value, lockWaitMs: lockWait.value })
      const logFile = localStatePath(opts, cfg)
      if (!opts.watch) {
        const { converged } = yield* pass
        if (!opts.dryRun && !converged) return yield* new ExitCode({ code: 1 })
        return
      }
      // --watch: pass after pass; stopping (SIGTERM) interrupts between or inside a pass and
      // never unblocks anything: what is applied stays, and the next start picks up from the log.
      // A pass that fails, even with a bug (a defect), is logged and the next one comes: the
      // pass's scope has released the lock by then. After passes that met an outage the wait
      // grows (watchDelay.ts).
      return yield* watchPasses(pass, logFile, { everyMs: every.value, lockWaitMs: lockWait.value, dryRun: opts.dryRun, metricsFile: opts.metricsFile })
    }).pipe(Effect.scoped)
).pipe(
  Command.withDescription("Make the LoadMaster block lists match the desired state (add what is missing, remove what mitigator owns and no longer wants)"),
  Command.provide((opts) => {
    const logger = commandLogger(opts, opts.json ? "stderr" : "stdout", opts.watch)
    const log = opts.watch ? awaitedLog(opts).pipe(Layer.provide(logger)) : configuredLog(opts, false)
    return Layer.mergeAll(log, logger, ttyProgress)
  })
)

const json = Options.boolean("json").pipe(Options.withDescription("the plan as one JSON object"))

/** A target the plan could not observe, and why: the plan says nothing about it. */
interface Unobserved {
  readonly target: string
  readonly reason: string
}

export const planCommand = Command.make("plan", { ...globalOptions, json, apiKey: apiKeyOption, csToken: tokenOption }, (opts) =>
  Effect.gen(function* () {
    const cfg = yield* LoadedConfig
    const log = yield* EventLog
    if (cfg.loadmaster === undefined && cfg.cryptospike === undefined) {
      return yield* new UsageError({ message: "the config has no `loadmaster` section and no `cryptospike` section: there is nothing to plan" })
    }
    const now = new Date(yield* Clock.currentTimeMillis).toISOString()
    let pending = 0
    const unobserved: Unobserved[] = []
    // Other trouble: a user that could not be looked up leaves the plan incomplete too.
    const problems: string[] = []
    // Said, and no reason to doubt the plan: a clock that disagrees with the LoadMaster's while
    // no removal is due.
    const notes: string[] = []
    // Why reconcile would not converge, however often it ran: over the caps (refused without
    // --force), removals held while the clocks disagree. Never "in sync" then.
    const cannotConverge: string[] = []
    // A clock that disagrees with the LoadMaster's: what has expired is not known for sure.
    let clockHeld = false
    const projection = yield* openProjection(log)
    const out: Record<string, unknown> = {}
    const lines: string[] = []
    if (cfg.loadmaster !== undefined) {
      // Someone waits for a plan: a refused connection is said at once.
      const lm = yield* liveLoadMaster(cfg, opts.apiKey, { retryRefused: false })
      const { rails } = yield* applianceRails(cfg)
      const result = yield* reconcilePass(
        log,
        lm,
        { caps: cfg.policy.caps, force: false, dryRun: true, concurrency: 1, instance: instanceOf(cfg), protect: rails },
        projection
      )
      for (const target of result.unobserved) unobserved.push({ target, reason: result.whyUnobserved[target] ?? "cannot list" })
      // Nothing to list (no block wanted or owned there): the global list is read all the same,
      // or "in sync" would be said of an appliance nobody asked.
      if (Object.keys(result.targets).length === 0) {
        const probe = yield* Effect.either(lm.list(GLOBAL_SCOPE))
        if (probe._tag === "Left") unobserved.push({ target: "loadmaster:global", reason: probe.left.message })
      }
      Object.assign(out, {
        adds: result.plan.adds.map((a) => ({ ...a, left: timeLeft(a.until, now) })),
        removes: result.plan.removes,
        drift: result.drift,
        heldByOthers: result.relinquished,
        refusedByCaps: result.refused ?? null,
        heldRemovals: result.heldRemovals?.removes ?? [],
        unreachable: unobserved.map((u) => u.target)
      })
      lines.push(...planLines(result, now))
      const held = result.heldRemovals
      if (held !== undefined) {
        const by = `${formatSpan(held.behindMs)} (this clock is ${held.behindMs < 0 ? "ahead" : "behind"})`
        for (const x of held.removes) lines.push(`- ${x.target} ${x.cidr} (listed as ${x.listed}) held: this clock disagrees with the LoadMaster's by ${by}`)
        cannotConverge.push(`${held.removes.length} removal(s) held until this clock and the LoadMaster's agree (check NTP on both)`)
        clockHeld = true
      }
      if (result.refused !== undefined) {
        lines.push(`over the caps: ${result.refused} (reconcile will refuse it without --force)`)
        cannotConverge.push(`the LoadMaster plan is over the caps (${result.refused}): reconcile refuses it without --force`)
      }
      pending += result.plan.adds.length + result.plan.removes.length
      notes.push(...result.problems.filter((p) => !result.unobserved.some((t) => p.startsWith(`${t}: cannot list:`))))
    }
    const settings = cfg.cryptospike
    if (settings !== undefined) {
      const cs = yield* liveCryptoSpike(cfg, opts.csToken, { retryRefused: false })
      const r = yield* reconcileCryptoSpikePass(
        log,
        cs,
        { caps: cfg.policy.caps, force: false, dryRun: true, lookbackMs: settings.lookbackMs, graceMs: settings.graceMs, repairDrift: settings.repairDrift },
        projection
      )
      out["users"] = {
        toResolve: r.resolved + r.unresolved,
        toBlock: r.toBlock,
        toUnblock: r.toUnblock,
        lifted: r.lifted,
        heldByOthers: r.heldByOthers,
        refusedByCaps: r.refused ?? null
      }
      lines.push(...userPlanLines(r))
      if (r.resolved + r.unresolved > 0) lines.push(`~ cryptospike: ${r.resolved + r.unresolved} user(s) behind blocked addresses to look up`)
      if (r.refused !== undefined) {
        lines.push(`over the caps: cryptospike: ${r.refused} (reconcile will refuse it without --force)`)
        cannotConverge.push(`the CryptoSpike plan is over the caps (${r.refused}): reconcile refuses it without --force`)
      }
      pending += r.toBlock.length + r.toUnblock.length + r.resolved + r.unresolved
      const listing = r.figures.actual === null ? r.problems.find((p) => p.startsWith("cannot list the blocked users: ")) : undefined
      if (r.figures.actual === null) unobserved.push({ target: "cryptospike", reason: listing?.replace(/^cannot list the blocked users: /, "") ?? "cannot list the blocked users" })
      problems.push(...r.problems.filter((p) => p !== listing))
    }
    // In sync only when every configured appliance was observed and nothing else went wrong.
    const complete = unobserved.length === 0 && problems.length === 0
    if (!complete) lines.push(`incomplete: ${[...unobserved.map((u) => `${u.target} not observed`), ...(problems.length > 0 ? [`${problems.length} problem(s)`] : [])].join(", ")} (see standard error)`)
    if (cannotConverge.length > 0) lines.push(`not in sync, and reconcile would not converge: ${cannotConverge.join("; ")}`)
    else if (complete && pending === 0) lines.push("in sync: nothing to change")
    out["unobserved"] = unobserved
    out["problems"] = [...problems, ...notes]
    out["cannotConverge"] = cannotConverge
    out["inSync"] = complete && cannotConverge.length === 0 && pending === 0
    yield* Console.log(opts.json ? canonicalJson(out) : lines.join("\n"))
    for (const u of unobserved) yield* Console.error(`mitigator plan: ${u.target} could not be observed: ${u.reason}`)
    for (const p of [...problems, ...notes]) yield* Console.error(`mitigator plan: ${p}`)
    // A plan over the caps is complete and true: its changes are pending (2), for a person to
    // force or not. One made with a clock that disagrees with the appliance's is not (1).
    if (!complete || clockHeld) return yield* new ExitCode({ code: 1 })
    if (pending > 0 || cannotConverge.length > 0) return yield* new ExitCode({ code: 2 })
  }).pipe(Effect.scoped)
).pipe(
  Command.withDescription(
    "Show what reconcile would change; exit 0 in sync, 2 changes pending (or over the caps: reconcile refuses them without --force), 1 an appliance could not be observed, removals held while the clocks disagree, or another error: never 'in sync' then"
  ),
  Command.provide((opts) => configuredLog(opts, false))
)

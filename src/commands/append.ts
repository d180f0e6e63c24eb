/**
 * `mitigator append`: read Flowmon events on stdin and record each line's outcome in the log.
 * Exit 0: every non-empty line stored (duplicates count as stored); 3: some lines rejected (and
 * recorded as InputRejected), the rest stored; 1: the log could not be written.
 */
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { FlowmonEventReceived, NewEvent } from "../domain/Events.js"
import { ingestLine, type FormatChoice, type IngestOptions } from "../domain/flowmon/Ingest.js"
import type { FramedLine } from "../domain/LineFramer.js"
import { canonicalJson } from "../domain/CanonicalJson.js"
import { keyOf } from "../domain/Plan.js"
import { parseTimeZone, type TimeZone } from "../domain/Time.js"
import { CLOCK_TOLERANCE_MS, clockBehindWarning } from "./clockSkew.js"
import type { ImmediateAdd } from "../reconciler/applyAtOnce.js"
import { allowedBy, cidrOf } from "../domain/Decide.js"
import { scopeOfTarget } from "../targets/LoadMasterAcl.js"
import { entryComment } from "../targets/loadmaster/wire.js"
import { EventLog, type EventLogError } from "../eventlog/EventLog.js"
import { appendLogLines, formatLogLine, type LogFields, type LogFormat } from "../platform/LogFile.js"
import { commandLogger, fileFormat, type LogOptions } from "./logging.js"
import { readBatches, Stdin, StdinLive } from "../platform/Stdin.js"
import { holdYoungGeneration } from "../platform/YoungGeneration.js"
import type { Rail } from "../domain/Rails.js"
import { activateIfChanged, activePolicy, recordDecisions, type ActivePolicy } from "./decisions.js"
import { configuredLog, ExitCode, instanceOf, LoadedConfig, UsageError, type GlobalOptions } from "./shared.js"

export const BATCH_LINES = 2000

/** A stdin this long holds V8's young generation where it is (see holdYoungGeneration). */
const LARGE_STDIN_LINES = 4_000

/**
 * The most new blocks one `append` keeps to apply at once: an immediate apply is for the
 * detections at hand, and its deadline (--apply-timeout) ends it long before this many calls.
 * The rest are left to the next reconcile, so a stdin of a million detections holds no
 * per-source state.
 */
export const APPLY_AT_ONCE_MAX = 1000

export interface AppendSettings extends IngestOptions {
  readonly logFile: string | undefined
  /** the format of the per-line details in logFile */
  readonly logFormat: LogFormat
  readonly policy: ActivePolicy
  /** the rails for the appliances' own addresses (awaited before the first decision; default none) */
  readonly appliances?: Effect.Effect<ReadonlyArray<Rail>>
  /** how many new blocks to keep for an immediate apply (0 with --defer; default APPLY_AT_ONCE_MAX) */
  readonly applyAtOnce?: number
}

export interface AppendSummary {
  stored: number
  duplicate: number
  rejected: number
  /** optional fields that could not be read in the stored detections (each kept raw, with a warning) */
  warnings: number
  /** the first of them: `line 3: field 13 of 15 (targets, tsv15): …` */
  firstWarning: string | undefined
  /** BlockDecided events recorded */
  decided: number
  /** BlockWithheld events recorded: detections a rule matched whose source is protected */
  withheld: number
  /** the first of them: `127.0.0.1, loopback 127.0.0.0/8` */
  firstWithheld: string | undefined
  /** the LoadMaster adds those decisions call for (one per target and CIDR): what an immediate apply puts there */
  readonly toApply: Map<string, ImmediateAdd>
  /** the `${ip}|${at}` of the decisions to block the user behind an address (CryptoSpike) */
  readonly touchedUsers: Set<string>
  /** decisions not kept for an immediate apply (over APPLY_AT_ONCE_MAX): the next reconcile applies them */
  leftToReconcile: number
  firstRejection: string | undefined
  /** when this clock was behind the log's newest row by more than CLOCK_TOLERANCE_MS */
  clockBehind: { readonly clock: string; readonly newest: string; readonly behindMs: number } | undefined
}

// Host names (the default) fit: up to 253 letters, digits, dots and hyphens.
export const INSTANCE = /^[A-Za-z0-9._-]{1,253}$/

/** A summary with nothing counted yet. */
export const newAppendSummary = (): AppendSummary => ({
  stored: 0,
  duplicate: 0,
  rejected: 0,
  warnings: 0,
  firstWarning: undefined,
  decided: 0,
  withheld: 0,
  firstWithheld: undefined,
  toApply: new Map(),
  touchedUsers: new Set(),
  leftToReconcile: 0,
  firstRejection: undefined,
  clockBehind: undefined
})

/** Lines to record and the summary their outcome goes to: one stdin batch, or one POST body. */
export interface LinesToRecord {
  readonly summary: AppendSummary
  readonly lines: ReadonlyArray<FramedLine>
  /** the instance these lines come from, when not the settings' (serve: the appliance that posted them) */
  readonly instance?: string
}

/**
 * Records one batch of lines in one transaction (the policy's activation, the events, and the
 * blocks they call for) and adds what happened to `summary`: the one code path from Flowmon
 * lines to the log, for `append` (stdin) and `serve` (a POST body). When this succeeds the batch
 * is committed.
 */
export const recordLines = (settings: AppendSettings, summary: AppendSummary, lines: ReadonlyArray<FramedLine>) =>
  recordParts(settings, [{ summary, lines }])

/**
 * As recordLines for several batches at once, in one transaction, each outcome counted in its
 * own part's summary: `serve` commits the bodies of the requests that arrived together at once
 * (one commit, one fsync), and answers each with its own counts.
 */
export const recordParts = (settings: AppendSettings, parts: ReadonlyArray<LinesToRecord>) =>
  Effect.gen(function* () {
    const options = settings
    const log = yield* EventLog
    const deciding = settings.policy.policy.rules.length > 0
    // What the summary and the log file need of each event, kept small: the payloads
    // themselves are made one chunk at a time while the log writes them.
    let recorded: Array<{
      part: number
      line: number
      key: string | null
      rejection: string | undefined
      /** the reasons of the fields that could not be read */
      warnings: ReadonlyArray<string> | undefined
      /** kept only when the policy has rules to decide with */
      detection: FlowmonEventReceived | undefined
    }> = []
    const events: Iterable<NewEvent> = {
      *[Symbol.iterator]() {
        recorded = [] // a retry of the transaction starts over
        for (let part = 0; part < parts.length; part++) {
          const instance = parts[part]!.instance
          const ingest = instance === undefined ? options : { ...options, instance }
          for (const line of parts[part]!.lines) {
            const event = ingestLine(line, ingest)
            if (event === undefined) continue
            recorded.push({
              part,
              line: line.number,
              key: event.dedupeKey,
              rejection: event.type === "InputRejected" ? event.payload.reason : undefined,
              warnings: event.type === "FlowmonEventReceived" ? event.payload.warnings?.map((w) => w.reason) : undefined,
              detection: deciding && event.type === "FlowmonEventReceived" ? event.payload : undefined
            })
            yield event
          }
        }
      }
    }
    // Resolved once, before the first transaction that may decide (never inside one: it holds the lock).
    const appliances = deciding && settings.appliances !== undefined ? yield* settings.appliances : []
    // One transaction: the policy's activation, the events, and the blocks they call for.
    const { outcomes, decided, seqs, withheld, allows, clock, skew } = yield* log.transaction((tx) =>
      Effect.gen(function* () {
        yield* activateIfChanged(tx, settings.policy)
        const outcomes = yield* tx.append(events)
        const detections = outcomes.flatMap((outcome, i) => {
          const detection = recorded[i]?.detection
          return outcome._tag === "Stored" && detection !== undefined ? [{ seq: outcome.seq, event: detection }] : []
        })
        const { decided, seqs, withheld } = yield* recordDecisions(tx, settings.policy, detections, appliances)
        // An operator's allow holds a block back (the projection's rule): not applied at once either.
        const allows = decided.some((d) => d.subject.kind === "ip") ? yield* tx.operatorAllows : []
        const skew = tx.clockBehindMs > CLOCK_TOLERANCE_MS ? { clock: tx.clock, newest: tx.recordedAt, behindMs: tx.clockBehindMs } : undefined
        return { outcomes, decided, seqs, withheld, allows, clock: tx.clock, skew }
      })
    )
    // Which part each stored detection came from: its decisions count there.
    const partOf = new Map<number, number>()
    if (parts.length > 1) outcomes.forEach((outcome, i) => outcome._tag === "Stored" && partOf.set(outcome.seq, recorded[i]!.part))
    const summaryOf = (causeSeq: number): AppendSummary => parts[partOf.get(causeSeq) ?? 0]!.summary
    for (const { summary } of parts) summary.clockBehind ??= skew
    for (const w of withheld) {
      const summary = summaryOf(w.cause.seq)
      summary.withheld++
      summary.firstWithheld ??= `${w.cause.source}, ${w.protection}`
    }
    const applyAtOnce = settings.applyAtOnce ?? APPLY_AT_ONCE_MAX
    decided.forEach((d, i) => {
      const summary = summaryOf(d.cause.seq)
      summary.decided++
      if (d.subject.kind !== "ip") {
        const user = `${d.subject.ip}|${d.subject.at}`
        if (summary.touchedUsers.size < applyAtOnce) summary.touchedUsers.add(user)
        else if (!summary.touchedUsers.has(user)) summary.leftToReconcile++
        return
      }
      const key = keyOf(d.target, d.subject.cidr)
      if (scopeOfTarget(d.target) === undefined || summary.toApply.has(key)) return
      if (summary.toApply.size >= applyAtOnce) return void summary.leftToReconcile++
      if (allowedBy(allows, cidrOf(d.subject.cidr), clock) !== undefined) return
      const seq = seqs[i]!
      const comment = entryComment({ instance: d.cause.instance, seq, product: d.cause.product, method: d.cause.method })
      summary.toApply.set(key, { target: d.target, cidr: d.subject.cidr, comment, causeSeq: seq })
    })
    const time = new Date().toISOString()
    const logLines: string[] = []
    const detail = (fields: LogFields) => {
      if (settings.logFile !== undefined) logLines.push(formatLogLine(settings.logFormat, { time, ...fields }))
    }
    outcomes.forEach((outcome, i) => {
      const { part, line, key, rejection, warnings } = recorded[i]!
      const summary = parts[part]!.summary
      if (rejection !== undefined) {
        summary.rejected++
        summary.firstRejection ??= `line ${line}: ${rejection}`
        detail({ level: "warn", msg: "rejected", line, seq: outcome.seq, reason: rejection })
      } else if (outcome._tag === "Duplicate") {
        summary.duplicate++
        detail({ level: "info", msg: "duplicate", line, seq: outcome.seq, key })
      } else {
        summary.stored++
        detail({ level: "info", msg: "stored", line, seq: outcome.seq, key })
      }
      // A duplicate's warnings were counted when it was first stored.
      if (warnings !== undefined && outcome._tag !== "Duplicate") {
        summary.warnings += warnings.length
        summary.firstWarning ??= `line ${line}: ${warnings[0]}`
        for (const reason of warnings) detail({ level: "warn", msg: "field not read, kept raw", line, seq: outcome.seq, reason })
      }
    })
    for (const w of withheld) {
      detail({ level: "info", msg: "not blocked: protected", seq: w.cause.seq, source: w.cause.source, rule: w.rule, protection: w.protection })
    }
    if (settings.logFile !== undefined) appendLogLines(settings.logFile, logLines)
  })

/** Reads every line of stdin into the log; returns what happened to them. */
export const appendFromStdin = (settings: AppendSettings) =>
  Effect.gen(function* () {
    const log = yield* EventLog
    const stdin = yield* Stdin
    const summary = newAppendSummary()
    let linesRead = 0

    const recordBatch = (lines: ReadonlyArray<FramedLine>) =>
      Effect.suspend(() => {
        // A full batch is a large stdin: hold the young generation before it grows (it grows
        // within the first batches); a single detection's append never gets here.
        linesRead += lines.length
        if (lines.length >= BATCH_LINES || linesRead >= LARGE_STDIN_LINES) holdYoungGeneration()
        return Effect.provideService(recordLines(settings, summary, lines), EventLog, log)
      })

    const result = yield* readBatches(
      stdin,
      {
        max: BATCH_LINES,
        // Lines that arrive together are recorded together; a slow producer still gets each line
        // recorded promptly.
        windowMs: 20,
        onReadError: (e) => new UsageError({ message: `reading standard input: ${e instanceof Error ? e.message : String(e)}` })
      },
      recordBatch
    ).pipe(Effect.either)
    return { summary, failure: result._tag === "Left" ? Option.some(result.left) : Option.none<EventLogError | UsageError>() }
  })

export const formatSummary = (s: AppendSummary): string => {
  const decided = s.decided > 0 ? `, ${s.decided} blocks decided` : ""
  const withheld = s.withheld > 0 ? `, ${s.withheld} not blocked: protected (first: ${s.firstWithheld})` : ""
  // Only when there are some: the line stays as it always was for clean input.
  const warnings = s.warnings > 0 ? `, ${s.warnings} field warnings (fields not read, kept raw; first: ${s.firstWarning})` : ""
  const parts = `${s.stored} stored, ${s.duplicate} duplicate, ${s.rejected} rejected${warnings}${decided}${withheld}`
  return s.firstRejection === undefined ? parts : `${parts} (first: ${s.firstRejection})`
}

/** What `append` is started with: its command line (appendCommand.ts, or appendArgs.ts on the fast path) and environment. */
export interface AppendOptions extends GlobalOptions, LogOptions {
  readonly defer: boolean
  readonly instance: Option.Option<string>
  readonly timezone: Option.Option<TimeZone>
  readonly format: FormatChoice
  /** ms */
  readonly applyTimeout: number
  readonly json: boolean
  readonly apiKey: Option.Option<string>
  readonly csToken: Option.Option<string>
}

/**
 * How often the head file follows a long stdin (SqliteEventLogOptions.headEveryMs): a detection's
 * `append` writes it at its one commit, as before; a stdin of many batches every quarter second
 * and when the log closes, instead of after every batch (a write, an fsync and a rename each:
 * about 4% of a 100,000-line ingest).
 */
const HEAD_EVERY_MS = 250

/** The layers `append` runs with: the log (created when missing), stdin, its logger. */
export const appendLayers = (opts: AppendOptions) =>
  Layer.mergeAll(configuredLog(opts, true, { headEveryMs: HEAD_EVERY_MS }), StdinLive, commandLogger(opts, "stderr"))

/** `append` itself, its options read. */
export const runAppend = (opts: AppendOptions) =>
    Effect.gen(function* () {
      const cfg = yield* LoadedConfig
      // The config validated its own timezone already.
      const zone = parseTimeZone(Option.getOrUndefined(opts.timezone) ?? cfg.timezone ?? "UTC")
      if (!zone.ok) return yield* new UsageError({ message: zone.error })
      // The appliances' addresses are resolved while stdin is read, and only when there is a
      // policy to decide with (IP literals need no lookup).
      const resolving =
        cfg.source !== null && cfg.policy.rules.length > 0
          ? yield* Effect.fork(
              Effect.promise(() => import("./appliances.js")).pipe(
                Effect.flatMap(({ applianceRails }) => applianceRails(cfg)),
                Effect.flatMap(({ rails, warnings }) =>
                  Effect.as(Effect.forEach(warnings, (w) => Effect.logWarning(`mitigator append: ${w}`)), rails)
                )
              )
            )
          : undefined
      const settings: AppendSettings = {
        instance: Option.getOrUndefined(opts.instance) ?? instanceOf(cfg),
        timeZone: zone.value,
        format: opts.format,
        logFile: Option.getOrUndefined(opts.logFile),
        logFormat: fileFormat(opts),
        policy: activePolicy(cfg.policy, cfg.source),
        applyAtOnce: opts.defer ? 0 : APPLY_AT_ONCE_MAX,
        ...(resolving === undefined ? {} : { appliances: Fiber.join(resolving) })
      }
      if (cfg.source === null) {
        yield* Effect.logWarning(
          "mitigator append: no config file (--config, MITIGATOR_CONFIG or ./mitigator.yaml): events are recorded, no blocks are decided"
        )
      }
      if (process.stdin.isTTY === true) {
        yield* Console.error("mitigator append: reading Flowmon events from standard input (end with Ctrl-D)")
      }
      const { summary, failure } = yield* appendFromStdin(settings)
      const counts = {
        stored: summary.stored,
        duplicate: summary.duplicate,
        rejected: summary.rejected,
        decided: summary.decided,
        ...(summary.warnings > 0 ? { warnings: summary.warnings } : {}),
        ...(summary.withheld > 0 ? { withheld: summary.withheld } : {})
      }
      if (Option.isSome(failure)) {
        yield* Effect.logError(`mitigator append: ${formatSummary(summary)}; stopped by the error below, later lines were not recorded`).pipe(
          Effect.annotateLogs({ ...counts, error: failure.value.message })
        )
        return yield* failure.value
      }
      yield* (summary.rejected > 0 || summary.warnings > 0 ? Effect.logWarning : Effect.logInfo)(`mitigator append: ${formatSummary(summary)}`).pipe(Effect.annotateLogs(counts))
      if (summary.clockBehind !== undefined) yield* Effect.logWarning(`mitigator append: ${clockBehindWarning(summary.clockBehind)}`)
      const lm = !opts.defer && summary.toApply.size > 0 && cfg.loadmaster !== undefined
      const cs = !opts.defer && summary.touchedUsers.size > 0 && cfg.cryptospike !== undefined
      const applied: Record<string, unknown> = {}
      if (lm || cs) {
        // Loaded only when there is something to apply: a deferred append never loads HTTP or TLS.
        const { applyNow, applyUsersNow } = yield* Effect.promise(() => import("./applyNow.js"))
        if (lm) applied["loadmaster"] = yield* applyNow(cfg, opts, [...summary.toApply.values()], opts.applyTimeout)
        if (cs) applied["cryptospike"] = yield* applyUsersNow(cfg, opts, summary.touchedUsers, opts.applyTimeout)
      }
      if (opts.json) {
        yield* Console.log(
          canonicalJson({
            ...counts,
            firstRejection: summary.firstRejection ?? null,
            firstWarning: summary.firstWarning ?? null,
            deferred: opts.defer,
            leftToReconcile: summary.leftToReconcile,
            appliedAtOnce: applied
          })
        )
      }
      if (!opts.defer && summary.leftToReconcile > 0) {
        yield* Effect.logInfo(`mitigator append: ${summary.leftToReconcile} more new blocks are left to the next reconcile (one append applies at most ${APPLY_AT_ONCE_MAX} at once)`)
      }
      if (summary.rejected > 0) return yield* new ExitCode({ code: 3 })
    })

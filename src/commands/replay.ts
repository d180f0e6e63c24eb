/**
 * `mitigator replay [--at T] [--json]`: the desired state as of T (default now), computed only from
 * the events recorded up to T, with reasons. `--events`: the recorded events themselves instead.
 * --ip, --user, --rule and --since narrow either (all given must hold).
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Clock from "effect/Clock"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { canonicalJson } from "../domain/CanonicalJson.js"
import { summaryOf } from "../domain/EventSummary.js"
import { parseFlowmonTime, type TimeZone } from "../domain/Time.js"
import { eventFilter, filterState, hasFilters } from "../domain/Filter.js"
import { EventLog, streamEvents, type StoredEvent } from "../eventlog/EventLog.js"
import { filterOptions, readFilters } from "./filters.js"
import { ttyProgress } from "../platform/Progress.js"
import { desiredStateAt } from "../projection/desiredState.js"
import { renderState } from "./renderState.js"
import { configuredLog, UsageError } from "./shared.js"
import { globalOptions } from "./options.js"

/** One readable line per event: what an auditor scans for. */
export const describeEvent = (event: StoredEvent): string => `${event.seq}\t${event.recordedAt}\t${event.type}\t${summaryOf(event.type, event.payload)}`

const asJsonLine = (e: StoredEvent): string =>
  JSON.stringify({ seq: e.seq, recordedAt: e.recordedAt, type: e.type, payload: e.payload })

const events = Options.boolean("events").pipe(Options.withDescription("print the recorded events instead of the state"))
const json = Options.boolean("json").pipe(
  Options.withDescription("JSON: the state as one stable (sorted) object; with --events, one object per line: seq, recordedAt, type, payload")
)
const at = Options.text("at").pipe(
  Options.withDescription("only what was recorded at or before this time (ISO 8601; without a zone: UTC)"),
  Options.optional
)

export const replayCommand = Command.make("replay", { ...globalOptions, events, json, at, ...filterOptions }, (opts) =>
  Effect.gen(function* () {
    let until: string | undefined
    if (Option.isSome(opts.at)) {
      const parsed = parseFlowmonTime(opts.at.value, "UTC" as TimeZone)
      if (!parsed.ok) return yield* new UsageError({ message: `--at: ${parsed.error}` })
      until = parsed.value
    }
    const log = yield* EventLog
    const filters = yield* readFilters(opts, log)
    if (!opts.events) {
      // The desired state as of T, from the events recorded up to T only.
      const at = until ?? new Date(yield* Clock.currentTimeMillis).toISOString()
      const state = filterState(yield* desiredStateAt(log, at, { cutAt: at }), filters)
      return yield* Console.log(opts.json ? canonicalJson(state) : renderState(state))
    }
    const render = opts.json ? asJsonLine : describeEvent
    const kept = hasFilters(filters) ? eventFilter(filters) : () => true
    // --since alone starts at its first event; with other filters, from the start, as they learn
    // from earlier events (the users found behind an address, the decisions of a rule).
    const onlySince = filters.sinceSeq !== undefined && filters.ip === undefined && filters.user === undefined && filters.rule === undefined
    // One write per page of the log, not per event.
    yield* streamEvents(log, { ...(until === undefined ? {} : { until }), ...(onlySince ? { afterSeq: filters.sinceSeq! - 1 } : {}) }).pipe(
      Stream.runForEachChunk((page) => {
        const lines = [...page].filter(kept).map(render)
        return lines.length === 0 ? Effect.void : Console.log(lines.join("\n"))
      })
    )
  })
).pipe(
  Command.withDescription("The desired state as of a time (--at), with reasons; or the recorded events (--events)"),
  Command.provide((opts) => Layer.merge(configuredLog(opts, false), ttyProgress))
)

/**
 * `mitigator replay --events [--json] [--at T]`: print the log as recorded, in seq order.
 * (Replaying the desired state as of T arrives with the projection.)
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { parseFlowmonTime, type TimeZone } from "../domain/Time.js"
import { EventLog, streamEvents, type StoredEvent } from "../eventlog/EventLog.js"
import { configuredLog, globalOptions, UsageError } from "./shared.js"

type Payload = Record<string, unknown>

const str = (v: unknown): string => (typeof v === "string" ? v : JSON.stringify(v))

/** One readable line per event: what an auditor scans for. */
export const describeEvent = (event: StoredEvent): string => {
  const p = (event.payload ?? {}) as Payload
  let what: string
  switch (event.type) {
    case "FlowmonEventReceived": {
      const targets = Array.isArray(p["targets"]) ? (p["targets"] as string[]) : []
      const shown = targets.length === 0 ? "" : ` -> ${targets[0]}${targets.length > 1 ? ` (+${targets.length - 1})` : ""}`
      const kind = p["product"] === "ids" ? `IDS ${str(p["description"])}` : str(p["method"])
      what = `${str(p["product"])} ${str(p["instance"])}#${str(p["eventId"])} ${kind} ${str(p["priority"] ?? "-")} ${str(p["source"])}${shown} [${str(p["format"])}]`
      break
    }
    case "InputRejected":
      what = `line ${str(p["line"])}: ${str(p["reason"])}`
      break
    default:
      what = JSON.stringify(p)
  }
  return `${event.seq}\t${event.recordedAt}\t${event.type}\t${what}`
}

const asJsonLine = (e: StoredEvent): string =>
  JSON.stringify({ seq: e.seq, recordedAt: e.recordedAt, type: e.type, payload: e.payload })

const events = Options.boolean("events").pipe(Options.withDescription("print the recorded events"))
const json = Options.boolean("json").pipe(Options.withDescription("one JSON object per line: seq, recordedAt, type, payload"))
const at = Options.text("at").pipe(
  Options.withDescription("only what was recorded at or before this time (ISO 8601; without a zone: UTC)"),
  Options.optional
)

export const replayCommand = Command.make("replay", { ...globalOptions, events, json, at }, (opts) =>
  Effect.gen(function* () {
    if (!opts.events) {
      return yield* new UsageError({
        message: "replay needs --events in this version (it prints the recorded events); the state as of a time comes with the policy and projection"
      })
    }
    let until: string | undefined
    if (Option.isSome(opts.at)) {
      const parsed = parseFlowmonTime(opts.at.value, "UTC" as TimeZone)
      if (!parsed.ok) return yield* new UsageError({ message: `--at: ${parsed.error}` })
      until = parsed.value
    }
    const log = yield* EventLog
    const render = opts.json ? asJsonLine : describeEvent
    // One write per page of the log, not per event.
    yield* streamEvents(log, until === undefined ? {} : { until }).pipe(
      Stream.runForEachChunk((page) => (page.length === 0 ? Effect.void : Console.log([...page].map(render).join("\n"))))
    )
  })
).pipe(
  Command.withDescription("Print the event log (--events), optionally as NDJSON (--json) and up to a time (--at)"),
  Command.provide((opts) => configuredLog(opts, false))
)

/**
 * `mitigator replay [--at T] [--json]`: the desired state as of T (default now), computed only from
 * the events recorded up to T, with reasons. `--events`: the recorded events themselves instead.
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
import { parseFlowmonTime, type TimeZone } from "../domain/Time.js"
import { EventLog, streamEvents, type StoredEvent } from "../eventlog/EventLog.js"
import { ttyProgress } from "../platform/Progress.js"
import { desiredStateAt } from "../projection/desiredState.js"
import { renderState } from "./renderState.js"
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
      const warnings = Array.isArray(p["warnings"]) ? (p["warnings"] as Payload[]).map((w) => str(w["field"])) : []
      const unread = warnings.length === 0 ? "" : ` (not read: ${warnings.join(", ")})`
      what = `${str(p["product"])} ${str(p["instance"])}#${str(p["eventId"])} ${kind} ${str(p["priority"] ?? "-")} ${str(p["source"])}${shown} [${str(p["format"])}]${unread}`
      break
    }
    case "InputRejected":
      what = `line ${str(p["line"])}: ${str(p["reason"])}`
      break
    case "PolicyActivated": {
      const policy = (p["policy"] ?? {}) as Payload
      const rules = Array.isArray(policy["rules"]) ? policy["rules"].length : 0
      const allow = Array.isArray(policy["allowlist"]) ? policy["allowlist"].length : 0
      const never = Array.isArray(policy["neverBlock"]) ? policy["neverBlock"].length : 0
      what = `policy ${str(p["hash"]).slice(0, 12)} from ${str(p["source"])}: ${rules} rules, ${allow} allowlist entries${never > 0 ? `, ${never} neverBlock entries` : ""}`
      break
    }
    case "BlockDecided":
    case "BlockRequested": {
      const subject = (p["subject"] ?? {}) as Payload
      const what_ = subject["kind"] === "ip" ? str(subject["cidr"]) : `user behind ${str(subject["ip"])}`
      const cause = (p["cause"] ?? {}) as Payload
      const why =
        event.type === "BlockDecided"
          ? `rule ${str(p["rule"])}, offence ${str(p["offence"])}, cause seq ${str(cause["seq"])}`
          : `by ${str(p["actor"])}: ${str(p["reason"])}`
      what = `${what_} on ${str(p["target"])} for ${str(p["ttl"])} until ${str(p["until"])} (${why})`
      break
    }
    case "BlockWithheld": {
      const cause = (p["cause"] ?? {}) as Payload
      const targets = Array.isArray(p["targets"]) ? (p["targets"] as unknown[]).map(str).join(", ") : ""
      what = `not blocked: protected (${str(p["protection"])}): ${str(cause["source"])} on ${targets} (rule ${str(p["rule"])}, cause seq ${str(cause["seq"])})`
      break
    }
    case "UnblockRequested":
      what = `${str(p["cidr"])} on ${p["target"] === null ? "every target" : str(p["target"])} (by ${str(p["actor"])}: ${str(p["reason"])})`
      break
    case "AllowRequested":
      what = `${str(p["cidr"])} ${p["until"] === null ? "for good" : `until ${str(p["until"])}`} (by ${str(p["actor"])}: ${str(p["reason"])})`
      break
    case "UserResolved": {
      const name = str(p["userPrincipalName"] ?? "") || str(p["userName"] ?? "")
      what = `the user behind ${str(p["ip"])} (seen ${str(p["at"])}) is ${name === "" ? str(p["userId"]) : `${name} (${str(p["userId"])})`}, found by ${str(p["via"])}`
      break
    }
    case "UserResolutionFailed": {
      const matches = Array.isArray(p["matches"]) ? (p["matches"] as Payload[]) : undefined
      const candidates = matches?.map((m) => {
        const name = str(m["userPrincipalName"] ?? "") || str(m["userName"] ?? "")
        return name === "" ? str(m["userId"]) : `${name} (${str(m["userId"])})`
      }) ?? (Array.isArray(p["candidates"]) ? (p["candidates"] as unknown[]).map(str) : [])
      const named = typeof p["searched"] === "string" ? ` named ${p["searched"]}` : ""
      what = `the user behind ${str(p["ip"])} (seen ${str(p["at"])}) is not resolved: ${p["reason"] === "ambiguous" ? `ambiguous${named} (${candidates.join(", ")})` : `no user found${named}`}`
      break
    }
    case "ClockSkewObserved":
      what = `this run's clock (${str(p["clock"])}) was ${Math.round(Math.abs(Number(p["behindMs"])) / 1000)}s ${Number(p["behindMs"]) < 0 ? "ahead of" : "behind"} ${p["against"] === "log" ? "the newest event" : `the ${str(p["against"])}'s clock`} (${str(p["reference"])})`
      break
    case "LeaseTakenOver": {
      const previous = p["previous"] as Payload | null
      what = `${str(p["lease"])} taken by pid ${str(p["pid"])} from ${previous === null ? "an unreadable lease" : `pid ${str(previous["pid"])}`} (${str(p["reason"])})`
      break
    }
    case "CheckpointSaved":
      what = `checkpoint of the projection (version ${str(p["version"])}) after seq ${str(p["seq"])}, state sha256 ${str(p["stateSha256"]).slice(0, 12)}`
      break
    default:
      what = JSON.stringify(p)
  }
  return `${event.seq}\t${event.recordedAt}\t${event.type}\t${what}`
}

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

export const replayCommand = Command.make("replay", { ...globalOptions, events, json, at }, (opts) =>
  Effect.gen(function* () {
    let until: string | undefined
    if (Option.isSome(opts.at)) {
      const parsed = parseFlowmonTime(opts.at.value, "UTC" as TimeZone)
      if (!parsed.ok) return yield* new UsageError({ message: `--at: ${parsed.error}` })
      until = parsed.value
    }
    const log = yield* EventLog
    if (!opts.events) {
      // The desired state as of T, from the events recorded up to T only.
      const at = until ?? new Date(yield* Clock.currentTimeMillis).toISOString()
      const state = yield* desiredStateAt(log, at, { cutAt: at })
      return yield* Console.log(opts.json ? canonicalJson(state) : renderState(state))
    }
    const render = opts.json ? asJsonLine : describeEvent
    // One write per page of the log, not per event.
    yield* streamEvents(log, until === undefined ? {} : { until }).pipe(
      Stream.runForEachChunk((page) => (page.length === 0 ? Effect.void : Console.log([...page].map(render).join("\n"))))
    )
  })
).pipe(
  Command.withDescription("The desired state as of a time (--at), with reasons; or the recorded events (--events)"),
  Command.provide((opts) => Layer.merge(configuredLog(opts, false), ttyProgress))
)

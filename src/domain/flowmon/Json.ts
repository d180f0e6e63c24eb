/**
 * JSON lines (ADS 12.5+): one object per line. An object with `timestamp` is an ADS event, one
 * with `firstSeen` an IDS event (the keys Progress' own scripts read). Only the keys known from
 * Progress' scripts are read; the whole line is kept in `raw`, so nothing else is lost.
 *
 * A value of the wrong type under `id`, `timestamp`/`firstSeen` or `source`/`srcIp` rejects the
 * line; under any other key it costs that key only: its empty value, and a warning keeping the
 * value as JSON.
 */
import type { FieldWarning } from "../Events.js"
import { buildAdsEvent, buildIdsEvent, fieldWarning, type BuildResult, type ParseContext } from "./Build.js"

class JsonTypeError {
  constructor(readonly reason: string) {}
}

const typeName = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v)

/** Build names some fields by meaning; a message must name the JSON key the value came from. */
const JSON_KEY: Record<string, string> = { detectedAt: "timestamp", firstFlowAt: "firstFlowTimestamp", method: "type" }

const label = (key: string) => `key "${JSON_KEY[key] ?? key}"`

type Obj = Record<string, unknown>

/** A text value: strings as they are, finite numbers as decimal text; absent or null → fallback. */
const text = (o: Obj, key: string, opts: { required?: boolean; fallback?: string } = {}): string => {
  const v = o[key]
  if (v === undefined || v === null) {
    if (opts.required === true) throw new JsonTypeError(`${label(key)}: missing`)
    return opts.fallback ?? ""
  }
  if (typeof v === "string") return v
  if (typeof v === "number" && Number.isFinite(v)) return String(v)
  throw new JsonTypeError(`${label(key)}: expected a string, got ${typeName(v)}`)
}

const asJson = (v: unknown): string => {
  try {
    return JSON.stringify(v) ?? String(v)
  } catch {
    return String(v)
  }
}

/** The warnings of one object; allocated on the first one only. */
interface Soft {
  list: FieldWarning[] | undefined
}

/** Event field names where they differ from the JSON key. */
const FIELD: Record<string, string> = {
  typeDesc: "description",
  netFlowSource: "dataFeed",
  firstFlowTimestamp: "firstFlowAt",
  type: "method",
  lastSeen: "ids.lastSeen",
  srcPort: "ids.sourcePort",
  dstPort: "ids.targetPort",
  signatureId: "signature.id",
  signatureName: "signature.name",
  logSourceIp: "ids.logSourceIp",
  logSourceInterface: "ids.logSourceInterface",
  category: "ids.category",
  dstIp: "targets"
}

/** `text` for a key the event can do without: a value of the wrong type is `fallback` with a warning. */
const softText = <F extends string | null>(soft: Soft, o: Obj, key: string, fallback: F): string | F => {
  const v = o[key]
  if (v === undefined || v === null) return fallback
  if (typeof v === "string") return v
  if (typeof v === "number" && Number.isFinite(v)) return String(v)
  ;(soft.list ??= []).push(fieldWarning(FIELD[key] ?? key, asJson(v), `${label(key)}: expected a string, got ${typeName(v)}; stored without it`))
  return fallback
}

/** The id: a whole number or a string. */
const id = (o: Obj): string => {
  const v = o["id"]
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v) || v < 0) throw new JsonTypeError(`${label("id")}: ${v} is not a whole number`)
    return String(v)
  }
  if (typeof v === "string") return v
  if (v === undefined || v === null) throw new JsonTypeError(`${label("id")}: missing`)
  throw new JsonTypeError(`${label("id")}: expected a number or a string, got ${typeName(v)}`)
}

/** `softText` for a key the layout may not have at all: absent is null. */
const softOptional = (soft: Soft, o: Obj, key: string): string | null => (o[key] === undefined ? null : softText(soft, o, key, ""))

const listWarning = (soft: Soft, key: string, v: unknown, reason: string): void => {
  ;(soft.list ??= []).push(fieldWarning("targets", asJson(v), `${label(key)}${reason}`))
}

/** Targets: a ", "-separated string or an array of strings; other items are left out with a warning. */
const list = (soft: Soft, o: Obj, key: string): string[] => {
  const v = o[key]
  if (v === undefined || v === null) return []
  if (typeof v === "string") return [v]
  if (Array.isArray(v)) {
    const strings = v.filter((item): item is string => typeof item === "string")
    if (strings.length < v.length) {
      const i = v.findIndex((item) => typeof item !== "string")
      listWarning(soft, key, v, `[${i}]: expected a string, got ${typeName(v[i])}; kept the ${strings.length} string item(s)`)
    }
    return strings
  }
  listWarning(soft, key, v, `: expected a string or an array of strings, got ${typeName(v)}; stored without targets`)
  return []
}

export const parseJsonLine = (line: string, ctx: ParseContext): BuildResult => {
  let value: unknown
  try {
    value = JSON.parse(line)
  } catch (e) {
    return { ok: false, reason: `invalid JSON: ${e instanceof Error ? e.message : String(e)}` }
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, reason: `expected a JSON object, got ${typeName(value)}` }
  }
  const o = value as Obj
  try {
    if ("timestamp" in o) {
      const soft: Soft = { list: undefined }
      return buildAdsEvent(
        {
          id: id(o),
          detectedAt: text(o, "timestamp", { required: true }),
          source: text(o, "source", { required: true }),
          firstFlowAt: softOptional(soft, o, "firstFlowTimestamp"),
          method: softText(soft, o, "type", ""),
          subtype: softOptional(soft, o, "subtype"),
          mitre: softOptional(soft, o, "mitre"),
          description: softText(soft, o, "typeDesc", ""),
          perspective: softText(soft, o, "perspective", ""),
          priority: softText(soft, o, "severity", ""),
          detail: softText(soft, o, "detail", ""),
          ports: softOptional(soft, o, "ports"),
          protocol: softOptional(soft, o, "protocol"),
          sourceName: softOptional(soft, o, "sourceName"),
          targets: list(soft, o, "targets"),
          dataFeed: softText(soft, o, "netFlowSource", ""),
          userIdentity: softText(soft, o, "userIdentity", ""),
          warnings: soft.list
        },
        label,
        "json",
        line,
        ctx
      )
    }
    if ("firstSeen" in o) {
      const soft: Soft = { list: undefined }
      return buildIdsEvent(
        {
          id: id(o),
          firstSeen: text(o, "firstSeen", { required: true }),
          srcIp: text(o, "srcIp", { required: true }),
          lastSeen: softOptional(soft, o, "lastSeen"),
          srcPort: softText(soft, o, "srcPort", ""),
          dstIp: list(soft, o, "dstIp"),
          dstPort: softText(soft, o, "dstPort", ""),
          protocol: softOptional(soft, o, "protocol"),
          signatureId: softText(soft, o, "signatureId", ""),
          signatureName: softText(soft, o, "signatureName", ""),
          logSourceIp: softText(soft, o, "logSourceIp", ""),
          logSourceInterface: softText(soft, o, "logSourceInterface", ""),
          category: softText(soft, o, "category", ""),
          severity: softText(soft, o, "severity", ""),
          warnings: soft.list
        },
        label,
        "json",
        line,
        ctx
      )
    }
    return { ok: false, reason: 'JSON object has neither "timestamp" (ADS event) nor "firstSeen" (IDS event)' }
  } catch (e) {
    if (e instanceof JsonTypeError) return { ok: false, reason: e.reason }
    throw e
  }
}

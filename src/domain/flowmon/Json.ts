/**
 * JSON lines (ADS 12.5+): one object per line. An object with `timestamp` is an ADS event, one
 * with `firstSeen` an IDS event (the keys Progress' own scripts read). Only the keys known from
 * Progress' scripts are read; the whole line is kept in `raw`, so nothing else is lost.
 */
import { buildAdsEvent, buildIdsEvent, type BuildResult, type ParseContext } from "./Build.js"

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

const optionalText = (o: Obj, key: string): string | null => (o[key] === undefined ? null : text(o, key))

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

/** Targets: a ", "-separated string or an array of strings. */
const list = (o: Obj, key: string): string[] => {
  const v = o[key]
  if (v === undefined || v === null) return []
  if (typeof v === "string") return [v]
  if (Array.isArray(v)) {
    return v.map((item, i) => {
      if (typeof item !== "string") throw new JsonTypeError(`${label(key)}[${i}]: expected a string, got ${typeName(item)}`)
      return item
    })
  }
  throw new JsonTypeError(`${label(key)}: expected a string or an array of strings, got ${typeName(v)}`)
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
      return buildAdsEvent(
        {
          id: id(o),
          detectedAt: text(o, "timestamp", { required: true }),
          firstFlowAt: optionalText(o, "firstFlowTimestamp"),
          method: text(o, "type", { required: true }),
          subtype: optionalText(o, "subtype"),
          mitre: optionalText(o, "mitre"),
          description: text(o, "typeDesc"),
          perspective: text(o, "perspective"),
          priority: text(o, "severity"),
          detail: text(o, "detail"),
          ports: optionalText(o, "ports"),
          protocol: optionalText(o, "protocol"),
          source: text(o, "source", { required: true }),
          sourceName: optionalText(o, "sourceName"),
          targets: list(o, "targets"),
          dataFeed: text(o, "netFlowSource"),
          userIdentity: text(o, "userIdentity")
        },
        label,
        "json",
        line,
        ctx
      )
    }
    if ("firstSeen" in o) {
      return buildIdsEvent(
        {
          id: id(o),
          firstSeen: text(o, "firstSeen", { required: true }),
          lastSeen: optionalText(o, "lastSeen"),
          srcIp: text(o, "srcIp", { required: true }),
          srcPort: text(o, "srcPort"),
          dstIp: list(o, "dstIp"),
          dstPort: text(o, "dstPort"),
          protocol: optionalText(o, "protocol"),
          signatureId: text(o, "signatureId"),
          signatureName: text(o, "signatureName"),
          logSourceIp: text(o, "logSourceIp"),
          logSourceInterface: text(o, "logSourceInterface"),
          category: text(o, "category"),
          severity: text(o, "severity")
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

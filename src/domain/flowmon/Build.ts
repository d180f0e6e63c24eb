/**
 * Turns the named values of one ADS or IDS event (whatever layout they came from) into a
 * validated `FlowmonEventReceived`. Layout parsers extract strings and say how to name each
 * field in an error message; everything about meaning and validity lives here.
 *
 * Only the event id, the detection time and the source decide whether a detection can be
 * stored: without them it cannot be told apart, placed in time or blocked. Any other field that
 * cannot be read (a target list cut off with an ellipsis, a first-flow time cut short, a method
 * code that is not one) costs that field, not the event: it keeps what could be read (or its
 * empty value) and a `FieldWarning` with the text as received. Real exports shorten long fields.
 */
import { parseIpAddress } from "../Address.js"
import type { CefDetails, FieldWarning, FlowmonEventReceived, InputFormat, Priority } from "../Events.js"
import { quote } from "../SafeText.js"
import { parseFlowmonTime, type TimeZone } from "../Time.js"

export interface ParseContext {
  readonly instance: string
  readonly timeZone: TimeZone
}

/** Either the event, or why not (a sentence naming the field and what was wrong). */
export type BuildResult = { readonly ok: true; readonly event: FlowmonEventReceived } | { readonly ok: false; readonly reason: string }

class FieldError {
  constructor(readonly reason: string) {}
}

/** How much of a damaged field a warning keeps (the whole line is in the event's `raw`). */
export const MAX_WARNING_RAW = 1024

export const fieldWarning = (field: string, raw: string, reason: string): FieldWarning => ({
  field,
  raw: raw.length > MAX_WARNING_RAW ? `${raw.slice(0, MAX_WARNING_RAW)}...` : raw,
  reason
})

/** Collects the warnings of one event; allocates nothing until the first one (clean lines are the hot path). */
class Warnings {
  list: FieldWarning[] | undefined
  constructor(first: ReadonlyArray<FieldWarning> | undefined) {
    this.list = first === undefined || first.length === 0 ? undefined : [...first]
  }
  has(field: string): boolean {
    return this.list !== undefined && this.list.some((w) => w.field === field)
  }
  add(field: string, raw: string, reason: string): void {
    ;(this.list ??= []).push(fieldWarning(field, raw, reason))
  }
}

const PRIORITIES: Record<string, Priority> = {
  CRITICAL: "CRITICAL",
  HIGH: "HIGH",
  MEDIUM: "MEDIUM",
  LOW: "LOW",
  INFORMATIONAL: "INFORMATIONAL",
  // ADS e-mail rules spell the lowest level this way.
  INFORMATION: "INFORMATIONAL"
}

/** Case-insensitive; null when empty or not one of the five levels. */
export const normalisePriority = (text: string): Priority | null => PRIORITIES[text.trim().toUpperCase()] ?? null

/** Label of a field for messages, e.g. `field 11 (source)` or `key "source"`. */
export type Label = (field: string) => string

const address = (value: string, label: Label, field: string): string => {
  const parsed = parseIpAddress(value.trim())
  if (!parsed.ok) throw new FieldError(`${label(field)}: ${value.trim() === "" ? "is empty, an IP address is required" : parsed.error}`)
  return parsed.value.text
}

/** Separators seen between addresses where ", " belongs (a stray ';', '|' or blank). */
const STRAY_SEPARATORS = /[\s;|]+/

const ELLIPSIS = /(?:\.\.\.|\u2026)$/
const endsInEllipsis = (text: string): boolean => text.endsWith("...") || text.endsWith("\u2026")

/**
 * Targets arrive as one ", "-separated string (or a list); each must be an address. What is not
 * an address (the tail of a list cut off with an ellipsis, a stray word) is left out with a
 * warning that keeps the field as received; the addresses that can be read are kept.
 */
const targetList = (items: ReadonlyArray<string>, label: Label, key: string, warnings: Warnings): string[] => {
  // The clean path: every piece an address.
  const out: string[] = []
  for (const item of items) {
    for (const piece of item.split(",")) {
      const t = piece.trim()
      if (t === "") continue
      const parsed = parseIpAddress(t)
      if (!parsed.ok) return damagedTargetList(items, label, key, warnings)
      if (!out.includes(parsed.value.text)) out.push(parsed.value.text)
    }
  }
  return out
}

const damagedTargetList = (items: ReadonlyArray<string>, label: Label, key: string, warnings: Warnings): string[] => {
  const out: string[] = []
  let unreadable: string[] | undefined
  let strayFirst: string | undefined
  const keep = (text: string): boolean => {
    const parsed = parseIpAddress(text)
    if (!parsed.ok) return false
    if (!out.includes(parsed.value.text)) out.push(parsed.value.text)
    return true
  }
  for (const item of items) {
    for (const piece of item.split(",")) {
      const t = piece.trim()
      if (t === "" || keep(t)) continue
      // "198.51.100.40; 198.51.100.41": the addresses are there, the separator is not ", ".
      const parts = t.split(STRAY_SEPARATORS).filter((p) => p !== "")
      if (parts.length === 0) strayFirst ??= t
      // "198.51.100.4 ...": the address before an ellipsis may itself be cut (.41?): not kept.
      const cutAt = parts.length > 1 && ELLIPSIS.test(parts[parts.length - 1]!) ? parts.length - 2 : -1
      parts.forEach((p, i) => {
        if (i !== cutAt && keep(p)) strayFirst ??= t
        else (unreadable ??= []).push(p)
      })
    }
  }
  if (unreadable !== undefined) {
    const cut = unreadable.some((u) => ELLIPSIS.test(u))
    const shown = unreadable.slice(0, 3).map((u) => quote(u, 40)).join(", ")
    warnings.add(
      "targets",
      items.join(", "),
      `${label(key)}: ${cut ? "the list was cut short; " : ""}${unreadable.length === 1 ? `${shown} is` : `${unreadable.length} items (${shown}${unreadable.length > 3 ? ", …" : ""}) are`} not an address: kept the ${out.length} readable target(s)`
    )
  } else if (strayFirst !== undefined) {
    warnings.add("targets", items.join(", "), `${label(key)}: addresses separated by something other than ", " (${quote(strayFirst, 40)}): read all the same`)
  }
  return out
}

const time = (value: string, label: Label, field: string, ctx: ParseContext): string => {
  if (value.trim() === "") throw new FieldError(`${label(field)}: is empty, a timestamp is required`)
  const parsed = parseFlowmonTime(value, ctx.timeZone)
  if (!parsed.ok) throw new FieldError(`${label(field)}: ${parsed.error}`)
  return parsed.value
}

/** A time the event can do without (`key`: the layout's name, `field`: the event's): unreadable, it is null with a warning. */
const optionalTime = (value: string | null, label: Label, key: string, field: string, ctx: ParseContext, warnings: Warnings): string | null => {
  if (value === null || value.trim() === "") return null
  const parsed = parseFlowmonTime(value, ctx.timeZone)
  if (parsed.ok) return parsed.value
  warnings.add(field, value, `${label(key)}: ${parsed.error}; stored without it`)
  return null
}

/** The ADS method code; one that is not a code is null with a warning (rules that name methods do not match it). */
const methodCode = (value: string, label: Label, warnings: Warnings): string | null => {
  const method = value.trim()
  // "SSHDI...": a code cut short would pass the character check.
  if (METHOD.test(method) && !endsInEllipsis(method)) return method
  // The layout parser said why already (a JSON value of the wrong type).
  if (warnings.has("method")) return null
  warnings.add(
    "method",
    value,
    `${label("method")}: ${method === "" ? "is empty" : `${quote(method)} is not a detection method code (such as SCANS or SSHDICT)${ELLIPSIS.test(method) ? ", it was cut short" : ""}`}; stored without a method`
  )
  return null
}

const ADS_ID = /^[0-9]{1,20}$/
const EVENT_ID = /^[A-Za-z0-9._:-]{1,128}$/
const METHOD = /^[A-Za-z0-9_.-]{1,64}$/

export interface AdsValues {
  readonly id: string
  readonly detectedAt: string
  readonly firstFlowAt: string | null
  readonly method: string
  readonly subtype: string | null
  readonly mitre: string | null
  readonly description: string
  readonly perspective: string | null
  readonly priority: string
  readonly detail: string
  readonly ports: string | null
  readonly protocol: string | null
  readonly source: string
  readonly sourceName: string | null
  readonly targets: ReadonlyArray<string>
  readonly dataFeed: string | null
  readonly userIdentity: string
  /** the priority as written, when `priority` holds a translation of it (CEF's numeric severity) */
  readonly severity?: string
  /** CEF only: the ADS event id is usually absent there, so a content-derived id is passed */
  readonly idIsDerived?: boolean
  readonly cef?: CefDetails
  /** what the layout parser could not read already (a JSON value of the wrong type) */
  readonly warnings?: ReadonlyArray<FieldWarning> | undefined
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

const run = (first: ReadonlyArray<FieldWarning> | undefined, f: (warnings: Warnings) => FlowmonEventReceived): BuildResult => {
  try {
    const warnings = new Warnings(first)
    const event = f(warnings)
    // `warnings` sorts last among the keys, so adding it keeps the payload's keys in order.
    if (warnings.list !== undefined) (event as Mutable<FlowmonEventReceived>).warnings = warnings.list
    return { ok: true, event }
  } catch (e) {
    if (e instanceof FieldError) return { ok: false, reason: e.reason }
    throw e
  }
}

// Payload objects list their keys in sorted order, so canonicalJson can use JSON.stringify as is.

export const buildAdsEvent = (
  v: AdsValues,
  label: Label,
  format: InputFormat,
  raw: string,
  ctx: ParseContext
): BuildResult =>
  run(v.warnings, (warnings) => {
    const id = v.id.trim()
    if (!(v.idIsDerived === true ? EVENT_ID : ADS_ID).test(id)) {
      throw new FieldError(`${label("id")}: ${quote(id)} is not an ADS event id (expected a whole number)`)
    }
    const detectedAt = time(v.detectedAt, label, "detectedAt", ctx)
    const source = address(v.source, label, "source")
    const method = methodCode(v.method, label, warnings)
    const firstFlowAt = optionalTime(v.firstFlowAt, label, "firstFlowAt", "firstFlowAt", ctx, warnings)
    const targets = targetList(v.targets, label, "targets", warnings)
    return {
      cef: v.cef ?? null,
      dataFeed: v.dataFeed?.trim() ?? null,
      description: v.description.trim(),
      detail: v.detail.trim(),
      detectedAt,
      eventId: id,
      firstFlowAt,
      format,
      ids: null,
      instance: ctx.instance,
      method,
      mitre: v.mitre?.trim() ?? null,
      perspective: v.perspective?.trim() ?? null,
      ports: v.ports?.trim() ?? null,
      priority: normalisePriority(v.priority),
      product: "ads",
      protocol: v.protocol?.trim() ?? null,
      raw,
      severity: (v.severity ?? v.priority).trim(),
      signature: null,
      source,
      sourceName: v.sourceName?.trim() ?? null,
      subtype: v.subtype?.trim() ?? null,
      targets,
      userIdentity: v.userIdentity.trim()
    }
  })

export interface IdsValues {
  readonly id: string
  readonly firstSeen: string
  readonly lastSeen: string | null
  readonly srcIp: string
  readonly srcPort: string
  readonly dstIp: ReadonlyArray<string>
  readonly dstPort: string
  readonly protocol: string | null
  readonly signatureId: string
  readonly signatureName: string
  readonly logSourceIp: string
  readonly logSourceInterface: string
  readonly category: string
  readonly severity: string
  readonly warnings?: ReadonlyArray<FieldWarning> | undefined
}

export const buildIdsEvent = (
  v: IdsValues,
  label: Label,
  format: InputFormat,
  raw: string,
  ctx: ParseContext
): BuildResult =>
  run(v.warnings, (warnings) => {
    const id = v.id.trim()
    if (!EVENT_ID.test(id)) {
      throw new FieldError(`${label("id")}: ${quote(id)} is not an IDS event id (1 to 128 letters, digits, '.', '_', ':' or '-')`)
    }
    const detectedAt = time(v.firstSeen, label, "firstSeen", ctx)
    const source = address(v.srcIp, label, "srcIp")
    const lastSeen = optionalTime(v.lastSeen, label, "lastSeen", "ids.lastSeen", ctx, warnings)
    const targets = targetList(v.dstIp, label, "dstIp", warnings)
    const category = v.category.trim()
    const signatureName = v.signatureName.trim()
    return {
      cef: null,
      dataFeed: null,
      description: category,
      detail: signatureName,
      detectedAt,
      eventId: id,
      firstFlowAt: null,
      format,
      ids: {
        category,
        lastSeen,
        logSourceInterface: v.logSourceInterface.trim(),
        logSourceIp: v.logSourceIp.trim(),
        sourcePort: v.srcPort.trim(),
        targetPort: v.dstPort.trim()
      },
      instance: ctx.instance,
      method: null,
      mitre: null,
      perspective: null,
      ports: null,
      priority: normalisePriority(v.severity),
      product: "ids",
      protocol: v.protocol?.trim() ?? null,
      raw,
      severity: v.severity.trim(),
      signature: { id: v.signatureId.trim(), name: signatureName },
      source,
      sourceName: null,
      subtype: null,
      targets,
      userIdentity: ""
    }
  })

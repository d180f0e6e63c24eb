/**
 * Turns the named values of one ADS or IDS event (whatever layout they came from) into a
 * validated `FlowmonEventReceived`. Layout parsers extract strings and say how to name each
 * field in an error message; everything about meaning and validity lives here.
 */
import { parseIpAddress } from "../Address.js"
import type { CefDetails, FlowmonEventReceived, InputFormat, Priority } from "../Events.js"
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

/** Targets arrive as one ", "-separated string (or a list); each must be an address. */
const targetList = (items: ReadonlyArray<string>, label: Label, field: string): string[] => {
  const out: string[] = []
  for (const item of items) {
    for (const piece of item.split(",")) {
      const t = piece.trim()
      if (t === "") continue
      const parsed = parseIpAddress(t)
      if (!parsed.ok) throw new FieldError(`${label(field)}: ${parsed.error}`)
      if (!out.includes(parsed.value.text)) out.push(parsed.value.text)
    }
  }
  return out
}

const time = (value: string, label: Label, field: string, ctx: ParseContext): string => {
  if (value.trim() === "") throw new FieldError(`${label(field)}: is empty, a timestamp is required`)
  const parsed = parseFlowmonTime(value, ctx.timeZone)
  if (!parsed.ok) throw new FieldError(`${label(field)}: ${parsed.error}`)
  return parsed.value
}

const optionalTime = (value: string | null, label: Label, field: string, ctx: ParseContext): string | null =>
  value === null || value.trim() === "" ? null : time(value, label, field, ctx)

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
}

const run = (f: () => FlowmonEventReceived): BuildResult => {
  try {
    return { ok: true, event: f() }
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
  run(() => {
    const id = v.id.trim()
    if (!(v.idIsDerived === true ? EVENT_ID : ADS_ID).test(id)) {
      throw new FieldError(`${label("id")}: ${quote(id)} is not an ADS event id (expected a whole number)`)
    }
    const method = v.method.trim()
    if (!METHOD.test(method)) {
      throw new FieldError(`${label("method")}: ${quote(method)} is not a detection method code (such as SCANS or SSHDICT)`)
    }
    const detectedAt = time(v.detectedAt, label, "detectedAt", ctx)
    const firstFlowAt = optionalTime(v.firstFlowAt, label, "firstFlowAt", ctx)
    const source = address(v.source, label, "source")
    const targets = targetList(v.targets, label, "targets")
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
}

export const buildIdsEvent = (
  v: IdsValues,
  label: Label,
  format: InputFormat,
  raw: string,
  ctx: ParseContext
): BuildResult =>
  run(() => {
    const id = v.id.trim()
    if (!EVENT_ID.test(id)) {
      throw new FieldError(`${label("id")}: ${quote(id)} is not an IDS event id (1 to 128 letters, digits, '.', '_', ':' or '-')`)
    }
    const detectedAt = time(v.firstSeen, label, "firstSeen", ctx)
    const lastSeen = optionalTime(v.lastSeen, label, "lastSeen", ctx)
    const source = address(v.srcIp, label, "srcIp")
    const targets = targetList(v.dstIp, label, "dstIp")
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

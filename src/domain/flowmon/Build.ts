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

const address = (value: string, label: string): string => {
  const parsed = parseIpAddress(value.trim())
  if (!parsed.ok) throw new FieldError(`${label}: ${value.trim() === "" ? "is empty, an IP address is required" : parsed.error}`)
  return parsed.value.text
}

/** Targets arrive as one ", "-separated string (or a list); each must be an address. */
const targetList = (items: ReadonlyArray<string>, label: string): string[] => {
  const out: string[] = []
  for (const item of items) {
    for (const piece of item.split(",")) {
      const t = piece.trim()
      if (t === "") continue
      const parsed = parseIpAddress(t)
      if (!parsed.ok) throw new FieldError(`${label}: ${parsed.error}`)
      if (!out.includes(parsed.value.text)) out.push(parsed.value.text)
    }
  }
  return out
}

const time = (value: string, label: string, ctx: ParseContext): string => {
  if (value.trim() === "") throw new FieldError(`${label}: is empty, a timestamp is required`)
  const parsed = parseFlowmonTime(value, ctx.timeZone)
  if (!parsed.ok) throw new FieldError(`${label}: ${parsed.error}`)
  return parsed.value
}

const optionalTime = (value: string, label: string, ctx: ParseContext): string | null =>
  value.trim() === "" ? null : time(value, label, ctx)

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
    return {
      product: "ads",
      instance: ctx.instance,
      eventId: id,
      detectedAt: time(v.detectedAt, label("detectedAt"), ctx),
      firstFlowAt: v.firstFlowAt === null ? null : optionalTime(v.firstFlowAt, label("firstFlowAt"), ctx),
      method,
      subtype: v.subtype?.trim() ?? null,
      mitre: v.mitre?.trim() ?? null,
      description: v.description.trim(),
      perspective: v.perspective?.trim() ?? null,
      priority: normalisePriority(v.priority),
      severity: v.priority.trim(),
      detail: v.detail.trim(),
      ports: v.ports?.trim() ?? null,
      protocol: v.protocol?.trim() ?? null,
      source: address(v.source, label("source")),
      sourceName: v.sourceName?.trim() ?? null,
      targets: targetList(v.targets, label("targets")),
      dataFeed: v.dataFeed?.trim() ?? null,
      userIdentity: v.userIdentity.trim(),
      signature: null,
      ids: null,
      cef: v.cef ?? null,
      format,
      raw
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
    const category = v.category.trim()
    const signatureName = v.signatureName.trim()
    return {
      product: "ids",
      instance: ctx.instance,
      eventId: id,
      detectedAt: time(v.firstSeen, label("firstSeen"), ctx),
      firstFlowAt: null,
      method: null,
      subtype: null,
      mitre: null,
      description: category,
      perspective: null,
      priority: normalisePriority(v.severity),
      severity: v.severity.trim(),
      detail: signatureName,
      ports: null,
      protocol: v.protocol?.trim() ?? null,
      source: address(v.srcIp, label("srcIp")),
      sourceName: null,
      targets: targetList(v.dstIp, label("dstIp")),
      dataFeed: null,
      userIdentity: "",
      signature: { id: v.signatureId.trim(), name: signatureName },
      ids: {
        lastSeen: v.lastSeen === null ? null : optionalTime(v.lastSeen, label("lastSeen"), ctx),
        sourcePort: v.srcPort.trim(),
        targetPort: v.dstPort.trim(),
        category,
        logSourceIp: v.logSourceIp.trim(),
        logSourceInterface: v.logSourceInterface.trim()
      },
      cef: null,
      format,
      raw
    }
  })

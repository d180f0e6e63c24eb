/**
 * One input line → the event to record: a `FlowmonEventReceived` with its dedupe key, or an
 * `InputRejected` saying why. Never throws, whatever the bytes.
 *
 * A line that is not valid UTF-8 (a user name or detail written in another encoding) is read
 * with U+FFFD in place of the bad bytes: when its id, time and source can still be read, the
 * detection is stored, each field that holds a bad byte gets a warning, and `raw` keeps the line
 * escaped (`\xNN`, as a rejected line is kept) so the original bytes are not lost.
 */
import { flowmonDedupeKey, type FieldWarning, type FlowmonEventReceived, type IngestedEvent, type InputFormat } from "../Events.js"
import type { FramedLine } from "../LineFramer.js"
import { MAX_LINE_BYTES } from "../LineFramer.js"
import { describeCodeUnit, escapeBytes, findControlCharacter, firstInvalidUtf8Offset, rejectedRaw } from "../SafeText.js"
import { fieldWarning, type BuildResult, type ParseContext } from "./Build.js"
import { looksLikeCef, parseCefLine } from "./Cef.js"
import { parseJsonLine } from "./Json.js"
import { parseTsv } from "./Tsv.js"

export const INPUT_FORMATS = ["auto", "tsv", "json", "cef"] as const
export type FormatChoice = (typeof INPUT_FORMATS)[number]

export interface IngestOptions extends ParseContext {
  readonly format: FormatChoice
}

const decoder = new TextDecoder("utf-8", { fatal: true })
/** Bad bytes become U+FFFD. */
const lenient = new TextDecoder("utf-8")

const REPLACEMENT = "\ufffd"

/** Fields that hold no free text (the required ones could not hold U+FFFD and still be read). */
const NOT_TEXT = new Set(["raw", "warnings", "targets", "source", "detectedAt", "eventId", "instance", "format", "product", "priority"])

/** Every text field of `value` holding U+FFFD, by its dotted name. */
const replacedFields = (value: Record<string, unknown>, prefix: string, out: Array<[string, string]>): void => {
  for (const key in value) {
    if (prefix === "" && NOT_TEXT.has(key)) continue
    const v = value[key]
    if (typeof v === "string") {
      if (v.includes(REPLACEMENT)) out.push([`${prefix}${key}`, v])
    } else if (v !== null && typeof v === "object" && !Array.isArray(v)) replacedFields(v as Record<string, unknown>, `${prefix}${key}.`, out)
  }
}

/** The event of a line that was not valid UTF-8: a warning for each field it touched, the line escaped in `raw`. */
const withEncodingWarnings = (event: FlowmonEventReceived, bytes: Uint8Array, badAt: number): FlowmonEventReceived => {
  const touched: Array<[string, string]> = []
  replacedFields(event as unknown as Record<string, unknown>, "", touched)
  const added: FieldWarning[] = touched.map(([field, value]) =>
    fieldWarning(field, escapeBytes(new TextEncoder().encode(value)), `${field}: not valid UTF-8 (another encoding?): read with U+FFFD in place of the bad bytes`)
  )
  if (added.length === 0) {
    added.push(fieldWarning("raw", "", `the line is not valid UTF-8 (first bad byte at offset ${badAt}) outside the fields read: kept escaped in raw`))
  }
  // Same keys in the same order (`warnings` last): the payload stays sorted.
  return { ...event, raw: escapeBytes(bytes), warnings: [...(event.warnings ?? []), ...added] }
}

const reject = (line: FramedLine, ctx: ParseContext, reason: string, format: InputFormat | null): IngestedEvent => {
  const kept = rejectedRaw(line.bytes)
  return {
    type: "InputRejected",
    dedupeKey: null,
    payload: {
      format,
      instance: ctx.instance,
      line: line.number,
      raw: kept.raw,
      rawBytes: line.byteLength,
      reason,
      truncated: line.oversized || kept.truncated
    }
  }
}

const isBlank = (bytes: Uint8Array): boolean => {
  for (const b of bytes) if (b !== 0x20) return false
  return true
}

const parseAs = (text: string, choice: FormatChoice, ctx: ParseContext): BuildResult & { format: InputFormat | null } => {
  const kind =
    choice !== "auto" ? choice : text.trimStart().startsWith("{") ? "json" : looksLikeCef(text) ? "cef" : "tsv"
  switch (kind) {
    case "json":
      return { ...parseJsonLine(text, ctx), format: "json" }
    case "cef":
      return { ...parseCefLine(text, ctx), format: "cef" }
    case "tsv":
      return parseTsv(text, ctx)
  }
}

/** The event for one line, or undefined for an empty line (skipped, not an input). */
export const ingestLine = (line: FramedLine, opts: IngestOptions): IngestedEvent | undefined => {
  if (line.oversized) {
    return reject(line, opts, `line is ${line.byteLength} bytes, over the ${MAX_LINE_BYTES}-byte (1 MiB) limit`, null)
  }
  if (isBlank(line.bytes)) return undefined
  let text: string
  let badAt = -1
  try {
    text = decoder.decode(line.bytes)
  } catch {
    badAt = firstInvalidUtf8Offset(line.bytes)
    text = lenient.decode(line.bytes)
  }
  const control = findControlCharacter(text)
  if (control !== undefined) {
    return reject(line, opts, `control character ${describeCodeUnit(control.code)} at column ${control.index + 1}`, null)
  }
  const parsed = parseAs(text, opts.format, opts)
  if (!parsed.ok) {
    const reason = badAt < 0 ? parsed.reason : `not valid UTF-8 (first bad byte at offset ${badAt}); ${parsed.reason}`
    return reject(line, opts, reason, parsed.format)
  }
  const event = badAt < 0 ? parsed.event : withEncodingWarnings(parsed.event, line.bytes, badAt)
  return { type: "FlowmonEventReceived", dedupeKey: flowmonDedupeKey(event), payload: event }
}

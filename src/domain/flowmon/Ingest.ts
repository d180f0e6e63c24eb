/**
 * One input line → the event to record: a `FlowmonEventReceived` with its dedupe key, or an
 * `InputRejected` saying why. Never throws, whatever the bytes.
 */
import { flowmonDedupeKey, type IngestedEvent, type InputFormat } from "../Events.js"
import type { FramedLine } from "../LineFramer.js"
import { MAX_LINE_BYTES } from "../LineFramer.js"
import { describeCodeUnit, findControlCharacter, firstInvalidUtf8Offset, rejectedRaw } from "../SafeText.js"
import type { BuildResult, ParseContext } from "./Build.js"
import { looksLikeCef, parseCefLine } from "./Cef.js"
import { parseJsonLine } from "./Json.js"
import { parseTsv } from "./Tsv.js"

export const INPUT_FORMATS = ["auto", "tsv", "json", "cef"] as const
export type FormatChoice = (typeof INPUT_FORMATS)[number]

export interface IngestOptions extends ParseContext {
  readonly format: FormatChoice
}

const decoder = new TextDecoder("utf-8", { fatal: true })

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
  try {
    text = decoder.decode(line.bytes)
  } catch {
    return reject(line, opts, `not valid UTF-8 (first bad byte at offset ${firstInvalidUtf8Offset(line.bytes)})`, null)
  }
  const control = findControlCharacter(text)
  if (control !== undefined) {
    return reject(line, opts, `control character ${describeCodeUnit(control.code)} at column ${control.index + 1}`, null)
  }
  const parsed = parseAs(text, opts.format, opts)
  if (!parsed.ok) return reject(line, opts, parsed.reason, parsed.format)
  return { type: "FlowmonEventReceived", dedupeKey: flowmonDedupeKey(parsed.event), payload: parsed.event }
}

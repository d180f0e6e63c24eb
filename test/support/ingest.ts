/** Feeding text through the framer and the per-line ingest, as `append` does, for parser tests. */
import { expect } from "@effect/vitest"
import type { FlowmonEventReceived, IngestedEvent, InputRejected } from "../../src/domain/Events.js"
import { type FormatChoice, ingestLine } from "../../src/domain/flowmon/Ingest.js"
import { LineFramer } from "../../src/domain/LineFramer.js"
import { parseTimeZone, type TimeZone } from "../../src/domain/Time.js"

export const INSTANCE = "fm01"

export const zone = (name: string): TimeZone => {
  const r = parseTimeZone(name)
  if (!r.ok) throw new Error(r.error)
  return r.value
}

export interface IngestOptions {
  readonly timeZone?: string
  readonly format?: FormatChoice
  /** feed the input in chunks of this many bytes (default: all at once) */
  readonly chunkSize?: number
}

/** Every line's result (undefined for a skipped empty line). */
export const ingestAll = (input: string | Uint8Array, options: IngestOptions = {}): Array<IngestedEvent | undefined> => {
  const bytes = typeof input === "string" ? new TextEncoder().encode(input) : input
  const chunkSize = options.chunkSize ?? Math.max(bytes.length, 1)
  const framer = new LineFramer()
  const lines = []
  for (let at = 0; at < bytes.length; at += chunkSize) lines.push(...framer.push(bytes.subarray(at, at + chunkSize)))
  lines.push(...framer.end())
  const settings = { instance: INSTANCE, timeZone: zone(options.timeZone ?? "UTC"), format: options.format ?? "auto" }
  return lines.map((line) => ingestLine(line, settings))
}

/** The one event a single line gives. */
export const ingest = (line: string, options: IngestOptions = {}): IngestedEvent => {
  const results = ingestAll(`${line}\n`, options)
  expect(results).toHaveLength(1)
  const r = results[0]
  if (r === undefined) throw new Error("line was skipped as empty")
  return r
}

export const accepted = (line: string, options: IngestOptions = {}): FlowmonEventReceived => {
  const r = ingest(line, options)
  if (r.type !== "FlowmonEventReceived") throw new Error(`rejected: ${r.payload.reason}`)
  return r.payload
}

export const rejected = (line: string, options: IngestOptions = {}): InputRejected => {
  const r = ingest(line, options)
  if (r.type !== "InputRejected") throw new Error(`accepted as ${r.payload.format}`)
  return r.payload
}

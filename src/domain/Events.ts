/**
 * The facts the log records. Payload schemas hold only JSON-native values (strings, numbers,
 * booleans, nulls, arrays, plain objects), so a payload's encoded and decoded forms are the same
 * object and the ingest hot path needs no encoding step.
 */
import * as Schema from "effect/Schema"

export const Product = Schema.Literal("ads", "ids")
export type Product = typeof Product.Type

export const InputFormat = Schema.Literal("tsv15", "tsv17", "tsv14", "json", "cef")
export type InputFormat = typeof InputFormat.Type

export const Priority = Schema.Literal("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL")
export type Priority = typeof Priority.Type

const NullableString = Schema.NullOr(Schema.String)

/** Fields that only IDS events carry. */
export const IdsDetails = Schema.Struct({
  lastSeen: NullableString,
  sourcePort: Schema.String,
  targetPort: Schema.String,
  category: Schema.String,
  logSourceIp: Schema.String,
  logSourceInterface: Schema.String
})
export type IdsDetails = typeof IdsDetails.Type

/** What the CEF header and extension said that has no place among the common fields. */
export const CefDetails = Schema.Struct({
  syslogHost: Schema.String,
  vendor: Schema.String,
  product: Schema.String,
  version: Schema.String,
  severity: Schema.String,
  sourceMac: NullableString,
  methodInstance: NullableString
})
export type CefDetails = typeof CefDetails.Type

/**
 * One Flowmon detection as received. Text fields are "" when the layout has the field but it was
 * empty, and null when the layout has no such field at all.
 */
export const FlowmonEventReceived = Schema.Struct({
  product: Product,
  instance: Schema.String,
  eventId: Schema.String,
  /** UTC ISO; ADS: event detection time, IDS: first seen, CEF: `start` */
  detectedAt: Schema.String,
  /** UTC ISO; ADS TSV only (timestamp of the first flow) */
  firstFlowAt: NullableString,
  /** ADS method code (SCANS, SSHDICT, …); null for IDS */
  method: NullableString,
  subtype: NullableString,
  mitre: NullableString,
  description: Schema.String,
  perspective: NullableString,
  /** normalised; null when empty or not one of the five levels (the original is in `severity`) */
  priority: Schema.NullOr(Priority),
  /** the priority or severity exactly as written */
  severity: Schema.String,
  detail: Schema.String,
  ports: NullableString,
  protocol: NullableString,
  /** canonical IPv4 / IPv6 */
  source: Schema.String,
  sourceName: NullableString,
  /** canonical IPv4 / IPv6 */
  targets: Schema.Array(Schema.String),
  dataFeed: NullableString,
  userIdentity: Schema.String,
  signature: Schema.NullOr(Schema.Struct({ id: Schema.String, name: Schema.String })),
  ids: Schema.NullOr(IdsDetails),
  cef: Schema.NullOr(CefDetails),
  format: InputFormat,
  raw: Schema.String
})
export type FlowmonEventReceived = typeof FlowmonEventReceived.Type

/** A line that could not be accepted, kept so that nothing is silently dropped. */
export const InputRejected = Schema.Struct({
  instance: Schema.String,
  /** 1-based line number within one `append` run */
  line: Schema.Number,
  reason: Schema.String,
  /** the layout the line was read as, when one was chosen */
  format: Schema.NullOr(InputFormat),
  /** escaped printable ASCII, cut to 4 KiB of the original bytes */
  raw: Schema.String,
  rawBytes: Schema.Number,
  truncated: Schema.Boolean
})
export type InputRejected = typeof InputRejected.Type

export const EventPayloads = {
  FlowmonEventReceived,
  InputRejected
} as const

export type EventType = keyof typeof EventPayloads
export type PayloadOf<T extends EventType> = (typeof EventPayloads)[T]["Type"]

/** An event before it is appended. */
export type NewEvent = {
  [T in EventType]: { readonly type: T; readonly payload: PayloadOf<T>; readonly dedupeKey: string | null }
}[EventType]

export const flowmonDedupeKey = (e: Pick<FlowmonEventReceived, "product" | "instance" | "eventId">): string =>
  `${e.product}:${e.instance}:${e.eventId}`

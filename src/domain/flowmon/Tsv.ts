/**
 * The three tab-separated layouts of ADS custom scripts, told apart only by the field count:
 * 15 = ADS standard, 17 = ADS "extended values" (subtype and MITRE ATT&CK inserted after the
 * method code), 14 = IDS. The line is split on TAB without trimming (a trimmed trailing empty
 * field turns 15 into 14, which is IDS); ADS writes an empty field as one space.
 */
import { parseIpAddress } from "../Address.js"
import type { InputFormat } from "../Events.js"
import { buildAdsEvent, buildIdsEvent, type BuildResult, type ParseContext } from "./Build.js"

const ADS_STANDARD = [
  "id", "detectedAt", "firstFlowAt", "method", "description", "perspective", "priority", "detail",
  "ports", "protocol", "source", "sourceName", "targets", "dataFeed", "userIdentity"
] as const

const ADS_EXTENDED = [
  "id", "detectedAt", "firstFlowAt", "method", "subtype", "mitre", "description", "perspective",
  "priority", "detail", "ports", "protocol", "source", "sourceName", "targets", "dataFeed", "userIdentity"
] as const

const IDS = [
  "id", "firstSeen", "lastSeen", "srcIp", "srcPort", "dstIp", "dstPort", "protocol", "signatureId",
  "signatureName", "logSourceIp", "logSourceInterface", "category", "severity"
] as const

/** Human names used in messages (the names the Flowmon documentation and scripts use). */
const DISPLAY: Record<string, string> = {
  id: "event ID",
  detectedAt: "detection time",
  firstFlowAt: "first flow timestamp",
  method: "event type",
  subtype: "event subtype",
  mitre: "MITRE ATT&CK",
  description: "type description",
  perspective: "perspective",
  priority: "priority",
  detail: "event detail",
  ports: "ports",
  protocol: "protocol",
  source: "source IP",
  sourceName: "captured source name",
  targets: "targets",
  dataFeed: "data feed",
  userIdentity: "user identity",
  firstSeen: "firstSeen",
  lastSeen: "lastSeen",
  srcIp: "srcIp",
  srcPort: "srcPort",
  dstIp: "dstIp",
  dstPort: "dstPort",
  signatureId: "signatureId",
  signatureName: "signatureName",
  logSourceIp: "logSourceIp",
  logSourceInterface: "logSourceInterface",
  category: "category",
  severity: "severity"
}

const labeller =
  (names: ReadonlyArray<string>, format: InputFormat) =>
  (field: string): string =>
    `field ${names.indexOf(field) + 1} of ${names.length} (${DISPLAY[field] ?? field}, ${format})`

/** ADS writes an empty field as one space. */
const field = (fields: ReadonlyArray<string>, i: number): string => {
  const f = fields[i]!
  return f === " " ? "" : f
}

/** Splits a line (already stripped of its line terminator) into fields, exactly. */
export const splitTsv = (line: string): string[] => line.split("\t")

/** An ADS method code in field 4 and an address in field 11: an ADS standard line, one field short. */
const looksLikeTrimmedAds = (fields: ReadonlyArray<string>): boolean =>
  /^[A-Z][A-Z0-9_]{1,31}$/.test(fields[3]!.trim()) && parseIpAddress(fields[10]!.trim()).ok

const countHint = (n: number): string => {
  if (n === 1) return " (no TAB found: not a tab-separated line)"
  if (n === 16) return " (a 16-field line is usually a 17-field ADS line whose empty last field was trimmed upstream)"
  if (n === 13) return " (a 13-field line is usually a 14-field line whose empty last field was trimmed upstream)"
  return ""
}

const labelStandard = labeller(ADS_STANDARD, "tsv15")
const labelExtended = labeller(ADS_EXTENDED, "tsv17")
const labelIds = labeller(IDS, "tsv14")

const withFormat = (result: BuildResult, format: InputFormat): BuildResult & { readonly format: InputFormat } =>
  result.ok ? { ok: true, event: result.event, format } : { ok: false, reason: result.reason, format }

export const parseTsv = (line: string, ctx: ParseContext): BuildResult & { readonly format: InputFormat | null } => {
  const f = splitTsv(line)
  switch (f.length) {
    case 15: {
      const values = {
        id: field(f, 0), detectedAt: field(f, 1), firstFlowAt: field(f, 2), method: field(f, 3), subtype: null,
        mitre: null, description: field(f, 4), perspective: field(f, 5), priority: field(f, 6), detail: field(f, 7),
        ports: field(f, 8), protocol: field(f, 9), source: field(f, 10), sourceName: field(f, 11),
        targets: [field(f, 12)], dataFeed: field(f, 13), userIdentity: field(f, 14)
      }
      return withFormat(buildAdsEvent(values, labelStandard, "tsv15", line, ctx), "tsv15")
    }
    case 17: {
      const values = {
        id: field(f, 0), detectedAt: field(f, 1), firstFlowAt: field(f, 2), method: field(f, 3), subtype: field(f, 4),
        mitre: field(f, 5), description: field(f, 6), perspective: field(f, 7), priority: field(f, 8),
        detail: field(f, 9), ports: field(f, 10), protocol: field(f, 11), source: field(f, 12),
        sourceName: field(f, 13), targets: [field(f, 14)], dataFeed: field(f, 15), userIdentity: field(f, 16)
      }
      return withFormat(buildAdsEvent(values, labelExtended, "tsv17", line, ctx), "tsv17")
    }
    case 14: {
      const values = {
        id: field(f, 0), firstSeen: field(f, 1), lastSeen: field(f, 2), srcIp: field(f, 3), srcPort: field(f, 4),
        dstIp: [field(f, 5)], dstPort: field(f, 6), protocol: field(f, 7), signatureId: field(f, 8),
        signatureName: field(f, 9), logSourceIp: field(f, 10), logSourceInterface: field(f, 11),
        category: field(f, 12), severity: field(f, 13)
      }
      const result = buildIdsEvent(values, labelIds, "tsv14", line, ctx)
      if (!result.ok && looksLikeTrimmedAds(f)) {
        return {
          ok: false,
          format: "tsv14",
          reason: `${result.reason} (this looks like a 15-field ADS line whose empty last field, user identity, was trimmed upstream: a 14-field line is read as IDS)`
        }
      }
      return withFormat(result, "tsv14")
    }
    default:
      return {
        ok: false,
        format: null,
        reason:
          `expected 14 (IDS), 15 (ADS) or 17 (ADS extended) tab-separated fields, got ${f.length}` +
          countHint(f.length)
      }
  }
}

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

const toRecord = <K extends string>(names: ReadonlyArray<K>, fields: ReadonlyArray<string>): Record<K, string> => {
  const record = {} as Record<K, string>
  for (let i = 0; i < names.length; i++) {
    const f = fields[i]!
    record[names[i]!] = f === " " ? "" : f
  }
  return record
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

export const parseTsv = (line: string, ctx: ParseContext): BuildResult & { readonly format: InputFormat | null } => {
  const fields = splitTsv(line)
  switch (fields.length) {
    case 15: {
      const r = toRecord(ADS_STANDARD, fields)
      const result = buildAdsEvent(
        { ...r, subtype: null, mitre: null, targets: [r.targets] },
        labeller(ADS_STANDARD, "tsv15"),
        "tsv15",
        line,
        ctx
      )
      return { ...result, format: "tsv15" }
    }
    case 17: {
      const r = toRecord(ADS_EXTENDED, fields)
      const result = buildAdsEvent({ ...r, targets: [r.targets] }, labeller(ADS_EXTENDED, "tsv17"), "tsv17", line, ctx)
      return { ...result, format: "tsv17" }
    }
    case 14: {
      const r = toRecord(IDS, fields)
      const result = buildIdsEvent({ ...r, dstIp: [r.dstIp] }, labeller(IDS, "tsv14"), "tsv14", line, ctx)
      if (!result.ok && looksLikeTrimmedAds(fields)) {
        return {
          ok: false,
          format: "tsv14",
          reason: `${result.reason} (this looks like a 15-field ADS line whose empty last field, user identity, was trimmed upstream: a 14-field line is read as IDS)`
        }
      }
      return { ...result, format: "tsv14" }
    }
    default:
      return {
        ok: false,
        format: null,
        reason:
          `expected 14 (IDS), 15 (ADS) or 17 (ADS extended) tab-separated fields, got ${fields.length}` +
          countHint(fields.length)
      }
  }
}

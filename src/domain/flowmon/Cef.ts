/**
 * CEF syslog lines as ADS exports them (6.07 to 13.0):
 * `<syslog time> <host> ADS[pid]: CEF:0|vendor|product|version|method|name|severity|extension`.
 *
 * ADS does not escape `=` inside values (a 7.02 `msg` holds a raw URL query), so the extension
 * is split only at ` key=` where `key` is a known CEF key. Which keys carry what changed across
 * versions (src/c6a2, target/dst/c6a3, targetList inside msg/cs4/cs6); all are read.
 */
import { createHash } from "node:crypto"
import type { CefDetails } from "../Events.js"
import { parseCefTime } from "../Time.js"
import { buildAdsEvent, type BuildResult, type ParseContext } from "./Build.js"

const KNOWN_KEYS = new Set<string>([
  "act", "app", "cat", "cnt", "dhost", "dmac", "dntdom", "dpid", "dpriv", "dproc", "dpt", "dst", "dtz", "duid",
  "duser", "dvc", "dvchost", "dvcmac", "dvcpid", "end", "externalId", "fname", "fsize", "in", "msg", "out",
  "outcome", "proto", "reason", "request", "requestMethod", "rt", "shost", "smac", "sntdom", "spid", "spriv",
  "sproc", "spt", "src", "start", "suid", "suser", "target", "deviceExternalId", "deviceDirection",
  "deviceProcessName", "destinationServiceName", "sourceServiceName",
  ...[1, 2, 3, 4, 5, 6].flatMap((n) => [`cs${n}`, `cs${n}Label`, `deviceCustomString${n}`, `deviceCustomString${n}Label`]),
  ...[1, 2, 3].flatMap((n) => [`cn${n}`, `cn${n}Label`, `deviceCustomNumber${n}`, `deviceCustomNumber${n}Label`]),
  ...[1, 2, 3, 4].flatMap((n) => [`c6a${n}`, `c6a${n}Label`, `cfp${n}`, `cfp${n}Label`]),
  ...[1, 2].flatMap((n) => [`flexString${n}`, `flexString${n}Label`, `flexDate${n}`, `flexDate${n}Label`])
])

export const looksLikeCef = (line: string): boolean => /(?:^|[\s:>])CEF:\d+\|/.test(line)

/** Splits the CEF header on unescaped `|`: 7 fields, then the extension. */
const splitHeader = (text: string): string[] | undefined => {
  const parts: string[] = []
  let current = ""
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (parts.length === 7) {
      parts.push(text.slice(i))
      return parts
    }
    if (c === "\\" && (text[i + 1] === "|" || text[i + 1] === "\\")) {
      current += text[i + 1]
      i++
    } else if (c === "|") {
      parts.push(current)
      current = ""
    } else {
      current += c
    }
  }
  if (parts.length === 7) {
    parts.push("")
    return parts
  }
  return undefined
}

const unescapeValue = (v: string): string =>
  v.replace(/\\([=\\nr])/g, (_, c: string) => (c === "n" ? "\n" : c === "r" ? "\r" : c)).trim()

export const parseExtension = (ext: string): Map<string, string> => {
  const out = new Map<string, string>()
  const starts: Array<{ key: string; keyStart: number; valueStart: number }> = []
  const re = /(?:^|\s)([A-Za-z0-9_]+)=/g
  for (let m = re.exec(ext); m !== null; m = re.exec(ext)) {
    const key = m[1]!
    if (!KNOWN_KEYS.has(key)) continue
    const keyStart = m.index + m[0].length - key.length - 1
    if (keyStart > 0 && ext[keyStart - 1] === "\\") continue
    starts.push({ key, keyStart, valueStart: m.index + m[0].length })
  }
  for (let i = 0; i < starts.length; i++) {
    const s = starts[i]!
    const end = i + 1 < starts.length ? starts[i + 1]!.keyStart : ext.length
    if (!out.has(s.key)) out.set(s.key, unescapeValue(ext.slice(s.valueStart, end)))
  }
  return out
}

const CEF_PRIORITY: Record<string, string> = {
  // Inferred from which methods carry which value in Progress' samples (not documented).
  "10": "CRITICAL",
  "8": "HIGH",
  "6": "MEDIUM",
  "4": "LOW",
  "2": "INFORMATIONAL"
}

/** A key's value, honouring its label where the label says what it is. */
const labelled = (ext: Map<string, string>, key: string, expected: string): string | undefined => {
  const label = ext.get(`${key}Label`)
  if (label !== undefined && label.toLowerCase() !== expected.toLowerCase()) return undefined
  return ext.get(key)
}

export const parseCefLine = (line: string, ctx: ParseContext): BuildResult => {
  const at = line.search(/CEF:\d+\|/)
  if (at === -1) return { ok: false, reason: "no 'CEF:<version>|' header found" }
  const header = splitHeader(line.slice(at))
  if (header === undefined) return { ok: false, reason: "CEF header has fewer than 7 '|'-separated fields" }
  const [, vendor, product, version, signatureId, name, severity, extension] = header as [
    string, string, string, string, string, string, string, string
  ]
  const syslog = line.slice(0, at).trim().split(/\s+/)
  const syslogHost = syslog.length >= 5 ? syslog[syslog.length - 2]! : ""
  const ext = parseExtension(extension)

  let detail = ext.get("msg") ?? ""
  const targets: string[] = []
  // ADS up to 11.0 appends "targetList: a, b" to the message instead of using a key.
  const list = /\s*targetList:\s*(.*)$/.exec(detail)
  if (list !== null) {
    targets.push(list[1]!)
    detail = detail.slice(0, list.index)
  }
  for (const [key, expected] of [["target", ""], ["dst", ""], ["c6a3", "dstIPv6"], ["cs4", "dstIPv4list"], ["cs6", "dstIPv6list"]] as const) {
    const v = expected === "" ? ext.get(key) : labelled(ext, key, expected)
    if (v !== undefined) targets.push(v)
  }

  const start = ext.get("start")
  if (start === undefined) return { ok: false, reason: "CEF extension has no start= (event time)" }
  const detectedAt = parseCefTime(start, ctx.timeZone)
  if (!detectedAt.ok) return { ok: false, reason: `CEF start=: ${detectedAt.error}` }

  const eventId = labelled(ext, "cn1", "EventID")
  const cef: CefDetails = {
    methodInstance: labelled(ext, "cs2", "MethodInstanceName") ?? null,
    product,
    severity,
    sourceMac: ext.get("smac") ?? null,
    syslogHost,
    vendor,
    version
  }
  const submethod = /Submethod:'([^']*)'/.exec(detail)
  return buildAdsEvent(
    {
      // Most ADS versions export no event id: the line itself identifies the event, so the
      // same line delivered twice is one fact.
      id: eventId ?? `cef-${createHash("sha256").update(line).digest("hex").slice(0, 32)}`,
      idIsDerived: eventId === undefined,
      detectedAt: detectedAt.value,
      firstFlowAt: null,
      method: signatureId,
      subtype: submethod === null ? null : submethod[1]!,
      mitre: null,
      description: name,
      perspective: labelled(ext, "cn3", "PerspectiveID") ?? null,
      priority: CEF_PRIORITY[severity.trim()] ?? severity,
      severity,
      detail,
      ports: null,
      protocol: null,
      source: labelled(ext, "src", "") ?? labelled(ext, "c6a2", "srcIPv6") ?? "",
      sourceName: ext.get("shost") ?? null,
      targets,
      dataFeed: labelled(ext, "cn2", "DataFeedID") ?? null,
      userIdentity: ext.get("suser") ?? "",
      cef
    },
    (field) => (field === "source" ? "CEF src=/c6a2=" : field === "targets" ? "CEF targets" : `CEF ${field}`),
    "cef",
    line,
    ctx
  )
}

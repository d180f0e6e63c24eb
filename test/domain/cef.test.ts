import { describe, expect, it } from "@effect/vitest"
import * as Schema from "effect/Schema"
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { FlowmonEventReceived } from "../../src/domain/Events.js"
import { accepted, ingest, ingestAll, rejected } from "../support/ingest.js"

const repoRoot = fileURLToPath(new URL("../..", import.meta.url))
const SAMPLES = path.resolve(repoRoot, "../shared/data/flowmon-ads-cef")
/** The archive lives beside CI's checkout, not in the repository: a clone without it checks the lines taken from it below. */
const HAVE_ARCHIVE = existsSync(SAMPLES)

// Every line here is read as CEF, as `append --format cef` would.
const CEF = { format: "cef" } as const
const PRAGUE = { ...CEF, timeZone: "Europe/Prague" } as const

// Spec section 11.5, "Per-version totals" (non-empty lines).
const EXPECTED_LINES: Record<string, number> = {
  "6.07": 1545,
  "7.02": 1089,
  "8.00": 1140,
  "9.01": 1377,
  "9.02": 1528,
  "10.0": 5150,
  "11.0": 2100,
  "11.1": 4224,
  "11.4": 4256,
  "12.0": 4312,
  "12.1": 4172,
  "12.2": 4228,
  "12.3": 4228,
  "12.5": 4312,
  "13.0": 4480
}

const isEvent = Schema.is(FlowmonEventReceived)

describe("the Progress CEF sample archive", () => {
  if (!HAVE_ARCHIVE) {
    it("is not beside this checkout: the lines taken from it (ADS 7.02, 12.5, the spec's 13.0) parse instead", () => {
      console.log(`CEF sample archive not found at ${SAMPLES}: checking the built-in lines taken from it instead`)
      for (const line of [CEF_13, CEF_7_TARGETLIST, CEF_7_PHISH, CEF_12_IPV6, CEF_12_MACHINE]) {
        const e = accepted(line, PRAGUE)
        expect(isEvent(e)).toBe(true)
        expect([e.format, e.product]).toEqual(["cef", "ads"])
        expect(e.detectedAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/)
      }
    })
    return
  }
  const versions = readdirSync(SAMPLES)
    .filter((d) => d.startsWith("ADS_") && statSync(path.join(SAMPLES, d)).isDirectory())
    .sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)))

  it("is there to test against", () => {
    expect(versions.length).toBeGreaterThan(0)
    for (const dir of versions) expect(Object.keys(EXPECTED_LINES), dir).toContain(dir.slice(4))
  })

  it("parses every non-empty line of every version, rejecting none", () => {
    const table: Array<{ version: string; files: number; lines: number; parsed: number; rejected: number; expected: number }> = []
    for (const dir of versions) {
      const version = dir.slice(4)
      const files = readdirSync(path.join(SAMPLES, dir)).filter((f) => f.endsWith(".txt"))
      expect(files.length, dir).toBeGreaterThan(0)
      let lines = 0
      let parsed = 0
      const rejections: string[] = []
      for (const file of files) {
        const bytes = readFileSync(path.join(SAMPLES, dir, file))
        const nonEmpty = bytes.toString("utf8").split("\n").filter((l) => l.trim() !== "").length
        const results = ingestAll(bytes, PRAGUE)
        const events = results.filter((r) => r !== undefined)
        expect(events.length, `${dir}/${file}`).toBe(nonEmpty)
        lines += nonEmpty
        for (const r of events) {
          if (r.type === "InputRejected") {
            rejections.push(`${dir}/${file}:${r.payload.line}: ${r.payload.reason}`)
            continue
          }
          parsed++
          const e = r.payload
          expect(isEvent(e)).toBe(true)
          expect(e.format).toBe("cef")
          expect(e.product).toBe("ads")
          expect(r.dedupeKey).toBe(`ads:fm01:${e.eventId}`)
          expect(e.raw).not.toMatch(/[\r\n]/)
          expect(e.detectedAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/)
          // The header's version (e.g. 12.05.00) belongs to the folder's major version (ADS_12.5).
          expect(Number(e.cef?.version.split(".")[0])).toBe(Number(version.split(".")[0]))
        }
      }
      expect(rejections.slice(0, 5), dir).toEqual([])
      table.push({ version, files: files.length, lines, parsed, rejected: rejections.length, expected: EXPECTED_LINES[version] ?? -1 })
    }
    // The report: how many lines of each version parsed.
    console.log(
      [
        "CEF sample archive, lines parsed per ADS version:",
        "version  files  lines  parsed  rejected  spec",
        ...table.map((t) =>
          [t.version.padEnd(7), String(t.files).padStart(5), String(t.lines).padStart(6), String(t.parsed).padStart(7), String(t.rejected).padStart(9), String(t.expected).padStart(5)].join("  ")
        )
      ].join("\n")
    )
    for (const t of table) {
      expect([t.version, t.lines, t.parsed]).toEqual([t.version, EXPECTED_LINES[t.version], EXPECTED_LINES[t.version]])
    }
  })
})

// Spec section 12: CEF, ADS 13.0 style, single IPv4 target (constructed).
const CEF_13 =
  "Nov  3 15:13:04 fm01 ADS[2069]: CEF:0|Flowmon Networks|Flowmon ADS Ultimate|13.00.00|SSHDICT|SSH attack|10|src=192.0.2.31 smac=02:00:00:00:00:01 start=Nov 03 2025 15:13:04 msg=Attack from a single attacker has been detected. dst=198.51.100.40 cs2=Default cs2Label=MethodInstanceName cn2=1 cn2Label=DataFeedID cn3=2 cn3Label=PerspectiveID"

// ADS_7.02/multiple_targets_per_event.txt, line 1 (CRLF in the file).
const CEF_7_TARGETLIST =
  "May 27 17:06:52 demo ADS: CEF:0|INVEA-TECH|FlowMon ADS Enterprise|7.02.01|BITTORRENT|BITTORRENT|6|src=10.0.0.1 start=May 27 2015 17:12:30 msg=BitTorrent downloads, unique sources: %1. targetList: 10.0.0.2, 10.0.0.3, 10.0.0.4, 10.0.0.5, 10.0.0.6"

// ADS_7.02/single_target_per_event_max5_machine_readable.txt, line 2: a raw "=" inside msg.
const CEF_7_PHISH =
  "May 27 17:15:33 demo ADS: CEF:0|INVEA-TECH|FlowMon ADS Enterprise|7.02.01|BLACKLIST|BLACKLIST|6|src=192.168.3.231 start=May 27 2015 17:10:43 msg={Type:'Known botnet c&c domains (Conficker_A), Known phishing web domains (http://www.phishtank.com/phish_detail.php?phish_id=3229211)';FlowCount:'2';UploadedData:'0.72 KiB';DownloadedData:'0.72 KiB';Protocol:'6';PortList:'80'} target=77.75.76.3"

// ADS_12.5/ipv6_multiple_targets_per_event.txt, line 1.
const CEF_12_IPV6 =
  "May 27 10:39:56 localhost ADS: CEF:0|Flowmon Networks|Flowmon ADS Ultimate|12.05.00|ALIENDEV|New or alien device|8|c6a2=fe80::a1 c6a2Label=srcIPv6 smac=0c:70:00:00:00:00 start=May 27 2025 10:39:55 msg=A new device (MAC address: 0C:70:00:00:00:00) has been detected based on its IP address. cs6=fe80::2, fe80::3, fe80::4, fe80::5, fe80::6, fe80::7, fe80::8, fe80::9, fe80::10, fe80::11 cs6Label=dstIPv6list cs2=Default cs2Label=MethodInstanceName cn2=1 cn2Label=DataFeedID cn3=1 cn3Label=PerspectiveID"

// ADS_12.5/multiple_targets_per_event_machine_readable.txt, line 1.
const CEF_12_MACHINE =
  "May 27 10:40:26 localhost ADS: CEF:0|Flowmon Networks|Flowmon ADS Ultimate|12.05.00|ALIENDEV|New or alien device|8|src=10.0.112.1 smac=0c:70:00:00:00:00 start=May 27 2025 10:40:25 msg={Submethod:'IPBased';MAC:'0C:70:00:00:00:00'} cs4=192.168.112.2, 192.168.112.3, 192.168.112.4, 192.168.112.5, 192.168.112.6, 192.168.112.7, 192.168.112.8, 192.168.112.9, 192.168.112.10, 192.168.112.11 cs4Label=dstIPv4list cs2=Default cs2Label=MethodInstanceName cn2=1 cn2Label=DataFeedID cn3=1 cn3Label=PerspectiveID"

describe("CEF lines", () => {
  it("maps every field of the spec's 13.0 example", () => {
    const r = ingest(CEF_13, PRAGUE)
    expect(r.type).toBe("FlowmonEventReceived")
    if (r.type !== "FlowmonEventReceived") return
    expect(r.payload.eventId).toMatch(/^cef-[0-9a-f]{32}$/)
    expect(r.dedupeKey).toBe(`ads:fm01:${r.payload.eventId}`)
    expect(r.payload).toEqual({
      product: "ads",
      instance: "fm01",
      eventId: r.payload.eventId,
      detectedAt: "2025-11-03T14:13:04.000Z",
      firstFlowAt: null,
      method: "SSHDICT",
      subtype: null,
      mitre: null,
      description: "SSH attack",
      perspective: "2",
      priority: "CRITICAL",
      severity: "10",
      detail: "Attack from a single attacker has been detected.",
      ports: null,
      protocol: null,
      source: "192.0.2.31",
      sourceName: null,
      targets: ["198.51.100.40"],
      dataFeed: "1",
      userIdentity: "",
      signature: null,
      ids: null,
      cef: {
        syslogHost: "fm01",
        vendor: "Flowmon Networks",
        product: "Flowmon ADS Ultimate",
        version: "13.00.00",
        severity: "10",
        sourceMac: "02:00:00:00:00:01",
        methodInstance: "Default"
      },
      format: "cef",
      raw: CEF_13
    } satisfies FlowmonEventReceived)
  })

  it("maps the CEF severities 2/4/6/8/10 to the five priorities", () => {
    const at = (sev: string) => accepted(CEF_13.replace("|SSH attack|10|", `|SSH attack|${sev}|`), CEF)
    expect([2, 4, 6, 8, 10].map((s) => at(String(s)).priority)).toEqual(["INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"])
    expect(at("7")).toMatchObject({ priority: null, severity: "7", cef: { severity: "7" } })
  })

  it("reads the targets of a 7.02 'targetList:' inside msg, and drops it from the detail", () => {
    const e = accepted(CEF_7_TARGETLIST, CEF)
    expect(e.targets).toEqual(["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"])
    expect(e.detail).toBe("BitTorrent downloads, unique sources: %1.")
    expect(e.source).toBe("10.0.0.1")
    expect(e.detectedAt).toBe("2015-05-27T17:12:30.000Z")
    expect(e.cef).toMatchObject({ syslogHost: "demo", vendor: "INVEA-TECH", version: "7.02.01", severity: "6" })
    expect(e.priority).toBe("MEDIUM")
  })

  it("reads an IPv6 source (c6a2) and an IPv6 target list (cs6)", () => {
    const e = accepted(CEF_12_IPV6, CEF)
    expect(e.source).toBe("fe80::a1")
    expect(e.targets).toEqual(["fe80::2", "fe80::3", "fe80::4", "fe80::5", "fe80::6", "fe80::7", "fe80::8", "fe80::9", "fe80::10", "fe80::11"])
    expect(e.detail).toBe("A new device (MAC address: 0C:70:00:00:00:00) has been detected based on its IP address.")
    expect(e).toMatchObject({ method: "ALIENDEV", description: "New or alien device", priority: "HIGH", perspective: "1", dataFeed: "1" })
    expect(e.cef).toMatchObject({ syslogHost: "localhost", sourceMac: "0c:70:00:00:00:00", methodInstance: "Default" })
  })

  it("takes the subtype from a machine-readable msg, and an IPv4 target list from cs4", () => {
    const e = accepted(CEF_12_MACHINE, CEF)
    expect(e.subtype).toBe("IPBased")
    expect(e.detail).toBe("{Submethod:'IPBased';MAC:'0C:70:00:00:00:00'}")
    expect(e.targets).toHaveLength(10)
    expect(e.targets[0]).toBe("192.168.112.2")
    expect(e.targets[9]).toBe("192.168.112.11")
  })

  it("keeps a 7.02 msg with a raw '=' intact (the extension splits only at known keys)", () => {
    const e = accepted(CEF_7_PHISH, CEF)
    expect(e.detail).toBe(
      "{Type:'Known botnet c&c domains (Conficker_A), Known phishing web domains (http://www.phishtank.com/phish_detail.php?phish_id=3229211)';FlowCount:'2';UploadedData:'0.72 KiB';DownloadedData:'0.72 KiB';Protocol:'6';PortList:'80'}"
    )
    expect(e.targets).toEqual(["77.75.76.3"])
    expect(e.source).toBe("192.168.3.231")
  })

  it("gives the same line the same derived event id (a repeat is one fact), and different lines different ids", () => {
    const first = ingest(CEF_13, CEF)
    const again = ingest(CEF_13, CEF)
    const other = ingest(CEF_13.replace("start=Nov 03 2025 15:13:04", "start=Nov 03 2025 15:13:05"), CEF)
    expect(first.dedupeKey).not.toBeNull()
    expect(again.dedupeKey).toBe(first.dedupeKey)
    expect(other.dedupeKey).not.toBe(first.dedupeKey)
    // The id is derived from the line alone: the zone changes the time, not the identity.
    expect(ingest(CEF_13, PRAGUE).dedupeKey).toBe(first.dedupeKey)
  })

  it("uses the ADS event id when the line carries one (cn1, label EventID)", () => {
    const r = ingest(`${CEF_13} cn1=4711 cn1Label=EventID`, CEF)
    expect(r.dedupeKey).toBe("ads:fm01:4711")
  })

  it("parses CRLF line endings (the 7.02 files) without keeping the CR", () => {
    const bytes = new TextEncoder().encode(`${CEF_7_TARGETLIST}\r\n${CEF_7_PHISH}\r\n`)
    const results = ingestAll(bytes, { ...CEF, chunkSize: 7 })
    expect(results).toHaveLength(2)
    const [a, b] = results
    expect(a?.type).toBe("FlowmonEventReceived")
    expect(b?.type).toBe("FlowmonEventReceived")
    if (a?.type === "FlowmonEventReceived" && b?.type === "FlowmonEventReceived") {
      expect(a.payload.raw).toBe(CEF_7_TARGETLIST)
      expect(a.payload.targets.at(-1)).toBe("10.0.0.6")
      expect(b.payload.targets).toEqual(["77.75.76.3"])
      expect(a.dedupeKey).toBe(ingest(CEF_7_TARGETLIST, CEF).dedupeKey)
    }
  })

  it("reads a 7.02 file, CRLF and no final newline, with the targets of its last line intact", () => {
    // The archive's file; without the archive, two of its lines in the same form.
    const bytes = HAVE_ARCHIVE
      ? readFileSync(path.join(SAMPLES, "ADS_7.02", "multiple_targets_per_event.txt"))
      : Buffer.from(`${CEF_7_TARGETLIST}\r\n${CEF_7_PHISH}`)
    expect(bytes.includes("\r\n")).toBe(true)
    const results = ingestAll(bytes, CEF)
    const last = results.at(-1)
    expect(last?.type).toBe("FlowmonEventReceived")
    if (last?.type === "FlowmonEventReceived") {
      for (const t of last.payload.targets) expect(t).toMatch(/^[0-9.]+$/)
      expect(last.payload.raw.endsWith("\r")).toBe(false)
    }
  })

  it("rejects a CEF line without a start= time, or with a bad source, saying so", () => {
    expect(rejected(CEF_13.replace(" start=Nov 03 2025 15:13:04", ""), CEF).reason).toContain("no start=")
    expect(rejected(CEF_13.replace("start=Nov 03 2025", "start=Nov 31 2025"), CEF).reason).toMatch(/^CEF start=: .*day 31/)
    const bad = rejected(CEF_13.replace("src=192.0.2.31", "src=192.0.2.310"), CEF)
    expect(bad.reason).toContain("CEF src=/c6a2=")
    expect(bad.format).toBe("cef")
    expect(rejected(CEF_13.replace("src=192.0.2.31 ", ""), CEF).reason).toMatch(/CEF src=\/c6a2=: is empty/)
  })

  it("rejects a line that is not CEF when --format cef is forced", () => {
    expect(rejected("4711\t2025-11-03 15:13:05", CEF).reason).toBe("no 'CEF:<version>|' header found")
    expect(rejected("Nov  3 15:13:04 fm01 ADS: CEF:0|Flowmon Networks|x", CEF).reason).toContain("fewer than 7")
  })
})

import { describe, expect, it } from "@effect/vitest"
import type { FlowmonEventReceived, InputRejected } from "../../src/domain/Events.js"
import type { FormatChoice } from "../../src/domain/flowmon/Ingest.js"
import { accepted as acceptedLine, ingest, rejected as rejectedLine } from "../support/ingest.js"

const accepted = (value: unknown, timeZone?: string): FlowmonEventReceived =>
  acceptedLine(JSON.stringify(value), timeZone === undefined ? {} : { timeZone })

const rejected = (line: string, format: FormatChoice = "auto"): InputRejected => rejectedLine(line, { format })

const rejectedValue = (value: unknown): InputRejected => rejected(JSON.stringify(value))

// Spec section 12, JSON Lines (ADS then IDS).
const ADS = {
  id: 4713,
  timestamp: "2025-11-03 15:25:00",
  type: "BLACKLIST",
  typeDesc: "Communication with blacklisted hosts",
  severity: "Critical",
  source: "192.0.2.31",
  targets: "198.51.100.40",
  detail: "Communication with a blacklisted host.",
  perspective: "Security issues",
  netFlowSource: "LAN",
  userIdentity: ""
}

const IDS = {
  id: 9002,
  firstSeen: "2025-11-03 15:26:00",
  category: "Trojan",
  severity: "1",
  srcIp: "192.0.2.50",
  dstIp: "198.51.100.7",
  signatureName: "ET TROJAN example",
  logSourceInterface: "eth2",
  logSourceIp: "203.0.113.10"
}

describe("JSON lines: ADS objects", () => {
  it("maps every key of the spec example", () => {
    const line = JSON.stringify(ADS)
    const r = ingest(line, { timeZone: "Europe/Prague" })
    expect(r.type).toBe("FlowmonEventReceived")
    expect(r.dedupeKey).toBe("ads:fm01:4713")
    expect(r.payload).toEqual({
      product: "ads",
      instance: "fm01",
      eventId: "4713",
      detectedAt: "2025-11-03T14:25:00.000Z",
      firstFlowAt: null,
      method: "BLACKLIST",
      subtype: null,
      mitre: null,
      description: "Communication with blacklisted hosts",
      perspective: "Security issues",
      priority: "CRITICAL",
      severity: "Critical",
      detail: "Communication with a blacklisted host.",
      ports: null,
      protocol: null,
      source: "192.0.2.31",
      sourceName: null,
      targets: ["198.51.100.40"],
      dataFeed: "LAN",
      userIdentity: "",
      signature: null,
      ids: null,
      cef: null,
      format: "json",
      raw: line
    } satisfies FlowmonEventReceived)
  })

  it("accepts the id as a number or as a string, giving the same event id", () => {
    expect(accepted({ ...ADS, id: 4713 }).eventId).toBe("4713")
    expect(accepted({ ...ADS, id: "4713" }).eventId).toBe("4713")
    expect(ingest(JSON.stringify({ ...ADS, id: "4713" })).dedupeKey).toBe(ingest(JSON.stringify(ADS)).dedupeKey)
  })

  it("rejects an id that is not a whole number", () => {
    expect(rejectedValue({ ...ADS, id: 4.5 }).reason).toMatch(/key "id": 4.5 is not a whole number/)
    expect(rejectedValue({ ...ADS, id: -1 }).reason).toMatch(/key "id": -1 is not a whole number/)
    expect(rejectedValue({ ...ADS, id: "47x" }).reason).toMatch(/key "id".*not an ADS event id/)
    expect(rejectedValue({ ...ADS, id: true }).reason).toBe('key "id": expected a number or a string, got boolean')
    const { id: _, ...noId } = ADS
    expect(rejectedValue(noId).reason).toBe('key "id": missing')
  })

  it("accepts targets as one ', '-separated string or as an array, canonicalising each", () => {
    expect(accepted({ ...ADS, targets: "198.51.100.40, 2001:DB8::0:1" }).targets).toEqual(["198.51.100.40", "2001:db8::1"])
    expect(accepted({ ...ADS, targets: ["198.51.100.40", "2001:DB8::0:1"] }).targets).toEqual([
      "198.51.100.40",
      "2001:db8::1"
    ])
    expect(accepted({ ...ADS, targets: [] }).targets).toEqual([])
    expect(accepted({ ...ADS, targets: "" }).targets).toEqual([])
    expect(accepted({ ...ADS, targets: null }).targets).toEqual([])
  })

  it("reads a null or absent userIdentity as empty", () => {
    expect(accepted({ ...ADS, userIdentity: null }).userIdentity).toBe("")
    const { userIdentity: _, ...without } = ADS
    expect(accepted(without).userIdentity).toBe("")
    expect(accepted({ ...ADS, userIdentity: "jdoe@example.test" }).userIdentity).toBe("jdoe@example.test")
  })

  it("reads the severity case-insensitively, keeping the raw spelling", () => {
    expect(accepted({ ...ADS, severity: "informational" })).toMatchObject({ priority: "INFORMATIONAL", severity: "informational" })
    expect(accepted({ ...ADS, severity: "" })).toMatchObject({ priority: null, severity: "" })
    expect(accepted({ ...ADS, severity: "Severe" })).toMatchObject({ priority: null, severity: "Severe" })
  })

  it("reads the optional extra keys when present", () => {
    const e = accepted({ ...ADS, subtype: "IPBased", mitre: "T1071", ports: "443, 80", protocol: "6", sourceName: "ws-1" })
    expect(e).toMatchObject({ subtype: "IPBased", mitre: "T1071", ports: "443, 80", protocol: "6", sourceName: "ws-1" })
  })

  it("rejects a value of the wrong type under a key the event cannot do without, naming the key", () => {
    expect(rejectedValue({ ...ADS, source: true }).reason).toBe('key "source": expected a string, got boolean')
    expect(rejectedValue({ ...ADS, timestamp: 12.5 }).reason).toMatch(/^key "timestamp": /)
  })

  it("stores a detection whose optional keys have the wrong type: each costs its key, kept as JSON with a warning", () => {
    const e = accepted({ ...ADS, targets: ["198.51.100.40", 7], detail: ["a"], severity: { level: 1 } })
    expect(e).toMatchObject({ targets: ["198.51.100.40"], detail: "", priority: null, severity: "" })
    expect(e.warnings).toEqual([
      { field: "severity", raw: '{"level":1}', reason: 'key "severity": expected a string, got object; stored without it' },
      { field: "detail", raw: '["a"]', reason: 'key "detail": expected a string, got array; stored without it' },
      { field: "targets", raw: '["198.51.100.40",7]', reason: 'key "targets"[1]: expected a string, got number; kept the 1 string item(s)' }
    ])
    expect(accepted({ ...ADS, targets: {} })).toMatchObject({
      targets: [],
      warnings: [{ field: "targets", raw: "{}", reason: 'key "targets": expected a string or an array of strings, got object; stored without targets' }]
    })
  })

  it("rejects a number where the source address belongs, naming the key", () => {
    // Numbers are read as their decimal text, and "5" is no address.
    const r = rejectedValue({ ...ADS, source: 5 })
    expect(r.reason).toMatch(/^key "source": '5' is not a valid IPv4 address/)
    expect(r.format).toBe("json")
  })

  it("rejects missing required keys", () => {
    const { source: _s, ...noSource } = ADS
    expect(rejectedValue(noSource).reason).toBe('key "source": missing')
    expect(rejectedValue({ ...ADS, timestamp: null }).reason).toBe('key "timestamp": missing')
  })

  it("rejects an unreadable time, id or source, naming the key", () => {
    expect(rejectedValue({ ...ADS, timestamp: "2025-02-30 10:00:00" }).reason).toMatch(/^key "timestamp": .*day 30 does not exist/)
    expect(rejectedValue({ ...IDS, firstSeen: "8/28/2023 10:13" }).reason).toMatch(/^key "firstSeen": .*is not a timestamp/)
  })

  it("stores a detection whose method, first flow time or targets cannot be read, with a warning for each", () => {
    const { type: _t, ...noType } = ADS
    expect(accepted(noType)).toMatchObject({ method: null, warnings: [{ field: "method", raw: "", reason: 'key "type": is empty; stored without a method' }] })
    expect(accepted({ ...ADS, type: "SSH attack" }).warnings![0]!.reason).toMatch(/^key "type": 'SSH attack' is not a detection method code/)
    const flow = accepted({ ...ADS, firstFlowTimestamp: "2025-13-01 00:00:00" })
    expect(flow.firstFlowAt).toBeNull()
    expect(flow.warnings).toMatchObject([{ field: "firstFlowAt", raw: "2025-13-01 00:00:00" }])
    expect(flow.warnings![0]!.reason).toMatch(/^key "firstFlowTimestamp": .*month 13/)
    const targets = accepted({ ...ADS, targets: "198.51.100.40, nope" })
    expect(targets.targets).toEqual(["198.51.100.40"])
    expect(targets.warnings).toMatchObject([{ field: "targets", raw: "198.51.100.40, nope" }])
    expect(targets.warnings![0]!.reason).toMatch(/^key "targets": 'nope' is not an address/)
  })
})

describe("JSON lines: IDS objects", () => {
  it("maps every key of the spec example (an object with firstSeen and no timestamp)", () => {
    const line = JSON.stringify(IDS)
    const r = ingest(line)
    expect(r.dedupeKey).toBe("ids:fm01:9002")
    expect(r.type).toBe("FlowmonEventReceived")
    expect(r.payload).toEqual({
      product: "ids",
      instance: "fm01",
      eventId: "9002",
      detectedAt: "2025-11-03T15:26:00.000Z",
      firstFlowAt: null,
      method: null,
      subtype: null,
      mitre: null,
      description: "Trojan",
      perspective: null,
      priority: null,
      severity: "1",
      detail: "ET TROJAN example",
      ports: null,
      protocol: null,
      source: "192.0.2.50",
      sourceName: null,
      targets: ["198.51.100.7"],
      dataFeed: null,
      userIdentity: "",
      signature: { id: "", name: "ET TROJAN example" },
      ids: {
        lastSeen: null,
        sourcePort: "",
        targetPort: "",
        category: "Trojan",
        logSourceIp: "203.0.113.10",
        logSourceInterface: "eth2"
      },
      cef: null,
      format: "json",
      raw: line
    } satisfies FlowmonEventReceived)
  })

  it("reads the probable extra IDS keys, numbers included", () => {
    const e = accepted({ ...IDS, id: "9002", lastSeen: "2025-11-03 15:27:00", srcPort: 51514, dstPort: 443, protocol: "TCP", signatureId: 2024217 })
    expect(e.eventId).toBe("9002")
    expect(e.protocol).toBe("TCP")
    expect(e.signature).toEqual({ id: "2024217", name: "ET TROJAN example" })
    expect(e.ids).toMatchObject({ lastSeen: "2025-11-03T15:27:00.000Z", sourcePort: "51514", targetPort: "443" })
  })

  it("rejects a missing source; wrong types elsewhere cost only their key", () => {
    expect(rejectedValue({ ...IDS, srcIp: null }).reason).toBe('key "srcIp": missing')
    const e = accepted({ ...IDS, dstIp: { ip: "198.51.100.7" }, category: false })
    expect(e).toMatchObject({ targets: [], description: "", ids: { category: "" } })
    expect(e.warnings).toEqual([
      { field: "targets", raw: '{"ip":"198.51.100.7"}', reason: 'key "dstIp": expected a string or an array of strings, got object; stored without targets' },
      { field: "ids.category", raw: "false", reason: 'key "category": expected a string, got boolean; stored without it' }
    ])
  })

  it("reads an object with both timestamp and firstSeen as ADS", () => {
    expect(accepted({ ...ADS, firstSeen: "2025-11-03 15:26:00" }).product).toBe("ads")
  })
})

describe("lines that are not ADS or IDS JSON objects", () => {
  it("rejects broken JSON", () => {
    const r = rejected('{"id":4713,"timestamp":')
    expect(r.reason).toMatch(/^invalid JSON: /)
    expect(r.format).toBe("json")
    expect(rejected('{"id":4713} trailing').reason).toMatch(/^invalid JSON: /)
    expect(rejected("{id: 4713}").reason).toMatch(/^invalid JSON: /)
  })

  it("rejects a JSON array or number instead of an object", () => {
    expect(rejected("[1,2,3]", "json").reason).toBe("expected a JSON object, got array")
    expect(rejected("42", "json").reason).toBe("expected a JSON object, got number")
    expect(rejected('"text"', "json").reason).toBe("expected a JSON object, got string")
    expect(rejected("null", "json").reason).toBe("expected a JSON object, got null")
  })

  it("in auto mode, takes only a line starting with '{' for JSON: an array is rejected as a TSV line", () => {
    const r = rejected(JSON.stringify([ADS]))
    expect(r.format).toBeNull()
    expect(r.reason).toContain("tab-separated fields, got 1")
  })

  it("finds a JSON object after leading spaces", () => {
    const r = ingest(`   ${JSON.stringify(ADS)}`)
    expect(r.type).toBe("FlowmonEventReceived")
    expect(r.dedupeKey).toBe("ads:fm01:4713")
  })

  it("rejects an object with neither timestamp nor firstSeen", () => {
    const { timestamp: _, ...noTime } = ADS
    expect(rejectedValue(noTime).reason).toBe('JSON object has neither "timestamp" (ADS event) nor "firstSeen" (IDS event)')
    expect(rejectedValue({}).reason).toContain("neither")
  })
})

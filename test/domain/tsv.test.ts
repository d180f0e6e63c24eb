import { describe, expect, it } from "@effect/vitest"
import type { FlowmonEventReceived } from "../../src/domain/Events.js"
import { accepted, INSTANCE, ingest, ingestAll, rejected } from "../support/ingest.js"

const tsv = (...fields: ReadonlyArray<string | number>) => fields.join("\t")

// Spec section 12, layout A: 15 fields, empty captured name and user identity.
const ADS_STANDARD = tsv(
  4711, "2025-11-03 15:13:05", "2025-11-03 15:12:40", "SSHDICT", "SSH attack", "Security issues", "Critical",
  "Attack from a single attacker has been detected. This attack was unsuccessful.", "22", "6", "192.0.2.31", " ",
  "198.51.100.40, 198.51.100.41", "LAN", " "
)

// Spec section 12, layout B: 17 fields, IPv6 source, user identity set.
const ADS_EXTENDED = tsv(
  4712, "2025-11-03 15:20:11", "2025-11-03 15:19:58", "SCANS", "TCPSYN", "T1046", "Port scanning", "Security issues",
  "High",
  "Chaotic TCP SYN scan (attempts with response: 0, attempts without response: 20, targets: 10, port(s): 22).",
  "22", "6", "2001:db8::a1", "ws-042.example.test", "2001:db8::2, 2001:db8::3", "LAN", "jdoe@example.test"
)

// Spec section 12, layout C: 14 fields.
const IDS = tsv(
  9001, "2025-11-03 15:21:00", "2025-11-03 15:21:07", "192.0.2.50", "51514", "198.51.100.7", "443", "TCP", "2024217",
  "ET POLICY example signature", "203.0.113.10", "eth2", "Potential Corporate Privacy Violation", "2"
)

/** An ADS standard line with some fields replaced (by 0-based index). */
const adsWith = (changes: Record<number, string>): string => {
  const fields = ADS_STANDARD.split("\t")
  for (const [i, v] of Object.entries(changes)) fields[Number(i)] = v
  return fields.join("\t")
}

const extendedWith = (changes: Record<number, string>): string => {
  const fields = ADS_EXTENDED.split("\t")
  for (const [i, v] of Object.entries(changes)) fields[Number(i)] = v
  return fields.join("\t")
}

describe("TSV layout A: ADS standard, 15 fields", () => {
  it("maps every field of the spec example, in the appliance's zone", () => {
    const r = ingest(ADS_STANDARD, { timeZone: "Europe/Prague" })
    expect(r.type).toBe("FlowmonEventReceived")
    expect(r.dedupeKey).toBe("ads:fm01:4711")
    expect(r.payload).toEqual({
      product: "ads",
      instance: "fm01",
      eventId: "4711",
      detectedAt: "2025-11-03T14:13:05.000Z",
      firstFlowAt: "2025-11-03T14:12:40.000Z",
      method: "SSHDICT",
      subtype: null,
      mitre: null,
      description: "SSH attack",
      perspective: "Security issues",
      priority: "CRITICAL",
      severity: "Critical",
      detail: "Attack from a single attacker has been detected. This attack was unsuccessful.",
      ports: "22",
      protocol: "6",
      source: "192.0.2.31",
      sourceName: "",
      targets: ["198.51.100.40", "198.51.100.41"],
      dataFeed: "LAN",
      userIdentity: "",
      signature: null,
      ids: null,
      cef: null,
      format: "tsv15",
      raw: ADS_STANDARD
    } satisfies FlowmonEventReceived)
  })

  it("counts a trailing empty user identity written as TAB + space as the 15th field", () => {
    expect(ADS_STANDARD.endsWith("\tLAN\t ")).toBe(true)
    const e = accepted(ADS_STANDARD)
    expect(e.format).toBe("tsv15")
    expect(e.userIdentity).toBe("")
    expect(e.dataFeed).toBe("LAN")
  })

  it("reads a single space as an empty field wherever it appears", () => {
    const e = accepted(adsWith({ 4: " ", 5: " ", 6: " ", 7: " ", 8: " ", 9: " ", 11: " ", 12: " ", 13: " " }))
    expect(e).toMatchObject({
      description: "",
      perspective: "",
      priority: null,
      severity: "",
      detail: "",
      ports: "",
      protocol: "",
      sourceName: "",
      targets: [],
      dataFeed: "",
      userIdentity: ""
    })
  })

  it("takes an empty first flow timestamp as unknown (null)", () => {
    expect(accepted(adsWith({ 2: " " })).firstFlowAt).toBeNull()
  })

  it("keeps a user identity and captured source name when given", () => {
    const e = accepted(adsWith({ 11: "ws-042.example.test", 14: "jdoe@example.test" }))
    expect(e.sourceName).toBe("ws-042.example.test")
    expect(e.userIdentity).toBe("jdoe@example.test")
  })

  it("converts timestamps from --timezone to UTC: Prague summer, Prague winter, UTC", () => {
    const summer = adsWith({ 1: "2025-07-01 12:00:00", 2: "2025-07-01 11:59:30" })
    const winter = adsWith({ 1: "2025-01-15 12:00:00", 2: "2025-01-15 11:59:30" })
    expect(accepted(summer, { timeZone: "Europe/Prague" })).toMatchObject({
      detectedAt: "2025-07-01T10:00:00.000Z",
      firstFlowAt: "2025-07-01T09:59:30.000Z"
    })
    expect(accepted(winter, { timeZone: "Europe/Prague" })).toMatchObject({
      detectedAt: "2025-01-15T11:00:00.000Z",
      firstFlowAt: "2025-01-15T10:59:30.000Z"
    })
    expect(accepted(summer, { timeZone: "UTC" })).toMatchObject({
      detectedAt: "2025-07-01T12:00:00.000Z",
      firstFlowAt: "2025-07-01T11:59:30.000Z"
    })
  })

  it("canonicalises IPv6 sources and targets written in upper case or with leading zeros", () => {
    const e = accepted(
      adsWith({ 10: "2001:0DB8:0000:0000:0000:0000:0000:00A1", 12: "2001:DB8::2, 2001:0db8:0:0:0:0:0:0003, FE80::00B1" })
    )
    expect(e.source).toBe("2001:db8::a1")
    expect(e.targets).toEqual(["2001:db8::2", "2001:db8::3", "fe80::b1"])
  })

  it("splits targets on ', ' and also tolerates a bare ',' or extra spaces", () => {
    expect(accepted(adsWith({ 12: "198.51.100.40" })).targets).toEqual(["198.51.100.40"])
    expect(accepted(adsWith({ 12: "198.51.100.40,198.51.100.41 ,  198.51.100.42" })).targets).toEqual([
      "198.51.100.40",
      "198.51.100.41",
      "198.51.100.42"
    ])
  })

  it("lists a target written twice (in two spellings) once", () => {
    expect(accepted(adsWith({ 12: "2001:db8::2, 2001:DB8:0::2" })).targets).toEqual(["2001:db8::2"])
  })

  it("reads the priority case-insensitively and keeps the original spelling in severity", () => {
    const cases: Array<[string, FlowmonEventReceived["priority"]]> = [
      ["Critical", "CRITICAL"],
      ["CRITICAL", "CRITICAL"],
      ["HIGH", "HIGH"],
      ["Medium", "MEDIUM"],
      ["low", "LOW"],
      ["informational", "INFORMATIONAL"],
      ["Information", "INFORMATIONAL"]
    ]
    for (const [written, priority] of cases) {
      const e = accepted(adsWith({ 6: written }))
      expect([written, e.priority, e.severity]).toEqual([written, priority, written])
    }
  })

  it("leaves the priority null when empty (manual run) or not one of the five levels, keeping the raw word", () => {
    expect(accepted(adsWith({ 6: " " }))).toMatchObject({ priority: null, severity: "" })
    expect(accepted(adsWith({ 6: "Urgent" }))).toMatchObject({ priority: null, severity: "Urgent" })
    expect(accepted(adsWith({ 6: "5" }))).toMatchObject({ priority: null, severity: "5" })
  })

  it("rejects an invalid source address with a reason naming the field", () => {
    const r = rejected(adsWith({ 10: "192.0.2.300" }))
    expect(r.reason).toContain("field 11 of 15 (source IP, tsv15)")
    expect(r.reason).toContain("'192.0.2.300'")
    expect(r.reason).toContain("over 255")
    expect(r.format).toBe("tsv15")
    expect(r.line).toBe(1)
  })

  it("rejects an empty source address (an event needs a source)", () => {
    expect(rejected(adsWith({ 10: " " })).reason).toMatch(/field 11 of 15 \(source IP, tsv15\): is empty/)
  })

  it("keeps the readable targets of a list with an invalid one, and warns naming the targets field", () => {
    const e = accepted(adsWith({ 12: "198.51.100.40, host.example.test" }))
    expect(e.targets).toEqual(["198.51.100.40"])
    expect(e.warnings).toHaveLength(1)
    expect(e.warnings![0]).toMatchObject({ field: "targets", raw: "198.51.100.40, host.example.test" })
    expect(e.warnings![0]!.reason).toContain("field 13 of 15 (targets, tsv15)")
    expect(e.warnings![0]!.reason).toContain("host.example.test")
  })

  it("rejects a detection time that does not exist (2025-02-30); a first flow time that does not exist only costs that field", () => {
    const r = rejected(adsWith({ 1: "2025-02-30 10:00:00" }))
    expect(r.reason).toContain("field 2 of 15 (detection time, tsv15)")
    expect(r.reason).toContain("day 30 does not exist in 2025-02")
    const e = accepted(adsWith({ 2: "2025-02-30 10:00:00" }))
    expect(e.firstFlowAt).toBeNull()
    expect(e.warnings).toMatchObject([{ field: "firstFlowAt", raw: "2025-02-30 10:00:00" }])
    expect(e.warnings![0]!.reason).toContain("field 3 of 15 (first flow timestamp, tsv15)")
  })

  it("rejects a missing detection time", () => {
    expect(rejected(adsWith({ 1: " " })).reason).toMatch(/field 2 of 15 \(detection time, tsv15\): is empty/)
  })

  it("rejects an event id that is not a whole number; a method that is not a code is stored without one, with a warning", () => {
    expect(rejected(adsWith({ 0: "47a1" })).reason).toMatch(/field 1 of 15 \(event ID, tsv15\).*not an ADS event id/)
    const e = accepted(adsWith({ 3: "SSH attack" }))
    expect(e.method).toBeNull()
    expect(e.warnings).toMatchObject([{ field: "method", raw: "SSH attack" }])
    expect(e.warnings![0]!.reason).toMatch(/field 4 of 15 \(event type, tsv15\).*detection method code/)
  })
})

describe("TSV layout B: ADS extended values, 17 fields", () => {
  it("maps every field of the spec example, subtype and MITRE ATT&CK included", () => {
    const r = ingest(ADS_EXTENDED, { timeZone: "Europe/Prague" })
    expect(r.dedupeKey).toBe("ads:fm01:4712")
    expect(r.type).toBe("FlowmonEventReceived")
    expect(r.payload).toEqual({
      product: "ads",
      instance: "fm01",
      eventId: "4712",
      detectedAt: "2025-11-03T14:20:11.000Z",
      firstFlowAt: "2025-11-03T14:19:58.000Z",
      method: "SCANS",
      subtype: "TCPSYN",
      mitre: "T1046",
      description: "Port scanning",
      perspective: "Security issues",
      priority: "HIGH",
      severity: "High",
      detail: "Chaotic TCP SYN scan (attempts with response: 0, attempts without response: 20, targets: 10, port(s): 22).",
      ports: "22",
      protocol: "6",
      source: "2001:db8::a1",
      sourceName: "ws-042.example.test",
      targets: ["2001:db8::2", "2001:db8::3"],
      dataFeed: "LAN",
      userIdentity: "jdoe@example.test",
      signature: null,
      ids: null,
      cef: null,
      format: "tsv17",
      raw: ADS_EXTENDED
    } satisfies FlowmonEventReceived)
  })

  it("counts a trailing empty user identity (TAB + space) as the 17th field", () => {
    const e = accepted(extendedWith({ 16: " " }))
    expect(e.format).toBe("tsv17")
    expect(e.userIdentity).toBe("")
  })

  it("reads empty subtype and MITRE fields as empty strings (the layout has them)", () => {
    expect(accepted(extendedWith({ 4: " ", 5: " " }))).toMatchObject({ subtype: "", mitre: "" })
  })

  it("names fields by their extended position in a rejection", () => {
    const r = rejected(extendedWith({ 12: "2001:db8::g" }))
    expect(r.reason).toContain("field 13 of 17 (source IP, tsv17)")
    expect(r.format).toBe("tsv17")
  })
})

describe("TSV layout C: IDS, 14 fields", () => {
  it("maps every field of the spec example", () => {
    const r = ingest(IDS, { timeZone: "UTC" })
    expect(r.dedupeKey).toBe("ids:fm01:9001")
    expect(r.type).toBe("FlowmonEventReceived")
    expect(r.payload).toEqual({
      product: "ids",
      instance: "fm01",
      eventId: "9001",
      detectedAt: "2025-11-03T15:21:00.000Z",
      firstFlowAt: null,
      method: null,
      subtype: null,
      mitre: null,
      description: "Potential Corporate Privacy Violation",
      perspective: null,
      priority: null,
      severity: "2",
      detail: "ET POLICY example signature",
      ports: null,
      protocol: "TCP",
      source: "192.0.2.50",
      sourceName: null,
      targets: ["198.51.100.7"],
      dataFeed: null,
      userIdentity: "",
      signature: { id: "2024217", name: "ET POLICY example signature" },
      ids: {
        lastSeen: "2025-11-03T15:21:07.000Z",
        sourcePort: "51514",
        targetPort: "443",
        category: "Potential Corporate Privacy Violation",
        logSourceIp: "203.0.113.10",
        logSourceInterface: "eth2"
      },
      cef: null,
      format: "tsv14",
      raw: IDS
    } satisfies FlowmonEventReceived)
  })

  it("converts IDS times from --timezone too, and takes an empty lastSeen as unknown", () => {
    const fields = IDS.split("\t")
    fields[1] = "2025-07-01 12:00:00"
    fields[2] = " "
    const e = accepted(fields.join("\t"), { timeZone: "Europe/Prague" })
    expect(e.detectedAt).toBe("2025-07-01T10:00:00.000Z")
    expect(e.ids?.lastSeen).toBeNull()
  })

  it("accepts a non-numeric IDS event id (the IDS id format is not known)", () => {
    const fields = IDS.split("\t")
    fields[0] = "ids-2025.11:9001"
    expect(ingest(fields.join("\t")).dedupeKey).toBe("ids:fm01:ids-2025.11:9001")
  })

  it("rejects an invalid IDS source naming srcIp", () => {
    const fields = IDS.split("\t")
    fields[3] = "not-an-ip"
    const r = rejected(fields.join("\t"))
    expect(r.reason).toContain("field 4 of 14 (srcIp, tsv14)")
    expect(r.reason).not.toContain("15-field ADS line")
  })
})

describe("TSV lines with the wrong number of fields", () => {
  it("rejects a 16-field line, explaining that a trailing empty field was probably trimmed", () => {
    const sixteen = extendedWith({}).split("\t").slice(0, 16).join("\t")
    const r = rejected(sixteen)
    expect(r.format).toBeNull()
    expect(r.reason).toContain("got 16")
    expect(r.reason).toContain("17-field ADS line whose empty last field was trimmed")
  })

  it("rejects a 15-field ADS line trimmed to 14 with the ADS hint, and never reads it as IDS", () => {
    const trimmed = ADS_STANDARD.trimEnd()
    expect(trimmed.split("\t")).toHaveLength(14)
    const r = rejected(trimmed)
    expect(r.format).toBe("tsv14")
    expect(r.reason).toContain("looks like a 15-field ADS line whose empty last field, user identity, was trimmed upstream")
    // The same trap with an IPv6 source and a different method.
    const v6 = adsWith({ 3: "SCANS", 10: "2001:db8::a1" }).trimEnd()
    expect(rejected(v6).reason).toContain("looks like a 15-field ADS line")
  })

  it("rejects a 13-field line with the trimmed-field hint", () => {
    const r = rejected(IDS.split("\t").slice(0, 13).join("\t"))
    expect(r.reason).toContain("got 13")
    expect(r.reason).toContain("trimmed upstream")
  })

  it("rejects a line without TABs, and other counts, saying which counts are expected", () => {
    expect(rejected("just some text").reason).toMatch(/expected 14 \(IDS\), 15 \(ADS\) or 17 \(ADS extended\).*got 1 \(no TAB found/)
    expect(rejected(`${ADS_EXTENDED}\textra`).reason).toMatch(/got 18$/)
    // Two TABs in a row: an empty field written without its space still counts.
    expect(rejected(ADS_STANDARD.replace("\t \t", "\t\t\t")).reason).toContain("got 16")
  })

  it("does not trim the line: leading and trailing spaces stay inside the first and last fields", () => {
    // A space before the id is kept in the field and then trimmed as a value, not as the line.
    expect(accepted(` ${ADS_STANDARD}`).eventId).toBe("4711")
    expect(accepted(adsWith({ 14: " jdoe " })).userIdentity).toBe("jdoe")
  })
})

describe("several TSV lines in one input", () => {
  it("reads each line by its own layout and numbers rejections by line", () => {
    const results = ingestAll([ADS_STANDARD, IDS, ADS_EXTENDED, ADS_STANDARD.trimEnd()].join("\n") + "\n")
    expect(results.map((r) => (r?.type === "FlowmonEventReceived" ? r.payload.format : r?.payload.line))).toEqual([
      "tsv15",
      "tsv14",
      "tsv17",
      4
    ])
  })
})

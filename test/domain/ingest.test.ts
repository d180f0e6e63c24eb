import { describe, expect, it } from "@effect/vitest"
import * as fc from "effect/FastCheck"
import * as Schema from "effect/Schema"
import { FlowmonEventReceived, InputRejected, type IngestedEvent } from "../../src/domain/Events.js"
import { type FormatChoice, ingestLine, INPUT_FORMATS } from "../../src/domain/flowmon/Ingest.js"
import { type FramedLine, LineFramer, MAX_LINE_BYTES } from "../../src/domain/LineFramer.js"
import { parseTimeZone, type TimeZone } from "../../src/domain/Time.js"

const UTC: TimeZone = (() => {
  const r = parseTimeZone("UTC")
  if (!r.ok) throw new Error(r.error)
  return r.value
})()

const enc = (s: string) => new TextEncoder().encode(s)

const frame = (chunks: ReadonlyArray<Uint8Array>): FramedLine[] => {
  const framer = new LineFramer()
  const out: FramedLine[] = []
  for (const c of chunks) out.push(...framer.push(c))
  out.push(...framer.end())
  return out
}

const run = (chunks: ReadonlyArray<Uint8Array> | Uint8Array | string, format: FormatChoice = "auto"): Array<IngestedEvent | undefined> => {
  const list = typeof chunks === "string" ? [enc(chunks)] : chunks instanceof Uint8Array ? [chunks] : chunks
  return frame(list).map((line) => ingestLine(line, { instance: "fm01", timeZone: UTC, format }))
}

const onlyRejection = (input: string | Uint8Array, format: FormatChoice = "auto"): InputRejected => {
  const results = run(input, format)
  expect(results).toHaveLength(1)
  const r = results[0]
  if (r?.type !== "InputRejected") throw new Error(`expected a rejection, got ${r === undefined ? "a skipped line" : r.type}`)
  return r.payload
}

/** Plain data view of framed lines, for comparing two framings. */
const view = (lines: ReadonlyArray<FramedLine>) =>
  lines.map((l) => ({ number: l.number, bytes: Array.from(l.bytes), byteLength: l.byteLength, oversized: l.oversized }))

const isEvent = Schema.is(FlowmonEventReceived)
const isRejection = Schema.is(InputRejected)
const PRINTABLE = /^[\x20-\x7e]*$/

/** What every ingest result must look like, whatever the input. */
const expectWellFormed = (r: IngestedEvent | undefined) => {
  if (r === undefined) return
  if (r.type === "FlowmonEventReceived") {
    expect(isEvent(r.payload)).toBe(true)
    expect(r.dedupeKey).toBe(`${r.payload.product}:fm01:${r.payload.eventId}`)
  } else {
    expect(r.type).toBe("InputRejected")
    expect(isRejection(r.payload)).toBe(true)
    expect(r.dedupeKey).toBeNull()
    expect(r.payload.raw).toMatch(PRINTABLE)
    expect(r.payload.reason.length).toBeGreaterThan(0)
  }
}

const tsv = (...fields: ReadonlyArray<string | number>) => fields.join("\t")
const ADS = tsv(
  4711, "2025-11-03 15:13:05", "2025-11-03 15:12:40", "SSHDICT", "SSH attack", "Security issues", "Critical",
  "Attack from a single attacker has been detected.", "22", "6", "192.0.2.31", " ", "198.51.100.40, 198.51.100.41", "LAN", " "
)
const adsWithId = (id: number) => ADS.replace(/^4711/, String(id))
const IDS = tsv(
  9001, "2025-11-03 15:21:00", "2025-11-03 15:21:07", "192.0.2.50", "51514", "198.51.100.7", "443", "TCP", "2024217",
  "ET POLICY example signature", "203.0.113.10", "eth2", "Potential Corporate Privacy Violation", "2"
)
const JSON_ADS = JSON.stringify({
  id: 4713, timestamp: "2025-11-03 15:25:00", type: "BLACKLIST", typeDesc: "Communication with blacklisted hosts",
  severity: "Critical", source: "192.0.2.31", targets: "198.51.100.40", detail: "Communication with a blacklisted host.",
  perspective: "Security issues", netFlowSource: "LAN", userIdentity: ""
})

const kinds = (results: ReadonlyArray<IngestedEvent | undefined>) =>
  results.map((r) => (r === undefined ? "skipped" : r.type === "FlowmonEventReceived" ? r.payload.eventId : `rejected@${r.payload.line}`))

describe("line framing", () => {
  it("accepts CRLF line ends and does not keep the CR", () => {
    const results = run(`${adsWithId(1)}\r\n${adsWithId(2)}\r\n`)
    expect(kinds(results)).toEqual(["1", "2"])
    const first = results[0]
    if (first?.type === "FlowmonEventReceived") expect(first.payload.raw).toBe(adsWithId(1))
  })

  it("accepts mixed LF and CRLF in one input", () => {
    expect(kinds(run(`${adsWithId(1)}\n${adsWithId(2)}\r\n${IDS}\n`))).toEqual(["1", "2", "9001"])
  })

  it("accepts a last line without a newline", () => {
    expect(kinds(run(`${adsWithId(1)}\n${adsWithId(2)}`))).toEqual(["1", "2"])
    expect(kinds(run(adsWithId(3)))).toEqual(["3"])
  })

  it("gives no line for empty input, and no extra line after a final newline", () => {
    expect(frame([enc("")])).toEqual([])
    expect(frame([])).toEqual([])
    expect(frame([enc("a\n")]).map((l) => l.number)).toEqual([1])
  })

  it("skips empty lines and lines of spaces, but still counts them in line numbers", () => {
    const input = ["", adsWithId(1), "   ", "\r", adsWithId(2), " ", "not a flowmon line"].join("\n") + "\n"
    const results = run(input)
    expect(kinds(results)).toEqual(["skipped", "1", "skipped", "skipped", "2", "skipped", "rejected@7"])
  })

  it("does not skip a line of TABs or other whitespace: it is reported", () => {
    expect(onlyRejection("\t\t").reason).toMatch(/got 3/)
  })

  it("rejects a line over 1 MiB naming its size, keeping only a 4 KiB prefix, and goes on with the next line", () => {
    const size = MAX_LINE_BYTES + 10
    const big = new Uint8Array(size).fill(0x61) // "a"
    const chunks: Uint8Array[] = []
    for (let at = 0; at < size; at += 65_536) chunks.push(big.subarray(at, at + 65_536))
    chunks.push(enc(`\n${adsWithId(2)}\n`))

    const lines = frame(chunks)
    expect(lines).toHaveLength(2)
    expect(lines[0]!.oversized).toBe(true)
    expect(lines[0]!.byteLength).toBe(size)
    expect(lines[0]!.bytes.length).toBeLessThanOrEqual(4096)

    const results = run(chunks)
    const r = results[0]
    expect(r?.type).toBe("InputRejected")
    if (r?.type === "InputRejected") {
      expect(r.payload.reason).toContain(`${size} bytes`)
      expect(r.payload.reason).toContain("1 MiB")
      expect(r.payload.raw.length).toBeLessThanOrEqual(4096 * 4)
      expect(r.payload.raw).toBe("a".repeat(4096))
      expect(r.payload.rawBytes).toBe(size)
      expect(r.payload.truncated).toBe(true)
      expect(r.payload.line).toBe(1)
      expect(r.payload.format).toBeNull()
    }
    expect(kinds(results.slice(1))).toEqual(["2"])
  })

  it("treats an oversized line the same whether it arrives in one chunk or byte-sized pieces near the limit", () => {
    const size = MAX_LINE_BYTES + 1
    const big = new Uint8Array(size + 1).fill(0x62)
    big[size] = 0x0a
    const whole = frame([big])
    const pieces = frame([big.subarray(0, MAX_LINE_BYTES - 2), ...Array.from(big.subarray(MAX_LINE_BYTES - 2), (b) => Uint8Array.of(b))])
    expect(whole).toHaveLength(1)
    expect(whole[0]!.oversized).toBe(true)
    expect(view(pieces)).toEqual(view(whole))
  })

  it("accepts a line of exactly 1 MiB, CR not counted, as within the limit", () => {
    const line = new Uint8Array(MAX_LINE_BYTES + 2).fill(0x63)
    line[MAX_LINE_BYTES] = 0x0d
    line[MAX_LINE_BYTES + 1] = 0x0a
    const [framed] = frame([line])
    expect(framed?.oversized).toBe(false)
    expect(framed?.byteLength).toBe(MAX_LINE_BYTES)
    // Not oversized, so it is judged on its content (a single field) rather than its size.
    const r = onlyRejection(line)
    expect(r.reason).toMatch(/got 1/)
    expect(r.truncated).toBe(true)
    expect(r.raw).toHaveLength(4096)
  })

  it("gives the same lines whatever the chunk boundaries: inside a UTF-8 character, between CR and LF", () => {
    const text = `${adsWithId(1).replace("SSH attack", "Útok přes SSH")}\r\n${IDS}\r\nž\n${adsWithId(2)}`
    const bytes = enc(text)
    const whole = frame([bytes])
    expect(whole).toHaveLength(4)
    const ca = bytes.indexOf(0xc3) // first byte of "Ú"
    const cr = bytes.indexOf(0x0d)
    for (const cuts of [[ca + 1], [cr + 1], [ca + 1, cr, cr + 1, cr + 2], Array.from({ length: bytes.length - 1 }, (_, i) => i + 1)]) {
      const chunks: Uint8Array[] = []
      let from = 0
      for (const c of cuts) {
        chunks.push(bytes.subarray(from, c))
        from = c
      }
      chunks.push(bytes.subarray(from))
      expect(view(frame(chunks))).toEqual(view(whole))
    }
    const results = run(bytes)
    expect(kinds(results)).toEqual(["1", "9001", "rejected@3", "2"])
    const first = results[0]
    if (first?.type === "FlowmonEventReceived") expect(first.payload.description).toBe("Útok přes SSH")
  })
})

describe("bytes that have no place in a Flowmon line", () => {
  it("rejects a line that is not valid UTF-8 and cannot be read either, naming the offset of the first bad byte", () => {
    const bytes = new Uint8Array([...enc("4711\tab"), 0xff, ...enc("cd")])
    const r = onlyRejection(bytes)
    expect(r.reason).toMatch(/^not valid UTF-8 \(first bad byte at offset 7\); expected 14 \(IDS\), 15 \(ADS\)/)
    expect(r.raw).toBe("4711\\tab\\xffcd")
    expect(r.raw).toMatch(PRINTABLE)
    // A truncated multi-byte character and an overlong encoding too.
    expect(onlyRejection(new Uint8Array([0x41, 0xc3])).reason).toContain("offset 1")
    expect(onlyRejection(new Uint8Array([0x41, 0x42, 0xc0, 0xaf])).reason).toContain("offset 2")
    expect(onlyRejection(new Uint8Array([0xed, 0xa0, 0x80])).reason).toContain("offset 0") // a UTF-16 surrogate
  })

  it("rejects control characters, naming U+XXXX and the column", () => {
    const cases: Array<[string, string]> = [
      [`4711\tab\u0000c`, "control character U+0000 at column 8"],
      [`\u001b[31m${ADS}`, "control character U+001B at column 1"],
      [`${ADS.slice(0, 10)}\u007f${ADS.slice(10)}`, "control character U+007F at column 11"],
      [`${ADS.slice(0, 20)}\u0085${ADS.slice(20)}`, "control character U+0085 at column 21"],
      [`ab\rcd`, "control character U+000D at column 3"],
      [`žž\u0007`, "control character U+0007 at column 3"]
    ]
    for (const [line, reason] of cases) {
      const r = onlyRejection(line)
      expect(r.reason).toBe(reason)
      expect(r.raw).toMatch(PRINTABLE)
      expect(r.format).toBeNull()
    }
  })

  it("stores a rejected line as printable ASCII with visible escapes (an ANSI escape cannot repaint a terminal)", () => {
    const r = onlyRejection("\u001b[2J\u001b[31mred\u0085 \u202e")
    expect(r.raw).toBe("\\x1b[2J\\x1b[31mred\\u{85} \\u{202e}")
    expect(r.raw).toMatch(PRINTABLE)
    expect(r.truncated).toBe(false)
  })

  it("cuts a long rejected line to 4096 bytes of the original and says so", () => {
    const line = `xy\u0000${"é".repeat(3000)}` // 6003 bytes
    const r = onlyRejection(line)
    expect(r.truncated).toBe(true)
    expect(r.rawBytes).toBe(6003)
    expect(r.raw).toMatch(PRINTABLE)
    // 4096 bytes = "xy", NUL and 2046 whole "é" (2 bytes each), then the first half of one.
    expect(r.raw).toBe(`xy\\x00${"\\u{e9}".repeat(2046)}\\xc3`)
    const short = onlyRejection(`x\u0000${"é".repeat(10)}`)
    expect(short.truncated).toBe(false)
    expect(short.rawBytes).toBe(22)
  })
})

describe("--format overrides detection", () => {
  it("reads a TSV line forced to json as invalid JSON", () => {
    const r = onlyRejection(ADS, "json")
    expect(r.reason).toMatch(/^invalid JSON/)
    expect(r.format).toBe("json")
  })

  it("reads a JSON line forced to tsv as a line with the wrong field count", () => {
    const r = onlyRejection(JSON_ADS, "tsv")
    expect(r.reason).toContain("tab-separated fields, got 1")
    expect(r.format).toBeNull()
  })

  it("reads a TSV line forced to cef as a line without a CEF header", () => {
    expect(onlyRejection(ADS, "cef").reason).toContain("no 'CEF:<version>|' header")
  })

  it("detects each kind by itself in auto mode", () => {
    const results = run([ADS, JSON_ADS, IDS].join("\n"))
    expect(results.map((r) => (r?.type === "FlowmonEventReceived" ? r.payload.format : r?.type))).toEqual(["tsv15", "json", "tsv14"])
  })
})

describe("properties", () => {
  const interestingByte = fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: 0, max: 255 }) },
    { weight: 2, arbitrary: fc.constantFrom(0x0a, 0x0d, 0x09, 0x00, 0xff, 0x20, 0x7b, 0x7f, 0xc3, 0xa9, 0xe2, 0x80, 0x1b) },
    { weight: 3, arbitrary: fc.integer({ min: 0x30, max: 0x7a }) }
  )
  const bytesArb = fc.oneof(
    fc.uint8Array({ maxLength: 400 }),
    fc.array(interestingByte, { maxLength: 400 }).map((a) => Uint8Array.from(a)),
    // Real lines with some bytes overwritten.
    fc
      .tuple(fc.constantFrom(ADS, IDS, JSON_ADS), fc.array(fc.tuple(fc.nat(), interestingByte), { maxLength: 6 }))
      .map(([line, edits]) => {
        const b = enc(`${line}\n`)
        for (const [at, v] of edits) b[at % b.length] = v
        return b
      })
  )
  const formatArb = fc.constantFrom(...INPUT_FORMATS)

  it("(a) never throws on arbitrary bytes, and every result is skipped, an event or a rejection", () => {
    fc.assert(
      fc.property(bytesArb, formatArb, (bytes, format) => {
        for (const r of run(bytes, format)) expectWellFormed(r)
      }),
      { numRuns: 1500 }
    )
  })

  const EXTENDED = tsv(
    4712, "2025-11-03 15:20:11", "2025-11-03 15:19:58", "SCANS", "TCPSYN", "T1046", "Port scanning", "Security issues",
    "High", "Chaotic TCP SYN scan.", "22", "6", "2001:db8::a1", "ws-042.example.test", "2001:db8::2, 2001:db8::3", "LAN", " "
  )
  /** Field i: mostly the value a real line of the chosen layout has there, sometimes anything. */
  const field = (template: ReadonlyArray<string>, i: number) =>
    fc.oneof(
      { weight: 40, arbitrary: fc.constant(template[i] ?? " ") },
      { weight: 1, arbitrary: fc.constantFrom(" ", "", "{", "CEF:0|", "2025-02-30 10:00:00", "Critical", "informational", "SCANS") },
      { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 12 }) },
      { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 12 }) },
      { weight: 1, arbitrary: fc.ipV4() },
      { weight: 1, arbitrary: fc.ipV6() }
    )
  const tsvArb = fc
    .tuple(fc.constantFrom(ADS, EXTENDED, IDS), fc.integer({ min: 12, max: 18 }))
    .chain(([line, n]) => {
      const template = line.split("\t")
      return fc.tuple(...Array.from({ length: n }, (_, i) => field(template, i)))
    })
    .map((fields) => fields.join("\t"))

  it("(b) never throws on TSV-like lines of 12 to 18 random fields, and accepts only 14, 15 or 17 fields", () => {
    let acceptedLines = 0
    fc.assert(
      fc.property(tsvArb, (line) => {
        const results = run(line)
        for (const r of results) expectWellFormed(r)
        if (!/[\n\r]/.test(line) && results.length === 1 && results[0]?.type === "FlowmonEventReceived") {
          acceptedLines++
          const count = line.split("\t").length
          expect(["tsv14", "tsv15", "tsv17"]).toContain(`tsv${count}`)
          expect(results[0].payload.format).toBe(`tsv${count}`)
        }
      }),
      { numRuns: 1000 }
    )
    // The generator reaches the accepting paths too, not only rejections.
    expect(acceptedLines).toBeGreaterThan(0)
  })

  /** Usually a plausible value, sometimes any JSON value (wrong types included). */
  const mostly = <A>(plausible: fc.Arbitrary<A>) =>
    fc.oneof({ weight: 6, arbitrary: plausible as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: fc.jsonValue() })
  const jsonArb = fc.oneof(
    fc.jsonValue(),
    fc.record(
      {
        id: mostly(fc.oneof(fc.nat(), fc.nat().map(String))),
        timestamp: mostly(fc.constant("2025-11-03 15:25:00")),
        firstSeen: mostly(fc.constant("2025-11-03 15:25:00")),
        type: mostly(fc.constant("SCANS")),
        source: mostly(fc.oneof(fc.ipV4(), fc.ipV6())),
        srcIp: mostly(fc.ipV4()),
        targets: mostly(fc.oneof(fc.array(fc.ipV4(), { maxLength: 3 }), fc.ipV6())),
        dstIp: mostly(fc.ipV6()),
        severity: mostly(fc.constantFrom("Critical", "LOW", "")),
        userIdentity: mostly(fc.constantFrom("", "jdoe"))
      },
      { requiredKeys: [] }
    )
  )

  it("(c) never throws on arbitrary JSON values, and refuses anything but an object", () => {
    let acceptedObjects = 0
    fc.assert(
      fc.property(jsonArb, fc.constantFrom<FormatChoice>("auto", "json"), (value, format) => {
        const line = JSON.stringify(value)
        const results = run(line, format)
        expect(results.length).toBeLessThanOrEqual(1) // JSON.stringify never writes a raw newline
        for (const r of results) expectWellFormed(r)
        const r = results[0]
        const isObject = typeof value === "object" && value !== null && !Array.isArray(value)
        if (!isObject && r !== undefined) expect(r.type).toBe("InputRejected")
        if (!isObject && format === "json" && r?.type === "InputRejected" && !r.payload.reason.startsWith("control character")) {
          expect(r.payload.reason).toMatch(/^expected a JSON object, got /)
        }
        if (r?.type === "FlowmonEventReceived") {
          acceptedObjects++
          expect(r.payload.format).toBe("json")
        }
      }),
      { numRuns: 1000 }
    )
    expect(acceptedObjects).toBeGreaterThan(0)
  })

  it("(d) frames and ingests the same whatever the chunk boundaries", () => {
    const withLines = fc
      .array(fc.oneof(bytesArb, fc.constantFrom(ADS, IDS, JSON_ADS, "", "  ", "\r").map((s) => enc(s))), { maxLength: 8 })
      .map((parts) => {
        const all = parts.flatMap((p) => [...Array.from(p), 0x0d, 0x0a])
        return Uint8Array.from(all)
      })
    fc.assert(
      fc.property(withLines, fc.array(fc.nat(), { maxLength: 20 }), (bytes, rawCuts) => {
        const cuts = [...new Set(rawCuts.map((c) => (bytes.length === 0 ? 0 : c % (bytes.length + 1))))].sort((a, b) => a - b)
        const chunks: Uint8Array[] = []
        let from = 0
        for (const c of cuts) {
          chunks.push(bytes.subarray(from, c))
          from = c
        }
        chunks.push(bytes.subarray(from))
        expect(view(frame(chunks))).toEqual(view(frame([bytes])))
        expect(run(chunks)).toEqual(run(bytes))
      }),
      { numRuns: 500 }
    )
  })
})

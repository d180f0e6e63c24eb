/**
 * Damaged optional fields cost the field, not the event (issue 18, item 7): every line of the
 * corpus (test/support/damagedCorpus.ts) keeps a usable id, time and source, so every one is
 * stored, with a warning for each damaged field that keeps the field as received.
 */
import { describe, expect, it } from "@effect/vitest"
import { canonicalJson } from "../../src/domain/CanonicalJson.js"
import type { FlowmonEventReceived } from "../../src/domain/Events.js"
import { DAMAGED_CEF, DAMAGED_TSV, lineBytes, type DamagedLine } from "../support/damagedCorpus.js"
import { adsLine, cefLine, idsLine } from "../support/fixtures.js"
import { accepted, ingestAll } from "../support/ingest.js"

const PRINTABLE = /^[\x20-\x7e]*$/

const stored = (l: DamagedLine, format: "auto" | "cef" = "auto"): FlowmonEventReceived => {
  const results = ingestAll(Uint8Array.from([...lineBytes(l), 0x0a]), { format })
  expect(results).toHaveLength(1)
  const r = results[0]
  if (r?.type !== "FlowmonEventReceived") throw new Error(`${l.name}: not stored: ${r === undefined ? "skipped" : r.payload.reason}`)
  return r.payload
}

describe.each([
  ["TSV", DAMAGED_TSV],
  ["CEF", DAMAGED_CEF]
] as const)("a %s corpus of damaged optional fields", (_, corpus) => {
  it.each(corpus.map((l) => [l.name, l] as const))("stores %s, warning for each damaged field", (_name, l) => {
    const e = stored(l)
    expect(e.targets).toEqual(l.targets)
    expect((e.warnings ?? []).map((w) => w.field).sort()).toEqual([...l.warned].sort())
    for (const w of e.warnings ?? []) {
      // Each warning keeps the field as received and says which field and why.
      expect(w.raw.length, w.reason).toBeGreaterThan(0)
      expect(w.reason.length).toBeGreaterThan(20)
    }
    // The payload keeps its keys sorted (canonical JSON is the plain JSON).
    expect(canonicalJson(e)).toBe(JSON.stringify(e))
  })
})

describe("what a damaged field keeps", () => {
  it("a cut target list keeps the whole field as received and says it was cut short", () => {
    const e = stored(DAMAGED_TSV[1]!)
    expect(e.warnings).toEqual([
      {
        field: "targets",
        raw: "198.51.100.40, 198.51.100.41, ...",
        reason: "field 13 of 15 (targets, tsv15): the list was cut short; '...' is not an address: kept the 2 readable target(s)"
      }
    ])
  })

  it("a field in another encoding is read with U+FFFD, its warning and the event's raw keep the bytes escaped", () => {
    const latin = DAMAGED_TSV.find((l) => l.name.startsWith("a user identity in Latin-1"))!
    const e = stored(latin)
    expect(e.userIdentity).toBe("CORP\\M\ufffdller")
    expect(e.warnings).toEqual([
      {
        field: "userIdentity",
        raw: "CORP\\\\M\\u{fffd}ller",
        reason: "userIdentity: not valid UTF-8 (another encoding?): read with U+FFFD in place of the bad bytes"
      }
    ])
    expect(e.raw).toMatch(PRINTABLE)
    expect(e.raw).toContain("CORP\\\\M\\xfcller")
  })

  it("a CEF line cut after its time and source is stored with what it has", () => {
    const cut = cefLine.slice(0, cefLine.indexOf(" cn2Label"))
    const e = accepted(cut, { format: "cef" })
    expect(e).toMatchObject({ source: "192.0.2.31", targets: ["198.51.100.40"] })
  })

  it("a line whose id, time or source is damaged is still rejected, naming the field (and the encoding)", () => {
    const bad = ingestAll(Buffer.from(adsLine(1, "192.0.2.3\xfc").concat("\n"), "latin1"))[0]
    expect(bad?.type).toBe("InputRejected")
    if (bad?.type === "InputRejected") {
      expect(bad.payload.reason).toMatch(/^not valid UTF-8 \(first bad byte at offset \d+\); field 11 of 15 \(source IP, tsv15\)/)
      expect(bad.payload.raw).toMatch(PRINTABLE)
    }
    const cutTime = ingestAll(`${adsLine(2).replace("2025-11-03 15:13:05", "2025-11-03 15:1")}\n`)[0]
    expect(cutTime?.type).toBe("InputRejected")
  })

  it("a clean line carries no warnings key at all (its payload is what it always was)", () => {
    for (const line of [adsLine(1), idsLine(2), cefLine]) {
      expect("warnings" in accepted(line)).toBe(false)
    }
  })
})

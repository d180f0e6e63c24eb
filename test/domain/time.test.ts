import { describe, expect, it } from "@effect/vitest"
import { parseCefTime, parseFlowmonTime, parseTimeZone, type TimeZone } from "../../src/domain/Time.js"
import { zone } from "../support/ingest.js"

const PRAGUE = zone("Europe/Prague")
const NEW_YORK = zone("America/New_York")
const UTC = zone("UTC")

/** The UTC ISO text, or "invalid: <reason>" so a failure shows why. */
const flowmon = (text: string, z: TimeZone = UTC) => {
  const r = parseFlowmonTime(text, z)
  return r.ok ? r.value : `invalid: ${r.error}`
}
const cef = (text: string, z: TimeZone = UTC) => {
  const r = parseCefTime(text, z)
  return r.ok ? r.value : `invalid: ${r.error}`
}

describe("time zones (--timezone)", () => {
  it("accepts IANA names and UTC", () => {
    for (const name of ["Europe/Prague", "America/New_York", "Asia/Kolkata", "UTC", "Etc/UTC"]) {
      const r = parseTimeZone(name)
      expect(r.ok, name).toBe(true)
      if (r.ok) expect(r.value).toBe(name)
    }
  })

  it("refuses an unknown zone name, naming it", () => {
    const r = parseTimeZone("Mars/Olympus_Mons")
    expect(r.ok).toBe(false)
    if (!r.ok) {
      expect(r.error).toContain("unknown time zone")
      expect(r.error).toContain("Mars/Olympus_Mons")
    }
  })

  it("refuses an empty zone name", () => {
    const r = parseTimeZone("")
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.error).toMatch(/empty/)
  })
})

describe("Flowmon timestamps (YYYY-MM-DD HH:MM:SS, appliance local time)", () => {
  it("reads the time in the given zone, summer time included", () => {
    expect(flowmon("2025-07-01 12:00:00", PRAGUE)).toBe("2025-07-01T10:00:00.000Z") // CEST, UTC+2
    expect(flowmon("2025-01-15 12:00:00", PRAGUE)).toBe("2025-01-15T11:00:00.000Z") // CET, UTC+1
    expect(flowmon("2025-07-01 12:00:00", NEW_YORK)).toBe("2025-07-01T16:00:00.000Z") // EDT, UTC-4
    expect(flowmon("2025-01-15 12:00:00", NEW_YORK)).toBe("2025-01-15T17:00:00.000Z") // EST, UTC-5
    expect(flowmon("2025-07-01 12:00:00", zone("Asia/Kolkata"))).toBe("2025-07-01T06:30:00.000Z")
    expect(flowmon("2025-07-01 12:00:00", UTC)).toBe("2025-07-01T12:00:00.000Z")
  })

  it("gets the hours around the DST changes right (on both sides of UTC)", () => {
    // Prague springs forward at 02:00 CET (01:00Z) on 2025-03-30 and falls back at 03:00 CEST on 2025-10-26.
    expect(flowmon("2025-03-30 01:30:00", PRAGUE)).toBe("2025-03-30T00:30:00.000Z")
    expect(flowmon("2025-03-30 03:30:00", PRAGUE)).toBe("2025-03-30T01:30:00.000Z")
    expect(flowmon("2025-10-26 01:30:00", PRAGUE)).toBe("2025-10-25T23:30:00.000Z")
    expect(flowmon("2025-10-26 03:30:00", PRAGUE)).toBe("2025-10-26T02:30:00.000Z")
    // New York springs forward at 02:00 EST on 2025-03-09 and falls back at 02:00 EDT on 2025-11-02.
    expect(flowmon("2025-03-09 01:30:00", NEW_YORK)).toBe("2025-03-09T06:30:00.000Z")
    expect(flowmon("2025-03-09 03:30:00", NEW_YORK)).toBe("2025-03-09T07:30:00.000Z")
    expect(flowmon("2025-11-02 00:30:00", NEW_YORK)).toBe("2025-11-02T04:30:00.000Z")
    expect(flowmon("2025-11-02 02:30:00", NEW_YORK)).toBe("2025-11-02T07:30:00.000Z")
  })

  it("moves a wall-clock time that does not exist (in the spring gap) forward, and reads a repeated one as its first occurrence", () => {
    expect(flowmon("2025-03-30 02:30:00", PRAGUE)).toBe("2025-03-30T01:30:00.000Z") // = 03:30 CEST
    expect(flowmon("2025-03-09 02:30:00", NEW_YORK)).toBe("2025-03-09T07:30:00.000Z") // = 03:30 EDT
    expect(flowmon("2025-10-26 02:30:00", PRAGUE)).toBe("2025-10-26T00:30:00.000Z") // 02:30 CEST, not CET
    expect(flowmon("2025-11-02 01:30:00", NEW_YORK)).toBe("2025-11-02T05:30:00.000Z") // 01:30 EDT, not EST
  })

  it("agrees with Intl on every quarter hour of a year in Prague (round trip)", () => {
    const fmt = new Intl.DateTimeFormat("sv-SE", {
      timeZone: "Europe/Prague",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      hourCycle: "h23"
    })
    const start = Date.UTC(2025, 0, 1)
    for (let t = start; t < Date.UTC(2026, 0, 1); t += 15 * 60_000) {
      const local = fmt.format(new Date(t)) // "2025-03-30 03:15:00"
      const back = flowmon(local, PRAGUE)
      // In the autumn overlap the first occurrence is chosen, so the second reading maps one hour earlier.
      const expected = new Date(t).toISOString()
      const earlier = new Date(t - 3_600_000).toISOString()
      if (back !== expected) expect([local, back]).toEqual([local, earlier])
      if (back !== expected) expect(local.startsWith("2025-10-26 02:")).toBe(true)
    }
  })

  it("lets an explicit Z or offset win over the zone", () => {
    expect(flowmon("2025-07-01 12:00:00Z", PRAGUE)).toBe("2025-07-01T12:00:00.000Z")
    expect(flowmon("2025-07-01T12:00:00Z", NEW_YORK)).toBe("2025-07-01T12:00:00.000Z")
    expect(flowmon("2025-01-15 12:00:00+02:00", PRAGUE)).toBe("2025-01-15T10:00:00.000Z")
    expect(flowmon("2025-01-15 12:00:00+0200", UTC)).toBe("2025-01-15T10:00:00.000Z")
    expect(flowmon("2025-01-15 12:00:00 -05:30", PRAGUE)).toBe("2025-01-15T17:30:00.000Z")
  })

  it("keeps fractional seconds to the millisecond", () => {
    expect(flowmon("2025-07-01 12:00:00.123", PRAGUE)).toBe("2025-07-01T10:00:00.123Z")
    expect(flowmon("2025-07-01 12:00:00.5", UTC)).toBe("2025-07-01T12:00:00.500Z")
    expect(flowmon("2025-07-01 12:00:00,250Z", PRAGUE)).toBe("2025-07-01T12:00:00.250Z")
    expect(flowmon("2025-07-01 12:00:00.987654321", UTC)).toBe("2025-07-01T12:00:00.987Z")
    for (let ms = 0; ms < 1000; ms++) {
      const f = String(ms).padStart(3, "0")
      expect(flowmon(`2025-07-01 12:00:00.${f}`, UTC)).toBe(`2025-07-01T12:00:00.${f}Z`)
    }
  })

  it("reads Unix epoch seconds and milliseconds as UTC instants, whatever the zone", () => {
    expect(flowmon("1751371200", PRAGUE)).toBe("2025-07-01T12:00:00.000Z")
    expect(flowmon("1751371200123", PRAGUE)).toBe("2025-07-01T12:00:00.123Z")
    expect(flowmon("  1751371200  ", UTC)).toBe("2025-07-01T12:00:00.000Z")
  })

  it("refuses dates and times that do not exist, saying what is wrong", () => {
    expect(flowmon("2025-13-01 00:00:00")).toMatch(/month 13 is out of range/)
    expect(flowmon("2025-04-31 10:00:00")).toMatch(/day 31 does not exist in 2025-04/)
    expect(flowmon("2025-02-29 10:00:00")).toMatch(/day 29 does not exist in 2025-02/)
    expect(flowmon("2024-02-29 10:00:00")).toBe("2024-02-29T10:00:00.000Z")
    expect(flowmon("2025-00-10 10:00:00")).toMatch(/month 0 is out of range/)
    expect(flowmon("2025-07-01 24:00:00")).toMatch(/hour 24/)
    expect(flowmon("2025-07-01 12:60:00")).toMatch(/minute 60/)
    expect(flowmon("2025-07-01 12:00:61")).toMatch(/second 61/)
  })

  it("refuses ambiguous or unknown forms instead of guessing", () => {
    expect(flowmon("8/28/2023 10:13")).toMatch(/is not a timestamp/)
    expect(flowmon("28.08.2023 10:13:00")).toMatch(/is not a timestamp/)
    expect(flowmon("2025-07-01")).toMatch(/is not a timestamp/)
    expect(flowmon("2025-7-1 12:00:00")).toMatch(/is not a timestamp/)
    expect(flowmon("17513712001")).toMatch(/is not a timestamp/) // 11 digits: neither seconds nor ms
    expect(flowmon("")).toMatch(/empty/)
    expect(flowmon("   ")).toMatch(/empty/)
  })
})

describe("CEF start= times (MMM dd yyyy HH:mm:ss)", () => {
  it("reads the zero-padded form ADS writes, in the given zone", () => {
    expect(cef("Nov 03 2025 15:13:04", PRAGUE)).toBe("2025-11-03T14:13:04.000Z")
    expect(cef("May 27 2025 10:39:55", PRAGUE)).toBe("2025-05-27T08:39:55.000Z")
    expect(cef("Nov 03 2025 15:13:04", UTC)).toBe("2025-11-03T15:13:04.000Z")
    expect(cef("nov 03 2025 15:13:04", UTC)).toBe("2025-11-03T15:13:04.000Z")
  })

  it("reads single-digit days, space-padded as in syslog or not", () => {
    expect(cef("Jun  1 2025 10:00:00", PRAGUE)).toBe("2025-06-01T08:00:00.000Z")
    expect(cef("Jun 1 2025 10:00:00", PRAGUE)).toBe("2025-06-01T08:00:00.000Z")
    expect(cef("Jan  5 2025 10:00:00", PRAGUE)).toBe("2025-01-05T09:00:00.000Z")
  })

  it("reads milliseconds and epoch milliseconds", () => {
    expect(cef("Nov 03 2025 15:13:04.25", UTC)).toBe("2025-11-03T15:13:04.250Z")
    expect(cef("1762182784000", PRAGUE)).toBe("2025-11-03T15:13:04.000Z")
  })

  it("refuses unknown months, impossible dates and other forms", () => {
    expect(cef("Foo 03 2025 15:13:04")).toMatch(/unknown month 'Foo'/)
    expect(cef("Feb 30 2025 10:00:00")).toMatch(/day 30 does not exist in 2025-02/)
    expect(cef("Nov 03 2025 25:00:00")).toMatch(/hour 25/)
    expect(cef("2025-11-03 15:13:04")).toMatch(/is not a CEF time/)
    expect(cef("Nov 03 15:13:04")).toMatch(/is not a CEF time/)
    expect(cef("")).toMatch(/is not a CEF time/)
  })
})

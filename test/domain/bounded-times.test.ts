/**
 * Bounded times, compared as instants (issue 12, "never harm"): every duration has a ceiling of
 * 3650 days; escalation saturates at maxTtl; every expiry is fixed-width text, so comparing the
 * text compares the instants; an old log's `+029405-…` expiry is in force, not in the past.
 */
import { describe, expect, it } from "@effect/vitest"
import { allowedBy, allowEntryInForce, escalatedTtl } from "../../src/domain/Decide.js"
import { parseCidr } from "../../src/domain/Cidr.js"
import { MAX_DURATION_MS, parseDuration } from "../../src/domain/Duration.js"
import { importLegacyRows } from "../../src/domain/LegacyImport.js"
import { FAR_FUTURE, instantAfter, isFixedWidthInstant, readInstant } from "../../src/domain/Time.js"
import { adsEvent, allowRequested, blockKeys, decideAt, decided, durationMs, given, iso, minus, plus, policy, rule } from "../support/scenario.js"

const NOW = iso("2025-11-03T15:13:10Z")
const GLOBAL = "loadmaster:global"
const FIXED_WIDTH = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/

describe("durations: the 10-year ceiling", () => {
  it("accepts up to 3650d (ten years), whatever the unit", () => {
    expect(MAX_DURATION_MS).toBe(3650 * 86_400_000)
    expect(parseDuration("3650d")).toEqual({ ok: true, value: MAX_DURATION_MS })
    expect(parseDuration("521w").ok).toBe(true)
    expect(parseDuration("87600h").ok).toBe(true)
  })

  it.each(["3651d", "522w", "87601h", "9999999d", "99999999h", "999999999w", "9999999999999999999999d"])(
    "refuses %s, naming the ceiling (never a RangeError)",
    (text) => {
      expect(parseDuration(text)).toEqual({ ok: false, error: `'${text}': longer than the ceiling of 3650d (10 years)` })
    }
  )

  it("refuses a number of 400 digits (Infinity) the same way", () => {
    const parsed = parseDuration(`${"9".repeat(400)}s`)
    expect(parsed.ok).toBe(false)
    expect(parsed.ok ? "" : parsed.error).toMatch(/: longer than the ceiling of 3650d \(10 years\)$/)
  })

  it("still refuses zero and what is not a duration, as before", () => {
    expect(parseDuration("0s")).toEqual({ ok: false, error: "'0s': a duration must be longer than zero" })
    expect(parseDuration("6 hours").ok).toBe(false)
    expect(parseDuration("1e3d").ok).toBe(false)
    expect(parseDuration("-1h").ok).toBe(false)
  })
})

describe("instants: fixed-width, saturating", () => {
  it("writes an instant plus a duration as YYYY-MM-DDTHH:MM:SS.sssZ", () => {
    expect(instantAfter(Date.parse(NOW), durationMs("6h"))).toBe("2025-11-03T21:13:10.000Z")
    expect(instantAfter(Date.parse(NOW), MAX_DURATION_MS)).toBe("2035-11-01T15:13:10.000Z")
  })

  it("saturates at 9999-12-31T23:59:59.999Z instead of writing +010000-… or throwing", () => {
    expect(FAR_FUTURE).toBe("9999-12-31T23:59:59.999Z")
    expect(instantAfter(Date.parse(NOW), 1e17)).toBe(FAR_FUTURE)
    expect(instantAfter(Date.parse(NOW), Infinity)).toBe(FAR_FUTURE)
    expect(instantAfter(Date.parse(NOW), NaN)).toBe(FAR_FUTURE)
    expect(instantAfter(Date.parse("9999-12-31T23:59:59.000Z"), 5000)).toBe(FAR_FUTURE)
    expect(instantAfter(0, -1e18)).toBe("1970-01-01T00:00:00.000Z")
  })

  it("reads what is already fixed-width as it is, and an old version's +029405-… as FAR_FUTURE", () => {
    expect(readInstant("2026-12-31T00:00:00.000Z")).toBe("2026-12-31T00:00:00.000Z")
    expect(readInstant("+029405-06-01T12:00:00.000Z")).toBe(FAR_FUTURE)
    expect(readInstant("2026-12-31T00:00:00Z")).toBe("2026-12-31T00:00:00.000Z")
    expect(readInstant("not a time")).toBe(FAR_FUTURE)
    expect(isFixedWidthInstant("+029405-06-01T12:00:00.000Z")).toBe(false)
    // why it matters: as text, +029405 sorts before every year 1970-9999
    expect("+029405-06-01T12:00:00.000Z" > NOW).toBe(false)
  })
})

describe("escalation saturates at maxTtl", () => {
  const escalating = (factor: number, maxTtl = "30d") =>
    policy({ rules: [rule("ssh", {}, [[GLOBAL, "1h"]])], escalation: { window: "7d", factor, maxTtl } })

  it("given any offence count and factor, then the ttl is between the base ttl and the cap, in whole seconds", () => {
    const hour = durationMs("1h")
    for (const factor of [1, 1.1, 2, 1000, 1e308]) {
      for (const offence of [1, 2, 3, 50, 1025, 1e6, Number.MAX_SAFE_INTEGER, Infinity]) {
        const ttl = escalatedTtl(escalating(factor), hour, offence)
        expect(ttl, `${factor} ${offence}`).toBeGreaterThanOrEqual(hour)
        expect(ttl, `${factor} ${offence}`).toBeLessThanOrEqual(durationMs("30d"))
        expect(ttl % 1000, `${factor} ${offence}`).toBe(0)
      }
    }
    expect(escalatedTtl(escalating(1e308), hour, 2)).toBe(durationMs("30d"))
    expect(escalatedTtl(escalating(1.1), hour, 2)).toBe(3960_000)
  })

  it("given the longest ttl and maxTtl, then the decision is in force for ten years, not at a string like +029405", () => {
    const p = policy({ rules: [rule("ssh", {}, [[GLOBAL, "3650d"]])], escalation: { window: "3650d", factor: 1000, maxTtl: "3650d" } })
    const earlier = Array.from({ length: 40 }, (_, i) => minus(NOW, `${i + 1}h`))
    const [decision] = decideAt(p, adsEvent(), NOW, { earlierOffences: earlier })
    expect(decision).toMatchObject({ ttl: "3650d", offence: 41, until: "2035-11-01T15:13:10.000Z" })
    expect(decision!.until > NOW).toBe(true)
    expect(decision!.until).toMatch(FIXED_WIDTH)
  })
})

describe("projection: expiries as instants", () => {
  const T = iso("2025-11-03T10:00:00Z")

  it("given an old log whose decision expires at +029405-…, then the block is in force (until FAR_FUTURE), not expired", () => {
    const state = given(decided(T, { cidr: "192.0.2.31/32", until: "+029405-06-01T12:00:00.000Z" })).at(plus(T, "1h"))
    expect(blockKeys(state)).toEqual([`${GLOBAL} 192.0.2.31/32`])
    expect(state.ipBlocks[0]!.until).toBe(FAR_FUTURE)
  })

  it("given an old log whose operator allow lasts until +029405-…, then the allow is in force and holds the block back", () => {
    const state = given(
      decided(T, { cidr: "192.0.2.31/32" }),
      allowRequested(T, { cidr: "192.0.2.0/24", until: "+029405-06-01T12:00:00.000Z" })
    ).at(plus(T, "1h"))
    expect(state.ipBlocks).toEqual([])
    expect(state.suppressed[0]!.allowedBy).toEqual({ cidr: "192.0.2.0/24", until: FAR_FUTURE, source: "operator" })
  })
})

describe("import: the legacy ttl is bounded too", () => {
  it("given a row with more hours left than ten years, then it is rejected with the ceiling; a row within it is imported, fixed-width", () => {
    const { events } = importLegacyRows(
      [
        { rowid: 1, ip: "203.0.113.7", event: "1001", vsid: null, ttl: 999_999_999_999 },
        { rowid: 2, ip: "::ffff:203.0.113.8", event: "1002", vsid: null, ttl: 87_600 }
      ],
      NOW,
      { database: "/tmp/lm-block.db", actor: "alice" }
    )
    expect(events[0]).toMatchObject({ type: "InputRejected", payload: { reason: "row 1: ttl is 999999999999 hours: longer than the ceiling of 3650d (10 years) (87600 hours)" } })
    expect(events[1]).toMatchObject({ type: "BlockRequested", payload: { subject: { kind: "ip", cidr: "203.0.113.8/32" }, until: "2035-11-01T15:13:10.000Z" } })
  })
})

describe("an allow's expiry is read as an instant wherever it is checked", () => {
  it("an old version's +029405-… allow is in force (append's immediate apply and the projection agree)", () => {
    const now = "2026-12-02T04:00:00.000Z"
    const old = { cidr: "192.0.2.0/24", until: "+029405-01-01T00:00:00.000Z" }
    expect(allowEntryInForce(old, now)).toBe(true)
    expect(allowEntryInForce({ ...old, until: "2026-12-01T00:00:00.000Z" }, now)).toBe(false)
    const host = parseCidr("192.0.2.31")
    if (!host.ok) throw new Error(host.error)
    expect(allowedBy([old], host.value, now)).toEqual(old)
  })
})

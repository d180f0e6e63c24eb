/**
 * Properties of "never harm" (issue 12): random durations, escalation factors, offence counts and
 * addresses thrown at the duration parser, the config loader, escalation and the decider. Nothing
 * throws (a throw is exit 70 at the edge); every expiry the decider writes is fixed-width and
 * after `now`; a protected source is never blocked; an IPv4 address written as IPv6 is the IPv4
 * address.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as fc from "effect/FastCheck"
import { parseConfigText } from "../../src/config/parseConfig.js"
import { parseIpAddress } from "../../src/domain/Address.js"
import { contains, hostCidr, IPV4_MAPPED_RANGE, parseCidr, type Cidr } from "../../src/domain/Cidr.js"
import { escalatedTtl, policyRails } from "../../src/domain/Decide.js"
import { MAX_DURATION_MS, parseDuration } from "../../src/domain/Duration.js"
import { policyHash, type Policy } from "../../src/domain/Policy.js"
import { BUILT_IN_RAILS, protectionOf } from "../../src/domain/Rails.js"
import { adsEvent, decisionAt, durationMs, policy, rule } from "../support/scenario.js"

const FIXED_WIDTH = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/

// ---------------------------------------------------------------------------------------------
// Generators

const UNITS = ["s", "m", "h", "d", "w"] as const

/** Duration-like text: mostly well-formed (any number of digits), sometimes not at all. */
const durationText: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(fc.bigInt({ min: 0n, max: 10n ** 30n }), fc.constantFrom(...UNITS)).map(([n, u]) => `${n}${u}`) },
  { weight: 8, arbitrary: fc.tuple(fc.integer({ min: 1, max: 600 }), fc.constantFrom(...UNITS)).map(([n, u]) => `${n}${u}`) },
  { weight: 1, arbitrary: fc.tuple(fc.stringMatching(/^[0-9]{1,500}$/), fc.constantFrom(...UNITS)).map(([n, u]) => `${n}${u}`) },
  { weight: 1, arbitrary: fc.constantFrom("3650d", "3651d", "521w", "522w", "87600h", "9999999d", "99999999h", "999999999w", "0s", "1e9d", "-1h", "6 hours", "", "∞d", "1.5h", "0x10d") },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) }
)

/** Escalation factors as YAML writes them: numbers, extremes, and things that are not numbers. */
const factorYaml: fc.Arbitrary<string> = fc.oneof(
  { weight: 2, arbitrary: fc.double({ noNaN: false }).map((n) => (Number.isNaN(n) ? ".nan" : n === Infinity ? ".inf" : n === -Infinity ? "-.inf" : String(n))) },
  {
    weight: 2,
    arbitrary: fc.constantFrom("1e308", "1.7976931348623157e308", "1e-308", "1", "1000", "1000.0001", "0", "-1", ".inf", ".nan", "Infinity", "NaN", "'2'", "null", "[2]", "2e3")
  },
  { weight: 6, arbitrary: fc.oneof(fc.integer({ min: 1, max: 1000 }).map(String), fc.double({ min: 1, max: 1000, noNaN: true }).map(String)) }
)

/** Random 4 or 16 bytes, as an address text in the forms people and Flowmon write. */
const addressText: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join(".")),
  fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }).map((g) => g.map((x) => x.toString(16)).join(":")),
  // IPv4-mapped and IPv4-compatible, in hex and in mixed notation
  fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255), fc.constantFrom("::ffff:", "::", "0:0:0:0:0:ffff:")).chain(([a, b, c, d, prefix]) =>
    fc.constantFrom(`${prefix}${a}.${b}.${c}.${d}`, `${prefix}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`)
  ),
  // the rails' neighbourhoods
  fc.constantFrom("0.0.0.0", "127.0.0.1", "::", "::1", "224.0.0.1", "ff02::1", "169.254.169.254", "fe80::1", "255.255.255.255", "::ffff:127.0.0.1", "::ffff:10.0.0.5")
)

const yamlOf = (ttl: string, factor: string, maxTtl: string, window: string, allow: string, never: string) =>
  [
    "policy:",
    "  rules:",
    "    - name: r",
    "      actions:",
    `        - { loadmaster: global, ttl: ${JSON.stringify(ttl)} }`,
    `        - { cryptospike: user, ttl: ${JSON.stringify(ttl)} }`,
    `  escalation: { window: ${JSON.stringify(window)}, factor: ${factor}, maxTtl: ${JSON.stringify(maxTtl)} }`,
    `  allowlist: [ ${JSON.stringify(allow)} ]`,
    `  neverBlock: [ ${JSON.stringify(never)} ]`
  ].join("\n") + "\n"

/** A recording time from 1971 to 2200. */
const now: fc.Arbitrary<string> = fc.integer({ min: Date.UTC(1971, 0, 1), max: Date.UTC(2200, 0, 1) }).map((ms) => new Date(ms).toISOString())

// ---------------------------------------------------------------------------------------------

describe("property: durations", () => {
  it("parseDuration never throws; what it accepts is from 1 s to 3650 d", () => {
    fc.assert(
      fc.property(durationText, (text) => {
        const parsed = parseDuration(text)
        if (parsed.ok) {
          expect(parsed.value).toBeGreaterThan(0)
          expect(parsed.value).toBeLessThanOrEqual(MAX_DURATION_MS)
        } else {
          expect(parsed.error).toMatch(/expected a duration|longer than zero|longer than the ceiling of 3650d \(10 years\)/)
        }
      }),
      { numRuns: 3000 }
    )
  })
})

describe("property: escalation", () => {
  it("escalatedTtl never throws and stays between the base ttl and the cap, in whole seconds, for any factor and offence count", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.double({ min: 1, noNaN: true }), fc.constantFrom(1e308, Infinity, NaN, Number.MAX_VALUE)),
        fc.oneof(fc.integer({ min: -5, max: 5000 }), fc.constantFrom(Number.MAX_SAFE_INTEGER, Infinity, NaN)),
        fc.integer({ min: 1, max: 3650 * 24 }),
        fc.integer({ min: 1, max: 3650 * 24 }),
        (factor, offence, baseHours, capHours) => {
          const p: Policy = policy({ escalation: { window: "7d", factor, maxTtl: `${capHours}h` } })
          const base = baseHours * 3_600_000
          const ttl = escalatedTtl(p, base, offence)
          expect(ttl).toBeGreaterThanOrEqual(base)
          expect(ttl).toBeLessThanOrEqual(Math.max(base, capHours * 3_600_000))
          expect(ttl % 1000).toBe(0)
        }
      ),
      { numRuns: 3000 }
    )
  })
})

describe("property: addresses", () => {
  it("parsing never throws; canonical text reads back as itself; IPv4 written as IPv6 is the IPv4 address", () => {
    fc.assert(
      fc.property(addressText, (text) => {
        const parsed = parseIpAddress(text)
        expect(parsed.ok).toBe(true)
        if (!parsed.ok) return
        const again = parseIpAddress(parsed.value.text)
        expect(again).toEqual(parsed)
        expect(parseCidr(text).ok && parseCidr(text)).toMatchObject({ ok: true, value: { text: hostCidr(parsed.value.text).text } })
        const mixed = /^(::ffff:|::|0:0:0:0:0:ffff:)(\d+\.\d+\.\d+\.\d+)$/.exec(text)
        if (mixed !== null && !(mixed[1] === "::" && /^0\.0\.0\.[01]$/.test(mixed[2]!))) expect(parsed.value.text).toBe(mixed[2])
      }),
      { numRuns: 3000 }
    )
  })
})

describe("property: rails", () => {
  const builtIn: ReadonlyArray<Cidr> = [...BUILT_IN_RAILS.map((r) => parseCidr(r.cidr)).flatMap((r) => (r.ok ? [r.value] : [])), IPV4_MAPPED_RANGE]
  /** Random blocks, their first byte often one a rail starts with; IPv4 written as IPv6 included. */
  const firstByte = fc.oneof(fc.constantFrom(0, 127, 169, 224, 239, 240, 255, 0xfe, 0xff), fc.nat(255))
  const masked = (bytes: ReadonlyArray<number>, prefix: number) =>
    bytes.map((b, i) => (i * 8 >= prefix ? 0 : i * 8 + 8 <= prefix ? b : b & (0xff << (8 - (prefix - i * 8)))))
  const randomCidr: fc.Arbitrary<Cidr> = fc.oneof(
    fc.tuple(firstByte, fc.array(fc.nat(255), { minLength: 3, maxLength: 3 }), fc.integer({ min: 0, max: 32 })).map(([b0, rest, prefix]) =>
      cidrOf(`${masked([b0, ...rest], prefix).join(".")}/${prefix}`)
    ),
    fc
      .tuple(firstByte, fc.array(fc.oneof(fc.constant(0), fc.nat(255)), { minLength: 15, maxLength: 15 }), fc.integer({ min: 0, max: 128 }), fc.boolean())
      .map(([b0, rest, prefix, mapped]) => {
        const bytes = mapped ? [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...rest.slice(11)] : [b0, ...rest]
        return cidrOf(`${bytesToV6(masked(bytes, prefix))}/${prefix}`)
      })
  )

  it("protectionOf (with its shortcut) finds a built-in rail exactly when one overlaps the block", () => {
    fc.assert(
      fc.property(randomCidr, (c) => {
        const naive = builtIn.some((rail) => contains(rail, c) || contains(c, rail))
        expect(protectionOf(c) !== undefined, c.text).toBe(naive)
      }),
      { numRuns: 5000 }
    )
  })
})

const cidrOf = (text: string): Cidr => {
  const parsed = parseCidr(text)
  if (!parsed.ok) throw new Error(parsed.error)
  return parsed.value
}

const bytesToV6 = (bytes: ReadonlyArray<number>): string =>
  Array.from({ length: 8 }, (_, i) => ((bytes[2 * i]! << 8) | bytes[2 * i + 1]!).toString(16)).join(":")

describe("property: the config loader and the decider", () => {
  it("nothing throws; a config is refused naming the key, or every decision it makes is in force, fixed-width, after now; protected sources are never blocked", () => {
    let decidedSome = 0
    let refusedSome = 0
    fc.assert(
      fc.property(
        durationText,
        factorYaml,
        durationText,
        durationText,
        addressText,
        addressText,
        addressText,
        fc.array(now, { maxLength: 6 }),
        now,
        (ttl, factor, maxTtl, window, allow, never, source, earlier, at) => {
          const loaded = parseConfigText(yamlOf(ttl, factor, maxTtl, window, allow, never), "/etc/mitigator.yaml")
          if (Either.isLeft(loaded)) {
            refusedSome++
            for (const line of loaded.left.message.split("\n").slice(1)) expect(line).toMatch(/^ {2}policy\.[a-zA-Z.[\]0-9]+: /)
            if (!loaded.left.message.includes("\n")) expect(loaded.left.message).toMatch(/^config \/etc\/mitigator\.yaml: policy\.[a-zA-Z.[\]0-9]+: /)
            return
          }
          const p = loaded.right.policy
          const offences = earlier.filter((e) => e <= at).sort()
          const canonical = parseIpAddress(source)
          if (!canonical.ok) return
          const decision = decisionAt(p, adsEvent({ source: canonical.value.text }), at, { earlierOffences: offences })
          if (protectionOf(hostCidr(canonical.value.text), policyRails(p)) !== undefined) {
            expect(decision.decided).toEqual([])
            expect(decision.withheld).not.toBeNull()
            return
          }
          for (const d of decision.decided) {
            decidedSome++
            expect(d.until).toMatch(FIXED_WIDTH)
            expect(d.until > at).toBe(true)
            expect(Date.parse(d.until) - Date.parse(at)).toBe(durationMs(d.ttl))
            expect(durationMs(d.ttl)).toBeLessThanOrEqual(MAX_DURATION_MS)
            expect(d.policyHash).toBe(policyHash(p))
          }
        }
      ),
      { numRuns: 1500 }
    )
    // the generators reach both sides
    expect(decidedSome).toBeGreaterThan(50)
    expect(refusedSome).toBeGreaterThan(50)
  })
})

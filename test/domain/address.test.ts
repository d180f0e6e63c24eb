import { describe, expect, it } from "@effect/vitest"
import { embeddedIpv4, parseIpAddress } from "../../src/domain/Address.js"

const canonical = (s: string) => {
  const r = parseIpAddress(s)
  return r.ok ? r.value.text : `invalid: ${r.error}`
}

describe("IP addresses", () => {
  it("keeps a valid IPv4 address as a dotted quad", () => {
    expect(canonical("192.0.2.31")).toBe("192.0.2.31")
    expect(canonical("0.0.0.0")).toBe("0.0.0.0")
    expect(canonical("255.255.255.255")).toBe("255.255.255.255")
  })

  it("refuses IPv4 forms that are ambiguous or out of range", () => {
    expect(canonical("192.0.2.031")).toMatch(/leading zero/)
    expect(canonical("256.1.1.1")).toMatch(/over 255/)
    expect(canonical("1.2.3")).toMatch(/expected 4/)
    expect(canonical("1.2.3.4.5")).toMatch(/expected 4/)
    expect(canonical("1.2.3.x")).toMatch(/not a decimal/)
    expect(canonical("")).toMatch(/empty/)
  })

  it("writes IPv6 in RFC 5952 form: lower case, no leading zeros, longest zero run compressed", () => {
    expect(canonical("2001:DB8:0:0:0:0:0:1")).toBe("2001:db8::1")
    expect(canonical("2001:0db8:0000:0000:0001:0000:0000:0001")).toBe("2001:db8::1:0:0:1")
    expect(canonical("2001:db8:0:0:1:0:0:0")).toBe("2001:db8:0:0:1::")
    expect(canonical("2001:db8:0:1:1:1:1:1")).toBe("2001:db8:0:1:1:1:1:1")
    expect(canonical("::")).toBe("::")
    expect(canonical("::1")).toBe("::1")
    expect(canonical("fe80::A1")).toBe("fe80::a1")
  })

  it("given an IPv4 address written as IPv4-mapped IPv6, then it is that IPv4 address", () => {
    expect(canonical("::FFFF:192.0.2.1")).toBe("192.0.2.1")
    expect(canonical("0:0:0:0:0:ffff:c000:0201")).toBe("192.0.2.1")
    expect(canonical("::ffff:10.0.0.5")).toBe("10.0.0.5")
    expect(canonical("::ffff:a00:5")).toBe("10.0.0.5")
    expect(canonical("::ffff:0.0.0.0")).toBe("0.0.0.0")
    expect(canonical("::ffff:127.0.0.1")).toBe("127.0.0.1")
    expect(parseIpAddress("::ffff:10.0.0.5")).toEqual({ ok: true, value: { version: 4, text: "10.0.0.5" } })
  })

  it("given an IPv4-compatible IPv6 address (deprecated ::a.b.c.d), then it is the IPv4 address", () => {
    expect(canonical("::10.0.0.5")).toBe("10.0.0.5")
    expect(canonical("::a00:5")).toBe("10.0.0.5")
    expect(canonical("::2")).toBe("0.0.0.2")
    expect(canonical("::0.0.1.0")).toBe("0.0.1.0")
  })

  it("keeps IPv6's own unspecified and loopback addresses, and everything outside ::/96 and ::ffff:0:0/96, as IPv6", () => {
    expect(parseIpAddress("::")).toEqual({ ok: true, value: { version: 6, text: "::" } })
    expect(parseIpAddress("::1")).toEqual({ ok: true, value: { version: 6, text: "::1" } })
    expect(canonical("::1:0:0")).toBe("::1:0:0")
    expect(canonical("::fffe:a00:5")).toBe("::fffe:a00:5")
    expect(canonical("::1:ffff:a00:5")).toBe("::1:ffff:a00:5")
    expect(canonical("64:ff9b::a00:5")).toBe("64:ff9b::a00:5")
  })

  it("refuses malformed IPv6", () => {
    expect(canonical("2001:db8::1::2")).toMatch(/only once/)
    expect(canonical("2001:db8:1:2:3:4:5:6:7")).toMatch(/expected 8 groups/)
    expect(canonical("fe80::1%eth0")).toMatch(/zone/)
    expect(canonical("[2001:db8::1]")).toMatch(/brackets/)
    expect(canonical("2001:db8::g")).toMatch(/hex/)
    expect(canonical(":1:2:3:4:5:6:7")).toMatch(/empty group|expected/)
  })

  it("agrees with the WHATWG URL parser on random IPv6 addresses (an independent RFC 5952 writer)", () => {
    let seed = 42
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31)
    for (let n = 0; n < 2000; n++) {
      // Many zero groups, so compression is exercised.
      const groups = Array.from({ length: 8 }, () => (next() % 3 === 0 ? next() % 65536 : 0))
      if (embeddedIpv4(groups) !== undefined) continue // IPv4 written as IPv6: canonical as IPv4
      const full = groups.map((g) => g.toString(16).toUpperCase().padStart(4, "0")).join(":")
      const expected = new URL(`http://[${full}]/`).hostname.slice(1, -1)
      expect(canonical(full)).toBe(expected)
      expect(canonical(expected)).toBe(expected)
    }
  })
})

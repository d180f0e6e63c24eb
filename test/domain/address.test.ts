import { describe, expect, it } from "@effect/vitest"
import { parseIpAddress } from "../../src/domain/Address.js"

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

  it("writes IPv4-mapped IPv6 addresses in mixed notation", () => {
    expect(canonical("::FFFF:192.0.2.1")).toBe("::ffff:192.0.2.1")
    expect(canonical("0:0:0:0:0:ffff:c000:0201")).toBe("::ffff:192.0.2.1")
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
      if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) continue
      const full = groups.map((g) => g.toString(16).toUpperCase().padStart(4, "0")).join(":")
      const expected = new URL(`http://[${full}]/`).hostname.slice(1, -1)
      expect(canonical(full)).toBe(expected)
      expect(canonical(expected)).toBe(expected)
    }
  })
})

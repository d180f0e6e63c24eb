import { describe, expect, it } from "@effect/vitest"
import { compareCidr, contains, exclude, hostCidr, overlaps, parseCidr, type Cidr } from "../../src/domain/Cidr.js"

const parsed = (s: string): string => {
  const r = parseCidr(s)
  return r.ok ? r.value.text : `invalid: ${r.error}`
}

const cidr = (s: string): Cidr => {
  const r = parseCidr(s)
  if (!r.ok) throw new Error(r.error)
  return r.value
}

const texts = (blocks: ReadonlyArray<Cidr>) => blocks.map((b) => b.text)

/** Number of IPv4 addresses in the blocks together. */
const size = (blocks: ReadonlyArray<Cidr>) => blocks.reduce((n, b) => n + 2 ** (32 - b.prefix), 0)

describe("CIDR blocks: parsing", () => {
  it("a single address is its /32 (IPv4) or /128 (IPv6)", () => {
    expect(parsed("192.0.2.31")).toBe("192.0.2.31/32")
    expect(parsed("2001:db8::a1")).toBe("2001:db8::a1/128")
    expect(hostCidr("192.0.2.31").prefix).toBe(32)
    expect(hostCidr("2001:db8::a1").prefix).toBe(128)
  })

  it("writes canonical text: canonical network address, then the prefix", () => {
    expect(parsed("192.0.2.0/24")).toBe("192.0.2.0/24")
    expect(parsed(" 192.0.2.0/24 ")).toBe("192.0.2.0/24")
    expect(parsed("2001:DB8:0:0::/32")).toBe("2001:db8::/32")
    expect(parsed("2001:0db8:0000:0000:0000:0000:0000:00a1/128")).toBe("2001:db8::a1/128")
    expect(parsed("0.0.0.0/0")).toBe("0.0.0.0/0")
    expect(parsed("::/0")).toBe("::/0")
    const c = cidr("2001:db8::/32")
    expect(c.version).toBe(6)
    expect(c.bytes.length).toBe(16)
    expect(cidr("192.0.2.0/24").version).toBe(4)
    expect([...cidr("192.0.2.0/24").bytes]).toEqual([192, 0, 2, 0])
  })

  it("refuses host bits set under the prefix, and names the network it probably meant", () => {
    const v4 = parsed("192.0.2.31/24")
    expect(v4).toMatch(/^invalid: /)
    expect(v4).toMatch(/host bits/)
    expect(v4).toContain("192.0.2.0/24")
    expect(v4).toContain("192.0.2.31")
    const v6 = parsed("2001:db8::a1/64")
    expect(v6).toMatch(/host bits/)
    expect(v6).toContain("2001:db8::/64")
  })

  it("refuses a prefix length out of range or not a number", () => {
    expect(parsed("192.0.2.0/33")).toMatch(/prefix length must be a number from 0 to 32/)
    expect(parsed("2001:db8::/129")).toMatch(/from 0 to 128/)
    expect(parsed("192.0.2.0/")).toMatch(/prefix length/)
    expect(parsed("192.0.2.0/-1")).toMatch(/prefix length/)
    expect(parsed("192.0.2.0/2x")).toMatch(/prefix length/)
    expect(parsed("192.0.2.0/24/8")).toMatch(/^invalid: /)
  })

  it("given an IPv4 block written as IPv6 (mapped or compatible) with a prefix of 96 or more, then it is the IPv4 block", () => {
    expect(parsed("::ffff:10.0.0.5")).toBe("10.0.0.5/32")
    expect(parsed("::ffff:10.0.0.5/128")).toBe("10.0.0.5/32")
    expect(parsed("::ffff:10.0.0.0/104")).toBe("10.0.0.0/8")
    expect(parsed("::ffff:a00:0/104")).toBe("10.0.0.0/8")
    expect(parsed("::ffff:0:0/96")).toBe("0.0.0.0/0")
    expect(parsed("::10.0.0.0/104")).toBe("10.0.0.0/8")
    expect(parsed("::/127")).toBe("0.0.0.0/31")
    expect(cidr("::ffff:10.0.0.0/104").version).toBe(4)
    // the prefix is measured against the address as written
    expect(parsed("::ffff:10.0.0.5/33")).toMatch(/^invalid: .*host bits/)
    expect(parsed("10.0.0.5/104")).toMatch(/from 0 to 32/)
    expect(parsed("::ffff:10.0.0.5/104")).toBe("invalid: '::ffff:10.0.0.5/104' has host bits set: the network is 10.0.0.0/8, the single address is 10.0.0.5")
  })

  it("keeps IPv6 blocks wider than /96, and IPv6's own :: and ::1, as IPv6", () => {
    expect(parsed("::/128")).toBe("::/128")
    expect(parsed("::1/128")).toBe("::1/128")
    expect(parsed("::/96")).toBe("0.0.0.0/0")
    expect(parsed("::/95")).toBe("::/95")
    expect(parsed("::fffe:0:0/95")).toBe("::fffe:0:0/95")
    expect(cidr("::/0").version).toBe(6)
  })

  it("canonical text reads back as itself (random blocks, IPv4 written as IPv6 included)", () => {
    let seed = 7
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31)
    for (let n = 0; n < 3000; n++) {
      const groups = Array.from({ length: 8 }, (_, i) => (i === 5 && next() % 2 === 0 ? 0xffff : next() % 4 === 0 ? next() % 65536 : 0))
      const prefix = next() % 129
      const text = `${groups.map((g) => g.toString(16)).join(":")}/128`
      const host = cidr(text)
      const network = parseCidr(`${host.text.split("/")[0]}/${host.version === 4 ? Math.min(prefix, 32) : prefix}`)
      for (const c of network.ok ? [host, network.value] : [host]) {
        expect(parsed(c.text)).toBe(c.text)
        expect(cidr(c.text).version).toBe(c.version)
      }
    }
  })

  it("refuses what is not an address", () => {
    expect(parsed("192.0.2/24")).toMatch(/^invalid: /)
    expect(parsed("example.test")).toMatch(/^invalid: /)
    expect(parsed("")).toMatch(/^invalid: /)
    expect(() => hostCidr("not an address")).toThrow()
  })
})

describe("CIDR blocks: containment", () => {
  it("a network contains its addresses and its subnets, and itself", () => {
    expect(contains(cidr("192.0.2.0/24"), cidr("192.0.2.31"))).toBe(true)
    expect(contains(cidr("192.0.2.0/24"), cidr("192.0.2.128/25"))).toBe(true)
    expect(contains(cidr("192.0.2.0/24"), cidr("192.0.2.0/24"))).toBe(true)
    expect(contains(cidr("0.0.0.0/0"), cidr("203.0.113.9"))).toBe(true)
    expect(contains(cidr("192.0.2.0/23"), cidr("192.0.3.255"))).toBe(true)
  })

  it("does not contain what lies outside it, or a wider block", () => {
    expect(contains(cidr("192.0.2.0/24"), cidr("192.0.3.1"))).toBe(false)
    expect(contains(cidr("192.0.2.0/25"), cidr("192.0.2.128"))).toBe(false)
    expect(contains(cidr("192.0.2.128/25"), cidr("192.0.2.0/24"))).toBe(false)
    expect(contains(cidr("192.0.2.31"), cidr("192.0.2.30"))).toBe(false)
    // a prefix that does not end on a byte boundary
    expect(contains(cidr("192.0.2.0/29"), cidr("192.0.2.7"))).toBe(true)
    expect(contains(cidr("192.0.2.0/29"), cidr("192.0.2.8"))).toBe(false)
  })

  it("IPv4 and IPv6 never contain each other; an IPv4-mapped address is IPv4", () => {
    expect(contains(cidr("::/0"), cidr("192.0.2.1"))).toBe(false)
    expect(contains(cidr("0.0.0.0/0"), cidr("2001:db8::1"))).toBe(false)
    expect(contains(cidr("0.0.0.0/0"), cidr("::ffff:192.0.2.1"))).toBe(true)
    expect(contains(cidr("192.0.2.0/24"), cidr("::ffff:c000:201"))).toBe(true)
  })

  it("IPv6 containment", () => {
    expect(contains(cidr("2001:db8::/32"), cidr("2001:db8:ffff::1"))).toBe(true)
    expect(contains(cidr("2001:db8::/33"), cidr("2001:db8:8000::1"))).toBe(false)
    expect(contains(cidr("2001:db8::/126"), cidr("2001:db8::3"))).toBe(true)
    expect(contains(cidr("2001:db8::/126"), cidr("2001:db8::4"))).toBe(false)
  })

  it("overlaps when either contains the other", () => {
    expect(overlaps(cidr("192.0.2.0/24"), cidr("192.0.2.7"))).toBe(true)
    expect(overlaps(cidr("192.0.2.7"), cidr("192.0.2.0/24"))).toBe(true)
    expect(overlaps(cidr("192.0.2.0/25"), cidr("192.0.2.128/25"))).toBe(false)
  })
})

describe("CIDR blocks: exclude", () => {
  it("192.0.2.0/24 minus 192.0.2.7 is 8 blocks covering exactly the 255 other addresses", () => {
    const pieces = exclude(cidr("192.0.2.0/24"), cidr("192.0.2.7"))
    expect(texts(pieces)).toEqual([
      "192.0.2.0/30",
      "192.0.2.4/31",
      "192.0.2.6/32",
      "192.0.2.8/29",
      "192.0.2.16/28",
      "192.0.2.32/27",
      "192.0.2.64/26",
      "192.0.2.128/25"
    ])
    expect(size(pieces)).toBe(255)
    for (const piece of pieces) expect(contains(piece, cidr("192.0.2.7"))).toBe(false)
    for (let host = 0; host < 256; host++) {
      const covering = pieces.filter((p) => contains(p, cidr(`192.0.2.${host}`)))
      expect(covering).toHaveLength(host === 7 ? 0 : 1)
    }
  })

  it("every piece is in canonical form (parses back to itself)", () => {
    for (const piece of exclude(cidr("192.0.2.0/24"), cidr("192.0.2.77"))) expect(parsed(piece.text)).toBe(piece.text)
    for (const piece of exclude(cidr("2001:db8::/64"), cidr("2001:db8::a1"))) expect(parsed(piece.text)).toBe(piece.text)
  })

  it("a hole that is a subnet leaves the rest", () => {
    expect(texts(exclude(cidr("192.0.2.0/24"), cidr("192.0.2.0/25")))).toEqual(["192.0.2.128/25"])
    expect(texts(exclude(cidr("192.0.2.0/24"), cidr("192.0.2.64/26")))).toEqual(["192.0.2.0/26", "192.0.2.128/25"])
  })

  it("excluding a hole that does not overlap returns the original block", () => {
    expect(texts(exclude(cidr("192.0.2.0/24"), cidr("198.51.100.7")))).toEqual(["192.0.2.0/24"])
    expect(texts(exclude(cidr("192.0.2.0/24"), cidr("2001:db8::1")))).toEqual(["192.0.2.0/24"])
  })

  it("excluding a hole that covers everything returns nothing", () => {
    expect(exclude(cidr("192.0.2.7"), cidr("192.0.2.0/24"))).toEqual([])
    expect(exclude(cidr("192.0.2.0/24"), cidr("192.0.2.0/24"))).toEqual([])
    expect(exclude(cidr("192.0.2.0/24"), cidr("0.0.0.0/0"))).toEqual([])
  })

  it("works for IPv6: a /126 minus one address leaves a /127 and a /128", () => {
    expect(texts(exclude(cidr("2001:db8::/126"), cidr("2001:db8::2")))).toEqual(["2001:db8::/127", "2001:db8::3/128"])
    const pieces = exclude(cidr("2001:db8::/64"), cidr("2001:db8::a1"))
    expect(pieces).toHaveLength(64)
    for (const piece of pieces) {
      expect(contains(piece, cidr("2001:db8::a1"))).toBe(false)
      expect(contains(cidr("2001:db8::/64"), piece)).toBe(true)
    }
    expect(pieces.some((p) => contains(p, cidr("2001:db8::a0")))).toBe(true)
    expect(pieces.some((p) => contains(p, cidr("2001:db8::ffff:ffff:ffff:ffff")))).toBe(true)
  })

  it("does not change its arguments", () => {
    const outer = cidr("192.0.2.0/24")
    const before = [...outer.bytes]
    exclude(outer, cidr("192.0.2.200"))
    expect([...outer.bytes]).toEqual(before)
    expect(outer.text).toBe("192.0.2.0/24")
  })
})

describe("CIDR blocks: order", () => {
  it("orders IPv4 before IPv6, then by address (numerically), then by prefix", () => {
    const input = ["2001:db8::1", "192.0.2.10", "192.0.2.0/24", "10.0.0.0/8", "192.0.2.9", "::/0", "192.0.2.0/25", "192.0.2.0"]
    const sorted = input.map(cidr).sort(compareCidr)
    expect(texts(sorted)).toEqual([
      "10.0.0.0/8",
      "192.0.2.0/24",
      "192.0.2.0/25",
      "192.0.2.0/32",
      "192.0.2.9/32",
      "192.0.2.10/32",
      "::/0",
      "2001:db8::1/128"
    ])
  })

  it("equal blocks compare as 0", () => {
    expect(compareCidr(cidr("192.0.2.0/24"), cidr("192.0.2.0/24"))).toBe(0)
    expect(compareCidr(cidr("192.0.2.0/24"), cidr("192.0.2.0/25"))).toBeLessThan(0)
    expect(compareCidr(cidr("2001:db8::1"), cidr("192.0.2.1"))).toBeGreaterThan(0)
  })
})

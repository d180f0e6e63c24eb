/**
 * Never-block rails (issue 12, "never harm"): what mitigator never blocks, in the decider and in
 * the projection; and the width limits on blocks.
 */
import { describe, expect, it } from "@effect/vitest"
import { parseCidr, type Cidr } from "../../src/domain/Cidr.js"
import { applianceRail, BUILT_IN_RAILS, protectionOf, widthOf } from "../../src/domain/Rails.js"
import { adsEvent, allowRequested, blockKeys, blockRequested, decided, decisionAt, given, iso, plus, policy, policyActivated, rule } from "../support/scenario.js"
import { RAIL_ADDRESSES } from "../support/fixtures.js"

const NOW = iso("2025-11-03T15:13:10Z")
const GLOBAL = "loadmaster:global"

const cidr = (s: string): Cidr => {
  const r = parseCidr(s)
  if (!r.ok) throw new Error(r.error)
  return r.value
}

const blockAll = policy({ rules: [rule("everything", {}, [[GLOBAL, "6h"], ["cryptospike", "6h"]])] })


describe("rails: a detection from a protected source", () => {
  it.each(RAIL_ADDRESSES)("given a rule that matches, when %s is the source, then no block is decided and the decision says protected (%s)", (source, protection) => {
    const decision = decisionAt(blockAll, adsEvent({ source }), NOW, { seq: 7 })
    expect(decision.decided).toEqual([])
    expect(decision.withheld).toMatchObject({
      targets: [GLOBAL, "cryptospike"],
      rule: "everything",
      reason: "protected",
      protection,
      cause: { seq: 7, source }
    })
  })

  it("given an IPv4-mapped or IPv4-compatible loopback source, then it is protected as IPv4 loopback", () => {
    // (the Flowmon parsers canonicalise; an event built by hand still goes through hostCidr)
    for (const source of ["::ffff:127.0.0.1", "::ffff:7f00:1", "::127.0.0.1"]) {
      const decision = decisionAt(blockAll, adsEvent({ source }), NOW)
      expect(decision.decided, source).toEqual([])
      expect(decision.withheld?.protection, source).toBe("loopback 127.0.0.0/8")
    }
  })

  it("given the policy's neverBlock, then a source inside it is withheld and named as neverBlock", () => {
    const p = policy({ ...blockAll, neverBlock: ["192.0.2.53/32", "198.51.100.0/24"] })
    expect(decisionAt(p, adsEvent({ source: "192.0.2.53" }), NOW).withheld?.protection).toBe("neverBlock 192.0.2.53/32")
    expect(decisionAt(p, adsEvent({ source: "198.51.100.9" }), NOW).withheld?.protection).toBe("neverBlock 198.51.100.0/24")
    expect(decisionAt(p, adsEvent({ source: "192.0.2.54" }), NOW).decided).toHaveLength(2)
  })

  it("given the appliances' addresses, then a source that is one of them is withheld, named with the host", () => {
    const appliances = [applianceRail("loadmaster", "lm.example", "198.51.100.7"), applianceRail("cryptospike", "2001:db8::c5", "2001:db8::c5")]
    const lm = decisionAt(blockAll, adsEvent({ source: "198.51.100.7" }), NOW, { appliances })
    expect(lm.decided).toEqual([])
    expect(lm.withheld?.protection).toBe("appliance loadmaster lm.example (198.51.100.7)")
    expect(decisionAt(blockAll, adsEvent({ source: "2001:db8::c5" }), NOW, { appliances }).withheld?.protection).toBe(
      "appliance cryptospike 2001:db8::c5"
    )
    expect(decisionAt(blockAll, adsEvent({ source: "198.51.100.8" }), NOW, { appliances }).decided).toHaveLength(2)
  })

  it("given no matching rule, then a protected source gets neither a block nor a withheld decision", () => {
    const p = policy({ rules: [rule("scans", { methods: ["SCANS"] }, [[GLOBAL, "1h"]])] })
    expect(decisionAt(p, adsEvent({ source: "127.0.0.1", method: "SSHDICT" }), NOW)).toEqual({ decided: [], withheld: null })
  })

  it("automatic decisions block the source host alone", () => {
    const decision = decisionAt(blockAll, adsEvent({ source: "203.0.113.9" }), NOW)
    expect(decision.decided[0]!.subject).toEqual({ kind: "ip", cidr: "203.0.113.9/32" })
    expect(decisionAt(blockAll, adsEvent({ source: "2001:db8::9" }), NOW).decided[0]!.subject).toEqual({ kind: "ip", cidr: "2001:db8::9/128" })
  })
})

describe("rails: which blocks they protect", () => {
  it("lists the built-in rails as data, none configurable off", () => {
    expect(BUILT_IN_RAILS.map((r) => `${r.name} ${r.cidr}`)).toEqual([
      "unspecified 0.0.0.0/8",
      "unspecified ::/128",
      "loopback 127.0.0.0/8",
      "loopback ::1/128",
      "link-local 169.254.0.0/16",
      "link-local fe80::/10",
      "multicast 224.0.0.0/4",
      "multicast ff00::/8",
      "broadcast 255.255.255.255/32"
    ])
  })

  it("a host inside a rail, a network inside one, and a network around one are protected", () => {
    expect(protectionOf(cidr("127.0.0.1"))?.label).toBe("loopback 127.0.0.0/8")
    expect(protectionOf(cidr("127.1.0.0/16"))?.label).toBe("loopback 127.0.0.0/8")
    expect(protectionOf(cidr("126.0.0.0/7"))?.label).toBe("loopback 127.0.0.0/8")
    expect(protectionOf(cidr("0.0.0.0/0"))?.label).toBe("unspecified 0.0.0.0/8")
    expect(protectionOf(cidr("::/0"))?.label).toBe("unspecified ::/128")
    expect(protectionOf(cidr("2001:db8::/32"))).toBeUndefined()
    expect(protectionOf(cidr("203.0.113.0/24"))).toBeUndefined()
  })

  it("an IPv6 network around the IPv4-mapped range is protected (it would block IPv4 under another name)", () => {
    expect(protectionOf(cidr("::fffe:0:0/95"))?.label).toBe("IPv4-mapped ::ffff:0:0/96")
    expect(protectionOf(cidr("::ffff:10.0.0.5"))).toBeUndefined() // that is 10.0.0.5
  })

  it("extra rails come after the built-in ones", () => {
    const extra = [applianceRail("loadmaster", "lm.example", "127.0.0.5")]
    expect(protectionOf(cidr("127.0.0.5"), extra)?.label).toBe("loopback 127.0.0.0/8")
  })

  it("width: up to /24 (/64) always; wider needs --force; wider than /8 (/32) never", () => {
    expect(["10.0.0.0/24", "192.0.2.31/32", "2001:db8::/64", "2001:db8::1/128"].map((c) => widthOf(cidr(c)))).toEqual(["ok", "ok", "ok", "ok"])
    expect(["10.0.0.0/16", "10.0.0.0/8", "2001:db8::/48", "2001:db8::/32"].map((c) => widthOf(cidr(c)))).toEqual([
      "needs-force",
      "needs-force",
      "needs-force",
      "needs-force"
    ])
    expect(["0.0.0.0/0", "128.0.0.0/1", "10.0.0.0/7", "::/0", "2001:db8::/31"].map((c) => widthOf(cidr(c)))).toEqual([
      "too-wide",
      "too-wide",
      "too-wide",
      "too-wide",
      "too-wide"
    ])
  })
})

describe("projection: rails win over what the log says", () => {
  const T = iso("2025-11-03T10:00:00Z")

  it.each(RAIL_ADDRESSES)("given an old log that decided a block on %s, then it is not in force: suppressed as protected (%s)", (address, protection) => {
    const host = cidr(address).text
    const state = given(decided(T, { cidr: host })).at(plus(T, "1h"))
    expect(state.ipBlocks).toEqual([])
    expect(state.suppressed).toEqual([
      { target: GLOBAL, cidr: host, until: plus(T, "6h"), allowedBy: { cidr: protection.split(" ")[1], until: null, source: "protected", protection } }
    ])
  })

  it("given an old operator block of 0.0.0.0/0 or of a network around loopback, then it is lifted whole, not split", () => {
    const state = given(blockRequested(T, { cidr: "0.0.0.0/0" }), blockRequested(T, { cidr: "126.0.0.0/7" })).at(T)
    expect(state.ipBlocks).toEqual([])
    expect(state.suppressed.map((s) => [s.cidr, s.allowedBy.protection])).toEqual([
      ["0.0.0.0/0", "unspecified 0.0.0.0/8"],
      ["126.0.0.0/7", "loopback 127.0.0.0/8"]
    ])
  })

  it("given an old operator block wider than /8 that touches no rail, then it is lifted as too wide", () => {
    const state = given(blockRequested(T, { cidr: "192.0.0.0/3" }), blockRequested(T, { cidr: "2001:db8::/31" })).at(T)
    expect(state.ipBlocks).toEqual([])
    expect(state.suppressed.map((s) => s.allowedBy.protection)).toEqual([
      "wider than /8, the widest block mitigator makes",
      "wider than /32, the widest block mitigator makes"
    ])
    // /8 itself is still a block mitigator makes (with --force)
    expect(blockKeys(given(blockRequested(T, { cidr: "10.0.0.0/8" })).at(T))).toEqual([`${GLOBAL} 10.0.0.0/8`])
  })

  it("given neverBlock in the policy in force, then blocks on it are lifted; a later policy without it lets them be", () => {
    const withIt = policy({ neverBlock: ["192.0.2.31/32"] })
    const g = given(decided(T, { cidr: "192.0.2.31/32" }), policyActivated(plus(T, "1m"), withIt))
    expect(blockKeys(given(decided(T, { cidr: "192.0.2.31/32" })).at(T))).toEqual([`${GLOBAL} 192.0.2.31/32`]) // (without it)
    expect(g.at(plus(T, "1m")).suppressed[0]?.allowedBy).toEqual({
      cidr: "192.0.2.31/32",
      until: null,
      source: "protected",
      protection: "neverBlock 192.0.2.31/32"
    })
    const without = given(decided(T, { cidr: "192.0.2.31/32" }), policyActivated(T, withIt), policyActivated(plus(T, "1m"), policy()))
    expect(blockKeys(without.at(plus(T, "1m")))).toEqual([`${GLOBAL} 192.0.2.31/32`])
  })

  it("given a PolicyActivated recorded before neverBlock existed, then it reads as none", () => {
    const { neverBlock: _, ...old } = policy({ neverBlock: ["192.0.2.31/32"] })
    const state = given(policyActivated(T, old), decided(T, { cidr: "192.0.2.31/32" })).at(T)
    expect(blockKeys(state)).toEqual([`${GLOBAL} 192.0.2.31/32`])
  })

  it("given an old log that blocks the user behind a protected address, then the user block is not pending or in force", () => {
    const state = given(decided(T, { target: "cryptospike", subject: { kind: "userBehindIp", ip: "127.0.0.1", at: T, userIdentity: "" } })).at(T)
    expect(state.pendingUserBlocks).toEqual([])
    expect(state.userBlocks).toEqual([])
  })

  it("a protected block stays protected even when an allow would also cover it", () => {
    const state = given(decided(T, { cidr: "127.0.0.1/32" }), allowRequested(T, { cidr: "127.0.0.0/8" })).at(T)
    expect(state.suppressed.map((s) => s.allowedBy.source)).toEqual(["protected"])
  })
})

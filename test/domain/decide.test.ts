import { describe, expect, it } from "@effect/vitest"
import { escalatedTtl, offenceNumber, ruleMatches } from "../../src/domain/Decide.js"
import { policyHash, type Policy } from "../../src/domain/Policy.js"
import { adsEvent, decideAt, durationMs, idsEvent, iso, minus, plus, policy, rule } from "../support/scenario.js"

/** Recording time of the decisions below, unless a test says otherwise. */
const NOW = iso("2025-11-03T15:13:10Z")

const sshRule = rule("ssh-dictionary", { methods: ["SSHDICT"] }, [["loadmaster:global", "6h"]])

describe("decider: which rule matches", () => {
  it("matches on the product: an ADS rule ignores IDS events and the reverse", () => {
    const adsOnly = rule("ads-only", { product: "ads" }, [["loadmaster:global", "1h"]])
    const idsOnly = rule("ids-only", { product: "ids" }, [["loadmaster:global", "1h"]])
    expect(ruleMatches(adsOnly, adsEvent())).toBe(true)
    expect(ruleMatches(adsOnly, idsEvent())).toBe(false)
    expect(ruleMatches(idsOnly, idsEvent())).toBe(true)
    expect(ruleMatches(idsOnly, adsEvent())).toBe(false)
  })

  it("matches method codes ignoring case", () => {
    const r = rule("scans", { methods: ["scans", "SshDict"] }, [["loadmaster:global", "1h"]])
    expect(ruleMatches(r, adsEvent({ method: "SCANS" }))).toBe(true)
    expect(ruleMatches(r, adsEvent({ method: "sshdict" }))).toBe(true)
    expect(ruleMatches(r, adsEvent({ method: "BLACKLIST" }))).toBe(false)
  })

  it("a rule that names methods never matches an event without a method (IDS)", () => {
    const r = rule("scans", { methods: ["SCANS"] }, [["loadmaster:global", "1h"]])
    expect(ruleMatches(r, idsEvent())).toBe(false)
  })

  it("matches perspectives ignoring case", () => {
    const r = rule("security", { perspectives: ["security issues"] }, [["loadmaster:global", "1h"]])
    expect(ruleMatches(r, adsEvent({ perspective: "Security issues" }))).toBe(true)
    expect(ruleMatches(r, adsEvent({ perspective: "Operational issues" }))).toBe(false)
    expect(ruleMatches(r, adsEvent({ perspective: null }))).toBe(false)
  })

  it("matches data feeds ignoring case", () => {
    const r = rule("lan", { dataFeeds: ["lan", "DMZ"] }, [["loadmaster:global", "1h"]])
    expect(ruleMatches(r, adsEvent({ dataFeed: "LAN" }))).toBe(true)
    expect(ruleMatches(r, adsEvent({ dataFeed: "dmz" }))).toBe(true)
    expect(ruleMatches(r, adsEvent({ dataFeed: "WAN" }))).toBe(false)
    expect(ruleMatches(r, adsEvent({ dataFeed: null }))).toBe(false)
  })

  it("a minimum priority accepts that priority and above, and refuses the ones below", () => {
    const r = rule("high", { minPriority: "HIGH" }, [["loadmaster:global", "1h"]])
    expect(ruleMatches(r, adsEvent({ priority: "CRITICAL" }))).toBe(true)
    expect(ruleMatches(r, adsEvent({ priority: "HIGH" }))).toBe(true)
    expect(ruleMatches(r, adsEvent({ priority: "MEDIUM" }))).toBe(false)
    expect(ruleMatches(r, adsEvent({ priority: "INFORMATIONAL" }))).toBe(false)
  })

  it("an event without a priority (a manual run from the event detail) never satisfies a minimum", () => {
    const lowest = rule("any-priority", { minPriority: "INFORMATIONAL" }, [["loadmaster:global", "1h"]])
    expect(ruleMatches(lowest, adsEvent({ priority: null }))).toBe(false)
    // …but a rule without a minimum still matches it
    expect(ruleMatches(sshRule, adsEvent({ priority: null }))).toBe(true)
  })

  it("given a priority below the rule's minimum, when the event arrives, then nothing is decided", () => {
    const p = policy({ rules: [rule("high", { minPriority: "HIGH" }, [["loadmaster:global", "6h"]])] })
    expect(decideAt(p, adsEvent({ priority: "LOW" }), NOW)).toEqual([])
    expect(decideAt(p, adsEvent({ priority: null }), NOW)).toEqual([])
    expect(decideAt(p, adsEvent({ priority: "HIGH" }), NOW)).toHaveLength(1)
  })

  it("every condition of a rule must hold", () => {
    const r = rule(
      "narrow",
      { product: "ads", methods: ["SSHDICT"], perspectives: ["Security issues"], minPriority: "HIGH", dataFeeds: ["LAN"] },
      [["loadmaster:global", "1h"]]
    )
    expect(ruleMatches(r, adsEvent())).toBe(true)
    expect(ruleMatches(r, adsEvent({ method: "SCANS" }))).toBe(false)
    expect(ruleMatches(r, adsEvent({ perspective: "Operational issues" }))).toBe(false)
    expect(ruleMatches(r, adsEvent({ priority: "LOW" }))).toBe(false)
    expect(ruleMatches(r, adsEvent({ dataFeed: "WAN" }))).toBe(false)
  })

  it("given no matching rule, then nothing is decided", () => {
    const p = policy({ rules: [sshRule] })
    expect(decideAt(p, adsEvent({ method: "SCANS" }), NOW)).toEqual([])
  })

  it("given no rules at all (the empty policy), then nothing is decided", () => {
    expect(decideAt(policy(), adsEvent(), NOW)).toEqual([])
  })

  it("the first matching rule wins, even when a later one matches too", () => {
    const p = policy({
      rules: [
        rule("scans", { methods: ["SCANS"] }, [["loadmaster:vs:1", "1h"]]),
        rule("ssh-first", { methods: ["SSHDICT"] }, [["loadmaster:global", "2h"]]),
        rule("catch-all", {}, [["loadmaster:global", "30d"], ["cryptospike", "1h"]])
      ]
    })
    const decided = decideAt(p, adsEvent({ method: "SSHDICT" }), NOW)
    expect(decided.map((d) => [d.rule, d.target, d.ttl])).toEqual([["ssh-first", "loadmaster:global", "2h"]])
  })
})

describe("decider: what is decided", () => {
  const multi = rule("ransomware", { methods: ["SSHDICT"] }, [
    ["loadmaster:global", "6h"],
    ["loadmaster:vs:3", "1d"],
    ["cryptospike", "2h"]
  ])

  it("given a rule with several actions, then each action becomes one BlockDecided, in the rule's order", () => {
    const p = policy({ rules: [multi] })
    const event = adsEvent({ userIdentity: "jdoe@example.test" })
    const decided = decideAt(p, event, NOW, { seq: 42 })
    expect(decided.map((d) => d.target)).toEqual(["loadmaster:global", "loadmaster:vs:3", "cryptospike"])
    expect(decided[0]!.subject).toEqual({ kind: "ip", cidr: "192.0.2.31/32" })
    expect(decided[1]!.subject).toEqual({ kind: "ip", cidr: "192.0.2.31/32" })
    expect(decided[2]!.subject).toEqual({
      kind: "userBehindIp",
      ip: "192.0.2.31",
      at: event.detectedAt,
      userIdentity: "jdoe@example.test"
    })
    expect(decided.map((d) => d.until)).toEqual([plus(NOW, "6h"), plus(NOW, "1d"), plus(NOW, "2h")])
    expect(decided.map((d) => d.ttl)).toEqual(["6h", "1d", "2h"])
  })

  it("records the rule name, the offence number, the policy hash and the causing event", () => {
    const p = policy({ rules: [multi] })
    const event = adsEvent({ eventId: "98765", instance: "fm-prague", detectedAt: iso("2025-11-03T15:12:40Z") })
    const [first] = decideAt(p, event, NOW, { seq: 42 })
    expect(first).toEqual({
      target: "loadmaster:global",
      subject: { kind: "ip", cidr: "192.0.2.31/32" },
      until: plus(NOW, "6h"),
      ttl: "6h",
      rule: "ransomware",
      offence: 1,
      policyHash: policyHash(p),
      cause: {
        seq: 42,
        product: "ads",
        instance: "fm-prague",
        eventId: "98765",
        method: "SSHDICT",
        source: "192.0.2.31",
        detectedAt: "2025-11-03T15:12:40.000Z"
      }
    })
  })

  it("a block lasts from the recording time, not from Flowmon's detection time (an event re-run days later)", () => {
    const p = policy({ rules: [sshRule] })
    const detectedAt = iso("2025-10-30T08:00:00Z") // four days before it was recorded
    const decided = decideAt(p, adsEvent({ detectedAt, priority: null }), NOW)
    expect(decided).toHaveLength(1)
    expect(decided[0]!.until).toBe(plus(NOW, "6h"))
    expect(decided[0]!.until).not.toBe(plus(detectedAt, "6h"))
    expect(decided[0]!.cause.detectedAt).toBe(detectedAt)
  })

  it("an IPv6 source is blocked as its /128, in canonical form", () => {
    const p = policy({ rules: [rule("any", {}, [["loadmaster:global", "6h"], ["cryptospike", "6h"]])] })
    const decided = decideAt(p, adsEvent({ source: "2001:db8::a1" }), NOW)
    expect(decided[0]!.subject).toEqual({ kind: "ip", cidr: "2001:db8::a1/128" })
    expect(decided[1]!.subject).toMatchObject({ kind: "userBehindIp", ip: "2001:db8::a1" })
    expect(decided[0]!.cause.source).toBe("2001:db8::a1")
  })

  it("decides for IDS events too when a rule matches them", () => {
    const p = policy({ rules: [sshRule, rule("ids", { product: "ids" }, [["loadmaster:vs:2", "12h"]])] })
    const decided = decideAt(p, idsEvent({ source: "192.0.2.50" }), NOW)
    expect(decided).toHaveLength(1)
    expect(decided[0]).toMatchObject({
      rule: "ids",
      target: "loadmaster:vs:2",
      subject: { kind: "ip", cidr: "192.0.2.50/32" },
      cause: { product: "ids", method: null, eventId: "ids-77" }
    })
  })
})

describe("decider: the allowlist", () => {
  it("given the source on the policy's allowlist, then nothing is decided", () => {
    const p = policy({ rules: [sshRule], allowlist: [{ cidr: "192.0.2.0/24", until: null }] })
    expect(decideAt(p, adsEvent({ source: "192.0.2.31" }), NOW)).toEqual([])
  })

  it("an allowlist entry in force until later still protects", () => {
    const p = policy({ rules: [sshRule], allowlist: [{ cidr: "192.0.2.31/32", until: plus(NOW, "1h") }] })
    expect(decideAt(p, adsEvent(), NOW)).toEqual([])
  })

  it("an expired allowlist entry no longer protects", () => {
    const p = policy({ rules: [sshRule], allowlist: [{ cidr: "192.0.2.31/32", until: minus(NOW, "1s") }] })
    expect(decideAt(p, adsEvent(), NOW)).toHaveLength(1)
  })

  it("an allowlist entry ends exactly at its `until`", () => {
    const p = policy({ rules: [sshRule], allowlist: [{ cidr: "192.0.2.31/32", until: NOW }] })
    expect(decideAt(p, adsEvent(), NOW)).toHaveLength(1)
  })

  it("an allowlist entry that does not contain the source does not protect it", () => {
    const p = policy({
      rules: [sshRule],
      allowlist: [
        { cidr: "192.0.2.32/32", until: null },
        { cidr: "198.51.100.0/24", until: null },
        { cidr: "2001:db8::/32", until: null }
      ]
    })
    expect(decideAt(p, adsEvent({ source: "192.0.2.31" }), NOW)).toHaveLength(1)
  })

  it("an IPv6 allowlist entry protects IPv6 sources inside it", () => {
    const p = policy({ rules: [sshRule], allowlist: [{ cidr: "2001:db8::/64", until: null }] })
    expect(decideAt(p, adsEvent({ source: "2001:db8::a1" }), NOW)).toEqual([])
    expect(decideAt(p, adsEvent({ source: "2001:db8:0:1::a1" }), NOW)).toHaveLength(1)
  })
})

describe("decider: escalation", () => {
  const escalating = (ttl: string): Policy =>
    policy({
      rules: [rule("ssh", { methods: ["SSHDICT"] }, [["loadmaster:global", ttl]])],
      escalation: { window: "7d", factor: 2, maxTtl: "30d" }
    })

  /** The ttl of a decision recorded at NOW after offences recorded `ago` each. */
  const ttlAfter = (p: Policy, ago: ReadonlyArray<string>) => {
    const decided = decideAt(p, adsEvent(), NOW, { earlierOffences: ago.map((a) => minus(NOW, a)) })
    expect(decided).toHaveLength(1)
    const d = decided[0]!
    expect(Date.parse(d.until) - Date.parse(NOW)).toBe(durationMs(d.ttl))
    return { ttl: d.ttl, offence: d.offence }
  }

  it("given base ttl 6h, factor 2 inside 7d: the 1st offence gets 6h, the 2nd 12h, the 3rd 24h", () => {
    const p = escalating("6h")
    expect(ttlAfter(p, [])).toEqual({ ttl: "6h", offence: 1 })
    expect(ttlAfter(p, ["1d"])).toEqual({ ttl: "12h", offence: 2 })
    expect(ttlAfter(p, ["2d", "1d"])).toEqual({ ttl: "1d", offence: 3 })
    expect(ttlAfter(p, ["3d", "2d", "1d"])).toEqual({ ttl: "2d", offence: 4 })
  })

  it("the escalated ttl is capped at maxTtl: base 10d gives 10d, 20d, then 30d (not 40d)", () => {
    const p = escalating("10d")
    expect(ttlAfter(p, [])).toEqual({ ttl: "10d", offence: 1 })
    expect(ttlAfter(p, ["1d"])).toEqual({ ttl: "20d", offence: 2 })
    expect(ttlAfter(p, ["2d", "1d"])).toEqual({ ttl: "30d", offence: 3 })
    expect(ttlAfter(p, ["3d", "2d", "1d"])).toEqual({ ttl: "30d", offence: 4 })
  })

  it("the cap never shortens a rule's own ttl (base above maxTtl)", () => {
    const p = escalating("6w")
    expect(ttlAfter(p, [])).toEqual({ ttl: "6w", offence: 1 })
    expect(ttlAfter(p, ["1d"])).toEqual({ ttl: "6w", offence: 2 })
  })

  it("offences recorded before the window do not count", () => {
    const p = escalating("6h")
    expect(ttlAfter(p, ["8d"])).toEqual({ ttl: "6h", offence: 1 })
    expect(ttlAfter(p, ["30d", "8d", "6d"])).toEqual({ ttl: "12h", offence: 2 })
    expect(ttlAfter(p, ["7d"])).toEqual({ ttl: "6h", offence: 1 })
  })

  it("without escalation in the policy, every offence gets the base ttl", () => {
    const p = policy({ rules: [rule("ssh", {}, [["loadmaster:global", "6h"]])] })
    expect(ttlAfter(p, [])).toEqual({ ttl: "6h", offence: 1 })
    expect(ttlAfter(p, ["1h", "2h", "3h", "4h"])).toEqual({ ttl: "6h", offence: 1 })
  })

  it("every action of the rule escalates from its own base ttl", () => {
    const p = policy({
      rules: [rule("ssh", {}, [["loadmaster:global", "6h"], ["loadmaster:vs:3", "1d"]])],
      escalation: { window: "7d", factor: 2, maxTtl: "30d" }
    })
    const decided = decideAt(p, adsEvent(), NOW, { earlierOffences: [minus(NOW, "1h")] })
    expect(decided.map((d) => [d.target, d.ttl, d.offence])).toEqual([
      ["loadmaster:global", "12h", 2],
      ["loadmaster:vs:3", "2d", 2]
    ])
  })

  it("escalatedTtl and offenceNumber, directly", () => {
    const p = escalating("6h")
    const h = durationMs("1h")
    expect(escalatedTtl(p, 6 * h, 1)).toBe(6 * h)
    expect(escalatedTtl(p, 6 * h, 2)).toBe(12 * h)
    expect(escalatedTtl(p, 6 * h, 3)).toBe(24 * h)
    expect(escalatedTtl(p, 6 * h, 10)).toBe(30 * 24 * h)
    expect(escalatedTtl(policy(), 6 * h, 5)).toBe(6 * h)
    expect(offenceNumber(p, [], NOW)).toBe(1)
    expect(offenceNumber(p, [minus(NOW, "1d"), minus(NOW, "10d")], NOW)).toBe(2)
    expect(offenceNumber(policy(), [minus(NOW, "1d")], NOW)).toBe(1)
  })
})

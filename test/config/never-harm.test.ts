/**
 * The config's part in "never harm" (issue 12): `policy.neverBlock`, the 10-year ceiling on every
 * duration (refused naming the key), the bounded escalation factor, one canonical form for the
 * addresses in the allowlist and neverBlock, and allowlist expiries as fixed-width instants.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import { parseConfigText } from "../../src/config/parseConfig.js"
import { policyHash } from "../../src/domain/Policy.js"

const SOURCE = "/etc/mitigator.yaml"

const load = (text: string) => {
  const result = parseConfigText(text, SOURCE)
  if (Either.isLeft(result)) throw new Error(`unexpected ConfigError: ${result.left.message}`)
  return result.right
}

const problems = (text: string): ReadonlyArray<string> => {
  const result = parseConfigText(text, SOURCE)
  if (Either.isRight(result)) throw new Error("expected a ConfigError")
  const lines = result.left.message.split("\n")
  return lines.length === 1 ? [lines[0]!.slice(`config ${SOURCE}: `.length)] : lines.slice(1).map((l) => l.trim())
}

const withPolicy = (lines: string) => `policy:\n  rules:\n    - { name: r, actions: [ { loadmaster: global, ttl: 1h } ] }\n${lines}`

describe("config: policy.neverBlock", () => {
  it("given addresses and networks, then they are canonical, sorted and without repeats", () => {
    const config = load(withPolicy('  neverBlock: [ 192.0.2.53, "2001:DB8::53", 198.51.100.0/24, "::ffff:192.0.2.1", 192.0.2.53/32 ]\n'))
    expect(config.policy.neverBlock).toEqual(["192.0.2.1/32", "192.0.2.53/32", "198.51.100.0/24", "2001:db8::53/128"])
  })

  it("given none (or an empty list), then the policy has no neverBlock key and keeps the hash it had before the key existed", () => {
    const without = load(withPolicy(""))
    expect("neverBlock" in without.policy).toBe(false)
    expect(policyHash(load(withPolicy("  neverBlock: []\n")).policy)).toBe(policyHash(without.policy))
    expect(policyHash(load(withPolicy("  neverBlock: [ 192.0.2.53 ]\n")).policy)).not.toBe(policyHash(without.policy))
  })

  it("given a bad entry, then it is refused with its path", () => {
    expect(problems(withPolicy("  neverBlock: [ 192.0.2.53, 192.0.2.1/24, nonsense ]\n"))).toEqual([
      "policy.neverBlock[1]: '192.0.2.1/24' has host bits set: the network is 192.0.2.0/24, the single address is 192.0.2.1",
      "policy.neverBlock[2]: 'nonsense' is not a valid IPv4 address: expected 4 dot-separated numbers, got 1"
    ])
    expect(problems(withPolicy("  neverBlock: 192.0.2.53\n"))).toEqual(["policy.neverBlock: expected a list of CIDRs or addresses"])
  })
})

describe("config: one canonical form for addresses", () => {
  it("given IPv4-mapped or IPv4-compatible entries in the allowlist, then they are the IPv4 blocks", () => {
    const config = load(withPolicy('  allowlist: [ "::ffff:10.0.0.5", "::ffff:10.0.0.0/104", "::a00:6", { cidr: "::ffff:192.0.2.0/120" } ]\n'))
    expect(config.policy.allowlist).toEqual([
      { cidr: "10.0.0.0/8", until: null },
      { cidr: "10.0.0.5/32", until: null },
      { cidr: "10.0.0.6/32", until: null },
      { cidr: "192.0.2.0/24", until: null }
    ])
  })
})

describe("config: every duration has a ceiling of 3650d (10 years), refused naming the key", () => {
  it.each([
    ["a rule's ttl", "    - { name: r, actions: [ { loadmaster: global, ttl: 9999999d } ] }", "policy.rules[0].actions[0].ttl"],
    ["a rule's second ttl", "    - { name: r, actions: [ { loadmaster: global, ttl: 1h }, { cryptospike: user, ttl: 999999999w } ] }", "policy.rules[0].actions[1].ttl"],
    ["a ttl in hours", "    - { name: r, actions: [ { loadmaster: global, ttl: 99999999h } ] }", "policy.rules[0].actions[0].ttl"],
    ["a ttl of 400 digits", `    - { name: r, actions: [ { loadmaster: global, ttl: ${"9".repeat(400)}s } ] }`, "policy.rules[0].actions[0].ttl"]
  ])("%s", (_, rule, key) => {
    expect(problems(`policy:\n  rules:\n${rule}\n`)).toEqual([`${key}: expected a duration of at most 3650d (10 years)`])
  })

  it("the escalation's window and maxTtl, and CryptoSpike's lookback and grace", () => {
    expect(problems(withPolicy("  escalation: { window: 3651d, factor: 2, maxTtl: 999999999w }\n"))).toEqual([
      "policy.escalation.window: expected a duration of at most 3650d (10 years)",
      "policy.escalation.maxTtl: expected a duration of at most 3650d (10 years)"
    ])
    expect(problems("cryptospike: { url: https://cs.example, lookback: 522w, grace: 87601h }")).toEqual([
      "cryptospike.lookback: expected a duration of at most 3650d (10 years)",
      "cryptospike.grace: expected a duration of at most 3650d (10 years)"
    ])
  })

  it("accepts the ceiling itself", () => {
    const config = load(withPolicy("  escalation: { window: 3650d, factor: 2, maxTtl: 521w }\n"))
    expect(config.policy.escalation).toEqual({ window: "3650d", factor: 2, maxTtl: "521w" })
  })
})

describe("config: the escalation factor is a number from 1 to 1000", () => {
  it.each(["1e308", "1001", ".inf", "-.inf", ".nan", "0.5", "Infinity", "'2'"])("refuses factor: %s", (factor) => {
    expect(problems(withPolicy(`  escalation: { window: 7d, factor: ${factor}, maxTtl: 30d }\n`))).toEqual([
      "policy.escalation.factor: expected a number from 1 to 1000"
    ])
  })

  it("accepts 1, 1.5 and 1000", () => {
    for (const factor of [1, 1.5, 1000]) {
      expect(load(withPolicy(`  escalation: { window: 7d, factor: ${factor}, maxTtl: 30d }\n`)).policy.escalation?.factor).toBe(factor)
    }
  })
})

describe("config: allowlist expiries are fixed-width instants", () => {
  it("given until with or without fractions, a zone or as a date, then it is YYYY-MM-DDTHH:MM:SS.sssZ", () => {
    const config = load(
      withPolicy(
        "  allowlist:\n" +
          "    - { cidr: 192.0.2.0/24, until: 2026-12-31T00:00:00Z }\n" +
          "    - { cidr: 198.51.100.0/24, until: '2026-12-31T01:00:00+01:00' }\n" +
          "    - { cidr: 203.0.113.0/24, until: 2026-12-31 }\n" +
          "    - { cidr: 10.0.0.0/8, until: '9999-12-31T23:59:59Z' }\n"
      )
    )
    expect(config.policy.allowlist.map((a) => a.until)).toEqual([
      "9999-12-31T23:59:59.000Z",
      "2026-12-31T00:00:00.000Z",
      "2026-12-31T00:00:00.000Z",
      "2026-12-31T00:00:00.000Z"
    ])
  })

  it("refuses a year past 9999 (or before 1970)", () => {
    expect(problems(withPolicy("  allowlist: [ { cidr: 10.0.0.0/8, until: '+029405-01-01T00:00:00Z' } ]\n"))).toEqual([
      "policy.allowlist[0].until: expected an ISO time with a zone, like 2026-12-31T00:00:00Z, or a date like 2026-12-31 (00:00 UTC)"
    ])
    expect(problems(withPolicy("  allowlist: [ { cidr: 10.0.0.0/8, until: 1969-12-31 } ]\n"))).toEqual([
      "policy.allowlist[0].until: '1969-12-31 00:00:00': year 1969 is before 1970"
    ])
  })
})

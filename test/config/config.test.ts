import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { stringify } from "yaml"
import { loadConfig, loadConfigIn, NO_CONFIG, type AppConfig, type ConfigError } from "../../src/config/loadConfig.js"
import { parseConfigText } from "../../src/config/parseConfig.js"
import { DEFAULT_CAPS, EMPTY_POLICY, policyHash } from "../../src/domain/Policy.js"

const SOURCE = "/etc/mitigator.yaml"
const EXAMPLE = fileURLToPath(new URL("../../examples/mitigator.yaml", import.meta.url))

const load = (text: string): AppConfig => {
  const result = parseConfigText(text, SOURCE)
  if (Either.isLeft(result)) throw new Error(`unexpected ConfigError: ${result.left.message}`)
  return result.right
}

const failure = (text: string): ConfigError => {
  const result = parseConfigText(text, SOURCE)
  if (Either.isRight(result)) throw new Error("expected a ConfigError")
  return result.left
}

/** The problem lines of a failed load, without the `config <path>: ` prefix or the header. */
const problems = (text: string): ReadonlyArray<string> => {
  const lines = failure(text).message.split("\n")
  if (lines.length === 1) return [lines[0]!.slice(`config ${SOURCE}: `.length)]
  return lines.slice(1).map((line) => line.trim())
}

/** A valid policy around one rule's YAML (indented for `rules:`). */
const withRule = (rule: string) => `policy:\n  rules:\n${rule}`

const withTempDir = async <A>(f: (dir: string) => A | Promise<A>): Promise<A> => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mitigator-config-"))
  try {
    return await f(dir)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

const EQUIVALENT_YAML = `
database: ./mitigator.db
instance: fm-collector-1
timezone: Europe/Prague
loadmaster:
  url: https://lm.example:443
  apiKeyFile: /home/flowmon/mitigator/loadmaster.key
  tls: { fingerprint: "sha256:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89" }
cryptospike:
  url: https://cs.example
  lookback: 60m
policy:
  rules:
    - name: brute-force
      match: { product: ads, methods: [sshdict, RDPDICT, DictAttack], minPriority: high }
      actions:
        - { loadmaster: global, ttl: 360m }
        - { loadmaster: { vs: 3 }, ttl: 6h }
        - { cryptospike: user, ttl: 24h }
  escalation: { window: 7d, factor: 2, maxTtl: 30d }
  allowlist: [ 10.0.0.0/8, { cidr: 192.0.2.0/24, until: 2026-12-31T00:00:00Z }, "2001:DB8::1" ]
  caps: { maxAddsPerPass: 100 }
`

// Same meaning, written differently: JSON, other key order, other duration and case spellings.
const EQUIVALENT_JSON = JSON.stringify({
  policy: {
    caps: { maxAddsPerPass: 100, maxRemovesPerPass: 500 },
    allowlist: [{ cidr: "192.0.2.0/24", until: "2026-12-31" }, "10.0.0.0/8", { cidr: "2001:db8::1/128" }],
    escalation: { maxTtl: "30d", factor: 2, window: "1w" },
    rules: [
      {
        actions: [
          { ttl: "6h", loadmaster: "global" },
          { ttl: "21600s", loadmaster: { vs: 3 } },
          { ttl: "1d", cryptospike: "user" }
        ],
        match: { minPriority: "HIGH", methods: ["DICTATTACK", "RDPDICT", "SSHDICT"], product: "ads" },
        name: "brute-force"
      }
    ]
  },
  cryptospike: { lookback: "1h", url: "https://cs.example" },
  loadmaster: {
    tls: { fingerprint: "sha256:abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789", insecure: false },
    api: "v2",
    apiKeyFile: "/home/flowmon/mitigator/loadmaster.key",
    url: "https://lm.example:443"
  },
  timezone: "Europe/Prague",
  instance: "fm-collector-1",
  database: "./mitigator.db"
})

describe("the example config", () => {
  it("loads, with a rule for each method of Flowmon's recommended set", () => {
    const config = load(fs.readFileSync(EXAMPLE, "utf8"))
    const methods = config.policy.rules.flatMap((rule) => rule.match.methods ?? [])
    for (const method of ["SCANS", "RANDOMDOMAIN", "BPATTERNS", "DICTATTACK", "SSHDICT", "RDPDICT", "BLACKLIST"]) {
      expect(methods).toContain(method)
    }
    const bruteForce = config.policy.rules.find((rule) => rule.match.methods?.includes("SSHDICT"))
    expect(bruteForce?.match.minPriority).toBe("HIGH")
    expect(bruteForce?.actions).toEqual([
      { target: "loadmaster:global", ttl: "6h" },
      { target: "cryptospike", ttl: "1d" }
    ])
    expect(config.policy.escalation).toEqual({ window: "1w", factor: 2, maxTtl: "30d" })
    expect(config.policy.allowlist.some((entry) => entry.until !== null)).toBe(true)
    expect(config.loadmaster?.url).toBe("https://lm.example")
    expect(config.loadmaster?.apiKeyFile).toMatch(/loadmaster\.key$/)
    expect(config.cryptospike?.url).toBe("https://cs.example")
    expect(config.cryptospike?.tokenFile).toMatch(/token$/)
  })

  it("loads through loadConfig with an explicit path", () =>
    Effect.gen(function* () {
      const config = yield* loadConfig(EXAMPLE)
      expect(config.source).toBe(EXAMPLE)
      expect(config.instance).toBe("fm-collector-1")
      expect(config.timezone).toBe("Europe/Prague")
    }).pipe(Effect.runPromise))
})

describe("normalisation", () => {
  it("gives a JSON file and an equivalent YAML file the same policy and policyHash", () => {
    const fromYaml = load(EQUIVALENT_YAML)
    const fromJson = load(EQUIVALENT_JSON)
    expect(fromJson.policy).toEqual(fromYaml.policy)
    expect(policyHash(fromJson.policy)).toBe(policyHash(fromYaml.policy))
    expect(fromJson).toEqual(fromYaml)
  })

  it("writes the domain Policy: canonical durations, targets, CIDRs, priorities and method codes", () => {
    const { policy } = load(EQUIVALENT_YAML)
    expect(policy).toEqual({
      rules: [
        {
          name: "brute-force",
          match: {
            product: "ads",
            methods: ["DICTATTACK", "RDPDICT", "SSHDICT"],
            perspectives: null,
            minPriority: "HIGH",
            dataFeeds: null
          },
          actions: [
            { target: "loadmaster:global", ttl: "6h" },
            { target: "loadmaster:vs:3", ttl: "6h" },
            { target: "cryptospike", ttl: "1d" }
          ]
        }
      ],
      escalation: { window: "1w", factor: 2, maxTtl: "30d" },
      allowlist: [
        { cidr: "10.0.0.0/8", until: null },
        { cidr: "192.0.2.0/24", until: "2026-12-31T00:00:00.000Z" },
        { cidr: "2001:db8::1/128", until: null }
      ],
      caps: { maxAddsPerPass: 100, maxRemovesPerPass: 500, maxActivePerTarget: 10_000 }
    })
  })

  it("turns absent match keys into null (any) and a rule without match into match-all", () => {
    const { policy } = load(withRule("    - { name: all, actions: [ { loadmaster: global, ttl: 90s } ] }\n"))
    expect(policy.rules[0]).toEqual({
      name: "all",
      match: { product: null, methods: null, perspectives: null, minPriority: null, dataFeeds: null },
      actions: [{ target: "loadmaster:global", ttl: "90s" }]
    })
  })

  it("keeps perspectives and data feeds as written (sorted, without repeats)", () => {
    const { policy } = load(
      withRule(
        "    - name: r\n      match: { product: ids, perspectives: [Security, Operations, Security], dataFeeds: [feed-b, feed-a], minPriority: informational }\n      actions: [ { cryptospike: user, ttl: 2w } ]\n"
      )
    )
    expect(policy.rules[0]?.match).toEqual({
      product: "ids",
      methods: null,
      perspectives: ["Operations", "Security"],
      minPriority: "INFORMATIONAL",
      dataFeeds: ["feed-a", "feed-b"]
    })
  })

  it("reads an allowlist `until` with an offset, or a date, as UTC", () => {
    const { policy } = load(
      "policy:\n  allowlist:\n    - { cidr: 198.51.100.7, until: \"2026-06-01T02:00:00+02:00\" }\n    - { cidr: 198.51.100.0/24, until: 2027-01-01 }\n"
    )
    expect(policy.allowlist).toEqual([
      { cidr: "198.51.100.0/24", until: "2027-01-01T00:00:00.000Z" },
      { cidr: "198.51.100.7/32", until: "2026-06-01T00:00:00.000Z" }
    ])
  })

  it("fills in the defaults", () => {
    const config = load("loadmaster: { url: https://lm.example }\ncryptospike: { url: https://cs.example }\n")
    expect(config.loadmaster).toEqual({
      url: "https://lm.example",
      apiKeyFile: undefined,
      api: "v2",
      addressForm: "cidr",
      rateLimit: 10,
      tls: { ca: undefined, fingerprint: undefined, insecure: false }
    })
    expect(config.cryptospike).toEqual({
      url: "https://cs.example",
      tokenFile: undefined,
      lookback: "30m",
      lookbackMs: 1_800_000,
      grace: "5m",
      graceMs: 300_000,
      unblock: { userAccessState: "UNBLOCKED" },
      repairDrift: false,
      tls: { ca: undefined, fingerprint: undefined, insecure: false }
    })
    expect(config.policy).toEqual(EMPTY_POLICY)
    expect(config.database).toBeUndefined()
    expect(config.instance).toBeUndefined()
    expect(config.timezone).toBeUndefined()
    expect(load("policy: { caps: { maxActivePerTarget: 20 } }").policy.caps).toEqual({ ...DEFAULT_CAPS, maxActivePerTarget: 20 })
    expect(load("policy: {}").policy).toEqual(EMPTY_POLICY)
  })

  it("normalises a certificate fingerprint to lower-case hex without colons", () => {
    const hex = "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF"
    const withColons = hex.match(/../g)!.join(":")
    const config = load(`loadmaster: { url: "https://lm.example", tls: { fingerprint: "sha256:${withColons}" } }`)
    expect(config.loadmaster?.tls.fingerprint).toBe(hex.toLowerCase())
    expect(load(`loadmaster: { url: "https://lm.example", tls: { fingerprint: "sha256:${hex}" } }`)).toEqual(config)
  })

  it("takes an empty file as no settings", () => {
    expect(load("")).toEqual({ ...NO_CONFIG, source: SOURCE })
    expect(load("# only a comment\n")).toEqual({ ...NO_CONFIG, source: SOURCE })
  })

  it("gives the example's policy, written back as YAML in the file's shape, the same hash", () => {
    const config = load(fs.readFileSync(EXAMPLE, "utf8"))
    const rewritten = stringify({
      policy: {
        rules: config.policy.rules.map((rule) => ({
          name: rule.name,
          match: Object.fromEntries(Object.entries(rule.match).filter(([, v]) => v !== null)),
          actions: rule.actions.map((a) =>
            a.target === "cryptospike"
              ? { cryptospike: "user", ttl: a.ttl }
              : a.target === "loadmaster:global"
                ? { loadmaster: "global", ttl: a.ttl }
                : { loadmaster: { vs: Number(a.target.split(":")[2]) }, ttl: a.ttl }
          )
        })),
        escalation: config.policy.escalation,
        allowlist: config.policy.allowlist.map((e) => (e.until === null ? e.cidr : e)),
        neverBlock: config.policy.neverBlock ?? [],
        caps: config.policy.caps
      }
    })
    expect(policyHash(load(rewritten).policy)).toBe(policyHash(config.policy))
  })
})

describe("problems in the file", () => {
  it("reports a bad duration with its path", () => {
    expect(problems(withRule("    - { name: r, actions: [ { loadmaster: global, ttl: 6 hours } ] }\n"))).toEqual([
      'policy.rules[0].actions[0].ttl: expected a duration like "90s", "30m", "6h" or "7d"'
    ])
    expect(problems(withRule("    - { name: r, actions: [ { loadmaster: global, ttl: 0s } ] }\n"))).toEqual([
      "policy.rules[0].actions[0].ttl: expected a duration longer than zero"
    ])
    expect(problems("cryptospike: { url: https://cs.example, lookback: 30 }")).toEqual([
      'cryptospike.lookback: expected a duration like "90s", "30m", "6h" or "7d"'
    ])
  })

  it("reports the whole message with the file's path first", () => {
    const error = failure("loadmaster: { url: https://lm.example, rateLimit: 0 }")
    expect(error.reason).toBe("invalid")
    expect(error.path).toBe(SOURCE)
    expect(error.message).toBe("config /etc/mitigator.yaml: loadmaster.rateLimit: expected a number greater than 0")
  })

  it("refuses a rate limit of zero or less", () => {
    expect(problems("loadmaster: { url: https://lm.example, rateLimit: -5 }")).toEqual([
      "loadmaster.rateLimit: expected a number greater than 0"
    ])
    expect(problems("loadmaster: { url: https://lm.example, rateLimit: ten }")).toEqual([
      "loadmaster.rateLimit: expected a number greater than 0"
    ])
  })

  it("refuses bad targets and virtual service indexes", () => {
    expect(
      problems(
        withRule(
          "    - name: r\n      actions:\n        - { loadmaster: local, ttl: 6h }\n        - { loadmaster: { vs: -1 }, ttl: 6h }\n        - { loadmaster: { vs: 1.5 }, ttl: 6h }\n        - { loadmaster: { vs: 2, x: 1 }, ttl: 6h }\n        - { cryptospike: group, ttl: 6h }\n        - { ttl: 6h }\n        - { loadmaster: global, cryptospike: user, ttl: 6h }\n        - { loadmaster: global }\n"
        )
      )
    ).toEqual([
      'policy.rules[0].actions[0].loadmaster: expected "global" or { vs: <index> }',
      "policy.rules[0].actions[1].loadmaster.vs: expected a virtual service index: a whole number, 0 or more",
      "policy.rules[0].actions[2].loadmaster.vs: expected a virtual service index: a whole number, 0 or more",
      "policy.rules[0].actions[3].loadmaster.x: unknown key",
      'policy.rules[0].actions[4].cryptospike: expected "user"',
      "policy.rules[0].actions[5]: expected an action: { loadmaster: global, ttl: 6h }, { loadmaster: { vs: <index> }, ttl: 6h } or { cryptospike: user, ttl: 24h }",
      "policy.rules[0].actions[6]: an action has one target: loadmaster or cryptospike, not both (write two actions)",
      "policy.rules[0].actions[7].ttl: required key is missing"
    ])
  })

  it("refuses a rule without actions and two actions for one target", () => {
    expect(problems(withRule("    - { name: r, actions: [] }\n    - { name: s }\n"))).toEqual([
      "policy.rules[0].actions: expected at least one action",
      "policy.rules[1].actions: required key is missing"
    ])
    expect(
      problems(withRule("    - { name: r, actions: [ { loadmaster: global, ttl: 1h }, { loadmaster: global, ttl: 2h } ] }\n"))
    ).toEqual(["policy.rules[0].actions[1]: the rule already has an action for loadmaster:global (one ttl per target)"])
  })

  it("refuses host bits in an allowlist CIDR, with the network it probably meant", () => {
    expect(problems("policy: { allowlist: [ 192.0.2.31/24, { cidr: 10.1.2.3/8 } ] }")).toEqual([
      "policy.allowlist[0]: '192.0.2.31/24' has host bits set: the network is 192.0.2.0/24, the single address is 192.0.2.31",
      "policy.allowlist[1].cidr: '10.1.2.3/8' has host bits set: the network is 10.0.0.0/8, the single address is 10.1.2.3"
    ])
  })

  it("refuses an allowlist `until` without a zone, and entries of the wrong kind", () => {
    expect(
      problems(
        'policy: { allowlist: [ { cidr: 192.0.2.0/24, until: "2026-12-31 00:00:00" }, { cidr: 192.0.2.0/24, until: 2026-02-30 }, 7, { until: 2026-01-01 } ] }'
      )
    ).toEqual([
      "policy.allowlist[0].until: expected an ISO time with a zone, like 2026-12-31T00:00:00Z, or a date like 2026-12-31 (00:00 UTC)",
      "policy.allowlist[1].until: '2026-02-30 00:00:00': day 30 does not exist in 2026-02",
      "policy.allowlist[2]: expected a CIDR or an address, or { cidr, until }",
      "policy.allowlist[3].cidr: required key is missing"
    ])
  })

  it("refuses an unknown priority and product, and empty match lists", () => {
    expect(
      problems(withRule("    - name: r\n      match: { product: nds, minPriority: urgent, methods: [] }\n      actions: [ { loadmaster: global, ttl: 6h } ]\n"))
    ).toEqual([
      'policy.rules[0].match.product: expected "ads" or "ids"',
      "policy.rules[0].match.minPriority: expected a priority: CRITICAL, HIGH, MEDIUM, LOW, INFORMATIONAL",
      "policy.rules[0].match.methods: expected a non-empty list of method codes (leave the key out to match any)"
    ])
  })

  it("refuses insecure: true together with a fingerprint or a CA", () => {
    const fingerprint = `sha256:${"ab".repeat(32)}`
    expect(problems(`loadmaster: { url: https://lm.example, tls: { insecure: true, fingerprint: "${fingerprint}" } }`)).toEqual([
      "loadmaster.tls.insecure: insecure: true contradicts fingerprint (which checks the certificate); keep one"
    ])
    expect(problems("cryptospike: { url: https://cs.example, tls: { insecure: true, ca: /etc/ca.pem } }")).toEqual([
      "cryptospike.tls.insecure: insecure: true contradicts ca (which checks the certificate); keep one"
    ])
    expect(problems('loadmaster: { url: https://lm.example, tls: { fingerprint: "sha256:abcd" } }')).toEqual([
      'loadmaster.tls.fingerprint: expected "sha256:" followed by 64 hex digits (colons between byte pairs allowed)'
    ])
  })

  it("takes loadmaster.addressForm cidr (the default) or bare, and nothing else", () => {
    expect(load("loadmaster: { url: https://lm.example, addressForm: bare }").loadmaster?.addressForm).toBe("bare")
    expect(load("loadmaster: { url: https://lm.example, addressForm: cidr }").loadmaster?.addressForm).toBe("cidr")
    expect(problems("loadmaster: { url: https://lm.example, addressForm: /32 }")).toEqual([
      'loadmaster.addressForm: expected "cidr" (203.0.113.9/32) or "bare" (203.0.113.9)'
    ])
  })

  it("takes tls.serverName (a DNS name or an IP address) beside a CA, and refuses it where nothing checks it", () => {
    const config = load("loadmaster: { url: https://10.0.0.5, tls: { ca: /etc/lm-ca.pem, serverName: lm1.corp.example } }\ncryptospike: { url: https://cs.example, tls: { serverName: 10.0.0.6 } }")
    expect(config.loadmaster?.tls).toEqual({ ca: "/etc/lm-ca.pem", fingerprint: undefined, insecure: false, serverName: "lm1.corp.example" })
    expect(config.cryptospike?.tls.serverName).toBe("10.0.0.6")
    expect(problems("loadmaster: { url: https://lm.example, tls: { serverName: 'lm 1; rm' } }")).toEqual([
      "loadmaster.tls.serverName: expected the host name (or IP address) the appliance's certificate carries, such as lm1.corp.example"
    ])
    expect(problems(`loadmaster: { url: https://lm.example, tls: { serverName: lm1.corp.example, fingerprint: "sha256:${"ab".repeat(32)}" } }`)).toEqual([
      "loadmaster.tls.serverName: serverName names what the certificate must carry, which a pinned fingerprint does not check (the pin stands for the whole certificate); keep one"
    ])
    expect(problems("cryptospike: { url: https://cs.example, tls: { serverName: cs.corp.example, insecure: true } }")).toEqual([
      "cryptospike.tls.serverName: serverName names what the certificate must carry, which insecure: true does not check; keep one"
    ])
  })

  it("refuses a duplicate rule name", () => {
    expect(
      problems(
        withRule(
          "    - { name: scans, actions: [ { loadmaster: global, ttl: 1h } ] }\n    - { name: other, actions: [ { loadmaster: global, ttl: 1h } ] }\n    - { name: scans, actions: [ { loadmaster: global, ttl: 2h } ] }\n"
        )
      )
    ).toEqual(['policy.rules[2].name: duplicate rule name "scans" (also policy.rules[0])'])
  })

  it("refuses unknown keys at every depth", () => {
    expect(
      problems(`
colour: red
loadmaster: { url: https://lm.example, tls: { verify: false } }
cryptospike: { url: https://cs.example, unblock: { state: UNBLOCKED } }
policy:
  rule: []
  rules:
    - name: r
      match: { colour: blue }
      actions: [ { loadmaster: global, ttl: 6h, why: x } ]
  caps: { maxAdds: 1 }
`)
    ).toEqual([
      "colour: unknown key",
      "loadmaster.tls.verify: unknown key",
      "cryptospike.unblock.state: unknown key",
      "policy.rule: unknown key",
      "policy.rules[0].match.colour: unknown key",
      "policy.rules[0].actions[0].why: unknown key",
      "policy.caps.maxAdds: unknown key"
    ])
  })

  it("reports several problems in one file, one line each in file order, after a header", () => {
    const error = failure(`
database: 5
instance: "fm collector"
timezone: Mars/Olympus
loadmaster:
  url: ftp://lm.example
  api: v3
cryptospike:
  grace: 5 minutes
  repairDrift: yes
policy:
  rules:
    - name: ""
      actions: [ { loadmaster: { vs: x }, ttl: 6h } ]
  escalation: { window: 7d, factor: 0.5 }
  caps: { maxAddsPerPass: 0, maxRemovesPerPass: 1.5 }
`)
    expect(error.reason).toBe("invalid")
    expect(error.message.split("\n")).toEqual([
      "config /etc/mitigator.yaml: 14 problems",
      "  database: expected a non-empty string",
      "  instance: expected 1 to 253 letters, digits, '.', '_' or '-'",
      "  timezone: unknown time zone 'Mars/Olympus' (expected an IANA name such as Europe/Prague, or UTC)",
      "  loadmaster.url: expected an http:// or https:// URL",
      '  loadmaster.api: expected "v2" or "v1"',
      "  cryptospike.url: required key is missing",
      '  cryptospike.grace: expected a duration like "90s", "30m", "6h" or "7d"',
      "  cryptospike.repairDrift: expected true or false",
      "  policy.rules[0].name: expected a non-empty string",
      "  policy.rules[0].actions[0].loadmaster.vs: expected a virtual service index: a whole number, 0 or more",
      "  policy.escalation.maxTtl: required key is missing",
      "  policy.escalation.factor: expected a number from 1 to 1000",
      "  policy.caps.maxAddsPerPass: expected a whole number greater than 0",
      "  policy.caps.maxRemovesPerPass: expected a whole number greater than 0"
    ])
  })

  it("names the expected kind when a section has the wrong shape", () => {
    expect(problems("- database\n")).toEqual([
      "expected a mapping of config keys (database, databasePasswordFile, instance, timezone, loadmaster, cryptospike, policy, serve)"
    ])
    expect(problems("loadmaster: https://lm.example\npolicy: { rules: { name: r } }\n")).toEqual([
      "loadmaster: expected a mapping with url, apiKeyFile, api, addressForm, rateLimit or tls",
      "policy.rules: expected a list of rules"
    ])
    expect(problems('timezone: ""')).toEqual(["timezone: expected an IANA time zone name such as Europe/Prague, or UTC"])
    expect(problems("policy:\n")).toEqual(["policy: expected a mapping with rules, escalation, allowlist, neverBlock or caps"])
  })

  it("refuses duplicate keys, with their line", () => {
    const error = failure("loadmaster:\n  url: https://lm.example\n  url: https://lm2.example\n")
    expect(error.reason).toBe("syntax")
    expect(error.message).toBe('config /etc/mitigator.yaml: line 3, column 3: duplicate key "url"')
  })

  it("reports YAML syntax errors with line and column", () => {
    const error = failure("policy:\n  allowlist: [ 10.0.0.0/8\n  caps: {}\n")
    expect(error.reason).toBe("syntax")
    expect(error.message).toBe(
      "config /etc/mitigator.yaml: line 3, column 3: Flow sequence in block collection must be sufficiently indented and end with a ]"
    )
    expect(failure("database: 'unterminated\n").message).toBe(
      "config /etc/mitigator.yaml: line 2, column 1: Missing closing 'quote"
    )
    expect(failure("policy:\n  allowlist: [ *private ]\n").message).toBe(
      "config /etc/mitigator.yaml: line 2, column 16: Unresolved alias (the anchor must be set before the alias): private"
    )
    expect(failure("database: a\n---\ndatabase: b\n").message).toBe(
      "config /etc/mitigator.yaml: line 2, column 1: a second YAML document (a config file holds one)"
    )
  })

  it("refuses an explicitly empty value rather than reading it as 'any'", () => {
    expect(problems(withRule("    - name: r\n      match: { methods: }\n      actions: [ { loadmaster: global, ttl: 6h } ]\n"))).toEqual([
      "policy.rules[0].match.methods: expected a list of method codes"
    ])
  })
})

describe("loadConfig", () => {
  it("fails with reason missing when an explicit file does not exist", () =>
    withTempDir(async (dir) => {
      const file = path.join(dir, "nope.yaml")
      const exit = await Effect.runPromise(Effect.either(loadConfig(file)))
      expect(Either.isLeft(exit)).toBe(true)
      if (Either.isLeft(exit)) {
        expect(exit.left.reason).toBe("missing")
        expect(exit.left.path).toBe(file)
        expect(exit.left.message).toBe(`config ${file}: no such file`)
      }
    }))

  it("without an explicit path and without ./mitigator.yaml, has no config and the empty policy", () =>
    withTempDir(async (dir) => {
      const config = await Effect.runPromise(loadConfigIn(undefined, dir))
      expect(config).toEqual(NO_CONFIG)
      expect(config.source).toBeNull()
      expect(config.policy).toEqual(EMPTY_POLICY)
    }))

  it("reads ./mitigator.yaml when there is no explicit path", () =>
    withTempDir(async (dir) => {
      fs.writeFileSync(path.join(dir, "mitigator.yaml"), "instance: fm-a\n")
      const config = await Effect.runPromise(loadConfigIn(undefined, dir))
      expect(config.source).toBe(path.join(dir, "mitigator.yaml"))
      expect(config.instance).toBe("fm-a")
    }))

  it("resolves a relative explicit path and reads a JSON file", () =>
    withTempDir(async (dir) => {
      fs.writeFileSync(path.join(dir, "mitigator.json"), EQUIVALENT_JSON)
      const config = await Effect.runPromise(loadConfigIn("mitigator.json", dir))
      expect(config.source).toBe(path.join(dir, "mitigator.json"))
      expect(config.policy).toEqual(load(EQUIVALENT_YAML).policy)
    }))

  it("fails with reason unreadable for a directory, and names the file in content errors", () =>
    withTempDir(async (dir) => {
      const sub = path.join(dir, "conf.yaml")
      fs.mkdirSync(sub)
      const unreadable = await Effect.runPromise(Effect.flip(loadConfigIn(sub, dir)))
      expect(unreadable.reason).toBe("unreadable")
      expect(unreadable.message).toBe(`config ${sub}: cannot read: it is a directory`)

      const bad = path.join(dir, "bad.yaml")
      fs.writeFileSync(bad, "policy: { colour: red }\n")
      const invalid = await Effect.runPromise(Effect.flip(loadConfigIn(bad, dir)))
      expect(invalid.reason).toBe("invalid")
      expect(invalid.message).toBe(`config ${bad}: policy.colour: unknown key`)

      const binary = path.join(dir, "binary.yaml")
      fs.writeFileSync(binary, new Uint8Array([0x61, 0x3a, 0x20, 0xff, 0xfe]))
      const notText = await Effect.runPromise(Effect.flip(loadConfigIn(binary, dir)))
      expect(notText.reason).toBe("syntax")
      expect(notText.message).toBe(`config ${binary}: not valid UTF-8 text`)
    }))
})

describe("the serve section", () => {
  it("is absent without `serve:`, and fills in the body and rate limits when present", () => {
    expect(load("database: ./m.db\n").serve).toBeUndefined()
    expect(load("serve: { tokenFile: /etc/mitigator/serve.token }\n").serve).toEqual({
      listen: undefined,
      tokenFile: "/etc/mitigator/serve.token",
      tls: undefined,
      bodyLimit: 1024 * 1024,
      rateLimit: 50
    })
  })

  it("takes listen, tls, bodyLimit and rateLimit as written", () => {
    const serve = load(
      "serve:\n  listen: '[::]:8443'\n  tokenFile: serve.token\n  tls: { cert: serve.crt, key: serve.key }\n  bodyLimit: 65536\n  rateLimit: 0.5\n"
    ).serve
    expect(serve).toEqual({ listen: "[::]:8443", tokenFile: "serve.token", tls: { cert: "serve.crt", key: "serve.key" }, bodyLimit: 65536, rateLimit: 0.5 })
  })

  it("refuses a listen address that is not HOST:PORT with an IP address or localhost", () => {
    expect(problems("serve: { listen: 8787 }")).toEqual(["serve.listen: expected HOST:PORT (127.0.0.1:8787, [::1]:8787, 0.0.0.0:8443)"])
    expect(problems("serve: { listen: 'mitigator.example:8787' }")[0]).toMatch(/^serve\.listen: .*expected HOST:PORT with an IP address or localhost/)
    expect(problems("serve: { listen: '127.0.0.1:70000' }")).toEqual(["serve.listen: port 70000 is not between 1 and 65535"])
  })

  it("refuses a certificate without its key, a body limit out of range, a rate of zero, and unknown keys", () => {
    expect(problems("serve: { tls: { cert: serve.crt } }")).toEqual(["serve.tls.key: required key is missing"])
    expect(problems("serve: { bodyLimit: 0 }")).toEqual(["serve.bodyLimit: expected a whole number of bytes from 1 to 67108864 (64 MiB)"])
    expect(problems("serve: { bodyLimit: 100000000 }")).toEqual(["serve.bodyLimit: expected a whole number of bytes from 1 to 67108864 (64 MiB)"])
    expect(problems("serve: { rateLimit: 0 }")).toEqual(["serve.rateLimit: expected a number greater than 0"])
    expect(problems("serve: { port: 8787 }")).toEqual(["serve.port: unknown key"])
    expect(problems("serve: 8787")).toEqual(["serve: expected a mapping with listen, tokenFile, tls, bodyLimit or rateLimit"])
  })
})

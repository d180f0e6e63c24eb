/**
 * "Never harm" (issue 12) end to end, in the shape of the trial that found the problems: real
 * processes running the bundle, real SQLite files in a temp directory.
 *
 * - each rail address, sent as a detection, is stored and not blocked, and the log says which rail;
 * - `block` of /0, /1, ::/0 is refused even with --force; /16 needs --force; a protected address
 *   (built in, neverBlock, an appliance's address) is refused with one line, exit 1;
 * - `::ffff:10.0.0.5` is allowlisted by 10.0.0.0/8, whichever door it comes in by;
 * - each extreme duration is refused with a clear message naming the key (exit 1, never 70), and
 *   the longest accepted one is decided and in force.
 */
import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import * as path from "node:path"
import { jsonLines, runCli, summaryLine, tempDir, type RunOptions, type RunResult } from "../support/cli.js"
import { policyYaml, writeConfig } from "../support/configs.js"
import { adsJsonLine, adsLine, cefLine, RAIL_ADDRESSES } from "../support/fixtures.js"

const workspace = () => {
  const dir = tempDir("mitigator-never-harm-")
  const db = path.join(dir, "events.db")
  const run = (args: ReadonlyArray<string>, options: RunOptions = {}): Promise<RunResult> => runCli(args, { cwd: dir, ...options })
  const events = async () => {
    const replay = await run(["replay", "--events", "--json", "--db", db])
    expect(replay.code, replay.stderr).toBe(0)
    return jsonLines(replay.stdout)
  }
  const ipBlocks = async () => {
    const status = await run(["status", "--json", "--db", db])
    expect(status.code, status.stderr).toBe(0)
    return (JSON.parse(status.stdout).ipBlocks as Array<{ cidr: string; until: string }>).map((b) => b.cidr)
  }
  return { dir, db, run, events, ipBlocks }
}

const lines = (items: ReadonlyArray<string>) => items.join("\n") + "\n"


describe("never-block rails: detections", () => {
  it("given a rule that matches everything, when each rail address is sent as a detection, then all are stored, none is blocked, and the log says which rail", async () => {
    const w = workspace()
    const config = writeConfig(w.dir, policyYaml())
    const input = lines(RAIL_ADDRESSES.map(([address], i) => adsLine(100 + i, address)))
    const run = await w.run(["append", "--db", w.db, "--config", config, "--instance", "fm1"], { stdin: input })
    expect(run.code, run.stderr).toBe(0)
    expect(summaryLine(run)).toBe("mitigator append: 9 stored, 0 duplicate, 0 rejected, 9 not blocked: protected (first: 0.0.0.0, unspecified 0.0.0.0/8)")

    const events = await w.events()
    expect(events.filter((e) => e.type === "FlowmonEventReceived").map((e) => e.payload.source)).toEqual(RAIL_ADDRESSES.map(([a]) => a))
    expect(events.filter((e) => e.type === "BlockDecided")).toEqual([])
    const withheld = events.filter((e) => e.type === "BlockWithheld")
    expect(withheld.map((e) => [e.payload.cause.source, e.payload.protection])).toEqual(RAIL_ADDRESSES)
    expect(withheld[0]!.payload).toMatchObject({ targets: ["loadmaster:global"], rule: "brute-force", reason: "protected" })
    expect(await w.ipBlocks()).toEqual([])

    const text = await w.run(["replay", "--events", "--db", w.db])
    expect(text.stdout).toContain("BlockWithheld\tnot blocked: protected (loopback 127.0.0.0/8): 127.0.0.1 on loadmaster:global (rule brute-force, cause seq ")
  })

  it("given an IPv4-mapped loopback source, then it is stored as IPv4 and protected", async () => {
    const w = workspace()
    const config = writeConfig(w.dir, policyYaml())
    const run = await w.run(["append", "--db", w.db, "--config", config, "--instance", "fm1"], { stdin: adsLine(1, "::ffff:127.0.0.1") })
    expect(summaryLine(run)).toBe("mitigator append: 1 stored, 0 duplicate, 0 rejected, 1 not blocked: protected (first: 127.0.0.1, loopback 127.0.0.0/8)")
  })

  it("given neverBlock and the appliances' addresses in the config, then detections from them are not blocked, the others are", async () => {
    const w = workspace()
    const config = writeConfig(
      w.dir,
      [
        "loadmaster: { url: 'https://198.51.100.7:8443' }",
        "cryptospike: { url: 'https://[2001:db8::c5]' }",
        policyYaml().trimEnd(),
        "  neverBlock: [ 192.0.2.53, 203.0.113.0/24 ]",
        ""
      ].join("\n")
    )
    const sources = ["192.0.2.53", "203.0.113.9", "198.51.100.7", "2001:db8::c5", "192.0.2.31"]
    const run = await w.run(["append", "--db", w.db, "--config", config, "--instance", "fm1", "--defer"], {
      stdin: lines(sources.map((s, i) => adsLine(i + 1, s)))
    })
    expect(run.code, run.stderr).toBe(0)
    expect(summaryLine(run)).toBe(
      "mitigator append: 5 stored, 0 duplicate, 0 rejected, 1 blocks decided, 4 not blocked: protected (first: 192.0.2.53, neverBlock 192.0.2.53/32)"
    )
    const withheld = (await w.events()).filter((e) => e.type === "BlockWithheld").map((e) => e.payload.protection)
    expect(withheld).toEqual([
      "neverBlock 192.0.2.53/32",
      "neverBlock 203.0.113.0/24",
      "appliance loadmaster 198.51.100.7",
      "appliance cryptospike 2001:db8::c5"
    ])
    expect(await w.ipBlocks()).toEqual(["192.0.2.31/32"])
  })
})

describe("never-block rails: an appliance name that does not resolve", () => {
  it("given loadmaster.url names a host that does not resolve, then append warns, stores and decides as usual", async () => {
    const w = workspace()
    const config = writeConfig(w.dir, ["loadmaster: { url: 'https://lm.invalid' }", policyYaml()].join("\n"))
    const run = await w.run(["append", "--db", w.db, "--config", config, "--instance", "fm1", "--defer"], { stdin: adsLine(1) })
    expect(run.code, run.stderr).toBe(0)
    const said = run.stderr.trim().split("\n")
    expect(said).toHaveLength(2)
    expect(said[0]).toMatch(/^mitigator append: could not resolve the loadmaster host lm\.invalid \(.+\): its own address is not protected from blocks this time$/)
    expect(said[1]).toBe("mitigator append: 1 stored, 0 duplicate, 0 rejected, 1 blocks decided")
  })
})

describe("never-block rails: an appliance named by a host name", () => {
  it("given loadmaster.url names a host that resolves (localhost), then the installed bundle resolves it: no warning, the detection is decided", async () => {
    const w = workspace()
    const config = writeConfig(w.dir, ["loadmaster: { url: 'https://localhost' }", policyYaml()].join("\n"))
    const run = await w.run(["append", "--db", w.db, "--config", config, "--instance", "fm1", "--defer"], { stdin: adsLine(1) })
    expect(run.code, run.stderr).toBe(0)
    // (The launcher runs the bundle through vm.Script: a lazy import() of node:dns/promises once
    // failed there, and the appliance went unprotected with only this warning to show for it.)
    expect(run.stderr).toBe("mitigator append: 1 stored, 0 duplicate, 0 rejected, 1 blocks decided\n")
  })
})

describe("never-block rails and width limits: mitigator block", () => {
  it.each(["0.0.0.0/0", "128.0.0.0/1", "::/0", "10.0.0.0/7", "2001:db8::/31"])("refuses %s with exit 1 and one line, with or without --force", async (network) => {
    const w = workspace()
    for (const force of [[], ["--force"]]) {
      const run = await w.run(["block", network, "--ttl", "1h", "--reason", "x", ...force, "--db", w.db])
      expect(run.code, run.stderr).toBe(1)
      expect(run.stdout).toBe("")
      expect(run.stderr.trim().split("\n")).toHaveLength(1)
      expect(run.stderr).toMatch(new RegExp(`^mitigator: block: refused: ${network.replace(/[.]/g, "\\.")} is wider than /(8|32), the widest block mitigator makes \\(even with --force\\)\\n$`))
    }
    expect(await w.events()).toEqual([])
  })

  it("given a network wider than /24 (/64), then it needs --force; with it, it is recorded", async () => {
    const w = workspace()
    for (const network of ["10.0.0.0/16", "2001:db8::/48"]) {
      const refused = await w.run(["block", network, "--ttl", "1h", "--reason", "x", "--db", w.db])
      expect(refused.code).toBe(1)
      expect(refused.stderr).toBe(`mitigator: block: refused: ${network} is wider than /${network.includes(":") ? 64 : 24}: give --force to block a network this wide\n`)
      const forced = await w.run(["block", network, "--ttl", "1h", "--reason", "x", "--force", "--db", w.db])
      expect(forced.code, forced.stderr).toBe(0)
    }
    expect((await w.events()).map((e) => e.payload.subject.cidr)).toEqual(["10.0.0.0/16", "2001:db8::/48"])
    // /24 and /64 need nothing
    expect((await w.run(["block", "203.0.113.0/24", "--ttl", "1h", "--reason", "x", "--db", w.db])).code).toBe(0)
  })

  it("refuses a protected address or a network around one, naming the rail, and records nothing", async () => {
    const w = workspace()
    const config = writeConfig(w.dir, ["loadmaster: { url: 'https://198.51.100.7' }", "policy:", "  neverBlock: [ 192.0.2.53 ]", ""].join("\n"))
    const cases: ReadonlyArray<readonly [string, string]> = [
      ["127.0.0.1", "127.0.0.1 is protected: loopback 127.0.0.0/8 is never blocked"],
      ["127.0.0.0/8", "127.0.0.0/8 is protected: loopback 127.0.0.0/8 is never blocked"],
      ["::ffff:127.0.0.1", "127.0.0.1 is protected: loopback 127.0.0.0/8 is never blocked"],
      ["fe80::1", "fe80::1 is protected: link-local fe80::/10 is never blocked"],
      ["169.254.0.0/24", "169.254.0.0/24 is protected: link-local 169.254.0.0/16 is never blocked"],
      ["192.0.2.53", "192.0.2.53 is protected: neverBlock 192.0.2.53/32 is never blocked"],
      ["192.0.2.0/24", "192.0.2.0/24 contains neverBlock 192.0.2.53/32, which is never blocked"],
      ["198.51.100.7", "198.51.100.7 is protected: appliance loadmaster 198.51.100.7 is never blocked"],
      ["198.51.100.0/24", "198.51.100.0/24 contains appliance loadmaster 198.51.100.7, which is never blocked"]
    ]
    for (const [address, reason] of cases) {
      const run = await w.run(["block", address, "--ttl", "1h", "--reason", "x", "--force", "--db", w.db, "--config", config])
      expect(run.code, address).toBe(1)
      expect(run.stderr, address).toBe(`mitigator: block: refused: ${reason}\n`)
    }
    const cs = await w.run(["block", "127.0.0.1", "--ttl", "1h", "--reason", "x", "--target", "cryptospike", "--db", w.db, "--config", config])
    expect(cs.code).toBe(1)
    expect(await w.events()).toEqual([])
  })
})

describe("one canonical form for addresses", () => {
  it("given an allowlist of 10.0.0.0/8, then ::ffff:10.0.0.5 sent as TSV, JSON or CEF is stored as 10.0.0.5 and not blocked", async () => {
    const w = workspace()
    const config = writeConfig(w.dir, policyYaml({ methods: ["SSHDICT", "BLACKLIST"], allowlist: ["10.0.0.0/8"] }))
    const input = lines([
      adsLine(1, "::ffff:10.0.0.5"),
      adsJsonLine(2).replace('"source":"192.0.2.77"', '"source":"::ffff:a00:5"'),
      cefLine.replace("src=192.0.2.31", "src=::ffff:10.0.0.5"),
      adsLine(4, "::ffff:192.0.2.44")
    ])
    const run = await w.run(["append", "--db", w.db, "--config", config, "--instance", "fm1"], { stdin: input })
    expect(run.code, run.stderr).toBe(0)
    expect(summaryLine(run)).toBe("mitigator append: 4 stored, 0 duplicate, 0 rejected, 1 blocks decided")
    const events = await w.events()
    expect(events.filter((e) => e.type === "FlowmonEventReceived").map((e) => [e.payload.format, e.payload.source])).toEqual([
      ["tsv15", "10.0.0.5"],
      ["json", "10.0.0.5"],
      ["cef", "10.0.0.5"],
      ["tsv15", "192.0.2.44"]
    ])
    expect(await w.ipBlocks()).toEqual(["192.0.2.44/32"])
  })

  it("given IPv4 written as IPv6 on the command line, then block, allow and unblock record the IPv4 block", async () => {
    const w = workspace()
    expect((await w.run(["block", "::ffff:203.0.113.7", "--ttl", "1h", "--reason", "x", "--db", w.db])).code).toBe(0)
    expect((await w.run(["allow", "::ffff:10.0.0.0/104", "--reason", "x", "--db", w.db])).code).toBe(0)
    expect((await w.run(["unblock", "::ffff:cb00:7100/120", "--reason", "x", "--db", w.db])).code).toBe(0)
    expect((await w.events()).map((e) => e.payload.subject?.cidr ?? e.payload.cidr)).toEqual(["203.0.113.7/32", "10.0.0.0/8", "203.0.113.0/24"])
  })

  it("given a legacy lm-block.db row with an IPv4-mapped address, then import records the IPv4 block", async () => {
    const w = workspace()
    const file = path.join(w.dir, "lm-block.db")
    const legacy = new Database(file)
    legacy.exec("CREATE TABLE data (ip TEXT PRIMARY KEY, event TEXT NOT NULL, vsid integer, ttl integer NOT NULL)")
    legacy.prepare("INSERT INTO data VALUES (?, ?, ?, ?)").run("::ffff:198.51.100.9", "1001", null, 24)
    legacy.close()
    const run = await w.run(["import", "lm-timeout", file, "--db", w.db])
    expect(run.code, run.stderr).toBe(0)
    expect((await w.events()).map((e) => e.payload.subject.cidr)).toEqual(["198.51.100.9/32"])
  })
})

describe("bounded times: no input, config or flag makes a command exit 70", () => {
  it.each([
    ["ttl: 9999999d", policyYaml({ ttl: "9999999d" }), "policy.rules[0].actions[0].ttl: expected a duration of at most 3650d (10 years)"],
    ["ttl: 99999999h", policyYaml({ ttl: "99999999h" }), "policy.rules[0].actions[0].ttl: expected a duration of at most 3650d (10 years)"],
    ["ttl: 999999999w", policyYaml({ ttl: "999999999w" }), "policy.rules[0].actions[0].ttl: expected a duration of at most 3650d (10 years)"],
    [
      "a second action's ttl",
      policyYaml({ extraActions: ["{ cryptospike: user, ttl: 999999999w }"] }),
      "policy.rules[0].actions[1].ttl: expected a duration of at most 3650d (10 years)"
    ],
    ["factor: 1e308", policyYaml({ escalation: { window: "7d", factor: 1e308, maxTtl: "30d" } }), "policy.escalation.factor: expected a number from 1 to 1000"],
    ["maxTtl: 999999999w", policyYaml({ escalation: { window: "7d", factor: 2, maxTtl: "999999999w" } }), "policy.escalation.maxTtl: expected a duration of at most 3650d (10 years)"],
    ["window: 9999999d", policyYaml({ escalation: { window: "9999999d", factor: 2, maxTtl: "30d" } }), "policy.escalation.window: expected a duration of at most 3650d (10 years)"]
  ])("given a config with %s, then append exits 1 naming the key, and records nothing", async (_, yaml, message) => {
    const w = workspace()
    const config = writeConfig(w.dir, yaml)
    const run = await w.run(["append", "--db", w.db, "--config", config, "--instance", "fm1"], { stdin: adsLine(1) })
    expect(run.code).toBe(1)
    expect(run.stderr).toBe(`mitigator: config ${config}: ${message}\n`)
  })

  it.each([
    ["block", "203.0.113.7", "--ttl", "999999999w", "--reason", "x"],
    ["block", "203.0.113.7", "--ttl", "9999999d", "--reason", "x"],
    ["allow", "203.0.113.7", "--ttl", "99999999h", "--reason", "x"],
    ["append", "--apply-timeout", "999999999w"]
  ])("given %s … %s %s %s, then it exits 1 naming the flag and the ceiling", async (...args) => {
    const w = workspace()
    const run = await w.run([...args, "--db", w.db], { stdin: "" })
    expect(run.code).toBe(1)
    const flag = args.includes("--ttl") ? "--ttl" : "--apply-timeout"
    const value = args[args.indexOf(flag) + 1]
    expect(run.stdout + run.stderr).toContain(`${flag} '${value}': longer than the ceiling of 3650d (10 years)`)
  })

  it("given the longest ttl and maxTtl, with escalation by 1000, then every repeat decision is in force for ten years", async () => {
    const w = workspace()
    const config = writeConfig(w.dir, policyYaml({ ttl: "3650d", escalation: { window: "3650d", factor: 1000, maxTtl: "3650d" } }))
    const run = await w.run(["append", "--db", w.db, "--config", config, "--instance", "fm1"], { stdin: lines([adsLine(1), adsLine(2), adsLine(3)]) })
    expect(run.code, run.stderr).toBe(0)
    const decided = (await w.events()).filter((e) => e.type === "BlockDecided")
    expect(decided.map((e) => [e.payload.offence, e.payload.ttl])).toEqual([
      [1, "3650d"],
      [2, "3650d"],
      [3, "3650d"]
    ])
    for (const d of decided) {
      expect(d.payload.until).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
      expect(Date.parse(d.payload.until) - Date.parse(d.recordedAt)).toBe(3650 * 86_400_000)
    }
    expect(await w.ipBlocks()).toEqual(["192.0.2.31/32"])
  })
})

/**
 * `mitigator why` and the filters of `status` and `replay`, end to end: real processes running
 * the bundle on a real log in a temp directory, made by `append` with a config whose policy has
 * a rule and an allowlist.
 */
import { describe, expect, it } from "@effect/vitest"
import * as path from "node:path"
import { jsonLines, runCli, tempDir, type RunResult } from "../support/cli.js"
import { policyYaml, writeConfig } from "../support/configs.js"
import { adsExtendedLine, adsLine } from "../support/fixtures.js"

/** `5h 12m left`: hours and minutes (rounded up, a zero minute left out) from `from` to `until`. */
const leftBetween = (from: string, until: string): string => {
  const minutes = Math.ceil((Date.parse(until) - Date.parse(from)) / 60_000)
  return `${Math.floor(minutes / 60)}h${minutes % 60 === 0 ? "" : ` ${minutes % 60}m`} left`
}

const lines = (...items: ReadonlyArray<string>) => items.join("\n") + "\n"

/** A log with: a blocked address, an allowlisted one, one no rule matched, and a detection naming a user. */
const workspace = async () => {
  const dir = tempDir("mitigator-why-")
  const db = path.join(dir, "events.db")
  const config = writeConfig(dir, policyYaml({ rule: "brute-force", ttl: "6h", allowlist: ["192.0.2.128/25"] }))
  const run = (args: ReadonlyArray<string>): Promise<RunResult> => runCli([...args, "--db", db, "--config", config], { cwd: dir })
  const append = await runCli(["append", "--db", db, "--config", config, "--instance", "fm1"], {
    cwd: dir,
    stdin: lines(adsLine(1, "192.0.2.31"), adsLine(2, "192.0.2.200"), adsLine(3, "192.0.2.40", "SCANS"), adsExtendedLine(4, "2001:db8::a1"))
  })
  expect(append.code, append.stderr).toBe(0)
  return { dir, db, config, run }
}

describe("why", () => {
  it("given a blocked address, then it names the rule that blocked it, the block, and the time left", async () => {
    const w = await workspace()
    const why = await w.run(["why", "192.0.2.31"])
    expect(why.code, why.stderr).toBe(0)
    expect(why.stdout).toContain("detection: ads fm1#1 SSHDICT CRITICAL 192.0.2.31")
    expect(why.stdout).toMatch(/-> rule brute-force matched: 192\.0\.2\.31\/32 on loadmaster:global for 6h until \S+ \(offence 1\)/)
    // The time left is the span from the story's time to the block's end, in hours and whole minutes.
    const asOf = /as of (\S+)/.exec(why.stdout)![1]!
    const [, until, left] = /loadmaster:global {2}192\.0\.2\.31\/32 {2}until (\S+) \((.*)\)/.exec(why.stdout)!
    expect(left).toBe(leftBetween(asOf, until!))
    expect(left).toMatch(/^(5h \d+m|6h) left$/)
    expect(why.stdout).toContain("`mitigator plan` asks the appliance")
    expect(why.stdout).toMatch(/add {2}loadmaster:global {2}192\.0\.2\.31\/32/)
  })

  it("given an allowlisted address, then it names the allowlist entry", async () => {
    const w = await workspace()
    const why = await w.run(["why", "192.0.2.200"])
    expect(why.code).toBe(0)
    expect(why.stdout).toContain("-> rule brute-force matched, not blocked: allowlisted by the policy's entry 192.0.2.128/25")
    expect(why.stdout).toContain("In force now:\n  no block")
  })

  it("given an address no rule matched, then it says so, and what the rule needed", async () => {
    const w = await workspace()
    const why = await w.run(["why", "192.0.2.40"])
    expect(why.stdout).toContain("-> not blocked: no rule matched (1 rule); closest: brute-force needs method SSHDICT (this was SCANS)")
  })

  it("given a user Flowmon reported, then the detections that name the user", async () => {
    const w = await workspace()
    const why = await w.run(["why", "JDOE@example.test"])
    expect(why.code, why.stderr).toBe(0)
    expect(why.stdout).toContain("The story of user JDOE@example.test")
    expect(why.stdout).toContain("detection: ads fm1#4 SCANS HIGH 2001:db8::a1")
    expect(why.stdout).not.toContain("192.0.2.31")
  })

  it("--json has the same facts", async () => {
    const w = await workspace()
    const why = await w.run(["why", "192.0.2.0/24", "--json"])
    expect(why.code).toBe(0)
    const story = JSON.parse(why.stdout)
    expect(story.subject).toBe("192.0.2.0/24")
    expect(story.detections.map((d: any) => [d.source, d.outcome.kind, d.outcome.rule ?? null])).toEqual([
      ["192.0.2.31", "blocked", "brute-force"],
      ["192.0.2.200", "allowlisted", "brute-force"],
      ["192.0.2.40", "no-rule", null]
    ])
    expect(story.detections[1].outcome.entry).toEqual({ cidr: "192.0.2.128/25", until: null })
    expect(story.inForce).toMatchObject([{ target: "loadmaster:global", entry: "192.0.2.31/32" }])
    expect(story.inForce[0].left).toBe(leftBetween(story.asOf, story.inForce[0].until))
    expect(story.nextReconcile).toMatchObject([{ action: "add", entry: "192.0.2.31/32" }])
  })

  it("given an address nothing is recorded about, then it says so plainly and succeeds", async () => {
    const w = await workspace()
    const why = await w.run(["why", "203.0.113.9"])
    expect(why.code).toBe(0)
    expect(why.stdout.trim()).toMatch(/^Nothing recorded about 203\.0\.113\.9 in .*events\.db \(as of \S+\)\.$/)
  })

  it("given an argument that is no address, network or name, then it is a usage error", async () => {
    const w = await workspace()
    for (const bad of ["192.0.2.31/24", "300.1.2.3"]) {
      const why = await w.run(["why", bad])
      expect(why.code, bad).toBe(1)
      expect(why.stderr, bad).toContain("mitigator: why: ")
    }
    expect((await w.run(["why", "192.0.2.31/24"])).stderr).toContain("the network is 192.0.2.0/24")
  })
})

describe("status and replay filters", () => {
  it("status --ip / --rule / --user / --since narrow the blocks, in the same JSON shape", async () => {
    const w = await workspace()
    // A second block, from another rule: an operator's.
    expect((await w.run(["block", "198.51.100.7", "--ttl", "1h", "--reason", "ticket 1", "--actor", "alice"])).code).toBe(0)
    const status = async (...args: string[]) => {
      const r = await w.run(["status", "--json", ...args])
      expect(r.code, r.stderr).toBe(0)
      return JSON.parse(r.stdout)
    }
    const all = await status()
    expect(all.ipBlocks.map((b: any) => b.cidr)).toEqual(["192.0.2.31/32", "198.51.100.7/32"])
    const inside = await status("--ip", "192.0.2.0/24")
    expect(Object.keys(inside).sort()).toEqual(Object.keys(all).sort())
    expect(inside.ipBlocks.map((b: any) => b.cidr)).toEqual(["192.0.2.31/32"])
    expect(inside.counts).toEqual({ "loadmaster:global": 1 })
    expect((await status("--rule", "brute-force")).ipBlocks.map((b: any) => b.cidr)).toEqual(["192.0.2.31/32"])
    expect((await status("--rule", "brute-force", "--ip", "198.51.100.7")).ipBlocks).toEqual([])
    expect((await status("--user", "jdoe")).ipBlocks).toEqual([])
    // The operator's block was requested after the detections: --since its time keeps it alone.
    const events = jsonLines((await w.run(["replay", "--events", "--json"])).stdout)
    const requested = events.find((e) => e.type === "BlockRequested")!
    expect((await status("--since", requested.recordedAt)).ipBlocks.map((b: any) => b.cidr)).toEqual(["198.51.100.7/32"])
    // Text too.
    const text = await w.run(["status", "--ip", "198.51.100.0/24"])
    expect(text.stdout).toContain("198.51.100.7/32")
    expect(text.stdout).not.toContain("192.0.2.31/32")
  })

  it("replay --events --ip / --rule / --user / --since narrow the events; a bad filter is a usage error", async () => {
    const w = await workspace()
    const events = async (...args: string[]) => {
      const r = await w.run(["replay", "--events", "--json", ...args])
      expect(r.code, r.stderr).toBe(0)
      return jsonLines(r.stdout)
    }
    expect((await events("--ip", "192.0.2.31")).map((e) => e.type)).toEqual(["FlowmonEventReceived", "BlockDecided"])
    expect((await events("--rule", "brute-force")).map((e) => [e.type, e.payload.cause.source])).toEqual([["BlockDecided", "192.0.2.31"]])
    expect((await events("--user", "jdoe@example.test")).map((e) => e.payload.eventId)).toEqual(["4"])
    expect((await events("--ip", "192.0.2.0/24", "--user", "jdoe@example.test"))).toEqual([])
    expect(await events("--since", "2999-01-01 00:00:00")).toEqual([])
    const text = await w.run(["replay", "--events", "--ip", "192.0.2.31"])
    expect(text.stdout.trim().split("\n").map((l) => l.split("\t")[2])).toEqual(["FlowmonEventReceived", "BlockDecided"])
    const bad = await w.run(["replay", "--events", "--ip", "not-an-address"])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain("--ip:")
  })
})

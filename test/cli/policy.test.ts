/**
 * The policy end to end: a YAML config, `append` deciding blocks, `status`, `replay --at`, the
 * operator commands and config errors. Real processes running the bundle, real SQLite files in a
 * temp directory; every process runs in that directory, so no stray ./mitigator.yaml is read.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { jsonLines, runCli, summaryLine, tempDir, type RunOptions, type RunResult } from "../support/cli.js"
import { HOUR, ipv4Contains, ipv4Range, MINUTE, plusMs, policyYaml, sortedJson, writeConfig } from "../support/configs.js"
import { adsLine, idsLine } from "../support/fixtures.js"

/** A temp directory with an event log path in it, and the CLI run inside it. */
const workspace = () => {
  const dir = tempDir("mitigator-policy-")
  const db = path.join(dir, "events.db")
  const run = (args: ReadonlyArray<string>, options: RunOptions = {}): Promise<RunResult> =>
    runCli(args, { cwd: dir, ...options })
  const events = async () => {
    const replay = await run(["replay", "--events", "--json", "--db", db])
    expect(replay.code).toBe(0)
    return jsonLines(replay.stdout)
  }
  const status = async (config?: string) => {
    const result = await run(["status", "--json", "--db", db, ...(config === undefined ? [] : ["--config", config])])
    expect(result.code).toBe(0)
    return { ...result, state: JSON.parse(result.stdout) as any }
  }
  const stateAt = async (at: string) => {
    const result = await run(["replay", "--at", at, "--json", "--db", db])
    expect(result.code).toBe(0)
    return { ...result, state: JSON.parse(result.stdout) as any }
  }
  return { dir, db, run, events, status, stateAt }
}

const lines = (...items: ReadonlyArray<string>) => items.join("\n") + "\n"

describe("append with a policy", () => {
  it("records PolicyActivated, the events, then the blocks they call for", async () => {
    const w = workspace()
    const config = writeConfig(w.dir, policyYaml({ ttl: "1h" }))
    // Two SSHDICT detections match; the IDS event does not.
    const input = lines(adsLine(1, "192.0.2.31"), idsLine(2), adsLine(3, "192.0.2.32"))
    const run = await w.run(["append", "--db", w.db, "--config", config, "--instance", "fm1"], { stdin: input })
    expect(run.code).toBe(0)
    expect(run.stderr.trim().split("\n")).toEqual(["mitigator append: 3 stored, 0 duplicate, 0 rejected, 2 blocks decided"])

    const events = await w.events()
    expect(events.map((e) => e.type)).toEqual([
      "PolicyActivated",
      "FlowmonEventReceived",
      "FlowmonEventReceived",
      "FlowmonEventReceived",
      "BlockDecided",
      "BlockDecided"
    ])
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6])
    const activated = events[0]!.payload
    expect(activated.source).toBe(config)
    expect(activated.hash).toMatch(/^[0-9a-f]{64}$/)
    expect(activated.policy.rules).toEqual([
      {
        name: "brute-force",
        match: { product: "ads", methods: ["SSHDICT"], perspectives: null, minPriority: null, dataFeeds: null },
        actions: [{ target: "loadmaster:global", ttl: "1h" }]
      }
    ])

    const received = new Map(events.filter((e) => e.type === "FlowmonEventReceived").map((e) => [e.payload.eventId, e]))
    const decided = events.filter((e) => e.type === "BlockDecided")
    for (const [decision, eventId, source] of [
      [decided[0]!, "1", "192.0.2.31"],
      [decided[1]!, "3", "192.0.2.32"]
    ] as const) {
      const cause = received.get(eventId)!
      expect(decision.payload).toMatchObject({
        target: "loadmaster:global",
        subject: { kind: "ip", cidr: `${source}/32` },
        rule: "brute-force",
        offence: 1,
        ttl: "1h",
        policyHash: activated.hash,
        cause: { seq: cause.seq, product: "ads", instance: "fm1", eventId, method: "SSHDICT", source }
      })
      // The block lasts from the decision's recording, not from Flowmon's detection time (2025).
      expect(cause.payload.detectedAt).toMatch(/^2025-11-03T/)
      expect(decision.payload.cause.detectedAt).toBe(cause.payload.detectedAt)
      expect(decision.payload.until).toBe(plusMs(decision.recordedAt, HOUR))
    }
  })

  it("activates a policy once, again only when it changes; earlier decisions keep their until", async () => {
    const w = workspace()
    const config = writeConfig(w.dir, policyYaml({ ttl: "1h" }))
    const append = (stdin: string) => w.run(["append", "--db", w.db, "--config", config, "--instance", "fm1"], { stdin })

    expect(summaryLine(await append(adsLine(1, "192.0.2.31")))).toBe(
      "mitigator append: 1 stored, 0 duplicate, 0 rejected, 1 blocks decided"
    )
    expect(summaryLine(await append(adsLine(2, "192.0.2.32")))).toBe(
      "mitigator append: 1 stored, 0 duplicate, 0 rejected, 1 blocks decided"
    )
    const before = await w.events()
    expect(before.map((e) => e.type)).toEqual([
      "PolicyActivated",
      "FlowmonEventReceived",
      "BlockDecided",
      "FlowmonEventReceived",
      "BlockDecided"
    ])
    const firstUntil = before[2]!.payload.until as string
    expect(firstUntil).toBe(plusMs(before[2]!.recordedAt, HOUR))
    // The policy in force matches the file: status says nothing about it.
    expect((await w.status(config)).stderr).toBe("")

    // A different ttl is a different policy: status warns until the next append activates it.
    writeConfig(w.dir, policyYaml({ ttl: "2h" }))
    const pending = await w.status(config)
    expect(pending.stderr).toContain(`the policy in ${config} is not the one in force yet`)
    expect(pending.state.policyHash).toBe(before[0]!.payload.hash)

    expect(summaryLine(await append(adsLine(3, "192.0.2.33")))).toBe(
      "mitigator append: 1 stored, 0 duplicate, 0 rejected, 1 blocks decided"
    )
    const after = await w.events()
    const added = after.slice(before.length)
    expect(added.map((e) => e.type)).toEqual(["PolicyActivated", "FlowmonEventReceived", "BlockDecided"])
    expect(added[0]!.payload.hash).not.toBe(before[0]!.payload.hash)
    expect(added[0]!.payload.policy.rules[0].actions).toEqual([{ target: "loadmaster:global", ttl: "2h" }])
    expect(added[2]!.payload).toMatchObject({ ttl: "2h", policyHash: added[0]!.payload.hash })
    expect(added[2]!.payload.until).toBe(plusMs(added[2]!.recordedAt, 2 * HOUR))
    expect(after.filter((e) => e.type === "PolicyActivated")).toHaveLength(2)

    const { state, stderr } = await w.status(config)
    expect(stderr).toBe("")
    expect(state.policyHash).toBe(added[0]!.payload.hash)
    const untilOf = (cidr: string) => state.ipBlocks.find((b: any) => b.cidr === cidr)?.until
    expect(untilOf("192.0.2.31/32")).toBe(firstUntil)
    expect(untilOf("192.0.2.32/32")).toBe(before[4]!.payload.until)
    expect(untilOf("192.0.2.33/32")).toBe(added[2]!.payload.until)
  })

  it("decides nothing for a duplicate Flowmon event", async () => {
    const w = workspace()
    const config = writeConfig(w.dir, policyYaml())
    const append = (stdin: string) => w.run(["append", "--db", w.db, "--config", config, "--instance", "fm1"], { stdin })
    const first = await append(lines(adsLine(7), adsLine(7)))
    expect(first.code).toBe(0)
    expect(summaryLine(first)).toBe("mitigator append: 1 stored, 1 duplicate, 0 rejected, 1 blocks decided")
    const again = await append(lines(adsLine(7)))
    expect(again.code).toBe(0)
    expect(summaryLine(again)).toBe("mitigator append: 0 stored, 1 duplicate, 0 rejected")
    const events = await w.events()
    expect(events.map((e) => e.type)).toEqual(["PolicyActivated", "FlowmonEventReceived", "BlockDecided"])
  })

  it("escalates repeat offences of one source: 1h, 2h, 4h", async () => {
    const w = workspace()
    const config = writeConfig(
      w.dir,
      policyYaml({ ttl: "1h", escalation: { window: "7d", factor: 2, maxTtl: "30d" } })
    )
    for (const id of [101, 102, 103]) {
      const run = await w.run(["append", "--db", w.db, "--config", config, "--instance", "fm1"], { stdin: adsLine(id) })
      expect(summaryLine(run)).toBe("mitigator append: 1 stored, 0 duplicate, 0 rejected, 1 blocks decided")
    }
    // Another source starts again at its first offence.
    await w.run(["append", "--db", w.db, "--config", config, "--instance", "fm1"], { stdin: adsLine(104, "192.0.2.99") })

    const decided = (await w.events()).filter((e) => e.type === "BlockDecided")
    expect(decided.map((e) => [e.payload.subject.cidr, e.payload.offence, e.payload.ttl, e.payload.cause.eventId])).toEqual([
      ["192.0.2.31/32", 1, "1h", "101"],
      ["192.0.2.31/32", 2, "2h", "102"],
      ["192.0.2.31/32", 3, "4h", "103"],
      ["192.0.2.99/32", 1, "1h", "104"]
    ])
    for (const [i, hours] of [1, 2, 4, 1].entries()) {
      expect(decided[i]!.payload.until).toBe(plusMs(decided[i]!.recordedAt, hours * HOUR))
    }
    // The block in force lasts as long as its longest decision.
    const { state } = await w.status()
    expect(state.ipBlocks.find((b: any) => b.cidr === "192.0.2.31/32")).toMatchObject({
      until: decided[2]!.payload.until,
      reasons: decided.slice(0, 3).map((d) => expect.objectContaining({ seq: d.seq, offence: d.payload.offence }))
    })
  })

  it("escalates a burst from one source inside one append, capped at maxTtl", async () => {
    const w = workspace()
    const config = writeConfig(w.dir, policyYaml({ ttl: "1h", escalation: { window: "7d", factor: 2, maxTtl: "3h" } }))
    const run = await w.run(["append", "--db", w.db, "--config", config, "--instance", "fm1"], {
      stdin: lines(adsLine(1), adsLine(2), adsLine(3))
    })
    expect(summaryLine(run)).toBe("mitigator append: 3 stored, 0 duplicate, 0 rejected, 3 blocks decided")
    const decided = (await w.events()).filter((e) => e.type === "BlockDecided")
    expect(decided.map((e) => [e.payload.offence, e.payload.ttl])).toEqual([
      [1, "1h"],
      [2, "2h"],
      [3, "3h"]
    ])
  })

  it("decides nothing for an allowlisted source", async () => {
    const w = workspace()
    const config = writeConfig(w.dir, policyYaml({ allowlist: ["192.0.2.31", "198.51.100.0/24"] }))
    const run = await w.run(["append", "--db", w.db, "--config", config, "--instance", "fm1"], {
      stdin: lines(adsLine(1, "192.0.2.31"), adsLine(2, "198.51.100.9"), adsLine(3, "192.0.2.32"))
    })
    expect(run.code).toBe(0)
    expect(summaryLine(run)).toBe("mitigator append: 3 stored, 0 duplicate, 0 rejected, 1 blocks decided")
    const decided = (await w.events()).filter((e) => e.type === "BlockDecided")
    expect(decided.map((e) => e.payload.subject.cidr)).toEqual(["192.0.2.32/32"])
    const { state } = await w.status()
    expect(state.ipBlocks.map((b: any) => b.cidr)).toEqual(["192.0.2.32/32"])
  })
})

describe("status and replay --at", () => {
  const twoTargets = () =>
    policyYaml({ ttl: "1h", extraActions: ["{ loadmaster: { vs: 3 }, ttl: 2h }"] })

  it("status --json: every block in force with until and reasons, and counts per target", async () => {
    const w = workspace()
    const config = writeConfig(w.dir, twoTargets())
    await w.run(["append", "--db", w.db, "--config", config, "--instance", "fm1"], {
      stdin: lines(adsLine(11, "192.0.2.31"), adsLine(12, "192.0.2.32"))
    })
    const events = await w.events()
    const decided = events.filter((e) => e.type === "BlockDecided")
    expect(decided).toHaveLength(4)

    const { state, stdout } = await w.status(config)
    // Stable JSON: one line, keys sorted at every level.
    expect(stdout.endsWith("\n")).toBe(true)
    expect(stdout.trimEnd().split("\n")).toHaveLength(1)
    expect(stdout.trimEnd()).toBe(sortedJson(state))
    expect(Date.parse(state.asOf)).toBeGreaterThanOrEqual(Date.parse(decided[0]!.recordedAt))
    expect(state.policyHash).toBe(events[0]!.payload.hash)
    expect(state.counts).toEqual({ "loadmaster:global": 2, "loadmaster:vs:3": 2 })
    expect(state.ipBlocks.map((b: any) => [b.target, b.cidr])).toEqual([
      ["loadmaster:global", "192.0.2.31/32"],
      ["loadmaster:global", "192.0.2.32/32"],
      ["loadmaster:vs:3", "192.0.2.31/32"],
      ["loadmaster:vs:3", "192.0.2.32/32"]
    ])
    const recordedAt = decided[0]!.recordedAt
    const cause = events.find((e) => e.type === "FlowmonEventReceived" && e.payload.eventId === "11")!
    const global31 = state.ipBlocks[0]
    expect(global31.until).toBe(plusMs(recordedAt, HOUR))
    expect(global31.splitFrom).toBeNull()
    expect(global31.reasons).toHaveLength(1)
    expect(global31.reasons[0]).toMatchObject({
      kind: "decision",
      rule: "brute-force",
      offence: 1,
      until: global31.until,
      cause: { seq: cause.seq, eventId: "11", source: "192.0.2.31" }
    })
    expect(global31.reasons[0].seq).toBe(
      decided.find((d) => d.payload.target === "loadmaster:global" && d.payload.subject.cidr === "192.0.2.31/32")!.seq
    )
    expect(state.ipBlocks[2].until).toBe(plusMs(recordedAt, 2 * HOUR))
    expect(state).toMatchObject({ suppressed: [], pendingUserBlocks: [], userBlocks: [], owned: [] })
  })

  it("replay --at: the block until it expires, nothing before it was recorded; byte-identical output", async () => {
    const w = workspace()
    const config = writeConfig(w.dir, policyYaml({ ttl: "1h" }))
    await w.run(["append", "--db", w.db, "--config", config, "--instance", "fm1"], { stdin: adsLine(21) })
    const events = await w.events()
    const decision = events.find((e) => e.type === "BlockDecided")!
    const recordedAt = decision.recordedAt
    const until = plusMs(recordedAt, HOUR)
    expect(decision.payload.until).toBe(until)

    const halfway = plusMs(recordedAt, 30 * MINUTE)
    const during = await w.stateAt(halfway)
    expect(during.state.asOf).toBe(halfway)
    expect(during.state.policyHash).toBe(events[0]!.payload.hash)
    expect(during.state.ipBlocks).toEqual([
      {
        target: "loadmaster:global",
        cidr: "192.0.2.31/32",
        until,
        splitFrom: null,
        reasons: [
          {
            kind: "decision",
            seq: decision.seq,
            until,
            rule: "brute-force",
            offence: 1,
            cause: decision.payload.cause
          }
        ]
      }
    ])
    expect(during.state.counts).toEqual({ "loadmaster:global": 1 })
    // Stable: the same log and time give the same bytes, keys sorted.
    const again = await w.stateAt(halfway)
    expect(again.stdout).toBe(during.stdout)
    expect(during.stdout.trimEnd()).toBe(sortedJson(during.state))

    // At the recording time itself the block is in force.
    expect((await w.stateAt(recordedAt)).state.ipBlocks).toHaveLength(1)

    // Expiry is absolute: at `until` exactly the block is gone.
    const expired = await w.stateAt(until)
    expect(expired.state.ipBlocks).toEqual([])
    expect(expired.state.counts).toEqual({})
    expect(expired.state.policyHash).toBe(events[0]!.payload.hash)

    // Before the append, nothing had been recorded: no policy, no blocks.
    const earlier = plusMs(recordedAt, -1)
    const before = await w.stateAt(earlier)
    expect(before.state).toEqual({
      asOf: earlier,
      policyHash: null,
      ipBlocks: [],
      suppressed: [],
      userBlocks: [],
      pendingUserBlocks: [],
      owned: [],
      ownedUsers: [],
      ownedUserBlocks: [],
      heldByOthers: [],
      takeOvers: [],
      counts: {}
    })
  })

  it("status prints a table for people: address, target, until and the rule", async () => {
    const w = workspace()
    const config = writeConfig(w.dir, policyYaml({ ttl: "1h", rule: "ssh-guessing" }))
    await w.run(["append", "--db", w.db, "--config", config, "--instance", "fm1"], { stdin: adsLine(31) })
    const decision = (await w.events()).find((e) => e.type === "BlockDecided")!
    const run = await w.run(["status", "--db", w.db, "--config", config])
    expect(run.code).toBe(0)
    expect(run.stdout).toMatch(/^Desired state at \S+ \(policy [0-9a-f]{12}\)\n/)
    const row = run.stdout.split("\n").find((l) => l.includes("192.0.2.31"))
    expect(row).toBeDefined()
    expect(row).toContain("loadmaster:global")
    expect(row).toContain(`until ${decision.payload.until}`)
    expect(row).toMatch(/\((60m|[1-5]?[0-9]m) left\)|\(1h left\)/)
    expect(run.stdout).toContain("rule ssh-guessing")
    expect(run.stdout).toContain("SSHDICT from ads fm1#31")
    expect(run.stdout).toContain("Counts: loadmaster:global 1")
    expect(() => JSON.parse(run.stdout)).toThrow()
  })
})

describe("operator commands", () => {
  it("block, allow (splits the block), unblock", async () => {
    const w = workspace()
    const block = await w.run(["block", "203.0.113.0/24", "--ttl", "2h", "--reason", "x", "--actor", "alice", "--db", w.db])
    expect(block.code).toBe(0)
    expect(block.stdout).toMatch(
      /^mitigator block: recorded as seq 1: 203\.0\.113\.0\/24 on loadmaster:global until \S+ \(2h left\) \(by alice\)\nmitigator block: recorded; no target configured[^\n]*\n$/
    )
    const [requested] = await w.events()
    expect(requested).toMatchObject({
      type: "BlockRequested",
      payload: { target: "loadmaster:global", subject: { kind: "ip", cidr: "203.0.113.0/24" }, ttl: "2h", actor: "alice", reason: "x" }
    })
    const until = plusMs(requested!.recordedAt, 2 * HOUR)
    expect(requested!.payload.until).toBe(until)

    const blocked = (await w.status()).state
    expect(blocked.ipBlocks).toEqual([
      {
        target: "loadmaster:global",
        cidr: "203.0.113.0/24",
        until,
        splitFrom: null,
        reasons: [{ kind: "operator", seq: 1, until, actor: "alice", reason: "x" }]
      }
    ])
    expect(blocked.counts).toEqual({ "loadmaster:global": 1 })

    const allow = await w.run(["allow", "203.0.113.7", "--reason", "partner", "--db", w.db])
    expect(allow.code).toBe(0)
    expect(allow.stdout).toContain("203.0.113.7/32 is never blocked for good")
    const split = (await w.status()).state
    const pieces = split.ipBlocks as Array<any>
    expect(pieces.length).toBeGreaterThan(1)
    for (const piece of pieces) {
      expect(piece).toMatchObject({ target: "loadmaster:global", splitFrom: "203.0.113.0/24", until })
      expect(piece.reasons).toEqual([{ kind: "operator", seq: 1, until, actor: "alice", reason: "x" }])
      expect(ipv4Contains(piece.cidr, "203.0.113.7")).toBe(false)
      expect(ipv4Contains("203.0.113.0/24", piece.cidr.split("/")[0])).toBe(true)
    }
    // Everything else in the /24 is still blocked, once.
    expect(pieces.reduce((n, p) => n + ipv4Range(p.cidr).size, 0)).toBe(255)
    expect(split.counts).toEqual({ "loadmaster:global": pieces.length })

    const unblock = await w.run(["unblock", "203.0.113.0/24", "--reason", "done", "--db", w.db])
    expect(unblock.code).toBe(0)
    expect(unblock.stdout).toContain("blocks inside 203.0.113.0/24 end on every target")
    const cleared = (await w.status()).state
    expect(cleared.ipBlocks).toEqual([])
    expect(cleared.counts).toEqual({})
    expect((await w.events()).map((e) => e.type)).toEqual(["BlockRequested", "AllowRequested", "UnblockRequested"])
  })

  it("blocks on a virtual service, and the user behind an address on CryptoSpike", async () => {
    const w = workspace()
    const vs = await w.run(["block", "192.0.2.0/28", "--ttl", "30m", "--reason", "vs test", "--target", "loadmaster:vs:2", "--db", w.db])
    expect(vs.code).toBe(0)
    const cs = await w.run(["block", "192.0.2.44", "--ttl", "1d", "--reason", "ransomware", "--target", "cryptospike", "--db", w.db])
    expect(cs.code).toBe(0)
    const events = await w.events()
    const { state } = await w.status()
    expect(state.ipBlocks.map((b: any) => [b.target, b.cidr])).toEqual([["loadmaster:vs:2", "192.0.2.0/28"]])
    expect(state.pendingUserBlocks).toHaveLength(1)
    expect(state.pendingUserBlocks[0]).toMatchObject({
      ip: "192.0.2.44",
      until: plusMs(events[1]!.recordedAt, 24 * HOUR),
      reasons: [{ kind: "operator", seq: 2, reason: "ransomware" }]
    })
    expect(state.counts).toEqual({ "loadmaster:vs:2": 1, "cryptospike (pending user)": 1 })
  })

  it("--actor defaults to the operating-system user", async () => {
    const w = workspace()
    const run = await w.run(["block", "198.51.100.7", "--ttl", "1h", "--reason", "manual", "--db", w.db])
    expect(run.code).toBe(0)
    const user = os.userInfo().username
    expect(run.stdout).toContain(`(by ${user})`)
    const [event] = await w.events()
    expect(event!.payload.actor).toBe(user)
  })

  it("refuses bad input with a clear message and records nothing", async () => {
    const w = workspace()
    expect((await w.run(["block", "198.51.100.1", "--ttl", "1h", "--reason", "seed", "--db", w.db])).code).toBe(0)
    const before = await w.events()
    const refused = async (args: ReadonlyArray<string>, message: string | RegExp) => {
      const run = await w.run([...args, "--db", w.db])
      expect(run.code, args.join(" ")).toBe(1)
      const said = run.stdout + run.stderr
      if (typeof message === "string") expect(said, args.join(" ")).toContain(message)
      else expect(said, args.join(" ")).toMatch(message)
    }
    await refused(
      ["block", "192.0.2.31/24", "--ttl", "1h", "--reason", "x"],
      "'192.0.2.31/24' has host bits set: the network is 192.0.2.0/24"
    )
    await refused(["block", "192.0.2.0/24", "--ttl", "6 hours", "--reason", "x"], "--ttl '6 hours': expected a duration")
    await refused(["block", "192.0.2.0/24", "--ttl", "1h", "--reason", "x", "--target", "loadmaster:vs:x"], "--target 'loadmaster:vs:x': expected")
    await refused(["block", "192.0.2.0/24", "--ttl", "1h", "--reason", "  "], "--reason must not be empty")
    await refused(["unblock", "192.0.2.0/24", "--reason", ""], "--reason must not be empty")
    await refused(["allow", "192.0.2.1/24", "--reason", "x"], "has host bits set")
    await refused(["allow", "192.0.2.0/24", "--reason", "x", "--ttl", "forever"], "--ttl 'forever': expected a duration")
    expect(await w.events()).toEqual(before)
  })

  // Fails today: the command exits 1 but prints nothing. The handler fails with a
  // ValidationError, which src/bin.ts assumes @effect/cli has already printed (true only for
  // errors raised while parsing arguments), so the message is dropped.
  it("block --target cryptospike refuses a network with a clear message and records nothing", async () => {
    const w = workspace()
    expect((await w.run(["block", "198.51.100.1", "--ttl", "1h", "--reason", "seed", "--db", w.db])).code).toBe(0)
    const before = await w.events()
    const run = await w.run(["block", "192.0.2.0/24", "--ttl", "1h", "--reason", "x", "--target", "cryptospike", "--db", w.db])
    expect(run.code).toBe(1)
    expect(await w.events()).toEqual(before)
    expect(run.stdout + run.stderr).toContain("give an address, not a network")
  })

  it("refuses a bad address without creating the log", async () => {
    const w = workspace()
    const run = await w.run(["block", "192.0.2.31/24", "--ttl", "1h", "--reason", "x", "--db", w.db])
    expect(run.code).toBe(1)
    expect(run.stdout + run.stderr).toContain("host bits set")
    expect(fs.existsSync(w.db)).toBe(false)
  })
})

describe("the config file", () => {
  const badTtl = policyYaml({ ttl: "6 hours" })

  it("an invalid config stops append before the log is opened, naming the key", async () => {
    const w = workspace()
    const config = writeConfig(w.dir, badTtl)
    const run = await w.run(["append", "--db", w.db, "--config", config, "--instance", "fm1"], { stdin: adsLine(1) })
    expect(run.code).toBe(1)
    expect(run.stderr).toContain(`config ${config}: policy.rules[0].actions[0].ttl: expected a duration like`)
    expect(run.stderr.trim().split("\n")).toHaveLength(1)
    expect(fs.existsSync(w.db)).toBe(false)

    // Every command, even on a log that exists.
    const good = writeConfig(w.dir, policyYaml(), "good.yaml")
    expect((await w.run(["append", "--db", w.db, "--config", good], { stdin: adsLine(1) })).code).toBe(0)
    const recorded = await w.events()
    for (const args of [
      ["status"],
      ["status", "--json"],
      ["replay", "--json"],
      ["replay", "--events"],
      ["block", "192.0.2.9", "--ttl", "1h", "--reason", "x"],
      ["unblock", "192.0.2.9", "--reason", "x"],
      ["allow", "192.0.2.9", "--reason", "x"]
    ]) {
      const refused = await w.run([...args, "--db", w.db, "--config", config])
      expect(refused.code, args.join(" ")).toBe(1)
      expect(refused.stdout, args.join(" ")).toBe("")
      expect(refused.stderr, args.join(" ")).toContain("policy.rules[0].actions[0].ttl")
    }
    const fresh = path.join(w.dir, "fresh.db")
    const blockFresh = await w.run(["block", "192.0.2.9", "--ttl", "1h", "--reason", "x", "--db", fresh, "--config", config])
    expect(blockFresh.code).toBe(1)
    expect(fs.existsSync(fresh)).toBe(false)
    expect(await w.events()).toEqual(recorded)
  })

  it("a missing config file is an error naming the file", async () => {
    const w = workspace()
    const missing = path.join(w.dir, "nope.yaml")
    for (const args of [["append", "--instance", "fm1"], ["status"], ["block", "192.0.2.9", "--ttl", "1h", "--reason", "x"]]) {
      const run = await w.run([...args, "--db", w.db, "--config", missing], { stdin: adsLine(1) })
      expect(run.code, args.join(" ")).toBe(1)
      expect(run.stderr, args.join(" ")).toContain(`config ${missing}: no such file`)
    }
    expect(fs.existsSync(w.db)).toBe(false)
  })

  it("MITIGATOR_CONFIG works like --config", async () => {
    const w = workspace()
    const config = writeConfig(w.dir, policyYaml({ rule: "from-env" }))
    const run = await w.run(["append", "--db", w.db, "--instance", "fm1"], {
      stdin: adsLine(1),
      env: { MITIGATOR_CONFIG: config }
    })
    expect(run.code).toBe(0)
    expect(run.stderr.trim().split("\n")).toEqual(["mitigator append: 1 stored, 0 duplicate, 0 rejected, 1 blocks decided"])
    const events = await w.events()
    expect(events[0]).toMatchObject({ type: "PolicyActivated", payload: { source: config } })
    expect(events[2]).toMatchObject({ type: "BlockDecided", payload: { rule: "from-env" } })

    const bad = writeConfig(w.dir, badTtl, "bad.yaml")
    const db2 = path.join(w.dir, "other.db")
    const refused = await w.run(["append", "--db", db2], { stdin: adsLine(1), env: { MITIGATOR_CONFIG: bad } })
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain(`config ${bad}: policy.rules[0].actions[0].ttl`)
    expect(fs.existsSync(db2)).toBe(false)

    const missing = path.join(w.dir, "missing.yaml")
    const gone = await w.run(["status", "--db", w.db], { env: { MITIGATOR_CONFIG: missing } })
    expect(gone.code).toBe(1)
    expect(gone.stderr).toContain(`config ${missing}: no such file`)
  })

  it("a relative `database` is beside the config file when --db is not given", async () => {
    const w = workspace()
    const confDir = path.join(w.dir, "etc")
    const elsewhere = path.join(w.dir, "cwd")
    fs.mkdirSync(confDir)
    fs.mkdirSync(elsewhere)
    const config = writeConfig(confDir, policyYaml({ database: "events.db" }))
    const run = await runCli(["append", "--config", config, "--instance", "fm1"], { stdin: adsLine(1), cwd: elsewhere })
    expect(run.code).toBe(0)
    expect(fs.existsSync(path.join(confDir, "events.db"))).toBe(true)
    expect(fs.readdirSync(elsewhere)).toEqual([])
    // Other commands find the same log through the config.
    const replay = await runCli(["replay", "--events", "--json", "--config", "../etc/mitigator-test.yaml"], { cwd: elsewhere })
    expect(replay.code).toBe(0)
    expect(jsonLines(replay.stdout).map((e) => e.type)).toEqual(["PolicyActivated", "FlowmonEventReceived", "BlockDecided"])
    // --db still wins.
    const explicit = path.join(elsewhere, "explicit.db")
    expect((await runCli(["append", "--config", config, "--db", explicit], { stdin: adsLine(2), cwd: elsewhere })).code).toBe(0)
    expect(fs.existsSync(explicit)).toBe(true)
  })
})

/**
 * `why`'s story, pure: given the events of a log (and the time), then what it tells about one
 * address, network or user. Also the one-line summaries every event type has.
 */
import { describe, expect, it } from "@effect/vitest"
import { EventPayloads, type FlowmonEventReceived } from "../../src/domain/Events.js"
import { SUMMARIES, summaryOf } from "../../src/domain/EventSummary.js"
import { parseSubject, type Subject } from "../../src/domain/Filter.js"
import { project } from "../../src/domain/Project.js"
import { buildStory, outcomeText, storyPrefilter, type StoryInput } from "../../src/domain/Story.js"
import {
  adsEvent,
  allowRequested,
  blockDecided,
  decisionAt,
  given,
  logOf,
  plus,
  policy,
  policyActivated,
  rule,
  step,
  type Step
} from "../support/scenario.js"

const T0 = "2026-01-01T10:00:00.000Z"
const SID = "S-1-5-21-1004336348-1177238915-682003330-1104"

const subject = (text: string): Subject => {
  const parsed = parseSubject(text)
  if (!parsed.ok) throw new Error(parsed.error)
  return parsed.value
}

const thePolicy = policy({
  rules: [
    rule("brute-force", { product: "ads", methods: ["SSHDICT"], minPriority: "HIGH" }, [["loadmaster:global", "6h"]]),
    rule("scans", { product: "ads", methods: ["SCANS"] }, [["loadmaster:global", "1h"]])
  ],
  escalation: { window: "7d", factor: 2, maxTtl: "30d" },
  allowlist: [{ cidr: "192.0.2.128/25", until: null }],
  neverBlock: ["192.0.2.53/32"]
})

/** A detection recorded at `at` and the decisions the policy makes for it, as `append` records them. */
const detected = (at: string, seq: number, event: FlowmonEventReceived, offence = 1): Step[] => {
  const decision = decisionAt(thePolicy, event, at, { seq, earlierOffences: Array(offence - 1).fill(T0) })
  return [
    step(at, "FlowmonEventReceived", event),
    ...decision.decided.map((d) => step(at, "BlockDecided", d)),
    ...(decision.withheld === null ? [] : [step(at, "BlockWithheld", decision.withheld)])
  ]
}

const storyOf = (text: string, steps: ReadonlyArray<Step | ReadonlyArray<Step>>, now: string, more: Partial<StoryInput> = {}) => {
  const events = logOf(...steps)
  return buildStory({ subject: subject(text), events, desired: project(events, now), now, ...more })
}

describe("why: a detection's outcome", () => {
  // seq: 1 policy, 2 detection, 3 decision
  const blocked = [policyActivated(T0, thePolicy), detected(T0, 2, adsEvent({ eventId: "1", source: "192.0.2.31" }))]

  it("given a blocked address, then it names the rule, the block, and the time left on it", () => {
    const story = storyOf("192.0.2.31", blocked, plus(T0, "48m"))
    expect(story.detections).toHaveLength(1)
    expect(story.detections[0]!.outcome).toEqual({
      kind: "blocked",
      rule: "brute-force",
      blocks: [{ seq: 3, target: "loadmaster:global", subject: "192.0.2.31/32", ttl: "6h", until: plus(T0, "6h"), offence: 1 }]
    })
    expect(story.inForce).toMatchObject([{ target: "loadmaster:global", entry: "192.0.2.31/32", until: plus(T0, "6h"), left: "5h 12m left" }])
    // Nothing on the target yet by the ledger: the next reconcile adds it.
    expect(story.nextReconcile).toMatchObject([{ target: "loadmaster:global", entry: "192.0.2.31/32", action: "add" }])
  })

  it("given an allowlisted address, then it names the rule that matched and the allowlist entry", () => {
    const story = storyOf("192.0.2.200", [policyActivated(T0, thePolicy), detected(T0, 2, adsEvent({ source: "192.0.2.200" }))], T0)
    expect(story.detections[0]!.outcome).toEqual({ kind: "allowlisted", rule: "brute-force", entry: { cidr: "192.0.2.128/25", until: null } })
    expect(outcomeText(story.detections[0]!.outcome)).toBe("rule brute-force matched, not blocked: allowlisted by the policy's entry 192.0.2.128/25")
    expect(story.inForce).toEqual([])
    expect(story.nextReconcile).toEqual([])
  })

  it("given a protected address, then it names the rail", () => {
    const story = storyOf("192.0.2.53", [policyActivated(T0, thePolicy), detected(T0, 2, adsEvent({ source: "192.0.2.53" }))], T0)
    expect(story.detections[0]!.outcome).toMatchObject({ kind: "protected", rule: "brute-force", protection: "neverBlock 192.0.2.53/32" })
  })

  it("given no rule matched, then it says so, and what the closest rule needed", () => {
    const medium = adsEvent({ source: "192.0.2.41", priority: "MEDIUM" })
    const story = storyOf("192.0.2.41", [policyActivated(T0, thePolicy), detected(T0, 2, medium)], T0)
    expect(story.detections[0]!.outcome).toEqual({
      kind: "no-rule",
      rules: 2,
      closest: { rule: "brute-force", unmet: ["priority >= high (this was medium)"] }
    })
    expect(outcomeText(story.detections[0]!.outcome)).toBe("not blocked: no rule matched (2 rules); closest: brute-force needs priority >= high (this was medium)")
  })

  it("judges a detection by the policy in force when it was recorded, not a later one", () => {
    const lax = policy({ rules: [rule("anything", {}, [["loadmaster:global", "1h"]])] })
    const story = storyOf(
      "192.0.2.41",
      [policyActivated(T0, thePolicy), step(T0, "FlowmonEventReceived", adsEvent({ source: "192.0.2.41", priority: "LOW" })), policyActivated(plus(T0, "1h"), lax)],
      plus(T0, "2h")
    )
    expect(story.detections[0]!.outcome.kind).toBe("no-rule")
  })

  it("given no policy in force, then it says so", () => {
    const story = storyOf("192.0.2.31", [step(T0, "FlowmonEventReceived", adsEvent())], T0)
    expect(story.detections[0]!.outcome).toEqual({ kind: "no-policy" })
  })

  it("tells the escalation: the offence number and its longer ttl", () => {
    const story = storyOf(
      "192.0.2.31",
      [policyActivated(T0, thePolicy), detected(T0, 2, adsEvent({ eventId: "1" })), detected(plus(T0, "1h"), 4, adsEvent({ eventId: "2" }), 2)],
      plus(T0, "1h")
    )
    expect(story.detections.map((d) => d.outcome.kind === "blocked" && d.outcome.blocks.map((b) => [b.offence, b.ttl]))).toEqual([[[1, "6h"]], [[2, "12h"]]])
  })
})

describe("why: what happened after", () => {
  const history = () => [
    policyActivated(T0, thePolicy),
    detected(T0, 2, adsEvent({ source: "192.0.2.31" })),
    step(plus(T0, "1m"), "PlanRefused", { adds: 900, removes: 0, reason: "900 additions exceed maxAddsPerPass (500)" }),
    step(plus(T0, "2m"), "TargetChangeFailed", { target: "loadmaster:global", cidr: "192.0.2.31/32", op: "add", errorClass: "transient", reason: "timeout", message: "no answer in 10s" }),
    step(plus(T0, "3m"), "TargetChanged", { target: "loadmaster:global", cidr: "192.0.2.31/32", op: "add", listed: "192.0.2.31", comment: "mitigator fm01#3", causeSeq: 3 }),
    // After it was applied, a refused plan is no part of this address's story.
    step(plus(T0, "4m"), "PlanRefused", { adds: 901, removes: 0, reason: "901 additions exceed maxAddsPerPass (500)" }),
    // Another address's change is not either.
    step(plus(T0, "5m"), "TargetChanged", { target: "loadmaster:global", cidr: "198.51.100.9/32", op: "add", listed: "198.51.100.9", comment: "x", causeSeq: null })
  ]

  it("tells the refused plan while it waited, the failure, and the change, in order; then the next reconcile keeps it", () => {
    const story = storyOf("192.0.2.31", history(), plus(T0, "10m"))
    expect(story.timeline.map((e) => [e.seq, e.type])).toEqual([
      [2, "FlowmonEventReceived"],
      [3, "BlockDecided"],
      [4, "PlanRefused"],
      [5, "TargetChangeFailed"],
      [6, "TargetChanged"]
    ])
    expect(story.nextReconcile).toMatchObject([{ action: "keep", target: "loadmaster:global", entry: "192.0.2.31/32" }])
  })

  it("once the block expired, the next reconcile removes what mitigator put there", () => {
    const story = storyOf("192.0.2.31", history(), plus(T0, "7h"))
    expect(story.inForce).toEqual([])
    expect(story.nextReconcile).toMatchObject([{ action: "remove", entry: "192.0.2.31/32", why: expect.stringContaining("no longer wanted") }])
  })

  it("an operator's allow covering the address holds the block back, and the next reconcile removes it", () => {
    const story = storyOf("192.0.2.31", [...history(), allowRequested(plus(T0, "6m"), { cidr: "192.0.2.0/24" })], plus(T0, "10m"))
    expect(story.timeline.at(-1)).toMatchObject({ type: "AllowRequested" })
    expect(story.heldBack).toMatchObject([{ entry: "192.0.2.31/32", why: "allowlisted by an operator's entry 192.0.2.0/24" }])
    expect(story.nextReconcile).toMatchObject([{ action: "remove", why: expect.stringContaining("allowlisted (192.0.2.0/24)") }])
    // The detection's own line says so too, not only "matched: … for 6h".
    expect(outcomeText(story.detections[0]!.outcome)).toContain("held back now: allowlisted by an operator's entry 192.0.2.0/24")
  })

  it("a network's story holds every address inside it", () => {
    const story = storyOf("192.0.2.0/24", [...history(), ...detected(plus(T0, "6m"), 9, adsEvent({ source: "192.0.2.77", method: "SCANS" }))], plus(T0, "10m"))
    expect(story.detections.map((d) => d.source)).toEqual(["192.0.2.31", "192.0.2.77"])
    expect(story.timeline.some((e) => e.summary.includes("198.51.100.9"))).toBe(false)
  })

  it("says the next pass would be refused when the whole plan is over a cap", () => {
    const story = storyOf("192.0.2.31", [policyActivated(T0, thePolicy), detected(T0, 2, adsEvent())], T0, {
      caps: { maxAddsPerPass: 0, maxRemovesPerPass: 10, maxActivePerTarget: 10 }
    })
    expect(story.nextPassRefused).toBe("1 additions exceed maxAddsPerPass (0)")
  })
})

describe("why: a user", () => {
  const userBehind = { kind: "userBehindIp" as const, ip: "192.0.2.31", at: "2025-11-03T15:12:40.000Z", userIdentity: "" }
  const log = () => [
    step(T0, "FlowmonEventReceived", adsEvent({ source: "192.0.2.31" })),
    step(T0, "BlockDecided", blockDecided(T0, { target: "cryptospike", subject: userBehind, ttl: "24h", cause: { seq: 1 } })),
    step(plus(T0, "1m"), "UserResolved", { ip: "192.0.2.31", at: userBehind.at, userId: SID, userName: "CORP\\jdoe", userPrincipalName: "jdoe@corp.example", via: "file-activity" }),
    step(plus(T0, "2m"), "UserBlockChanged", { userId: SID, op: "block", comment: "mitigator", causeSeq: 2 })
  ]

  for (const name of ["jdoe", "JDOE@corp.example", "corp\\jdoe", SID]) {
    it(`given ${name}, then the detection behind the user, its resolution and its block, with the time left`, () => {
      const story = storyOf(name, log(), plus(T0, "1h"))
      expect(story.kind).toBe("user")
      expect(story.users).toEqual([`jdoe@corp.example (${SID})`])
      expect(story.timeline.map((e) => e.type)).toEqual(["FlowmonEventReceived", "BlockDecided", "UserResolved", "UserBlockChanged"])
      expect(story.inForce).toMatchObject([{ target: "cryptospike", entry: `jdoe@corp.example (${SID})`, left: "23h left" }])
      expect(story.nextReconcile).toMatchObject([{ action: "keep", target: "cryptospike" }])
    })
  }

  it("given a user that could not be resolved, then the next reconcile leaves it: a failed resolution is not tried again", () => {
    const failed = [
      step(T0, "FlowmonEventReceived", adsEvent({ source: "192.0.2.31" })),
      step(T0, "BlockDecided", blockDecided(T0, { target: "cryptospike", subject: userBehind, ttl: "24h", cause: { seq: 1 } })),
      step(plus(T0, "1m"), "UserResolutionFailed", { ip: "192.0.2.31", at: userBehind.at, reason: "ambiguous", candidates: [SID, "S-1-5-21-1-2-3-4"] })
    ]
    const story = storyOf("192.0.2.31", failed, plus(T0, "1h"))
    expect(story.nextReconcile).toMatchObject([{ target: "cryptospike", action: "leave", why: expect.stringContaining("not resolved (ambiguous): nobody is blocked") }])
  })

  it("another user is not named", () => {
    const story = storyOf("OTHER\\jdoe", log(), plus(T0, "1h"))
    expect(story.timeline).toEqual([])
    expect(story.inForce).toEqual([])
  })

  it("the address's story names the user found behind it", () => {
    expect(storyOf("192.0.2.31", log(), plus(T0, "1h")).users).toEqual([`jdoe@corp.example (${SID})`])
  })
})

describe("why: the subject and reading the log", () => {
  it("reads addresses, networks and names; refuses what is neither", () => {
    expect(parseSubject("192.0.2.31")).toMatchObject({ ok: true, value: { kind: "address" } })
    expect(parseSubject("2001:db8::/32")).toMatchObject({ ok: true, value: { kind: "address" } })
    expect(parseSubject("CORP\\jdoe")).toMatchObject({ ok: true, value: { kind: "user", name: "CORP\\jdoe" } })
    expect(parseSubject("192.0.2.31/24")).toMatchObject({ ok: false, error: expect.stringContaining("host bits set") })
    expect(parseSubject("999.1.1.1")).toMatchObject({ ok: false })
    expect(parseSubject("  ")).toMatchObject({ ok: false })
  })

  it("the text prefilter keeps every row the story tells (a superset)", () => {
    const events = given(
      policyActivated(T0, thePolicy),
      detected(T0, 2, adsEvent({ source: "192.0.2.31" })),
      detected(T0, 4, adsEvent({ source: "198.51.100.7" })),
      step(T0, "TargetChanged", { target: "loadmaster:global", cidr: "192.0.2.0/24", op: "add", listed: "192.0.2.0/24", comment: "", causeSeq: null })
    ).events
    for (const text of ["192.0.2.31", "192.0.2.0/24", "192.0.0.0/16", "0.0.0.0/0"]) {
      const s = subject(text)
      const keep = storyPrefilter(s)
      const all = buildStory({ subject: s, events, desired: project(events, T0), now: T0 })
      const kept = events.filter((e) => keep(e.type, JSON.stringify(e.payload)))
      const narrowed = buildStory({ subject: s, events: kept, desired: project(events, T0), now: T0 })
      expect(narrowed).toEqual(all)
    }
    // The other address's detection is not parsed at all.
    const keep = storyPrefilter(subject("192.0.2.31"))
    expect(events.filter((e) => e.type === "FlowmonEventReceived").map((e) => keep(e.type, JSON.stringify(e.payload)))).toEqual([true, false])
  })
})

describe("event summaries", () => {
  it("every event type has a one-line summary that is not JSON", () => {
    const types = Object.keys(EventPayloads)
    expect(Object.keys(SUMMARIES).sort()).toEqual([...types].sort())
    for (const type of types) {
      // An empty payload (an old event lacking fields) reads as words too, not as a crash or JSON.
      const line = summaryOf(type, {})
      expect(line, type).not.toMatch(/^[{[]/)
      expect(line, type).not.toContain("\n")
    }
    expect(summaryOf("TargetChanged", { target: "loadmaster:global", cidr: "192.0.2.31/32", op: "add", listed: "192.0.2.31", comment: "c", causeSeq: 7 })).toBe(
      "added 192.0.2.31/32 to loadmaster:global (for seq 7)"
    )
    expect(summaryOf("PlanRefused", { adds: 900, removes: 0, reason: "900 additions exceed maxAddsPerPass (500)" })).toBe(
      "plan not applied: 900 additions exceed maxAddsPerPass (500) (900 to add, 0 to remove; --force applies it)"
    )
  })
})

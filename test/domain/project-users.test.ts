/** The projection's user blocks: a block on "the user behind an address" becomes real once CryptoSpike names the user. */
import { describe, expect, it } from "@effect/vitest"
import { decided, given, step, unblockRequested } from "../support/scenario.js"

const SID = "S-1-5-21-1004336348-1177238915-682003330-1104"
const userBehind = (ip: string, at = "2025-11-03T15:12:40.000Z") => ({
  target: "cryptospike",
  subject: { kind: "userBehindIp" as const, ip, at, userIdentity: "" }
})
const resolved = (time: string, ip: string, userId = SID, at = "2025-11-03T15:12:40.000Z") =>
  step(time, "UserResolved", { ip, at, userId, userName: "jdoe", userPrincipalName: "jdoe@corp.example", via: "file-activity" })

describe("user blocks", () => {
  it("wait, pending, until the user is named; then they are blocks on that user until the decision's expiry", () => {
    const before = given(decided("2026-01-01T10:00:00Z", { ...userBehind("192.0.2.31"), ttl: "24h" })).at("2026-01-01T10:01:00Z")
    expect(before.userBlocks).toEqual([])
    expect(before.pendingUserBlocks.map((p) => [p.ip, p.failure])).toEqual([["192.0.2.31", null]])

    const state = given(
      decided("2026-01-01T10:00:00Z", { ...userBehind("192.0.2.31"), ttl: "24h" }),
      resolved("2026-01-01T10:01:00Z", "192.0.2.31")
    ).at("2026-01-01T12:00:00Z")
    expect(state.pendingUserBlocks).toEqual([])
    expect(state.userBlocks).toHaveLength(1)
    expect(state.userBlocks[0]).toMatchObject({
      userId: SID,
      userName: "jdoe",
      until: "2026-01-02T10:00:00.000Z",
      seenAt: [{ ip: "192.0.2.31", at: "2025-11-03T15:12:40.000Z" }]
    })
    expect(state.counts).toEqual({ cryptospike: 1 })
  })

  it("one user found behind two addresses is one block, until the later expiry", () => {
    const state = given(
      decided("2026-01-01T10:00:00Z", { ...userBehind("192.0.2.31"), ttl: "24h" }),
      decided("2026-01-01T11:00:00Z", { ...userBehind("192.0.2.32"), ttl: "48h" }),
      resolved("2026-01-01T11:01:00Z", "192.0.2.31"),
      resolved("2026-01-01T11:02:00Z", "192.0.2.32")
    ).at("2026-01-01T12:00:00Z")
    expect(state.userBlocks.map((u) => [u.userId, u.until, u.seenAt.map((s) => s.ip)])).toEqual([
      [SID, "2026-01-03T11:00:00.000Z", ["192.0.2.31", "192.0.2.32"]]
    ])
  })

  it("a failed resolution stays pending and says why; expiry and unblock end it", () => {
    const log = [
      decided("2026-01-01T10:00:00Z", { ...userBehind("192.0.2.31"), ttl: "1h" }),
      step("2026-01-01T10:01:00Z", "UserResolutionFailed", {
        ip: "192.0.2.31",
        at: "2025-11-03T15:12:40.000Z",
        reason: "ambiguous",
        candidates: ["S-1", "S-2"]
      })
    ]
    expect(given(...log).at("2026-01-01T10:30:00Z").pendingUserBlocks.map((p) => p.failure)).toEqual([
      { reason: "ambiguous", candidates: ["S-1", "S-2"] }
    ])
    expect(given(...log).at("2026-01-01T11:00:00Z").pendingUserBlocks).toEqual([])
    const unblocked = given(...log, resolved("2026-01-01T10:02:00Z", "192.0.2.31"), unblockRequested("2026-01-01T10:03:00Z", { cidr: "192.0.2.31/32" }))
    expect(unblocked.at("2026-01-01T10:30:00Z").userBlocks).toEqual([])
  })
})

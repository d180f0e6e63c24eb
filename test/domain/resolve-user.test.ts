import { describe, expect, it } from "@effect/vitest"
import { activityWindow, fromActivity, fromNameSearch } from "../../src/domain/ResolveUser.js"

const SID_A = "S-1-5-21-1004336348-1177238915-682003330-1104"
const SID_B = "S-1-5-21-1004336348-1177238915-682003330-1105"

describe("finding the user behind an address", () => {
  it("searches the activity around the detection, not around now", () => {
    expect(activityWindow("2025-11-03T14:13:05.000Z", 30 * 60_000, 5 * 60_000)).toEqual({
      from: "2025-11-03T13:43:05.000Z",
      to: "2025-11-03T14:18:05.000Z"
    })
  })

  it("one distinct user in the activity (however many rows) is the user", () => {
    expect(fromActivity([SID_A, SID_A, SID_A], "")).toEqual({
      kind: "resolved",
      user: { userId: SID_A, userName: "", userPrincipalName: "" },
      via: "file-activity"
    })
  })

  it("two users are ambiguous, whatever the name Flowmon gave: nothing is guessed", () => {
    expect(fromActivity([SID_B, SID_A, SID_B], "jdoe")).toEqual({ kind: "failed", reason: "ambiguous", candidates: [SID_A, SID_B] })
  })

  it("no activity: search the name the ADS event carried; without one (IDS) the user is unknown", () => {
    expect(fromActivity([], "CORP\\jdoe")).toEqual({ kind: "search-name", name: "CORP\\jdoe" })
    expect(fromActivity([], "  ")).toEqual({ kind: "failed", reason: "unknown", candidates: [] })
  })

  it("the name search resolves only on exactly one user", () => {
    const jdoe = { userId: SID_A, userName: "jdoe", userPrincipalName: "jdoe@corp.example" }
    expect(fromNameSearch([jdoe, jdoe])).toEqual({ kind: "resolved", user: jdoe, via: "name" })
    expect(fromNameSearch([])).toEqual({ kind: "failed", reason: "unknown", candidates: [] })
    expect(fromNameSearch([jdoe, { ...jdoe, userId: SID_B }])).toEqual({ kind: "failed", reason: "ambiguous", candidates: [SID_A, SID_B] })
  })
})

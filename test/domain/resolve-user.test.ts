import { describe, expect, it } from "@effect/vitest"
import { activityWindow, fromActivity, fromNameSearch, type ResolvedUser } from "../../src/domain/ResolveUser.js"
import { parseAccountName, sameDomain } from "../../src/domain/UserName.js"

const SID_A = "S-1-5-21-1004336348-1177238915-682003330-1104"
const SID_B = "S-1-5-21-1004336348-1177238915-682003330-1105"

const row = (userId: string, userName = "", userPrincipalName = "") => ({ userId, userName, userPrincipalName })

describe("finding the user behind an address", () => {
  it("searches the activity around the detection, not around now", () => {
    expect(activityWindow("2025-11-03T14:13:05.000Z", 30 * 60_000, 5 * 60_000)).toEqual({
      from: "2025-11-03T13:43:05.000Z",
      to: "2025-11-03T14:18:05.000Z"
    })
  })

  it("one distinct user in the activity (however many rows) is the user, with the names its rows give", () => {
    expect(fromActivity([row(SID_A), row(SID_A, "CORP\\jdoe"), row(SID_A, "", "jdoe@corp.example")], "")).toEqual({
      kind: "resolved",
      user: { userId: SID_A, userName: "CORP\\jdoe", userPrincipalName: "jdoe@corp.example" },
      via: "file-activity"
    })
    expect(fromActivity([row(SID_A)], "")).toMatchObject({ user: { userId: SID_A, userName: "", userPrincipalName: "" } })
  })

  it("two users are ambiguous, whatever the name Flowmon gave: nothing is guessed, the candidates keep their names", () => {
    expect(fromActivity([row(SID_B, "asmith"), row(SID_A, "jdoe"), row(SID_B)], "jdoe")).toEqual({
      kind: "failed",
      reason: "ambiguous",
      candidates: [SID_A, SID_B],
      matches: [row(SID_A, "jdoe"), row(SID_B, "asmith")]
    })
  })

  it("no activity: search the name the ADS event carried; without one (IDS) the user is unknown", () => {
    expect(fromActivity([], "CORP\\jdoe")).toEqual({ kind: "search-name", name: "CORP\\jdoe" })
    expect(fromActivity([], "  ")).toEqual({ kind: "failed", reason: "unknown", candidates: [], matches: [] })
  })
})

describe("a name search, domain-aware", () => {
  const jdoeCorp: ResolvedUser = row(SID_A, "jdoe", "jdoe@corp.example")
  const jdoeOther: ResolvedUser = row(SID_B, "OTHER\\jdoe", "")
  const jdoeOtherUpn: ResolvedUser = row("S-3", "jdoe", "jdoe@other.example")
  const jdoeBare: ResolvedUser = row("S-4", "jdoe", "")
  const jdoe2: ResolvedUser = row("S-5", "jdoe2", "jdoe2@corp.example")

  it("reads DOMAIN\\user, user@realm and a bare user; NetBIOS CORP agrees with corp.example", () => {
    expect(parseAccountName(" CORP\\JDoe ")).toEqual({ account: "jdoe", domain: "corp" })
    expect(parseAccountName("jdoe@Corp.Example")).toEqual({ account: "jdoe", domain: "corp.example" })
    expect(parseAccountName("jdoe")).toEqual({ account: "jdoe", domain: null })
    expect(parseAccountName("CORP\\")).toBeUndefined()
    expect(parseAccountName("\\jdoe")).toBeUndefined()
    expect(parseAccountName("")).toBeUndefined()
    expect(sameDomain("corp", "corp.example")).toBe(true)
    expect(sameDomain("corp.example", "corp")).toBe(true)
    expect(sameDomain("corp", "other.example")).toBe(false)
    expect(sameDomain("corp.example", "corp.example.test")).toBe(false)
  })

  it("CORP\\jdoe resolves on the one jdoe whose domain agrees; the jdoes of other domains are ruled out", () => {
    expect(fromNameSearch("CORP\\jdoe", [jdoeCorp, jdoeOther, jdoeOtherUpn, jdoe2])).toEqual({ kind: "resolved", user: jdoeCorp, via: "name" })
    expect(fromNameSearch("jdoe@corp.example", [jdoeCorp, jdoeOther, jdoeOtherUpn, jdoe2])).toEqual({ kind: "resolved", user: jdoeCorp, via: "name" })
    // Where CryptoSpike gives no domain, the domain cannot disagree.
    expect(fromNameSearch("CORP\\jdoe", [jdoeBare])).toMatchObject({ kind: "resolved", user: jdoeBare })
  })

  it("a match in another domain only is ambiguous, recorded with the candidate: never the jdoe of another domain", () => {
    expect(fromNameSearch("OTHER\\jdoe", [jdoeCorp])).toEqual({ kind: "failed", reason: "ambiguous", candidates: [SID_A], matches: [jdoeCorp] })
    expect(fromNameSearch("jdoe@other.example", [jdoeCorp, jdoeOther])).toMatchObject({ kind: "resolved", user: jdoeOther })
    expect(fromNameSearch("jdoe@elsewhere.example", [jdoeCorp, jdoeOther])).toEqual({
      kind: "failed",
      reason: "ambiguous",
      candidates: [SID_A, SID_B],
      matches: [jdoeCorp, jdoeOther]
    })
  })

  it("two matches are ambiguous", () => {
    expect(fromNameSearch("CORP\\jdoe", [jdoeCorp, jdoeBare])).toMatchObject({ kind: "failed", reason: "ambiguous", candidates: [SID_A, "S-4"] })
    // The same user listed twice is one user.
    expect(fromNameSearch("CORP\\jdoe", [jdoeCorp, jdoeCorp])).toMatchObject({ kind: "resolved", user: jdoeCorp })
  })

  it("a bare name resolves only on one listed bare userName; a listed user with a domain makes it ambiguous", () => {
    expect(fromNameSearch("JDoe", [jdoeCorp, jdoe2])).toEqual({ kind: "resolved", user: jdoeCorp, via: "name" })
    expect(fromNameSearch("jdoe", [jdoeCorp, jdoeOther])).toMatchObject({ kind: "failed", reason: "ambiguous", candidates: [SID_A, SID_B] })
    expect(fromNameSearch("jdoe", [jdoeOther])).toMatchObject({ kind: "failed", reason: "ambiguous", candidates: [SID_B] })
  })

  it("substrings and other accounts never match; nothing found is unknown", () => {
    expect(fromNameSearch("jdo", [jdoeCorp, jdoe2])).toEqual({ kind: "failed", reason: "unknown", candidates: [], matches: [] })
    expect(fromNameSearch("CORP\\asmith", [jdoeCorp])).toMatchObject({ kind: "failed", reason: "unknown" })
    expect(fromNameSearch("  ", [jdoeCorp])).toMatchObject({ kind: "failed", reason: "unknown" })
  })
})

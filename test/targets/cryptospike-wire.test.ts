import { describe, expect, it } from "@effect/vitest"
import { CryptoSpikeError, type StorageUser } from "../../src/targets/CryptoSpikeUsers.js"
import {
  ACCESS_PATH,
  activityBody,
  activityPath,
  auditComment,
  blockBody,
  blockedUsersPath,
  classify,
  epochSeconds,
  holderOf,
  joinUrl,
  LOGIN_HINT,
  LOGIN_PATH,
  MAX_COMMENT,
  pagingDone,
  parseActivityPage,
  parseLoginToken,
  parseUsersPage,
  sanitizeComment,
  searchUsersPath,
  stillOursUser,
  TOKEN_HINT,
  unblockBody,
  type AuditDetails,
  type Classified,
  type Page
} from "../../src/targets/cryptospike/wire.js"

const errorOf = (c: Classified): CryptoSpikeError => {
  if (c.ok) throw new Error(`expected an error, got ${JSON.stringify(c.body)}`)
  return c.error
}

const pageOf = <A>(p: Page<A> | CryptoSpikeError): Page<A> => {
  if (p instanceof CryptoSpikeError) throw new Error(`expected a page, got ${p.message}`)
  return p
}

const user = (over: Partial<StorageUser>): StorageUser => ({
  userId: "S-1-5-21-1",
  userIdType: "WINDOWS",
  userName: "",
  userPrincipalName: "",
  blocked: false,
  block: null,
  ...over
})

describe("CryptoSpike wire: paths", () => {
  it("file activity: page, size and epoch-second window", () => {
    expect(activityPath(0, 100, 1767954600, 1767956400)).toBe(
      "/api/v1/audit/dashboard/file-activity/table?page=0&size=100&start=1767954600&end=1767956400"
    )
  })

  it("user search: URL-encodes the name and has no blocked filter", () => {
    const path = searchUsersPath("DOMAIN\\user name & co", 2, 100)
    expect(path).toBe("/api/v1/audit/users?page=2&size=100&search=DOMAIN%5Cuser%20name%20%26%20co&orderBy=&sortDescending=false")
    expect(path).not.toContain("blocked")
    const params = new URL(`https://x${path}`).searchParams
    expect(params.get("search")).toBe("DOMAIN\\user name & co")
    expect([...params.keys()]).toEqual(["page", "size", "search", "orderBy", "sortDescending"])
  })

  it("user search: hostile values stay one parameter", () => {
    const nasty = "a'; DROP TABLE users;--&blocked=false#x=1+2?/%"
    const params = new URL(`https://x${searchUsersPath(nasty, 0, 10)}`).searchParams
    expect(params.get("search")).toBe(nasty)
    expect(params.getAll("blocked")).toEqual([])
    expect(searchUsersPath("jdoe@corp.example", 0, 10)).toContain("search=jdoe%40corp.example&")
  })

  it("blocked list: blocked=true", () => {
    expect(blockedUsersPath(0, 100)).toBe("/api/v1/audit/users?page=0&size=100&blocked=true&orderBy=&sortDescending=false")
  })

  it("fixed paths", () => {
    expect(ACCESS_PATH).toBe("/api/v1/analyzer/events/users/access")
    expect(LOGIN_PATH).toBe("/api/v1/Server/auth/login")
  })

  it("joinUrl keeps a base path as prefix, with or without trailing slash", () => {
    expect(joinUrl("https://cs.example", "/api/v1/x?a=1")).toBe("https://cs.example/api/v1/x?a=1")
    expect(joinUrl("https://cs.example/", "/api/v1/x")).toBe("https://cs.example/api/v1/x")
    expect(joinUrl("https://cs.example:8443/proxy/", "/api/v1/x")).toBe("https://cs.example:8443/proxy/api/v1/x")
    expect(joinUrl(new URL("http://127.0.0.1:9000"), "/api/v1/x")).toBe("http://127.0.0.1:9000/api/v1/x")
  })

  it("epochSeconds: floor for a start, ceil for an end, undefined for junk", () => {
    expect(epochSeconds("2026-01-09T10:30:00Z", "floor")).toBe(1767954600)
    expect(epochSeconds("2026-01-09T10:30:00.500Z", "floor")).toBe(1767954600)
    expect(epochSeconds("2026-01-09T10:30:00.500Z", "ceil")).toBe(1767954601)
    expect(epochSeconds("2026-01-09T10:30:00Z", "ceil")).toBe(1767954600)
    expect(epochSeconds("not a time", "floor")).toBeUndefined()
  })
})

describe("CryptoSpike wire: bodies", () => {
  it("activity filter exactly as spec §3 #3", () => {
    expect(JSON.stringify(activityBody("10.20.30.40"))).toBe(
      JSON.stringify({
        path: "",
        users: [],
        actions: [],
        fileType: [],
        extensions: [],
        clusters: [],
        servers: [],
        shares: [],
        volumes: [],
        ips: ["10.20.30.40"],
        blocked: []
      })
    )
  })

  it("block: WINDOWS, BLOCKED, comment sanitised", () => {
    expect(blockBody("S-1-5-21-1", "hello\u001b[31m\r\nworld")).toEqual({
      userId: "S-1-5-21-1",
      userIdType: "WINDOWS",
      userAccessState: "BLOCKED",
      comment: "hello[31m\nworld"
    })
    expect(blockBody("S", "x".repeat(5000)).comment.length).toBe(MAX_COMMENT)
  })

  it("unblock: the configured state, comment optional", () => {
    expect(unblockBody("S-1", "UNBLOCKED")).toEqual({ userId: "S-1", userIdType: "WINDOWS", userAccessState: "UNBLOCKED" })
    expect(unblockBody("S-1", "ACTIVE", "mitigator: unblocked")).toEqual({
      userId: "S-1",
      userIdType: "WINDOWS",
      userAccessState: "ACTIVE",
      comment: "mitigator: unblocked"
    })
  })
})

describe("CryptoSpike wire: classification", () => {
  it("2xx JSON is data; 2xx without JSON expected is fine", () => {
    expect(classify(200, `{"items":[]}`, { json: true })).toEqual({ ok: true, body: { items: [] } })
    expect(classify(200, "", { json: false })).toEqual({ ok: true, body: undefined })
    expect(classify(204, "", { json: false }).ok).toBe(true)
    expect(classify(200, "<html>ok</html>", { json: false }).ok).toBe(true)
  })

  it("non-JSON 200 where JSON is expected → protocol", () => {
    const e = errorOf(classify(200, "<html>login page</html>", { json: true }))
    expect(e.reason).toBe("protocol")
    expect(e.retryable).toBe(false)
    expect(e.message).toContain("not JSON")
    expect(errorOf(classify(200, "  ", { json: true })).message).toContain("empty body")
  })

  it("401/403 → auth, not retryable, with the token hint (or the login hint)", () => {
    const e = errorOf(classify(401, `{"message":"Token invalid"}`, { json: true }))
    expect(e.reason).toBe("auth")
    expect(e.status).toBe(401)
    expect(e.retryable).toBe(false)
    expect(e.message).toContain("Token invalid")
    expect(e.message).toContain(TOKEN_HINT)
    expect(TOKEN_HINT).toBe("regenerate the API token in CryptoSpike: Settings > System > API Tokens")
    const f = errorOf(classify(403, "", { json: false }))
    expect(f.reason).toBe("auth")
    expect(f.status).toBe(403)
    expect(f.message).toContain("StorageUser")
    expect(errorOf(classify(401, "", { json: true, authHint: LOGIN_HINT })).message).toContain(LOGIN_HINT)
  })

  it("400/404/422 → rejected with the body's message", () => {
    for (const status of [400, 404, 422]) {
      const e = errorOf(classify(status, `{"message":"unknown userAccessState UNBLOCKED"}`, { json: false }))
      expect(e.reason).toBe("rejected")
      expect(e.status).toBe(status)
      expect(e.retryable).toBe(false)
      expect(e.message).toContain("unknown userAccessState UNBLOCKED")
    }
    expect(errorOf(classify(400, `{"error":"bad filter"}`, { json: true })).message).toContain("bad filter")
    expect(errorOf(classify(404, "Not Found", { json: true })).message).toContain("Not Found")
  })

  it("429 and 5xx → server, retryable; 408 → timeout, retryable", () => {
    for (const status of [429, 500, 502, 503, 504]) {
      const e = errorOf(classify(status, "", { json: true }))
      expect(e.reason).toBe("server")
      expect(e.retryable).toBe(true)
      expect(e.status).toBe(status)
    }
    const t = errorOf(classify(408, "", { json: true }))
    expect(t.reason).toBe("timeout")
    expect(t.retryable).toBe(true)
  })

  it("3xx → protocol; appliance text made printable and bounded", () => {
    expect(errorOf(classify(302, "", { json: true })).reason).toBe("protocol")
    const e = errorOf(classify(400, `{"message":"bad\\u001b[2J${"x".repeat(1000)}"}`, { json: true }))
    expect(e.message).not.toContain("\u001b")
    expect(e.message).toContain("\\x1b")
    expect(e.message.length).toBeLessThan(400)
  })
})

describe("CryptoSpike wire: parsing", () => {
  it("activity: userId preferred, else id, with the names a row gives; rows without either skipped and counted", () => {
    const p = pageOf(
      parseActivityPage({
        items: [
          { id: "S-1-5-21-1104" },
          { id: "row-9", userId: "S-1-5-21-2000", username: "CORP\\jdoe", userPrincipalName: "jdoe@corp.example" },
          { userId: "  " },
          { path: "/x" },
          "junk",
          null,
          { id: 42 }
        ],
        totalItems: 7
      })
    )
    const none = { userName: "", userPrincipalName: "" }
    expect(p.rows).toEqual([
      { userId: "S-1-5-21-1104", ...none },
      { userId: "S-1-5-21-2000", userName: "CORP\\jdoe", userPrincipalName: "jdoe@corp.example" },
      { userId: "42", ...none }
    ])
    expect(p.skipped).toBe(4)
    expect(p.count).toBe(7)
    expect(p.totalItems).toBe(7)
  })

  it("activity: no totalItems, empty items, bare array", () => {
    expect(pageOf(parseActivityPage({ items: [] }))).toEqual({ rows: [], count: 0, skipped: 0, totalItems: undefined })
    expect(pageOf(parseActivityPage([{ id: "S-1" }])).rows).toEqual([{ userId: "S-1", userName: "", userPrincipalName: "" }])
    expect(pageOf(parseActivityPage({ items: [], totalItems: -1 })).totalItems).toBeUndefined()
    expect(pageOf(parseActivityPage({ items: [], totalItems: "3" })).totalItems).toBeUndefined()
  })

  it("activity/users: wrong shapes → protocol", () => {
    for (const body of [null, "text", 3, {}, { items: {} }]) {
      const e = parseActivityPage(body)
      expect(e).toBeInstanceOf(CryptoSpikeError)
      expect((e as CryptoSpikeError).reason).toBe("protocol")
      expect(parseUsersPage(body, true)).toBeInstanceOf(CryptoSpikeError)
    }
  })

  it("users: who holds the current block, from blockUnblockInfo (comment, rule matches) or a blockComment; null when the item does not say", () => {
    const p = pageOf(
      parseUsersPage(
        {
          items: [
            { userId: "S-1", blocked: true, blockUnblockInfo: { comment: "mitigator seq=5: Flowmon ADS event 1", blockRuleMatches: [] } },
            { userId: "S-2", blocked: true, blockUnblockInfo: { comment: "Blocked by CryptoSpike", blockRuleMatches: ["Ransomware", { name: "Honeypot" }, 7] } },
            { userId: "S-3", blocked: true, blockUnblockInfo: {} },
            { userId: "S-4", blocked: true, blockComment: "by hand" },
            { userId: "S-5", blocked: true }
          ]
        },
        true
      )
    )
    expect(p.rows.map((u) => u.block)).toEqual([
      { comment: "mitigator seq=5: Flowmon ADS event 1", ruleMatches: [] },
      { comment: "Blocked by CryptoSpike", ruleMatches: ["Ransomware", "Honeypot"] },
      { comment: "", ruleMatches: [] },
      { comment: "by hand", ruleMatches: [] },
      null
    ])
  })

  it("a user's block is still mitigator's while its first line is the one mitigator wrote and no CryptoSpike rule made it", () => {
    const written = "mitigator seq=57: Flowmon ADS event 4711\nMethod: SCANS\nBlocked until: 2026-01-10T12:00:00.000Z"
    expect(stillOursUser({ comment: written, ruleMatches: [] }, written)).toBe(true)
    // The appliance may cut a long comment: the first line names the decision.
    expect(stillOursUser({ comment: "mitigator seq=57: Flowmon ADS event 4711\nMethod: SC", ruleMatches: [] }, written)).toBe(true)
    expect(stillOursUser({ comment: "mitigator seq=58: Flowmon ADS event 4712", ruleMatches: [] }, written)).toBe(false)
    expect(stillOursUser({ comment: "blocked pending HR", ruleMatches: [] }, written)).toBe(false)
    expect(stillOursUser({ comment: written, ruleMatches: ["Ransomware"] }, written)).toBe(false)
    // The same comment with its newlines turned into blanks.
    expect(stillOursUser({ comment: written.replace(/\n/g, "  "), ruleMatches: [] }, written)).toBe(true)
    // Nothing said about who blocked: only the ledger can tell.
    expect(stillOursUser(null, written)).toBe(true)
    expect(stillOursUser({ comment: " ", ruleMatches: [] }, written)).toBe(true)
    expect(stillOursUser({ comment: "", ruleMatches: ["Ransomware"] }, written)).toBe(false)
    // An operator's block (no seq): its first line.
    const byOperator = "mitigator: Flowmon event operator\nMethod: n/a - blocked by alice: case 7"
    expect(stillOursUser({ comment: byOperator, ruleMatches: [] }, byOperator)).toBe(true)
    expect(stillOursUser({ comment: "mitigator: Flowmon event other", ruleMatches: [] }, byOperator)).toBe(false)
    expect(holderOf({ comment: "", ruleMatches: ["Ransomware", "Honeypot"] })).toBe("CryptoSpike (rules: Ransomware, Honeypot)")
    expect(holderOf({ comment: "x", ruleMatches: [] })).toBe("someone else")
    // A rule name is the appliance's text: printable and bounded, a few of them.
    const hostile = holderOf({ comment: "", ruleMatches: ["\u001b]0;pwned\u0007evil\u001b[2J", "x".repeat(5000), "c", "d", "e"] })
    expect(hostile).not.toMatch(/[\u0000-\u001f\u007f]/)
    expect(hostile.length).toBeLessThan(250)
    expect(hostile).toContain("and 2 more")
  })

  it("users: userName or username; missing principal and type → \"\"; blocked from item else query", () => {
    const p = pageOf(
      parseUsersPage(
        {
          items: [
            { userId: "S-1", userIdType: "WINDOWS", resolvedState: "RESOLVED", userName: "jdoe", userPrincipalName: "jdoe@corp.example" },
            { userId: "S-2", username: "asmith" },
            { userId: "S-3", userName: "b", blocked: false },
            { userId: "S-4", userName: "c", blocked: "TRUE" },
            { userId: "S-5", userName: "d", userAccessState: "BLOCKED" },
            { userName: "no id" },
            7
          ],
          totalItems: 12,
          totalUnfilteredItems: 412
        },
        true
      )
    )
    expect(p.rows).toEqual([
      { userId: "S-1", userIdType: "WINDOWS", userName: "jdoe", userPrincipalName: "jdoe@corp.example", blocked: true, block: null },
      { userId: "S-2", userIdType: "", userName: "asmith", userPrincipalName: "", blocked: true, block: null },
      { userId: "S-3", userIdType: "", userName: "b", userPrincipalName: "", blocked: false, block: null },
      { userId: "S-4", userIdType: "", userName: "c", userPrincipalName: "", blocked: true, block: null },
      { userId: "S-5", userIdType: "", userName: "d", userPrincipalName: "", blocked: true, block: null }
    ])
    expect(p.skipped).toBe(2)
    expect(p.count).toBe(7)
    expect(p.totalItems).toBe(12)
    const search = pageOf(parseUsersPage({ items: [{ userId: "S-9", userName: "x" }, { userId: "S-8", blocked: true }] }, false))
    expect(search.rows.map((u) => u.blocked)).toEqual([false, true])
    expect(search.rows[1]?.userName).toBe("")
  })

  it("login token", () => {
    expect(parseLoginToken({ token: "eyJ.e30.sig", lifetime: 3600 })).toBe("eyJ.e30.sig")
    expect(parseLoginToken({ lifetime: 3600 })).toBeUndefined()
    expect(parseLoginToken({ token: "" })).toBeUndefined()
    expect(parseLoginToken("eyJ")).toBeUndefined()
  })

  it("paging ends on a short page or when totalItems is reached, never on a full page alone", () => {
    expect(pagingDone({ count: 100, totalItems: undefined }, 100, 100)).toBe(false)
    expect(pagingDone({ count: 50, totalItems: undefined }, 100, 150)).toBe(true)
    expect(pagingDone({ count: 0, totalItems: undefined }, 100, 200)).toBe(true)
    expect(pagingDone({ count: 100, totalItems: 200 }, 100, 100)).toBe(false)
    expect(pagingDone({ count: 100, totalItems: 200 }, 100, 200)).toBe(true)
    // a server whose page size is capped below ours (50 of 100) is read on, as long as totalItems says so
    expect(pagingDone({ count: 50, totalItems: 120 }, 50, 50)).toBe(false)
  })
})

describe("CryptoSpike wire: audit comment", () => {
  const details: AuditDetails = {
    product: "ADS",
    eventId: "4711",
    method: "SCANS",
    description: "TCP SYN scan",
    source: "10.20.30.40",
    targets: ["10.0.0.1", "10.0.0.2"],
    dataFeed: "core-probe",
    perspective: "Security issues",
    until: "2026-01-10T12:00:00.000Z",
    seq: 57
  }

  it("ADS: names event, method, description, source, user identity, targets, feed, perspective, the user blocked and expiry, one per line", () => {
    expect(
      auditComment({
        ...details,
        userIdentity: "CORP\\jdoe",
        user: { userId: "S-1-5-21-1", userName: "jdoe", userPrincipalName: "jdoe@corp.example" }
      })
    ).toBe(
      [
        "mitigator seq=57: Flowmon ADS event 4711",
        "Method: SCANS - TCP SYN scan",
        "Source: 10.20.30.40",
        "User identity: CORP\\jdoe",
        "Targets: 10.0.0.1, 10.0.0.2",
        "Data feed: core-probe",
        "Perspective: Security issues",
        "Blocked user: jdoe@corp.example (S-1-5-21-1)",
        "Blocked until: 2026-01-10T12:00:00.000Z"
      ].join("\n")
    )
  })

  const ids: AuditDetails = {
    product: "IDS",
    eventId: "9001",
    method: null,
    description: "Potential Corporate Privacy Violation",
    source: "192.0.2.50",
    targets: ["198.51.100.7"],
    dataFeed: null,
    perspective: null,
    ids: {
      signatureId: "2024217",
      signatureName: "ET POLICY example signature",
      sourcePort: "51514",
      targetPort: "443",
      protocol: "TCP",
      category: "Potential Corporate Privacy Violation",
      severity: "2",
      logSourceIp: "203.0.113.10",
      logSourceInterface: "eth2"
    },
    until: "2026-01-10T12:00:00.000Z",
    seq: 58
  }

  it("IDS: names event, signature id and message, both ends with ports, protocol, category, severity, log source and expiry", () => {
    expect(auditComment(ids)).toBe(
      [
        "mitigator seq=58: Flowmon IDS event 9001",
        "Signature: [2024217] ET POLICY example signature",
        "Source: 192.0.2.50:51514 -> Destination: 198.51.100.7:443",
        "Protocol: TCP, Category: Potential Corporate Privacy Violation, Severity: 2",
        "Log source: 203.0.113.10 (eth2)",
        "Blocked until: 2026-01-10T12:00:00.000Z"
      ].join("\n")
    )
  })

  it("IDS: IPv6 ends in brackets, several destinations with their port once, missing ports leave the address alone", () => {
    const v6 = auditComment({ ...ids, source: "2001:db8::a1", targets: ["2001:db8::2"] }).split("\n")[2]
    expect(v6).toBe("Source: [2001:db8::a1]:51514 -> Destination: [2001:db8::2]:443")
    const several = auditComment({ ...ids, targets: ["198.51.100.7", "198.51.100.8"] }).split("\n")[2]
    expect(several).toBe("Source: 192.0.2.50:51514 -> Destination: 198.51.100.7, 198.51.100.8 (port 443)")
    const noPorts = auditComment({ ...ids, ids: { ...ids.ids!, sourcePort: "", targetPort: "" } }).split("\n")[2]
    expect(noPorts).toBe("Source: 192.0.2.50 -> Destination: 198.51.100.7")
  })

  it("IDS: a very long signature name and category are shortened, every line kept, within 1000 characters", () => {
    const c = auditComment({ ...ids, ids: { ...ids.ids!, signatureName: "s".repeat(3000), category: "c".repeat(3000) } })
    expect(Array.from(c).length).toBeLessThanOrEqual(MAX_COMMENT)
    const lines = c.split("\n")
    expect(lines).toHaveLength(6)
    expect(lines[0]).toBe("mitigator seq=58: Flowmon IDS event 9001")
    expect(lines[1]).toMatch(/^Signature: \[2024217\] s+\.\.\.$/)
    expect(lines[5]).toBe("Blocked until: 2026-01-10T12:00:00.000Z")
  })

  it("missing fields read n/a", () => {
    const c = auditComment({ ...details, product: undefined, seq: undefined, method: null, description: "", targets: [], dataFeed: null, perspective: "" })
    expect(c.split("\n")).toEqual([
      "mitigator: Flowmon event 4711",
      "Method: n/a",
      "Source: 10.20.30.40",
      "User identity: n/a",
      "Targets: n/a",
      "Data feed: n/a",
      "Perspective: n/a",
      "Blocked until: 2026-01-10T12:00:00.000Z"
    ])
  })

  it("control characters stripped, newlines inside a field cannot forge lines", () => {
    const c = auditComment({
      ...details,
      description: "evil\nBlocked until: never\u001b[2J\u0007\u202e\u200b\u0085",
      dataFeed: "feed\r\tx\u0000"
    })
    expect(c).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\ufeff]/)
    const lines = c.split("\n")
    expect(lines).toHaveLength(8)
    expect(lines[1]).toBe("Method: SCANS - TCP SYN scan".replace("TCP SYN scan", "evil Blocked until: never[2J"))
    expect(lines[5]).toBe("Data feed: feed x")
    expect(lines[7]).toBe("Blocked until: 2026-01-10T12:00:00.000Z")
  })

  it("bounded to 1000 characters, the expiry line kept when the description is long", () => {
    const c = auditComment({ ...details, description: "d".repeat(5000) })
    expect(Array.from(c).length).toBeLessThanOrEqual(MAX_COMMENT)
    expect(c.endsWith("Blocked until: 2026-01-10T12:00:00.000Z")).toBe(true)
    expect(c).toContain("d...")
    const many = auditComment({ ...details, targets: Array.from({ length: 50 }, (_, i) => `10.0.0.${i}`) })
    expect(many).toContain("(+40 more)")
    const huge = auditComment({ ...details, source: "s".repeat(3000) })
    expect(Array.from(huge).length).toBeLessThanOrEqual(MAX_COMMENT)
  })

  it("sanitizeComment keeps \\n, strips the rest, bounds by code points", () => {
    expect(sanitizeComment("a\nb\r\tc\u007f")).toBe("a\nbc")
    const emoji = sanitizeComment("😀".repeat(1200))
    expect(Array.from(emoji).length).toBe(MAX_COMMENT)
    expect(emoji.endsWith("...")).toBe(true)
  })
})

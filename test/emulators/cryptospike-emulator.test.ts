/**
 * The CryptoSpike emulator over real loopback HTTP(S): auth, file activity, users, block/unblock,
 * the emulator-only endpoints, faults and counts (shared/specs/cryptospike-api.md §8).
 */
import { afterEach, describe, expect, it } from "@effect/vitest"
import * as http from "node:http"
import * as https from "node:https"
import {
  OWN_BLOCK_COMMENT,
  OWN_BLOCK_RULE,
  startCryptoSpikeEmulator,
  type CryptoSpikeEmulatorHandle,
  type CryptoSpikeEmulatorOptions,
  type CryptoSpikeSeed
} from "../../src/emulators/cryptospike/CryptoSpikeEmulator.js"
import { certificateFingerprint } from "../../src/emulators/loadmaster/LoadMasterEmulator.js"

const running: CryptoSpikeEmulatorHandle[] = []

const start = async (options: CryptoSpikeEmulatorOptions = {}): Promise<CryptoSpikeEmulatorHandle> => {
  const cs = await startCryptoSpikeEmulator(options)
  running.push(cs)
  return cs
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((cs) => cs.close()))
})

interface Answer {
  readonly status: number
  readonly text: string
  readonly json: any
}

const parse = (status: number, text: string): Answer => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined
  }
  return { status, text, json }
}

type Headers = Record<string, string>

const call = async (cs: CryptoSpikeEmulatorHandle, method: string, path: string, body?: unknown, headers: Headers = { "x-auth-token": cs.token }) => {
  const res = await fetch(`${cs.url}${path}`, {
    method,
    headers: { "Content-Type": "application/json", accept: "application/json", ...headers },
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) })
  })
  return parse(res.status, await res.text())
}

/** One request on a fresh connection with node:http(s): a reset surfaces as "socket hang up". */
const raw = (cs: CryptoSpikeEmulatorHandle, path: string, ca?: string): Promise<Answer> =>
  new Promise((resolve, reject) => {
    const url = new URL(`${cs.url}${path}`)
    const options: https.RequestOptions = {
      method: "GET",
      hostname: url.hostname,
      port: url.port,
      path: url.pathname + url.search,
      agent: false,
      headers: { "x-auth-token": cs.token },
      ...(ca === undefined ? {} : { ca })
    }
    const req = (url.protocol === "https:" ? https : http).request(options, (res) => {
      const chunks: Buffer[] = []
      res.on("data", (c: Buffer) => chunks.push(c))
      res.on("end", () => resolve(parse(res.statusCode ?? 0, Buffer.concat(chunks).toString("utf8"))))
      res.on("error", reject)
    })
    req.on("error", reject)
    req.end()
  })

const FILTER = { path: "", users: [], actions: [], fileType: [], extensions: [], clusters: [], servers: [], shares: [], volumes: [], ips: [] as string[], blocked: [] }

const activity = (cs: CryptoSpikeEmulatorHandle, ip: string, query: string, headers?: Headers) =>
  call(cs, "POST", `/api/v1/audit/dashboard/file-activity/table?${query}`, { ...FILTER, ips: [ip] }, headers)

const SID = (n: number) => `S-1-5-21-1004336348-1177238915-682003330-${1000 + n}`

const SEED: CryptoSpikeSeed = {
  users: [
    { userId: SID(1), userName: "CORP\\jdoe", userPrincipalName: "jdoe@corp.example" },
    { userId: SID(2), userName: "CORP\\Anna Maria", userPrincipalName: "anna.maria@corp.example" },
    { userId: SID(3), userName: "CORP\\evil", userPrincipalName: "evil@corp.example", blocked: true, blockedBy: "cryptospike", comment: "Learner" },
    { userId: SID(4), userName: "CORP\\intern", userPrincipalName: "intern@corp.example", blockedBy: "admin" }
  ],
  fileActivity: [
    { userId: SID(1), ip: "10.0.0.1", time: "2026-01-10T10:00:00Z", path: "/share/a.txt", action: "WRITE" },
    { userId: SID(2), ip: "10.0.0.2", time: "2026-01-10T10:00:05Z", path: "/share/b.txt", action: "READ" }
  ]
}

describe("authentication", () => {
  it("logs in (token first) and accepts the login token as Bearer and bare; logout ends it", async () => {
    const cs = await start({ seed: SEED })
    expect(cs.login.username).toBe("svc-mitigator")
    expect(cs.token).toMatch(/^xapp-/)
    const bad = await call(cs, "POST", "/api/v1/Server/auth/login", { username: cs.login.username, password: "wrong" }, {})
    expect(bad.status).toBe(401)
    const ok = await call(cs, "POST", "/api/v1/Server/auth/login", { username: cs.login.username, password: cs.login.password }, {})
    expect(ok.status).toBe(200)
    expect(ok.text.startsWith('{"token":')).toBe(true)
    expect(ok.json.lifetime).toBe(3600)
    const jwt: string = ok.json.token
    expect(jwt.split(".")).toHaveLength(3)
    expect(jwt).not.toContain(",")

    for (const headers of [{ Authorization: `Bearer ${jwt}` }, { Authorization: jwt }, { authorization: `bearer ${jwt}` }]) {
      const r = await call(cs, "GET", "/api/v1/audit/users", undefined, headers)
      expect(r.status).toBe(200)
      expect(r.json.totalItems).toBe(4)
    }
    expect((await call(cs, "GET", "/api/v1/Server/auth/logout", undefined, { Authorization: `Bearer ${jwt}` })).status).toBe(200)
    expect((await call(cs, "GET", "/api/v1/audit/users", undefined, { Authorization: `Bearer ${jwt}` })).status).toBe(401)
  })

  it("accepts the app token as x-auth-token only, and answers 401 Token invalid otherwise", async () => {
    const cs = await start({ token: "xapp-secret", login: { username: "u", password: "p" } })
    expect((await call(cs, "GET", "/api/v1/audit/users")).status).toBe(200)
    for (const headers of [{}, { "x-auth-token": "xapp-other" }, { Authorization: "Bearer xapp-secret" }, { Authorization: "Bearer nonsense" }]) {
      const r = await call(cs, "GET", "/api/v1/audit/users", undefined, headers)
      expect([r.status, r.json]).toEqual([401, { message: "Token invalid" }])
    }
    // Login tokens stop working once expired.
    const ok = await call(cs, "POST", "/api/v1/Server/auth/login", { username: "u", password: "p" }, {})
    cs.expireLoginTokens()
    expect((await call(cs, "GET", "/api/v1/audit/users", undefined, { Authorization: ok.json.token })).status).toBe(401)
  })

  it("serves every path style, and status without auth", async () => {
    const cs = await start({ seed: SEED })
    for (const prefix of ["/api/v1", "/api/v1/Server", "/api/v1/server"]) {
      expect((await call(cs, "GET", `${prefix}/audit/users?blocked=true`)).json.totalItems).toBe(2)
    }
    const status = await call(cs, "GET", "/api/v1/Server/status", undefined, {})
    expect(status.status).toBe(200)
    expect(status.json).toEqual({ status: "OK", uptimeSeconds: expect.any(Number) })
    expect((await call(cs, "GET", "/api/v1/nothing/here")).status).toBe(404)
    expect((await call(cs, "GET", "/api/v1/audit/dashboard/file-activity/table")).status).toBe(405)
  })
})

describe("file activity", () => {
  it("pages 120 rows of one IP by 50 in time order, with totalItems, ignoring the ?= quirk", async () => {
    const cs = await start()
    const t0 = Date.parse("2026-01-10T10:00:00Z")
    // Seeded in reverse order: answers are sorted by time.
    const rows = Array.from({ length: 120 }, (_, i) => ({
      userId: SID(i % 2 === 0 ? 1 : 2),
      ip: "10.1.1.1",
      time: new Date(t0 + (119 - i) * 1000).toISOString(),
      path: `/f/${119 - i}`,
      action: "WRITE"
    }))
    cs.seed({ users: SEED.users, fileActivity: [...rows, { userId: SID(3), ip: "10.9.9.9", time: "2026-01-10T10:00:30Z", path: "/x", action: "READ" }] })
    const s = t0 / 1000
    const pages: any[] = []
    for (let page = 0; page < 3; page++) pages.push((await activity(cs, "10.1.1.1", `=&page=${page}&size=50&start=${s}&end=${s + 3600}`)).json)
    expect(pages.map((p) => p.items.length)).toEqual([50, 50, 20])
    expect(pages.every((p) => p.totalItems === 120)).toBe(true)
    const all = pages.flatMap((p) => p.items)
    expect(all.map((r: any) => r.path)).toEqual(Array.from({ length: 120 }, (_, i) => `/f/${i}`))
    expect(all[0]).toEqual({
      id: SID(2),
      userId: SID(2),
      userName: "CORP\\Anna Maria",
      userPrincipalName: SEED.users![1]!.userPrincipalName,
      ip: "10.1.1.1",
      time: "2026-01-10T10:00:00.000Z",
      path: "/f/0",
      action: "WRITE"
    })
    // Default size 50, page 0.
    expect((await activity(cs, "10.1.1.1", "")).json.items).toHaveLength(50)
    // No ips: every row.
    expect((await call(cs, "POST", "/api/v1/audit/dashboard/file-activity/table?page=0&size=500", FILTER)).json.totalItems).toBe(121)
    // Unknown IP: nothing.
    expect((await activity(cs, "10.7.7.7", "page=0&size=50")).json).toEqual({ items: [], totalItems: 0 })
    // Bad paging.
    expect((await activity(cs, "10.1.1.1", "page=-1")).status).toBe(400)
    expect((await activity(cs, "10.1.1.1", "size=abc")).status).toBe(400)
  })

  it("honours the start/end window inclusively in epoch seconds", async () => {
    const cs = await start({ seed: SEED })
    const at = Date.parse("2026-01-10T10:00:00Z") / 1000
    expect((await activity(cs, "10.0.0.1", `start=${at}&end=${at}`)).json.totalItems).toBe(1)
    expect((await activity(cs, "10.0.0.1", `start=${at - 1800}&end=${at - 1}`)).json.totalItems).toBe(0)
    expect((await activity(cs, "10.0.0.1", `start=${at + 1}&end=${at + 1800}`)).json.totalItems).toBe(0)
    // Milliseconds would be far in the future: nothing.
    expect((await activity(cs, "10.0.0.1", `start=${at * 1000}&end=${at * 1000 + 1}`)).json.totalItems).toBe(0)
  })
})

describe("users", () => {
  const users = (cs: CryptoSpikeEmulatorHandle, query: string) => call(cs, "GET", `/api/v1/audit/users?${query}`)

  it("searches by case-insensitive substring of name or principal name, or the whole user id, URL-decoded", async () => {
    const cs = await start({ seed: SEED })
    const search = async (text: string) =>
      (await users(cs, `page=0&size=20&search=${encodeURIComponent(text)}&blocked=&orderBy=&sortDescending=false`)).json
    expect((await search("corp\\JDOE")).items).toEqual([
      { userId: SID(1), userIdType: "WINDOWS", resolvedState: "RESOLVED", userName: "CORP\\jdoe", userPrincipalName: "jdoe@corp.example", blocked: false }
    ])
    expect((await search("anna maria")).items.map((u: any) => u.userId)).toEqual([SID(2)])
    expect((await search("ANNA.MARIA@")).items.map((u: any) => u.userId)).toEqual([SID(2)])
    expect((await search("evil")).items.map((u: any) => [u.userId, u.blocked])).toEqual([[SID(3), true]])
    const nobody = await search("nobody & co")
    expect([nobody.items, nobody.totalItems, nobody.totalUnfilteredItems]).toEqual([[], 0, 4])
    expect((await search("corp")).totalItems).toBe(4)
    // The user id as a whole (how a client finds a user's names by its SID).
    expect((await search(SID(2))).items.map((u: any) => u.userName)).toEqual(["CORP\\Anna Maria"])
    expect((await search(SID(2).slice(0, -2))).items).toEqual([])
  })

  it("filters by blocked and pages with totalItems", async () => {
    const cs = await start()
    cs.seed({
      users: Array.from({ length: 45 }, (_, i) => ({
        userId: SID(i),
        userName: `CORP\\u${i}`,
        userPrincipalName: `u${i}@corp.example`,
        blocked: i % 3 === 0
      }))
    })
    const blocked = []
    for (let page = 0; ; page++) {
      const r = (await users(cs, `page=${page}&size=4&blocked=true&orderBy=EVENT_TIME&sortDescending=true`)).json
      expect(r.totalItems).toBe(15)
      expect(r.totalUnfilteredItems).toBe(45)
      blocked.push(...r.items)
      if (r.items.length < 4) break
    }
    expect(blocked).toHaveLength(15)
    expect(blocked.every((u: any) => u.blocked)).toBe(true)
    expect((await users(cs, "blocked=false")).json.totalItems).toBe(30)
    // Default page size 20.
    expect((await users(cs, "")).json.items).toHaveLength(20)
    expect((await users(cs, "page=2")).json.items).toHaveLength(5)
    expect((await users(cs, "blocked=maybe")).status).toBe(400)
    expect((await users(cs, "quarantined=true")).json.totalItems).toBe(0)
  })
})

describe("block and unblock", () => {
  const access = (cs: CryptoSpikeEmulatorHandle, body: Record<string, unknown>) => call(cs, "POST", "/api/v1/analyzer/events/users/access", body)

  it("blocks with a comment (idempotently), unblocks, and refuses unknown users and states", async () => {
    const cs = await start({ seed: SEED })
    const block = { userId: SID(1), userIdType: "WINDOWS", userAccessState: "BLOCKED", comment: "Flowmon ADS 4711" }
    expect(await access(cs, block)).toEqual({ status: 200, text: "{}", json: {} })
    expect(cs.user(SID(1))).toEqual({ ...SEED.users![0], blocked: true, blockedBy: "api", comment: "Flowmon ADS 4711" })
    expect((await access(cs, { ...block, comment: "again" })).status).toBe(200)
    expect(cs.user(SID(1))?.comment).toBe("again")
    expect((await call(cs, "GET", "/api/v1/audit/users?blocked=true")).json.items.map((u: any) => u.userId)).toEqual([SID(1), SID(3), SID(4)])

    expect(await access(cs, { ...block, userId: "S-1-5-21-9" })).toMatchObject({ status: 404, json: { message: "User not found" } })
    expect((await access(cs, { ...block, userAccessState: "ACTIVE" })).status).toBe(400)
    expect((await access(cs, { ...block, userIdType: "LINUX" })).status).toBe(400)
    expect((await call(cs, "POST", "/api/v1/analyzer/events/users/access", "{not json")).status).toBe(400)

    expect((await access(cs, { ...block, userAccessState: "UNBLOCKED", comment: "" })).status).toBe(200)
    expect(cs.user(SID(1))).toEqual({ ...SEED.users![0], blocked: false })
    // Unblocking a user that is not blocked is fine too.
    expect((await access(cs, { ...block, userAccessState: "UNBLOCKED" })).status).toBe(200)
  })

  it("records every block and unblock request with its comment as sent, and every holder of a user's block", async () => {
    const cs = await start({ seed: SEED })
    const block = { userId: SID(1), userIdType: "WINDOWS", userAccessState: "BLOCKED", comment: "mitigator seq=7: Flowmon ADS event 1\nSource: 10.1.1.1" }
    expect((await access(cs, block)).status).toBe(200)
    cs.blockByAdmin(SID(1), "taken over by hand")
    expect((await access(cs, { userId: SID(1), userIdType: "WINDOWS", userAccessState: "UNBLOCKED" })).status).toBe(200)
    expect((await access(cs, { ...block, userId: "S-1-nobody" })).status).toBe(404)
    expect(cs.accessLog()).toEqual([
      { userId: SID(1), userAccessState: "BLOCKED", comment: block.comment, status: 200 },
      { userId: SID(1), userAccessState: "UNBLOCKED", comment: null, status: 200 },
      { userId: "S-1-nobody", userAccessState: "BLOCKED", comment: block.comment, status: 404 }
    ])
    expect(cs.holders(SID(1))).toEqual([
      { blocked: true, by: "api", comment: block.comment },
      { blocked: true, by: "admin", comment: "taken over by hand" },
      { blocked: false, by: "api", comment: undefined }
    ])
    // A block seeded as CryptoSpike's own is its first holder.
    expect(cs.holders(SID(3))).toEqual([{ blocked: true, by: "cryptospike", comment: "Learner" }])
    cs.resetCounts()
    expect(cs.accessLog()).toEqual([])
  })

  it("refuses a comment over its limit (1000 characters unless set), counted in characters, not bytes", async () => {
    const cs = await start({ seed: SEED })
    const block = { userId: SID(1), userIdType: "WINDOWS", userAccessState: "BLOCKED" }
    expect((await access(cs, { ...block, comment: "é".repeat(1000) })).status).toBe(200)
    expect(await access(cs, { ...block, comment: "x".repeat(1001) })).toMatchObject({ status: 400, json: { message: "'comment' is longer than 1000 characters" } })
    const strict = await start({ seed: SEED, maxCommentLength: 20 })
    expect((await access(strict, { ...block, comment: "x".repeat(21) })).status).toBe(400)
    expect(strict.user(SID(1))?.blocked).toBe(false)
  })

  it("takes the unblock state from the options", async () => {
    const cs = await start({ seed: SEED, unblockState: "ACTIVE" })
    const body = { userId: SID(3), userIdType: "WINDOWS", comment: "" }
    expect((await access(cs, { ...body, userAccessState: "UNBLOCKED" })).status).toBe(400)
    expect((await access(cs, { ...body, userAccessState: "ACTIVE" })).status).toBe(200)
    expect(cs.user(SID(3))?.blocked).toBe(false)
  })

  it("keeps foreign blocks from the seed and from an administrator", async () => {
    const cs = await start({ seed: SEED })
    expect(cs.user(SID(3))).toMatchObject({ blocked: true, blockedBy: "cryptospike", comment: "Learner" })
    expect(cs.user(SID(4))).toMatchObject({ blocked: true, blockedBy: "admin" })
    expect(cs.user(SID(2))).toEqual({ ...SEED.users![1], blocked: false })
    cs.blockByAdmin(SID(2), "manual")
    expect(cs.user(SID(2))).toMatchObject({ blocked: true, blockedBy: "admin", comment: "manual" })
    expect((await call(cs, "GET", "/api/v1/audit/users?search=anna&blocked=true")).json.totalItems).toBe(1)
    cs.unblockByAdmin(SID(2))
    expect(cs.user(SID(2))?.blocked).toBe(false)
    expect(() => cs.blockByAdmin("S-1-nobody")).toThrow(/no user/)
    expect(cs.counts()).toMatchObject({ users: 1 })
  })
})

describe("who blocked a user last", () => {
  const blockedItem = async (cs: CryptoSpikeEmulatorHandle, sid: string) =>
    (await call(cs, "GET", "/api/v1/audit/users?blocked=true&size=100")).json.items.find((u: any) => u.userId === sid)

  it("lists a blocked user's last block: the API's comment, an administrator's, or CryptoSpike's own with its rule", async () => {
    const cs = await start({ seed: SEED })
    const blockCall = { userId: SID(1), userIdType: "WINDOWS", userAccessState: "BLOCKED", comment: "mitigator seq=1: Flowmon ADS event 9" }
    expect((await call(cs, "POST", "/api/v1/analyzer/events/users/access", blockCall)).status).toBe(200)
    expect((await blockedItem(cs, SID(1))).blockUnblockInfo).toMatchObject({ comment: "mitigator seq=1: Flowmon ADS event 9", blockRuleMatches: [] })
    cs.blockByCryptoSpike(SID(1))
    expect(cs.user(SID(1))).toMatchObject({ blocked: true, blockedBy: "cryptospike", comment: OWN_BLOCK_COMMENT })
    expect((await blockedItem(cs, SID(1))).blockUnblockInfo).toMatchObject({ comment: OWN_BLOCK_COMMENT, blockRuleMatches: [OWN_BLOCK_RULE] })
    cs.blockByAdmin(SID(1), "HR hold")
    expect((await blockedItem(cs, SID(1))).blockUnblockInfo).toMatchObject({ comment: "HR hold", blockRuleMatches: [] })
    // Not blocked: nothing to tell.
    const all = (await call(cs, "GET", "/api/v1/audit/users?size=100")).json.items
    expect(all.find((u: any) => u.userId === SID(2)).blockUnblockInfo).toBeUndefined()
    expect(() => cs.blockByCryptoSpike("S-1-nobody")).toThrow(/no user/)
  })

  it("with blockInfo none, the list does not say who blocked", async () => {
    const cs = await start({ seed: SEED, blockInfo: "none" })
    cs.blockByCryptoSpike(SID(1))
    expect((await blockedItem(cs, SID(1))).blockUnblockInfo).toBeUndefined()
  })
})

describe("emulator endpoints", () => {
  it("seeds (appending) and shows the state, with the app token only", async () => {
    const cs = await start({ seed: SEED })
    const added = await call(cs, "POST", "/_emulator/seed", {
      users: [{ userId: SID(9), userName: "CORP\\new", userPrincipalName: "new@corp.example" }],
      fileActivity: [{ userId: SID(9), ip: "10.0.0.9", time: "2026-01-10T11:00:00Z", path: "/n", action: "DELETE" }]
    })
    expect(added.status).toBe(200)
    expect(cs.fileActivityCount()).toBe(3)
    expect((await activity(cs, "10.0.0.9", "")).json.items[0]).toMatchObject({ id: SID(9), userName: "CORP\\new", action: "DELETE" })
    expect((await call(cs, "POST", "/_emulator/seed", { users: [{ userId: 1 }] })).status).toBe(400)
    expect((await call(cs, "POST", "/_emulator/seed", {}, {})).status).toBe(401)

    const state = await call(cs, "GET", "/_emulator/state")
    expect(state.status).toBe(200)
    expect(state.json.fileActivityCount).toBe(3)
    expect(state.json.users).toHaveLength(5)
    expect(state.json.users[2]).toEqual({ ...SEED.users![2] })
    expect((await call(cs, "GET", "/_emulator/state", undefined, {})).status).toBe(401)
    expect(cs.counts()).toMatchObject({ seed: 3, state: 2 })
  })
})

describe("faults and counts", () => {
  it("failRate 1 answers 503, resetRate 1 resets, authFailures answers 401", async () => {
    const cs = await start({ seed: SEED, faults: { failRate: 1 } })
    expect((await call(cs, "GET", "/api/v1/audit/users")).status).toBe(503)
    cs.setFaults({ resetRate: 1 })
    await expect(raw(cs, "/api/v1/audit/users")).rejects.toThrow(/socket hang up/)
    cs.setFaults({ authFailures: true })
    expect((await call(cs, "GET", "/api/v1/audit/users")).status).toBe(401)
    expect((await call(cs, "POST", "/api/v1/Server/auth/login", { username: cs.login.username, password: cs.login.password }, {})).status).toBe(401)
    expect((await call(cs, "GET", "/api/v1/Server/status", undefined, {})).status).toBe(200)
    // The emulator endpoints are never faulted.
    expect((await call(cs, "GET", "/_emulator/state")).status).toBe(200)
    cs.setFaults({})
    expect((await call(cs, "GET", "/api/v1/audit/users")).status).toBe(200)
    expect(() => cs.setFaults({ failRate: 2 })).toThrow(RangeError)
  })

  it("uses the injected random source and delays by latencyMs", async () => {
    const rolls = [0.9, 0.1, 0.6]
    const cs = await start({ faults: { failRate: 0.5, latencyMs: 100 }, random: () => rolls.shift() ?? 0.99 })
    const t0 = performance.now()
    const statuses: number[] = []
    for (let i = 0; i < 4; i++) statuses.push((await call(cs, "GET", "/api/v1/Server/status")).status)
    expect(statuses).toEqual([200, 503, 200, 200])
    expect(performance.now() - t0).toBeGreaterThanOrEqual(390)
  })

  it("counts requests by kind until reset", async () => {
    const cs = await start({ seed: SEED })
    await call(cs, "POST", "/api/v1/Server/auth/login", { username: cs.login.username, password: cs.login.password }, {})
    await call(cs, "POST", "/api/v1/Server/auth/login", { username: "x", password: "y" }, {})
    await activity(cs, "10.0.0.1", "")
    await call(cs, "GET", "/api/v1/audit/users")
    await call(cs, "GET", "/api/v1/audit/users", undefined, {})
    await call(cs, "POST", "/api/v1/analyzer/events/users/access", { userId: SID(1), userIdType: "WINDOWS", userAccessState: "BLOCKED", comment: "" })
    await call(cs, "GET", "/api/v1/Server/status")
    await call(cs, "GET", "/_emulator/state")
    cs.setFaults({ failRate: 1 })
    await call(cs, "GET", "/api/v1/audit/users")
    expect(cs.counts()).toEqual({ login: 2, activity: 1, users: 2, access: 1, status: 1, state: 1, rejected: 2, faulted: 1 })
    cs.resetCounts()
    expect(cs.counts()).toEqual({})
    cs.seed({ users: [] })
    expect(cs.counts()).toEqual({})
  })
})

describe("HTTPS", () => {
  it("serves with a generated self-signed certificate", async () => {
    const cs = await start({ tls: true, seed: SEED })
    expect(cs.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/)
    const pem = cs.certificatePem!
    expect(cs.fingerprint).toBe(certificateFingerprint(pem))
    const r = await raw(cs, "/api/v1/audit/users?blocked=true", pem)
    expect([r.status, r.json.totalItems]).toEqual([200, 2])
    await expect(raw(cs, "/api/v1/audit/users")).rejects.toThrow(/self[- ]signed/i)
  })
})

describe("volume", () => {
  it("finds one IP's rows among 200,000", async () => {
    const cs = await start()
    const t0 = Date.parse("2026-01-10T00:00:00Z")
    const rows = Array.from({ length: 200_000 }, (_, i) => ({
      userId: SID(i % 500),
      ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      time: new Date(t0 + i * 1000).toISOString(),
      path: `/f/${i}`,
      action: "WRITE"
    }))
    // Three extra rows for one address, out of time order.
    rows.push({ userId: SID(7), ip: "10.0.0.5", time: new Date(t0 + 10).toISOString(), path: "/extra/1", action: "READ" })
    rows.push({ userId: SID(8), ip: "10.0.0.5", time: new Date(t0 + 3_000).toISOString(), path: "/extra/2", action: "READ" })
    cs.seed({ users: [{ userId: SID(7), userName: "CORP\\seven", userPrincipalName: "seven@corp.example" }], fileActivity: rows })
    expect(cs.fileActivityCount()).toBe(200_002)
    const s = t0 / 1000
    const r = await activity(cs, "10.0.0.5", `page=0&size=50&start=${s}&end=${s + 10}`)
    expect(r.json.totalItems).toBe(3)
    expect(r.json.items.map((x: any) => [x.path, x.id])).toEqual([
      ["/extra/1", SID(7)],
      ["/extra/2", SID(8)],
      ["/f/5", SID(5)]
    ])
  })
})

/**
 * A local stand-in for a ProLion CryptoSpike leader's REST API, for tests and demos.
 * A real HTTP or HTTPS server on loopback, answering (spec: shared/specs/cryptospike-api.md §1-§5,
 * §8 "Emulator"; `{P}` = `/api/v1`, `{S}` = `/api/v1/Server`, and `/api/v1/server` is `{S}` too —
 * every path below answers under all three prefixes):
 *
 * - `POST {S}/auth/login` `{username, password}` → `{"token":"<jwt-like>","lifetime":3600}` (token
 *   first), wrong credentials 401; `GET {S}/auth/logout` → 200 (ends a login token when one is sent);
 * - `POST {P}/audit/dashboard/file-activity/table?page=&size=&start=&end=` with the filter body
 *   (only `ips` is honoured) → `{items:[{id:<SID>, userId, userName, userPrincipalName, ip, time, path, action}], totalItems}`;
 * - `GET {P}/audit/users?page=&size=&search=&blocked=&orderBy=&sortDescending=` →
 *   `{items:[{userId, userIdType, resolvedState, userName, userPrincipalName, blocked, blockUnblockInfo?}], totalItems, totalUnfilteredItems}`;
 *   a blocked user carries `blockUnblockInfo: {comment, blockRuleMatches, csInstanceName}` of its
 *   last block (the names of CryptoSpike's block events; whether the REST list carries them is
 *   not attested: `blockInfo: "none"` leaves them out, as a list that does not tell);
 * - `POST {P}/analyzer/events/users/access` `{userId, userIdType:"WINDOWS", userAccessState, comment}`
 *   → 200 `{}`: `BLOCKED` blocks, the configured unblock state (default `UNBLOCKED`) unblocks; a
 *   comment over `maxCommentLength` characters (default 1000) is 400. Every such request is
 *   recorded as received (`accessLog()`), and every change of a user's block with who made it
 *   (`holders(userId)`);
 * - `GET {S}/status` (no auth) → `{"status":"OK","uptimeSeconds":n}`;
 * - emulator-only, with the app token: `POST /_emulator/seed` (appends a seed) and
 *   `GET /_emulator/state` (users with blocked/blockedBy/comment, and the activity count).
 *
 * Auth: `x-auth-token: <app token>`, or a login token as `Authorization: Bearer <t>` or bare
 * `Authorization: <t>`; anything else is 401 `{"message":"Token invalid"}` (body assumed).
 *
 * Where the real appliance's behaviour is unknown (the spec's "Uncertain" list), the choices are:
 * the unblock state is an option; re-blocking is 200 and records the new comment and origin;
 * unblocking a user that is not blocked is 200; `search` matches the user id too (so a client can
 * look up a user's names by its SID; a real appliance may not); comments are limited to 1000
 * characters (no limit is documented: this is the bound mitigator keeps); the row `id` is the user's SID; `start`/`end` are
 * inclusive epoch seconds; `quarantined=true` matches nobody (no quarantine here) and `active` is
 * ignored; blocks never expire. Faults apply to every API path but not to `/_emulator/*`.
 *
 * Plain Node on purpose (like the LoadMaster emulator): it is a test fixture.
 */
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as http from "node:http"
import { certificateFingerprint, emulatorTlsMaterial } from "../loadmaster/LoadMasterEmulator.js"
import { checkFaults, networkFault, type NetworkFaults } from "../faults.js"
import { echoText, sendHugeBody, type OddAnswers } from "../oddAnswers.js"
import { serveHttp } from "../serveHttp.js"

// ---------------------------------------------------------------------------------------------
// Public types

/** Who blocked a user: CryptoSpike's own detection, an administrator in the UI, or the REST API. */
export type BlockedBy = "cryptospike" | "admin" | "api"

export interface SeedUser {
  readonly userId: string
  readonly userName: string
  readonly userPrincipalName: string
  /** default false (true when `blockedBy` is given) */
  readonly blocked?: boolean | undefined
  /** for pre-blocked users; default "cryptospike" */
  readonly blockedBy?: BlockedBy | undefined
  readonly comment?: string | undefined
}

export interface SeedActivity {
  readonly userId: string
  readonly ip: string
  /** ISO 8601 */
  readonly time: string
  readonly path?: string | undefined
  readonly action?: string | undefined
}

/** The `--seed` file and `POST /_emulator/seed` body. */
export interface CryptoSpikeSeed {
  readonly users?: ReadonlyArray<SeedUser> | undefined
  readonly fileActivity?: ReadonlyArray<SeedActivity> | undefined
}

/** The network faults, the odd answers (an echo is a 400 `{message:<echo>}`), and CryptoSpike's own. */
export interface CryptoSpikeFaults extends NetworkFaults, OddAnswers {
  /** every call (but `status`) is answered 401, login included */
  readonly authFailures?: boolean | undefined
}

/**
 * The shape of list answers (users, file activity). Known: `page` (the default: `{items,
 * totalItems}`, users with `totalUnfilteredItems`), `items` (`{items}` alone), `array` (the
 * items as a bare array). No client knows `unknown` (`{content, totalElements}`, a Spring page)
 * or `split` (an empty `items`, the items beside it under `content`).
 */
export type CryptoSpikeListShape = "page" | "items" | "array" | "unknown" | "split"

export interface CryptoSpikeEmulatorOptions {
  /** 0 (default) = any free port */
  readonly port?: number | undefined
  /**
   * answer with a `Date` header (default true); false: none, as behind a proxy that strips it
   * (and for tests that move their own clock, which the emulator's real one would contradict)
   */
  readonly sendDate?: boolean | undefined
  /** default 127.0.0.1 */
  readonly host?: string | undefined
  /** the application token (`x-auth-token`); default `xapp-` + random */
  readonly token?: string | undefined
  /** the account `auth/login` accepts; default user "svc-mitigator" with a random password */
  readonly login?: { readonly username: string; readonly password: string } | undefined
  /** `lifetime` of login tokens in seconds (default 3600); they stop working after it */
  readonly loginLifetimeSeconds?: number | undefined
  readonly tls?: boolean | undefined
  /** PEM; when `tls` is set and these are absent, a self-signed certificate is made with openssl */
  readonly tlsCert?: string | undefined
  readonly tlsKey?: string | undefined
  readonly seed?: CryptoSpikeSeed | undefined
  /** the `userAccessState` that unblocks (default "UNBLOCKED"); other values but BLOCKED are 400 */
  readonly unblockState?: string | undefined
  /** default "blockUnblockInfo": user items tell who blocked last; "none": they do not */
  readonly blockInfo?: "blockUnblockInfo" | "none" | undefined
  /** default "page" */
  readonly listShape?: CryptoSpikeListShape | undefined
  /**
   * what a file-activity row carries: "full" (default: id, userId, names, ip, time, path,
   * action) or "id" (only `id`, the one attested field: names must be looked up elsewhere)
   */
  readonly activityRows?: "full" | "id" | undefined
  /** the longest comment a block or unblock may carry, in characters (default 1000); longer is 400 */
  readonly maxCommentLength?: number | undefined
  readonly faults?: CryptoSpikeFaults | undefined
  /** for the fault dice; default Math.random */
  readonly random?: (() => number) | undefined
}

/** A user as the emulator holds it (the API shows only the attested fields). */
export interface EmulatedUser {
  readonly userId: string
  readonly userName: string
  readonly userPrincipalName: string
  readonly blocked: boolean
  readonly blockedBy?: BlockedBy
  readonly comment?: string
}

/** One block/unblock request as the emulator received it (`accessLog()`). */
export interface AccessRequest {
  readonly userId: string
  readonly userAccessState: string
  /** the comment exactly as sent; null when the request had none */
  readonly comment: string | null
  /** the status it was answered with */
  readonly status: number
}

/** A change of a user's block (`holders()`): who blocked or unblocked it, and with which comment. */
export interface HolderChange {
  readonly blocked: boolean
  readonly by: BlockedBy
  readonly comment: string | undefined
}

/** Request kinds counted by `counts()`; `rejected` and `faulted` are counted on top. */
export type CryptoSpikeRequestKind =
  | "login"
  | "logout"
  | "activity"
  | "users"
  | "access"
  | "status"
  | "seed"
  | "state"
  | "other"
  | "rejected"
  | "faulted"

export interface CryptoSpikeEmulatorHandle {
  /** `http://127.0.0.1:PORT` or `https://...` (append `/api/v1/...`) */
  readonly url: string
  readonly port: number
  /** the application token */
  readonly token: string
  readonly login: { readonly username: string; readonly password: string }
  readonly certificatePem?: string
  /** SHA-256 of the certificate's DER, upper-case hex pairs joined by ':' */
  readonly fingerprint?: string
  /** a copy of every user, in insertion order */
  readonly users: () => EmulatedUser[]
  readonly user: (userId: string) => EmulatedUser | undefined
  readonly fileActivityCount: () => number
  /** appends (users with a known userId are replaced); throws on an invalid seed; not counted */
  readonly seed: (data: CryptoSpikeSeed) => void
  /** replaces the faults (`setFaults({})` clears them) */
  readonly setFaults: (faults: CryptoSpikeFaults) => void
  readonly setListShape: (shape: CryptoSpikeListShape) => void
  readonly counts: () => Partial<Record<CryptoSpikeRequestKind, number>>
  /** resets the counts and the access log */
  readonly resetCounts: () => void
  /** every well-formed block/unblock request (after auth), in order, with its comment as sent */
  readonly accessLog: () => AccessRequest[]
  /** every change of the user's block, in order, whoever made it (seeded blocks included) */
  readonly holders: (userId: string) => HolderChange[]
  /** an administrator blocks the user in the UI (blockedBy "admin"); throws for an unknown user */
  readonly blockByAdmin: (userId: string, comment?: string) => void
  /** CryptoSpike blocks the user by itself (its own detection, blockedBy "cryptospike"); throws for an unknown user */
  readonly blockByCryptoSpike: (userId: string, comment?: string) => void
  /** an administrator unblocks the user in the UI; throws for an unknown user */
  readonly unblockByAdmin: (userId: string) => void
  /** every login token issued so far stops working (as if their lifetime had passed) */
  readonly expireLoginTokens: () => void
  readonly close: () => Promise<void>
}

export const DEFAULT_LOGIN_USER = "svc-mitigator"
/** The comment and rule of a block CryptoSpike makes by itself, when none is given. */
export const OWN_BLOCK_COMMENT = "Blocked by CryptoSpike: suspicious file activity"
export const OWN_BLOCK_RULE = "Ransomware behaviour"
export const DEFAULT_ACTIVITY_PAGE_SIZE = 50
export const DEFAULT_USERS_PAGE_SIZE = 20
export const DEFAULT_MAX_COMMENT_LENGTH = 1000

// ---------------------------------------------------------------------------------------------
// Seeds

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

const BLOCKED_BY: ReadonlyArray<BlockedBy> = ["cryptospike", "admin", "api"]

/** Checks a seed (parsed JSON); throws an Error naming the first problem. */
export const parseSeed = (u: unknown): CryptoSpikeSeed => {
  if (!isRecord(u)) throw new Error("a seed must be a JSON object with `users` and/or `fileActivity`")
  const users = u["users"] ?? []
  const activity = u["fileActivity"] ?? []
  if (!Array.isArray(users)) throw new Error("seed: `users` must be an array")
  if (!Array.isArray(activity)) throw new Error("seed: `fileActivity` must be an array")
  const outUsers: SeedUser[] = []
  users.forEach((x: unknown, i) => {
    if (!isRecord(x)) throw new Error(`seed: users[${i}] must be an object`)
    for (const key of ["userId", "userName", "userPrincipalName"] as const) {
      if (typeof x[key] !== "string") throw new Error(`seed: users[${i}].${key} must be a string`)
    }
    if (x["userId"] === "") throw new Error(`seed: users[${i}].userId must not be empty`)
    if (x["blocked"] !== undefined && typeof x["blocked"] !== "boolean") throw new Error(`seed: users[${i}].blocked must be a boolean`)
    const by = x["blockedBy"]
    if (by !== undefined && !BLOCKED_BY.includes(by as BlockedBy)) {
      throw new Error(`seed: users[${i}].blockedBy must be one of ${BLOCKED_BY.join(", ")}`)
    }
    if (x["comment"] !== undefined && typeof x["comment"] !== "string") throw new Error(`seed: users[${i}].comment must be a string`)
    outUsers.push({
      userId: x["userId"] as string,
      userName: x["userName"] as string,
      userPrincipalName: x["userPrincipalName"] as string,
      blocked: x["blocked"] as boolean | undefined,
      blockedBy: by as BlockedBy | undefined,
      comment: x["comment"] as string | undefined
    })
  })
  const outActivity: SeedActivity[] = []
  activity.forEach((x: unknown, i) => {
    if (!isRecord(x)) throw new Error(`seed: fileActivity[${i}] must be an object`)
    for (const key of ["userId", "ip", "time"] as const) {
      if (typeof x[key] !== "string") throw new Error(`seed: fileActivity[${i}].${key} must be a string`)
    }
    if (Number.isNaN(Date.parse(x["time"] as string))) throw new Error(`seed: fileActivity[${i}].time is not an ISO date-time`)
    for (const key of ["path", "action"] as const) {
      if (x[key] !== undefined && typeof x[key] !== "string") throw new Error(`seed: fileActivity[${i}].${key} must be a string`)
    }
    outActivity.push({
      userId: x["userId"] as string,
      ip: x["ip"] as string,
      time: x["time"] as string,
      path: x["path"] as string | undefined,
      action: x["action"] as string | undefined
    })
  })
  return { users: outUsers, fileActivity: outActivity }
}

/** Reads and checks a seed file; throws an Error naming the file. */
export const loadSeed = (file: string): CryptoSpikeSeed => {
  let parsed: unknown
  try {
    parsed = JSON.parse(fs.readFileSync(file, "utf8"))
  } catch (e) {
    throw new Error(`${file}: cannot read the seed: ${e instanceof Error ? e.message : String(e)}`)
  }
  try {
    return parseSeed(parsed)
  } catch (e) {
    throw new Error(`${file}: ${e instanceof Error ? e.message : String(e)}`)
  }
}

// ---------------------------------------------------------------------------------------------
// The emulator

interface StoredUser {
  userId: string
  userName: string
  userPrincipalName: string
  blocked: boolean
  blockedBy: BlockedBy | undefined
  comment: string | undefined
  /** order of the last block/unblock event (EVENT_TIME ordering); 0 = none */
  eventSeq: number
  /** insertion order */
  order: number
}

interface Row {
  readonly seq: number
  readonly userId: string
  readonly ip: string
  readonly timeMs: number
  readonly timeSec: number
  readonly time: string
  readonly path: string
  readonly action: string
}

/** Rows kept sorted by time lazily: appends mark the list unsorted, a query sorts it once. */
interface RowList {
  rows: Row[]
  sorted: boolean
}

type Reply = { readonly status: number; readonly body: unknown }

const reply = (status: number, body: unknown): Reply => ({ status, body })
const message = (status: number, text: string): Reply => reply(status, { message: text })

const byTime = (a: Row, b: Row) => a.timeMs - b.timeMs || a.seq - b.seq

const base64url = (data: string | Buffer): string => Buffer.from(data).toString("base64url")

/** A JWT-shaped token (HS256 over a random key): `header.payload.signature`, no commas. */
const jwtLike = (key: Buffer, subject: string, lifetimeSeconds: number): string => {
  const now = Math.floor(Date.now() / 1000)
  const header = base64url(JSON.stringify({ alg: "HS256", typ: "JWT" }))
  const payload = base64url(JSON.stringify({ sub: subject, iat: now, exp: now + lifetimeSeconds, jti: crypto.randomUUID() }))
  const signature = crypto.createHmac("sha256", key).update(`${header}.${payload}`).digest("base64url")
  return `${header}.${payload}.${signature}`
}

/** `/api/v1/x`, `/api/v1/Server/x`, `/api/v1/server/x` → `x`; else undefined. */
const servicePath = (pathname: string): string | undefined => {
  const m = /^\/api\/v1(?:\/[Ss]erver)?(\/.*)$/.exec(pathname)
  if (m === null) return undefined
  const rest = m[1]!.replace(/\/+$/, "")
  return rest === "" ? "/" : rest
}

export const startCryptoSpikeEmulator = async (options: CryptoSpikeEmulatorOptions = {}): Promise<CryptoSpikeEmulatorHandle> => {
  const host = options.host ?? "127.0.0.1"
  const token = options.token ?? `xapp-${base64url(crypto.randomBytes(24))}`
  const login = options.login ?? { username: DEFAULT_LOGIN_USER, password: crypto.randomBytes(12).toString("base64url") }
  const lifetime = options.loginLifetimeSeconds ?? 3600
  const unblockState = options.unblockState ?? "UNBLOCKED"
  const blockInfo = options.blockInfo ?? "blockUnblockInfo"
  let listShape: CryptoSpikeListShape = options.listShape ?? "page"
  if (unblockState === "BLOCKED") throw new Error("unblockState cannot be BLOCKED")
  checkFaults(options.faults ?? {})
  let faults: CryptoSpikeFaults = { ...options.faults }
  const random = options.random ?? Math.random
  const signingKey = crypto.randomBytes(32)
  const startedAt = Date.now()

  // State.
  const users = new Map<string, StoredUser>()
  let userOrder = 0
  let eventSeq = 0
  const byIp = new Map<string, RowList>()
  const all: RowList = { rows: [], sorted: true }
  let rowSeq = 0
  /** login token → expiry (ms) */
  const loginTokens = new Map<string, number>()

  const maxCommentLength = options.maxCommentLength ?? DEFAULT_MAX_COMMENT_LENGTH
  let accessLog: AccessRequest[] = []
  const history = new Map<string, HolderChange[]>()
  const recordHolder = (userId: string, change: HolderChange) => {
    const list = history.get(userId)
    if (list === undefined) history.set(userId, [change])
    else list.push(change)
  }
  let counts: Partial<Record<CryptoSpikeRequestKind, number>> = {}
  const count = (kind: CryptoSpikeRequestKind) => {
    counts[kind] = (counts[kind] ?? 0) + 1
  }

  const applySeed = (data: CryptoSpikeSeed) => {
    const checked = parseSeed(data)
    for (const u of checked.users ?? []) {
      const blocked = u.blocked ?? u.blockedBy !== undefined
      const existing = users.get(u.userId)
      users.set(u.userId, {
        userId: u.userId,
        userName: u.userName,
        userPrincipalName: u.userPrincipalName,
        blocked,
        blockedBy: blocked ? (u.blockedBy ?? "cryptospike") : undefined,
        comment: blocked ? u.comment : undefined,
        eventSeq: blocked ? ++eventSeq : 0,
        order: existing?.order ?? ++userOrder
      })
      if (blocked) recordHolder(u.userId, { blocked, by: u.blockedBy ?? "cryptospike", comment: u.comment })
    }
    for (const a of checked.fileActivity ?? []) {
      const timeMs = Date.parse(a.time)
      const row: Row = {
        seq: ++rowSeq,
        userId: a.userId,
        ip: a.ip,
        timeMs,
        timeSec: Math.floor(timeMs / 1000),
        time: new Date(timeMs).toISOString(),
        path: a.path ?? "",
        action: a.action ?? ""
      }
      let list = byIp.get(row.ip)
      if (list === undefined) {
        list = { rows: [], sorted: true }
        byIp.set(row.ip, list)
      }
      const lastOf = (l: RowList) => l.rows[l.rows.length - 1]
      const last = lastOf(list)
      if (last !== undefined && byTime(last, row) > 0) list.sorted = false
      list.rows.push(row)
      const lastAll = lastOf(all)
      if (lastAll !== undefined && byTime(lastAll, row) > 0) all.sorted = false
      all.rows.push(row)
    }
  }
  applySeed(options.seed ?? {})

  const sortedRows = (list: RowList): Row[] => {
    if (!list.sorted) {
      list.rows.sort(byTime)
      list.sorted = true
    }
    return list.rows
  }

  const copyUser = (u: StoredUser): EmulatedUser => ({
    userId: u.userId,
    userName: u.userName,
    userPrincipalName: u.userPrincipalName,
    blocked: u.blocked,
    ...(u.blockedBy === undefined ? {} : { blockedBy: u.blockedBy }),
    ...(u.comment === undefined ? {} : { comment: u.comment })
  })

  const setBlocked = (userId: string, blocked: boolean, by: BlockedBy, comment: string | undefined) => {
    const u = users.get(userId)
    if (u === undefined) return false
    u.blocked = blocked
    u.blockedBy = blocked ? by : undefined
    u.comment = blocked ? comment : undefined
    u.eventSeq = ++eventSeq
    recordHolder(userId, { blocked, by, comment: blocked ? comment : undefined })
    return true
  }

  const tlsMaterial = await emulatorTlsMaterial(options, host)

  // --- query parameters ------------------------------------------------------------------------

  /** A non-negative integer parameter; empty/absent → fallback; else an error reply. */
  const intParam = (q: URLSearchParams, name: string, fallback: number, min: number): number | Reply => {
    const text = (q.get(name) ?? "").trim()
    if (text === "") return fallback
    if (!/^-?[0-9]{1,15}$/.test(text) || Number(text) < min) return message(400, `Invalid value for parameter '${name}': ${text}`)
    return Number(text)
  }

  const boolParam = (q: URLSearchParams, name: string): boolean | undefined | Reply => {
    const text = (q.get(name) ?? "").trim().toLowerCase()
    if (text === "") return undefined
    if (text === "true") return true
    if (text === "false") return false
    return message(400, `Invalid value for parameter '${name}': ${text}`)
  }

  const isReply = (u: unknown): u is Reply => isRecord(u) && typeof u["status"] === "number" && "body" in u

  const page = <A>(items: ReadonlyArray<A>, pageNo: number, size: number): A[] => items.slice(pageNo * size, pageNo * size + size)

  /** A page of a list in the configured shape; `extra`: the totals the `page` shape carries. */
  const listReply = (items: ReadonlyArray<unknown>, extra: Record<string, number>): Reply => {
    switch (listShape) {
      case "page":
        return reply(200, { items, ...extra })
      case "items":
        return reply(200, { items })
      case "array":
        return reply(200, items)
      case "unknown":
        return reply(200, { content: items, totalElements: extra["totalItems"] })
      case "split":
        return reply(200, { items: [], content: items })
    }
  }

  // --- operations ------------------------------------------------------------------------------

  const fileActivity = (q: URLSearchParams, body: unknown): Reply => {
    const pageNo = intParam(q, "page", 0, 0)
    const size = intParam(q, "size", DEFAULT_ACTIVITY_PAGE_SIZE, 1)
    const start = intParam(q, "start", Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY)
    const end = intParam(q, "end", Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY)
    for (const p of [pageNo, size, start, end]) if (isReply(p)) return p
    if (body !== undefined && !isRecord(body)) return message(400, "The request body must be a JSON object")
    const ipsValue = isRecord(body) ? body["ips"] : undefined
    if (ipsValue !== undefined && ipsValue !== null && !Array.isArray(ipsValue)) return message(400, "'ips' must be an array")
    const ips = [...new Set((ipsValue ?? []).filter((x: unknown): x is string => typeof x === "string" && x !== ""))]

    let candidates: Row[]
    if (ips.length === 0) candidates = sortedRows(all)
    else {
      candidates = ips.flatMap((ip) => {
        const list = byIp.get(ip)
        return list === undefined ? [] : sortedRows(list)
      })
      if (ips.length > 1) candidates.sort(byTime)
    }
    const s = start as number
    const e = end as number
    const matching = s === Number.NEGATIVE_INFINITY && e === Number.POSITIVE_INFINITY ? candidates : candidates.filter((r) => r.timeSec >= s && r.timeSec <= e)
    const rowsOnPage = page(matching, pageNo as number, size as number)
    if (options.activityRows === "id") return listReply(rowsOnPage.map((r) => ({ id: r.userId })), { totalItems: matching.length })
    const items = rowsOnPage.map((r) => ({
      id: r.userId,
      userId: r.userId,
      userName: users.get(r.userId)?.userName ?? "",
      userPrincipalName: users.get(r.userId)?.userPrincipalName ?? "",
      ip: r.ip,
      time: r.time,
      path: r.path,
      action: r.action
    }))
    return listReply(items, { totalItems: matching.length })
  }

  const listUsers = (q: URLSearchParams): Reply => {
    const pageNo = intParam(q, "page", 0, 0)
    const size = intParam(q, "size", DEFAULT_USERS_PAGE_SIZE, 1)
    const blocked = boolParam(q, "blocked")
    const quarantined = boolParam(q, "quarantined")
    const descending = boolParam(q, "sortDescending")
    for (const p of [pageNo, size, blocked, quarantined, descending]) if (isReply(p)) return p
    const search = (q.get("search") ?? "").trim().toLowerCase()
    const orderBy = (q.get("orderBy") ?? "").trim().toUpperCase()

    const everyone = [...users.values()]
    let found = everyone.filter(
      (u) =>
        (blocked === undefined || u.blocked === blocked) &&
        quarantined !== true &&
        (search === "" ||
          u.userName.toLowerCase().includes(search) ||
          u.userPrincipalName.toLowerCase().includes(search) ||
          u.userId.toLowerCase() === search)
    )
    if (orderBy === "EVENT_TIME") found.sort((a, b) => a.eventSeq - b.eventSeq || a.order - b.order)
    else if (orderBy === "USER_NAME" || orderBy === "USERNAME") found.sort((a, b) => a.userName.localeCompare(b.userName) || a.order - b.order)
    if (descending === true) found = found.reverse()
    const items = page(found, pageNo as number, size as number).map((u) => ({
      userId: u.userId,
      userIdType: "WINDOWS",
      resolvedState: "RESOLVED",
      userName: u.userName,
      userPrincipalName: u.userPrincipalName,
      blocked: u.blocked,
      ...(u.blocked && blockInfo === "blockUnblockInfo"
        ? {
            blockUnblockInfo: {
              comment: u.comment ?? (u.blockedBy === "cryptospike" ? OWN_BLOCK_COMMENT : ""),
              blockRuleMatches: u.blockedBy === "cryptospike" ? [OWN_BLOCK_RULE] : [],
              csInstanceName: "cryptospike-emulator"
            }
          }
        : {})
    }))
    return listReply(items, { totalItems: found.length, totalUnfilteredItems: everyone.length })
  }

  const access = (body: unknown): Reply => {
    if (!isRecord(body)) return message(400, "The request body must be a JSON object")
    const userId = body["userId"]
    if (typeof userId !== "string" || userId === "") return message(400, "'userId' is required")
    if (body["userIdType"] !== "WINDOWS") return message(400, `Unsupported userIdType: ${JSON.stringify(body["userIdType"] ?? null)}`)
    const state = body["userAccessState"]
    if (state !== "BLOCKED" && state !== unblockState) return message(400, `Unsupported userAccessState: ${JSON.stringify(state ?? null)}`)
    const comment = body["comment"]
    if (comment !== undefined && comment !== null && typeof comment !== "string") return message(400, "'comment' must be a string")
    const logged = (r: Reply): Reply => {
      accessLog.push({ userId, userAccessState: String(state), comment: typeof comment === "string" ? comment : null, status: r.status })
      return r
    }
    if (typeof comment === "string" && Array.from(comment).length > maxCommentLength) {
      return logged(message(400, `'comment' is longer than ${maxCommentLength} characters`))
    }
    const done = setBlocked(userId, state === "BLOCKED", "api", typeof comment === "string" ? comment : "")
    return logged(done ? reply(200, {}) : message(404, "User not found"))
  }

  const doLogin = (body: unknown): Reply => {
    if (!isRecord(body)) return message(400, "The request body must be a JSON object")
    if (body["username"] !== login.username || body["password"] !== login.password) return message(401, "Invalid username or password")
    const t = jwtLike(signingKey, login.username, lifetime)
    loginTokens.set(t, Date.now() + lifetime * 1000)
    return reply(200, { token: t, lifetime })
  }

  const loginToken = (req: http.IncomingMessage): string | undefined => {
    const header = (req.headers.authorization ?? "").trim()
    if (header === "") return undefined
    const m = /^Bearer\s+(\S+)$/i.exec(header)
    return m === null ? header : m[1]!
  }

  const validLoginToken = (t: string | undefined): boolean => {
    if (t === undefined) return false
    const expiry = loginTokens.get(t)
    if (expiry === undefined) return false
    if (Date.now() >= expiry) {
      loginTokens.delete(t)
      return false
    }
    return true
  }

  const appTokenSent = (req: http.IncomingMessage): boolean => req.headers["x-auth-token"] === token

  // --- requests -------------------------------------------------------------------------------

  const send = (res: http.ServerResponse, r: Reply) => {
    if (res.destroyed || res.writableEnded) return
    const bytes = Buffer.from(JSON.stringify(r.body), "utf8")
    res.writeHead(r.status, { "Content-Type": "application/json", "Content-Length": bytes.length })
    res.end(bytes)
  }

  const readBody = (req: http.IncomingMessage, limit: number): Promise<string> =>
    new Promise((resolve, reject) => {
      const chunks: Buffer[] = []
      let size = 0
      req.on("data", (chunk: Buffer) => {
        size += chunk.length
        if (size > limit) {
          reject(new Error(`request body over ${limit} bytes`))
          req.destroy()
        } else chunks.push(chunk)
      })
      req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
      req.on("error", reject)
    })

  /** undefined for an empty body; a symbol for one that is not JSON. */
  const BAD_JSON = Symbol("bad json")
  const parseBody = (text: string): unknown => {
    if (text.trim() === "") return undefined
    try {
      return JSON.parse(text) as unknown
    } catch {
      return BAD_JSON
    }
  }


  type Route = { kind: CryptoSpikeRequestKind; method: "GET" | "POST"; auth: boolean }
  const route = (service: string): Route | undefined => {
    switch (service.toLowerCase()) {
      case "/auth/login":
        return { kind: "login", method: "POST", auth: false }
      case "/auth/logout":
        return { kind: "logout", method: "GET", auth: false }
      case "/audit/dashboard/file-activity/table":
        return { kind: "activity", method: "POST", auth: true }
      case "/audit/users":
        return { kind: "users", method: "GET", auth: true }
      case "/analyzer/events/users/access":
        return { kind: "access", method: "POST", auth: true }
      case "/status":
        return { kind: "status", method: "GET", auth: false }
      default:
        return undefined
    }
  }

  const emulatorEndpoint = async (req: http.IncomingMessage, res: http.ServerResponse, pathname: string): Promise<void> => {
    const kind: CryptoSpikeRequestKind = pathname === "/_emulator/seed" ? "seed" : pathname === "/_emulator/state" ? "state" : "other"
    const text = await readBody(req, 256 * 1024 * 1024)
    count(kind)
    const rejected = (r: Reply) => {
      count("rejected")
      send(res, r)
    }
    if (kind === "other") return rejected(message(404, "Not Found"))
    const wanted = kind === "seed" ? "POST" : "GET"
    if (req.method !== wanted) return rejected(message(405, "Method Not Allowed"))
    if (!appTokenSent(req)) return rejected(message(401, "Token invalid"))
    if (kind === "state") {
      return send(res, reply(200, { users: [...users.values()].map(copyUser), fileActivityCount: all.rows.length }))
    }
    const body = parseBody(text)
    try {
      applySeed(body as CryptoSpikeSeed)
    } catch (e) {
      return rejected(message(400, e instanceof Error ? e.message : String(e)))
    }
    send(res, reply(200, { users: users.size, fileActivityCount: all.rows.length }))
  }

  const handleRequest = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://emulator.invalid")
    if (url.pathname.startsWith("/_emulator/")) return emulatorEndpoint(req, res, url.pathname)

    const service = servicePath(url.pathname)
    const r = service === undefined ? undefined : route(service)
    const text = await readBody(req, 1024 * 1024)

    // Odd answers: not an operation's outcome at all.
    if (faults.echoRequests === true) {
      count("faulted")
      const params: Record<string, string> = Object.fromEntries(url.searchParams)
      const parsed = parseBody(text)
      if (isRecord(parsed)) for (const [k, v] of Object.entries(parsed)) if (typeof v === "string") params[k] = v
      return send(res, message(400, echoText(req, params, text, typeof parsed === "object" && parsed !== null && "username" in parsed ? String((parsed as Record<string, unknown>)["username"]) : "")))
    }
    if (faults.hugeBody !== undefined) {
      count("faulted")
      return sendHugeBody(res, faults.hugeBody)
    }

    // Injected faults first: the appliance (or the network) misbehaves before anything runs.
    const fault = await networkFault(faults, random)
    if (fault === "reset") {
      count("faulted")
      req.socket.destroy()
      return
    }
    if (fault === "fail") {
      count("faulted")
      return send(res, message(503, "Service Unavailable"))
    }

    const rejected = (reply: Reply) => {
      count("rejected")
      send(res, reply)
    }
    if (r === undefined) {
      count("other")
      return rejected(message(404, "Not Found"))
    }
    count(r.kind)
    if (req.method !== r.method) return rejected(message(405, "Method Not Allowed"))
    if (r.kind === "status") return send(res, reply(200, { status: "OK", uptimeSeconds: Math.floor((Date.now() - startedAt) / 1000) }))
    if (faults.authFailures === true) return rejected(message(401, "Token invalid"))
    if (r.kind === "logout") {
      const t = loginToken(req)
      if (t !== undefined) loginTokens.delete(t)
      return send(res, reply(200, {}))
    }
    if (r.auth && !appTokenSent(req) && !validLoginToken(loginToken(req))) return rejected(message(401, "Token invalid"))

    const body = parseBody(text)
    if (body === BAD_JSON) return rejected(message(400, "The request body is not valid JSON"))
    let outcome: Reply
    switch (r.kind) {
      case "login":
        outcome = doLogin(body)
        break
      case "activity":
        outcome = fileActivity(url.searchParams, body)
        break
      case "users":
        outcome = listUsers(url.searchParams)
        break
      case "access":
        outcome = access(body)
        break
      default:
        outcome = message(404, "Not Found")
    }
    if (outcome.status !== 200) count("rejected")
    send(res, outcome)
  }

  const serving = await serveHttp({
    host,
    port: options.port ?? 0,
    tls: tlsMaterial === undefined ? undefined : { cert: tlsMaterial.certPem, key: tlsMaterial.keyPem },
    handle: handleRequest,
    internalError: (res, text) => send(res, message(500, text)),
    ...(options.sendDate === false ? { sendDate: false } : {})
  })
  const { url, port } = serving

  const known = (userId: string): void => {
    if (!users.has(userId)) throw new Error(`no user ${userId}`)
  }

  const handle: CryptoSpikeEmulatorHandle = {
    url,
    port,
    token,
    login: { username: login.username, password: login.password },
    ...(tlsMaterial === undefined ? {} : { certificatePem: tlsMaterial.certPem, fingerprint: certificateFingerprint(tlsMaterial.certPem) }),
    users: () => [...users.values()].map(copyUser),
    user: (userId) => {
      const u = users.get(userId)
      return u === undefined ? undefined : copyUser(u)
    },
    fileActivityCount: () => all.rows.length,
    seed: applySeed,
    setFaults: (f) => {
      checkFaults(f)
      faults = { ...f }
    },
    setListShape: (shape) => {
      listShape = shape
    },
    counts: () => ({ ...counts }),
    resetCounts: () => {
      counts = {}
      accessLog = []
    },
    accessLog: () => [...accessLog],
    holders: (userId) => [...(history.get(userId) ?? [])],
    blockByAdmin: (userId, comment) => {
      known(userId)
      setBlocked(userId, true, "admin", comment)
    },
    blockByCryptoSpike: (userId, comment) => {
      known(userId)
      setBlocked(userId, true, "cryptospike", comment ?? OWN_BLOCK_COMMENT)
    },
    unblockByAdmin: (userId) => {
      known(userId)
      setBlocked(userId, false, "admin", undefined)
    },
    expireLoginTokens: () => loginTokens.clear(),
    close: serving.close
  }
  return handle
}

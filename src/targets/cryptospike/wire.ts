/**
 * The CryptoSpike REST wire protocol, without I/O: paths (with every query value URL-encoded),
 * request bodies, tolerant response parsers, classification of HTTP answers into data or a
 * `CryptoSpikeError`, and the audit comment of a block. (Which user a name search finds is
 * decided in src/domain/ResolveUser.ts.)
 *
 * Authentication is never part of what is built here: the client adds `x-auth-token` (app
 * token) or `Authorization: Bearer` (login session) at the last moment, so every path and body
 * from this module can be logged as it is. (The login body is the one exception: it is built by
 * the client, never here.)
 *
 * Source: shared/specs/cryptospike-api.md — §3 operations, §3.1 field notes, §6 defects of the
 * Flowmon scripts that this module must not repeat (#8 only page 0, #9 unencoded `search` and
 * `items[0]` without an exact-match check, #10 `blocked=false` in the search), §8 client advice.
 */
import { escapeBytes } from "../../domain/SafeText.js"
import { CryptoSpikeError, type BlockInfo, type FileActivity, type StorageUser } from "../CryptoSpikeUsers.js"

// ---------------------------------------------------------------------------------------------
// Paths
// ---------------------------------------------------------------------------------------------

export const ACTIVITY_PATH = "/api/v1/audit/dashboard/file-activity/table"
export const USERS_PATH = "/api/v1/audit/users"
export const ACCESS_PATH = "/api/v1/analyzer/events/users/access"
export const LOGIN_PATH = "/api/v1/Server/auth/login"
export const LOGOUT_PATH = "/api/v1/Server/auth/logout"

/** Page size used when none is configured; 100 is the largest size public clients use (§7). */
export const DEFAULT_PAGE_SIZE = 100

/** `k=v&…`, every key and value URL-encoded (spec §6 #9; `search` reached SQL in CVE-2023-36652). */
const query = (params: ReadonlyArray<readonly [string, string | number]>): string =>
  params.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join("&")

/**
 * File activity, one page: `start`/`end` are Unix epoch SECONDS (as both Flowmon scripts send
 * them). No empty `=` parameter (the scripts' quirk, spec §1).
 */
export const activityPath = (page: number, size: number, startSeconds: number, endSeconds: number): string =>
  `${ACTIVITY_PATH}?${query([
    ["page", page],
    ["size", size],
    ["start", startSeconds],
    ["end", endSeconds]
  ])}`

/**
 * Users matching `search`, one page. Deliberately WITHOUT a `blocked` filter: a user who is
 * already blocked must be found too (spec §6 #10).
 */
export const searchUsersPath = (search: string, page: number, size: number): string =>
  `${USERS_PATH}?${query([
    ["page", page],
    ["size", size],
    ["search", search],
    ["orderBy", ""],
    ["sortDescending", "false"]
  ])}`

/** Blocked users, one page (a stable ascending order, so pages do not shift while paging). */
export const blockedUsersPath = (page: number, size: number): string =>
  `${USERS_PATH}?${query([
    ["page", page],
    ["size", size],
    ["blocked", "true"],
    ["orderBy", ""],
    ["sortDescending", "false"]
  ])}`

/**
 * The absolute URL of `pathAndQuery` under the configured base URL. A path in the base URL is
 * kept as a prefix (an appliance behind a reverse proxy at `https://proxy/cs`), so
 * `https://cs.example/` and `https://cs.example` give the same result.
 */
export const joinUrl = (base: string | URL, pathAndQuery: string): string => {
  const url = new URL(base)
  const prefix = url.pathname.replace(/\/+$/, "")
  return `${url.origin}${prefix}${pathAndQuery}`
}

/**
 * Unix seconds of a UTC ISO time, rounded down (`floor`, for a window's start) or up (`ceil`,
 * for its end) so that the window asked for is never narrower than the one meant. `undefined`
 * when the text is not a time.
 */
export const epochSeconds = (iso: string, round: "floor" | "ceil"): number | undefined => {
  const ms = Date.parse(iso)
  if (!Number.isFinite(ms)) return undefined
  return round === "floor" ? Math.floor(ms / 1000) : Math.ceil(ms / 1000)
}

// ---------------------------------------------------------------------------------------------
// Request bodies
// ---------------------------------------------------------------------------------------------

/** The file-activity filter of spec §3 #3, with only the address set. */
export const activityBody = (ip: string) => ({
  path: "",
  users: [] as Array<string>,
  actions: [] as Array<string>,
  fileType: [] as Array<string>,
  extensions: [] as Array<string>,
  clusters: [] as Array<string>,
  servers: [] as Array<string>,
  shares: [] as Array<string>,
  volumes: [] as Array<string>,
  ips: [ip],
  blocked: [] as Array<string>
})

/** Blocks a Windows user (spec §3 #5). The comment is sanitised and bounded again here. */
export const blockBody = (userId: string, comment: string) => ({
  userId,
  userIdType: "WINDOWS",
  userAccessState: "BLOCKED",
  comment: sanitizeComment(comment)
})

/**
 * Unblocks a Windows user: the same call as a block with another `userAccessState`, which is
 * configuration (`cryptospike.unblock.userAccessState`) because no public source shows the real
 * value (spec "Uncertain" 1).
 */
export const unblockBody = (userId: string, userAccessState: string, comment?: string) =>
  comment === undefined
    ? { userId, userIdType: "WINDOWS", userAccessState }
    : { userId, userIdType: "WINDOWS", userAccessState, comment: sanitizeComment(comment) }

// ---------------------------------------------------------------------------------------------
// Response classification
// ---------------------------------------------------------------------------------------------

export type Classified =
  | { readonly ok: true; readonly body: unknown }
  | { readonly ok: false; readonly error: CryptoSpikeError }

export const TOKEN_HINT = "regenerate the API token in CryptoSpike: Settings > System > API Tokens"
export const LOGIN_HINT = "check the CryptoSpike user name and password"

const MAX_SHOWN = 300

/** Appliance text made safe for a log or a terminal: printable ASCII, escapes visible, bounded. */
export const printable = (text: string, max = MAX_SHOWN): string => {
  const cut = text.length > max ? `${text.slice(0, max)}...` : text
  return escapeBytes(new TextEncoder().encode(cut))
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const parseJson = (text: string): { readonly ok: true; readonly value: unknown } | { readonly ok: false } => {
  try {
    return { ok: true, value: JSON.parse(text) as unknown }
  } catch {
    return { ok: false }
  }
}

/** The error text of an answer: its `message` (or `error`, `detail`), else the raw text. */
const detailOf = (text: string): string | undefined => {
  const parsed = parseJson(text)
  if (parsed.ok && isRecord(parsed.value)) {
    for (const key of ["message", "error", "detail", "title"]) {
      const v = parsed.value[key]
      if (typeof v === "string" && v.trim() !== "") return v.trim()
    }
  }
  const t = text.trim()
  return t === "" ? undefined : t
}

const withDetail = (message: string, detail: string | undefined): string =>
  detail === undefined ? message : `${message}: ${printable(detail)}`

export interface ClassifyOptions {
  /** whether a success must carry a JSON body (lists) or any body does (block / unblock) */
  readonly json: boolean
  /** what to tell the operator on 401/403; default `TOKEN_HINT` */
  readonly authHint?: string
}

/**
 * An answer: the parsed JSON (or `undefined` when `json` is false) on 2xx; otherwise an error
 * by reason. 401/403 → auth (with the hint), 400/404/422 and other 4xx → rejected with the
 * body's message, 408 → timeout and 429/5xx → server (both retryable), a 2xx that is not JSON
 * where JSON is expected → protocol, anything else → protocol.
 */
export const classify = (status: number, text: string, options: ClassifyOptions): Classified => {
  const fail = (error: CryptoSpikeError): Classified => ({ ok: false, error })
  const detail = status >= 200 && status <= 299 ? undefined : detailOf(text)
  if (status === 401 || status === 403) {
    return fail(
      new CryptoSpikeError({
        reason: "auth",
        message: `${withDetail(
          `CryptoSpike refused the request (HTTP ${status}${status === 403 ? ", missing permission?" : ""})`,
          detail
        )}; ${status === 403 ? `the user needs StorageUser READ/MODIFY and FileActivity READ, or ${options.authHint ?? TOKEN_HINT}` : options.authHint ?? TOKEN_HINT}`,
        status,
        retryable: false
      })
    )
  }
  if (status === 408) {
    return fail(
      new CryptoSpikeError({ reason: "timeout", message: withDetail(`CryptoSpike timed out the request (HTTP 408)`, detail), status, retryable: true })
    )
  }
  if (status === 429 || (status >= 500 && status <= 599)) {
    return fail(
      new CryptoSpikeError({
        reason: "server",
        message: withDetail(status === 429 ? `CryptoSpike is limiting the rate of calls (HTTP 429)` : `CryptoSpike failed (HTTP ${status})`, detail),
        status,
        retryable: true
      })
    )
  }
  if (status >= 400 && status <= 499) {
    return fail(new CryptoSpikeError({ reason: "rejected", message: withDetail(`CryptoSpike refused the request (HTTP ${status})`, detail), status, retryable: false }))
  }
  if (status < 200 || status > 299) {
    return fail(new CryptoSpikeError({ reason: "protocol", message: withDetail(`unexpected HTTP ${status} from CryptoSpike`, detail), status, retryable: false }))
  }
  if (!options.json) return { ok: true, body: undefined }
  const parsed = parseJson(text)
  if (!parsed.ok) {
    return fail(
      new CryptoSpikeError({
        reason: "protocol",
        message:
          text.trim() === ""
            ? `CryptoSpike answered HTTP ${status} with an empty body where JSON was expected`
            : `CryptoSpike answered HTTP ${status} with something that is not JSON: ${printable(text.trim(), 120)}`,
        status,
        retryable: false
      })
    )
  }
  return { ok: true, body: parsed.value }
}

const protocol = (message: string): CryptoSpikeError => new CryptoSpikeError({ reason: "protocol", message, retryable: false })

// ---------------------------------------------------------------------------------------------
// Response parsing
// ---------------------------------------------------------------------------------------------

/** Text of an identifier-like value: a non-empty string (trimmed) or a finite number. */
const idText = (value: unknown): string | undefined => {
  if (typeof value === "string") return value.trim() === "" ? undefined : value.trim()
  if (typeof value === "number" && Number.isFinite(value)) return String(value)
  return undefined
}

const stringOr = (value: unknown, fallback: string): string => (typeof value === "string" ? value : fallback)

export interface Page<A> {
  readonly rows: ReadonlyArray<A>
  /** the number of items on the page, parsed or not (what decides a short page) */
  readonly count: number
  /** items without a usable user id, left out of `rows` */
  readonly skipped: number
  /** the server's `totalItems`, when it sends a non-negative integer */
  readonly totalItems: number | undefined
}

/** How much of an answer that cannot be read is quoted in the error. */
export const SHOWN_BYTES = 200

/** The first `SHOWN_BYTES` bytes of a parsed answer, as JSON, made printable; `...` when there is more. */
export const quoteAnswer = (body: unknown): string => {
  let text: string
  try {
    text = JSON.stringify(body) ?? String(body)
  } catch {
    text = String(body)
  }
  const bytes = new TextEncoder().encode(text)
  const shown = escapeBytes(bytes.subarray(0, SHOWN_BYTES))
  return bytes.length > SHOWN_BYTES ? `${shown}...` : shown
}

/**
 * The keys a page of a list may carry beside `items` (spec §3 #3, #4: `totalItems`,
 * `totalUnfilteredItems`). An EMPTY page with any other key is not read as empty: the entries
 * may be under it (a renamed field, another API version).
 */
const PAGE_KEYS = new Set(["items", "totalItems", "totalUnfilteredItems"])

/**
 * A page of a list, in one of the known shapes (spec §3, §4): `{items:[…], totalItems?,
 * totalUnfilteredItems?}`, or a bare array of items. Anything else is a protocol error quoting
 * the answer, never an empty page: no `items`, `items` that is not an array, an empty `items`
 * beside keys of no known shape.
 */
const itemsOf = (body: unknown, what: string): { items: ReadonlyArray<unknown>; totalItems: number | undefined } | CryptoSpikeError => {
  if (Array.isArray(body)) return { items: body, totalItems: undefined }
  const unknown = (why: string) => protocol(`CryptoSpike's ${what} answer is in a shape mitigator does not know (${why}): not read as a list; the answer begins: ${quoteAnswer(body)}`)
  if (!isRecord(body)) return unknown("not a JSON object")
  const items = body["items"]
  if (!Array.isArray(items)) return unknown(items === undefined ? `no "items" list` : `"items" is not a list`)
  const others = Object.keys(body).filter((k) => !PAGE_KEYS.has(k))
  if (items.length === 0 && others.length > 0) return unknown(`an empty "items" beside ${others.slice(0, 10).map((k) => JSON.stringify(printable(k, 40))).join(", ")}`)
  // A total that is not a count (-1 for "unknown", a string) only says nothing about paging.
  const total = body["totalItems"]
  const totalItems = typeof total === "number" && Number.isInteger(total) && total >= 0 ? total : undefined
  return { items, totalItems }
}

/** A user's names: `userName` (or `username`) and `userPrincipalName`, "" when absent or not text. */
const namesOf = (item: Record<string, unknown>): { userName: string; userPrincipalName: string } => ({
  userName: stringOr(item["userName"], stringOr(item["username"], "")),
  userPrincipalName: stringOr(item["userPrincipalName"], "")
})

/**
 * A page of file activity. A row's user is its `userId`, else its `id` (the only attested field,
 * which both Flowmon scripts take for the user: spec §3 #3, "Uncertain" 3); rows with neither
 * are skipped and counted.
 */
export const parseActivityPage = (body: unknown): Page<FileActivity> | CryptoSpikeError => {
  const page = itemsOf(body, "file-activity")
  if (page instanceof CryptoSpikeError) return page
  const rows: Array<FileActivity> = []
  let skipped = 0
  for (const item of page.items) {
    const userId = isRecord(item) ? (idText(item["userId"]) ?? idText(item["id"])) : undefined
    if (!isRecord(item) || userId === undefined) skipped++
    else rows.push({ userId, ...namesOf(item) })
  }
  return { rows, count: page.items.length, skipped, totalItems: page.totalItems }
}

/** Whether an item says it is blocked: `blocked` (boolean or "true"/"false"), else an access state. */
const blockedOf = (item: Record<string, unknown>): boolean | undefined => {
  const b = item["blocked"]
  if (typeof b === "boolean") return b
  if (typeof b === "string" && /^(true|false)$/i.test(b.trim())) return b.trim().toLowerCase() === "true"
  for (const key of ["userAccessState", "accessState"]) {
    const s = item[key]
    if (typeof s === "string" && s.trim() !== "") return s.trim().toUpperCase() === "BLOCKED"
  }
  return undefined
}

/**
 * The current block of an item: `blockUnblockInfo.{comment, blockRuleMatches}` (the names of
 * CryptoSpike's block events, spec §3.1), else a top-level `blockComment`; null when the item
 * says nothing about who blocked it. Rule matches may be strings or objects with a name.
 */
const blockOf = (item: Record<string, unknown>): BlockInfo | null => {
  const info = item["blockUnblockInfo"]
  if (isRecord(info)) {
    const matches = Array.isArray(info["blockRuleMatches"]) ? info["blockRuleMatches"] : []
    const ruleMatches = matches.flatMap((m): string[] => {
      if (typeof m === "string") return [m]
      if (isRecord(m)) {
        const name = m["name"] ?? m["ruleName"] ?? m["rule"]
        return typeof name === "string" ? [name] : []
      }
      return []
    })
    return { comment: stringOr(info["comment"], ""), ruleMatches }
  }
  const comment = item["blockComment"]
  return typeof comment === "string" ? { comment, ruleMatches: [] } : null
}

/**
 * A page of storage users. Name from `userName` or `username`; a missing principal name or type
 * is ""; `blocked` from the item when it says so, else `blockedByQuery` (true for the blocked
 * list, false for a search, which has no such filter); the current block's holder when the item
 * tells (`blockOf`). Items without `userId` are skipped.
 */
export const parseUsersPage = (body: unknown, blockedByQuery: boolean): Page<StorageUser> | CryptoSpikeError => {
  const page = itemsOf(body, "user list")
  if (page instanceof CryptoSpikeError) return page
  const rows: Array<StorageUser> = []
  let skipped = 0
  for (const item of page.items) {
    const userId = isRecord(item) ? idText(item["userId"]) : undefined
    if (!isRecord(item) || userId === undefined) {
      skipped++
      continue
    }
    rows.push({
      userId,
      userIdType: stringOr(item["userIdType"], ""),
      ...namesOf(item),
      blocked: blockedOf(item) ?? blockedByQuery,
      block: blockOf(item)
    })
  }
  return { rows, count: page.items.length, skipped, totalItems: page.totalItems }
}

/** The session token of a login answer (`{token, lifetime}`), or undefined. */
export const parseLoginToken = (body: unknown): string | undefined => {
  if (!isRecord(body)) return undefined
  const token = body["token"]
  return typeof token === "string" && token.trim() !== "" ? token.trim() : undefined
}

/**
 * Whether paging is over after a page: a short page (fewer items than asked for, empty
 * included), or `totalItems` reached by the items seen so far (`seen` counts every item of
 * every page, skipped ones too).
 */
export const pagingDone = (page: { readonly count: number; readonly totalItems: number | undefined }, size: number, seen: number): boolean =>
  page.count < size || (page.totalItems !== undefined && seen >= page.totalItems)

/**
 * Why a list cannot be complete after a page, or undefined: the server said it holds more items
 * (`totalItems`) than it gave before it ran out of them (a short page). A list read that way
 * would miss users, so it is not read at all.
 */
export const pagingShortfall = (page: { readonly count: number; readonly totalItems: number | undefined }, size: number, seen: number): string | undefined =>
  page.count < size && page.totalItems !== undefined && seen < page.totalItems
    ? `it says it holds ${page.totalItems} item(s) but ran out after ${seen}`
    : undefined

// ---------------------------------------------------------------------------------------------
// The audit comment of a block
// ---------------------------------------------------------------------------------------------

export const MAX_COMMENT = 1000

/** The first word of every comment mitigator writes. */
export const COMMENT_MARKER = "mitigator"

/**
 * Text made safe for a comment: C0 controls other than `\n` (so `\r` and `\t` too), DEL, C1
 * controls, and invisible format characters that can disguise text (zero-width, bidi
 * overrides, line/paragraph separators, BOM) are removed; the result is cut to `MAX_COMMENT` characters (code points,
 * `...` marking a cut).
 */
export const sanitizeComment = (text: string): string => bound(stripControls(text), MAX_COMMENT)

const CONTROLS = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g

const stripControls = (text: string): string => text.replace(CONTROLS, "")

/** At most `max` code points, `...` marking a cut. */
const bound = (text: string, max: number): string => {
  const chars = Array.from(text)
  return chars.length <= max ? text : `${chars.slice(0, Math.max(0, max - 3)).join("")}...`
}

const length = (text: string): number => Array.from(text).length

/** Blanks (newlines too: an appliance may return them as spaces) collapsed, for comparing. */
const collapsed = (text: string): string => text.replace(/\s+/g, " ").trim()

const firstLine = (text: string): string => collapsed(text.trim().split("\n", 1)[0]!)

const MARKER_SEQ = /^\s*mitigator seq=([0-9]{1,15}):/

/**
 * Whether a user's current block is still the one mitigator made (checked right before an
 * unblock). `current`: the block as listed now; null where the list does not say who blocked, and
 * an empty comment without CryptoSpike rules tells nothing either: then only the ledger can tell
 * (true). `written`: the comment mitigator blocked with. Its first line names the decision
 * (`mitigator seq=57: Flowmon ADS event 4711`); a block made again by CryptoSpike (rule
 * matches), an administrator or another decision carries another.
 */
export const stillOursUser = (current: BlockInfo | null, written: string): boolean => {
  if (current === null) return true
  if (current.ruleMatches.length > 0) return false
  if (current.comment.trim() === "") return true
  const then = MARKER_SEQ.exec(written)
  const now = MARKER_SEQ.exec(current.comment)
  if (then !== null) return now !== null && now[1] === then[1]
  return collapsed(current.comment).startsWith(firstLine(written))
}

const MAX_RULES_SHOWN = 3

/** Who holds a block that is not mitigator's, in words for the log and the output (made printable, bounded). */
export const holderOf = (current: BlockInfo): string => {
  if (current.ruleMatches.length === 0) return "someone else"
  const shown = current.ruleMatches.slice(0, MAX_RULES_SHOWN).map((r) => printable(r, 60))
  const more = current.ruleMatches.length - shown.length
  return `CryptoSpike (rules: ${shown.join(", ")}${more > 0 ? ` and ${more} more` : ""})`
}

/** What an IDS detection adds to the comment (as in `FlowmonEventReceived.ids` and `signature`). */
export interface IdsAuditDetails {
  readonly signatureId: string
  readonly signatureName: string
  readonly sourcePort: string
  readonly targetPort: string
  readonly protocol: string | null
  readonly category: string
  readonly severity: string
  readonly logSourceIp: string
  readonly logSourceInterface: string
}

/** What the audit comment of a block names (field names as in `FlowmonEventReceived`). */
export interface AuditDetails {
  /** the Flowmon product ("ADS", "IDS"…), when known */
  readonly product?: string | undefined
  readonly eventId: string
  readonly method: string | null
  readonly description: string
  readonly source: string
  readonly targets: ReadonlyArray<string>
  readonly dataFeed: string | null
  readonly perspective: string | null
  /** the user name the ADS event carried ("" or absent when none) */
  readonly userIdentity?: string | undefined
  /** IDS detections: signature, ports, protocol, category, severity, log source */
  readonly ids?: IdsAuditDetails | undefined
  /** the CryptoSpike user blocked, when known */
  readonly user?: { readonly userId: string; readonly userName: string; readonly userPrincipalName: string } | undefined
  /** UTC ISO end of the block */
  readonly until: string
  /** the mitigator event sequence number of the decision, when known */
  readonly seq?: number | undefined
}

const MAX_TARGETS_SHOWN = 10

/** One field on one line: newlines inside a value become spaces, runs of blanks one space. */
const oneLine = (value: string): string => value.replace(/[\r\n\t]+/g, " ").replace(/ {2,}/g, " ").trim()

const orNa = (value: string | null | undefined): string => {
  const v = value === null || value === undefined ? "" : oneLine(value)
  return v === "" ? "n/a" : v
}

/** `address:port`, IPv6 in brackets; the address alone without a port. */
const endpoint = (address: string, port: string): string => {
  const a = orNa(address)
  const p = oneLine(port)
  return p === "" ? a : `${a.includes(":") ? `[${a}]` : a}:${p}`
}

const targetList = (targets: ReadonlyArray<string>): string => {
  const shown = targets.slice(0, MAX_TARGETS_SHOWN).map(oneLine)
  const more = targets.length - shown.length
  return shown.length === 0 ? "n/a" : `${shown.join(", ")}${more > 0 ? ` (+${more} more)` : ""}`
}

const userLine = (user: AuditDetails["user"]): string[] => {
  if (user === undefined) return []
  const name = oneLine(user.userPrincipalName) || oneLine(user.userName)
  return [`Blocked user: ${name === "" ? oneLine(user.userId) : `${name} (${oneLine(user.userId)})`}`]
}

/**
 * The lines of the comment; `free` holds the free-text values (description, signature name,
 * category), which are shortened first when the comment is too long.
 */
const commentLines = (d: AuditDetails, free: { readonly description: string; readonly signature: string; readonly category: string }): string[] => {
  const product = d.product === undefined || oneLine(d.product) === "" ? "" : ` ${oneLine(d.product)}`
  const head = `${COMMENT_MARKER}${d.seq === undefined ? "" : ` seq=${d.seq}`}: Flowmon${product} event ${orNa(d.eventId)}`
  const until = `Blocked until: ${orNa(d.until)}`
  if (d.ids !== undefined) {
    const ids = d.ids
    // The facts Progress' IDS script writes (signature, both ends with ports, protocol, category, severity, log source).
    const destination =
      d.targets.length <= 1 ? endpoint(d.targets[0] ?? "", ids.targetPort) : `${targetList(d.targets)}${oneLine(ids.targetPort) === "" ? "" : ` (port ${oneLine(ids.targetPort)})`}`
    return [
      head,
      `Signature: [${orNa(ids.signatureId)}] ${orNa(free.signature)}`,
      `Source: ${endpoint(d.source, ids.sourcePort)} -> Destination: ${destination}`,
      `Protocol: ${orNa(ids.protocol)}, Category: ${orNa(free.category)}, Severity: ${orNa(ids.severity)}`,
      `Log source: ${orNa(ids.logSourceIp)} (${orNa(ids.logSourceInterface)})`,
      ...userLine(d.user),
      until
    ]
  }
  const method = d.method === null ? "" : oneLine(d.method)
  return [
    head,
    `Method: ${method === "" ? "n/a" : method}${free.description === "" ? "" : ` - ${free.description}`}`,
    `Source: ${orNa(d.source)}`,
    `User identity: ${orNa(d.userIdentity)}`,
    `Targets: ${targetList(d.targets)}`,
    `Data feed: ${orNa(d.dataFeed)}`,
    `Perspective: ${orNa(d.perspective)}`,
    ...userLine(d.user),
    until
  ]
}

/**
 * The comment of a block, shown to CryptoSpike administrators and in its block events (spec
 * §5): plain text, one fact a line, starting with `mitigator seq=N:` so that mitigator's blocks
 * can be told from CryptoSpike's own (`stillOursUser`). It carries at least what Progress'
 * proven script writes (cryptospike-block-user-v2.py): for ADS the event id, method, source,
 * user identity, targets and data feed; for IDS the event id, signature id and message, source
 * and destination with ports, protocol, category and severity. Sanitised and bounded to
 * `MAX_COMMENT` characters, the free text shortened first so that the later lines survive.
 *
 * ```
 * mitigator seq=57: Flowmon ADS event 4711
 * Method: SSHDICT - SSH attack
 * Source: 192.0.2.31
 * User identity: CORP\jdoe
 * Targets: 198.51.100.40, 198.51.100.41
 * Data feed: LAN
 * Perspective: Security issues
 * Blocked user: jdoe@corp.example (S-1-5-21-…-1104)
 * Blocked until: 2026-01-10T12:00:00.000Z
 * ```
 * ```
 * mitigator seq=58: Flowmon IDS event 9001
 * Signature: [2024217] ET POLICY example signature
 * Source: 192.0.2.50:51514 -> Destination: 198.51.100.7:443
 * Protocol: TCP, Category: Potential Corporate Privacy Violation, Severity: 2
 * Log source: 203.0.113.10 (eth2)
 * Blocked until: 2026-01-10T12:00:00.000Z
 * ```
 */
export const auditComment = (details: AuditDetails): string => {
  const free = {
    description: stripControls(oneLine(details.description)),
    signature: stripControls(oneLine(details.ids?.signatureName ?? "")),
    category: stripControls(oneLine(details.ids?.category ?? ""))
  }
  const compose = (f: typeof free): string => stripControls(commentLines(details, f).join("\n"))
  const full = compose(free)
  if (length(full) <= MAX_COMMENT) return full
  // Too long: shorten the free text (evenly), so that the later lines (the expiry) survive; the
  // final bound is the last resort (very long ids, sources or targets).
  const bare = compose({ description: "", signature: "", category: "" })
  const room = Math.floor((MAX_COMMENT - length(bare) - " - ".length) / 3)
  const cut = (t: string) => (room > 3 ? bound(t, room) : "")
  return sanitizeComment(compose({ description: cut(free.description), signature: cut(free.signature), category: cut(free.category) }))
}

/**
 * Narrowing what the log says to one address, network, user or rule: the filters of `status` and
 * `replay` (--ip, --user, --rule, --since) and the subject of `why`. Pure.
 *
 * - An address or network touches a block when one contains the other (a host inside a blocked
 *   network, a network around blocked hosts).
 * - A user is named by its CryptoSpike id (the SID), its user name or principal name, or the name
 *   Flowmon reported, compared case-insensitively; `jdoe` also names `CORP\jdoe` and
 *   `jdoe@corp.example` (a name without a domain leaves the domain open), while `CORP\jdoe` and
 *   `OTHER\jdoe` are different users.
 * - Filters combine: an item is kept when every filter given holds for it; an item a filter cannot
 *   speak for (an address block under --user, an allowlisted entry under --rule) is left out.
 */
import { overlaps, parseCidr, type Cidr } from "./Cidr.js"
import type { DesiredState, Reason } from "./Project.js"
import { quote } from "./SafeText.js"
import { parseAccountName, sameDomain } from "./UserName.js"

export type Subject = { readonly kind: "address"; readonly cidr: Cidr } | { readonly kind: "user"; readonly name: string }

/** Text that is meant as an address or network (and is an error when it is not a valid one). */
const looksLikeAddress = (text: string): boolean => /^[0-9.]+(\/.*)?$/.test(text) || text.includes(":") || text.includes("/")

/** `192.0.2.31`, `192.0.2.0/24`, `2001:db8::/32` → an address; anything else that is a name → a user. */
export const parseSubject = (input: string): { readonly ok: true; readonly value: Subject } | { readonly ok: false; readonly error: string } => {
  const text = input.trim()
  if (text === "") return { ok: false, error: "expected an address, a network (CIDR) or a user name, got an empty argument" }
  const cidr = parseCidr(text)
  if (cidr.ok) return { ok: true, value: { kind: "address", cidr: cidr.value } }
  if (looksLikeAddress(text)) return { ok: false, error: cidr.error }
  if (/[\u0000-\u001f\u007f]/.test(text)) return { ok: false, error: `${quote(text)}: a user name has no control characters` }
  return { ok: true, value: { kind: "user", name: text } }
}

/** A CIDR from the log's canonical text (or an address), undefined for anything else. */
export const cidrOfText = (text: unknown): Cidr | undefined => {
  if (typeof text !== "string") return undefined
  const parsed = parseCidr(text)
  return parsed.ok ? parsed.value : undefined
}

/** Whether the log's address or block `text` and `cidr` touch (one contains the other). */
export const touches = (cidr: Cidr, text: unknown): boolean => {
  const other = cidrOfText(text)
  return other !== undefined && overlaps(cidr, other)
}

/** Whether a user name (or id) the log records is the one asked for (see the module comment). */
export const nameMatches = (wanted: string, recorded: unknown): boolean => {
  if (typeof recorded !== "string" || recorded.trim() === "") return false
  if (wanted.trim().toLowerCase() === recorded.trim().toLowerCase()) return true
  const a = parseAccountName(wanted)
  const b = parseAccountName(recorded)
  if (a === undefined || b === undefined || a.account !== b.account) return false
  return a.domain === null || b.domain === null || sameDomain(a.domain, b.domain)
}

const obj = (v: unknown): Record<string, any> => (v !== null && typeof v === "object" ? (v as Record<string, any>) : {})

/** The addresses and blocks an event names (as the log records them). */
export const addressesOf = (type: string, payload: unknown): ReadonlyArray<unknown> => {
  const p = obj(payload)
  switch (type) {
    case "FlowmonEventReceived":
      return [p["source"]]
    case "BlockDecided":
    case "BlockRequested": {
      const s = obj(p["subject"])
      return [s["kind"] === "ip" ? s["cidr"] : s["ip"]]
    }
    case "BlockWithheld":
      return [obj(p["cause"])["source"]]
    case "UnblockRequested":
    case "AllowRequested":
    case "TargetChanged":
    case "TargetChangeFailed":
    case "DriftObserved":
    case "OwnershipLost":
      return [p["cidr"]]
    case "UserResolved":
    case "UserResolutionFailed":
      return [p["ip"]]
    default:
      return []
  }
}

/** The user names and ids an event names. */
export const userNamesOf = (type: string, payload: unknown): ReadonlyArray<unknown> => {
  const p = obj(payload)
  switch (type) {
    case "FlowmonEventReceived":
      return [p["userIdentity"]]
    case "BlockDecided":
    case "BlockRequested":
      return [obj(p["subject"])["userIdentity"]]
    case "UserResolved":
      return [p["userId"], p["userName"], p["userPrincipalName"]]
    case "UserResolutionFailed":
      return [p["searched"], ...(Array.isArray(p["candidates"]) ? p["candidates"] : [])]
    case "UserBlockChanged":
    case "UserBlockLifted":
    case "OwnershipLost":
      return [p["userId"]]
    default:
      return []
  }
}

export interface Filters {
  readonly ip?: Cidr
  readonly user?: string
  readonly rule?: string
  /** only what was recorded at or after this instant (UTC ISO) */
  readonly since?: string
  /** the first seq recorded at or after `since` (the log's order: recorded_at never goes back along seq) */
  readonly sinceSeq?: number
}

export const hasFilters = (f: Filters): boolean => f.ip !== undefined || f.user !== undefined || f.rule !== undefined || f.since !== undefined

/**
 * A filter over the events in seq order (stateful: an event that names an address or user makes
 * the later events that follow from it match too: the users resolved behind an address, the
 * changes made for a decision of the rule).
 */
export const eventFilter = (f: Filters): ((event: { readonly seq: number; readonly recordedAt: string; readonly type: string; readonly payload: unknown }) => boolean) => {
  // user ids resolved behind the address (--ip) or named like the user (--user)
  const userIds = new Set<string>()
  // seqs of the rule's decisions, so the changes made for them match too
  const ruleCauses = new Set<number>()
  const matchesIp = (type: string, p: Record<string, any>): boolean => {
    const ip = f.ip!
    if (addressesOf(type, p).some((a) => touches(ip, a))) {
      if (type === "UserResolved") userIds.add(p["userId"])
      return true
    }
    return (type === "UserBlockChanged" || type === "UserBlockLifted" || (type === "OwnershipLost" && p["userId"] !== null)) && userIds.has(p["userId"])
  }
  const matchesUser = (type: string, p: Record<string, any>): boolean => {
    const named = userNamesOf(type, p).some((n) => nameMatches(f.user!, n))
    if (named && type === "UserResolved") userIds.add(p["userId"])
    if (!named && (type === "UserBlockChanged" || type === "UserBlockLifted" || type === "OwnershipLost")) return userIds.has(p["userId"])
    return named
  }
  const matchesRule = (seq: number, type: string, p: Record<string, any>): boolean => {
    if (type === "BlockDecided" || type === "BlockWithheld") {
      if (p["rule"] !== f.rule) return false
      ruleCauses.add(seq)
      return true
    }
    return (type === "TargetChanged" || type === "UserBlockChanged") && typeof p["causeSeq"] === "number" && ruleCauses.has(p["causeSeq"])
  }
  return (event) => {
    const p = obj(event.payload)
    // Every filter runs on every event (the state each keeps must see the whole log), then all must hold.
    const ip = f.ip === undefined || matchesIp(event.type, p)
    const user = f.user === undefined || matchesUser(event.type, p)
    const rule = f.rule === undefined || matchesRule(event.seq, event.type, p)
    const since = f.since === undefined || event.recordedAt >= f.since
    return ip && user && rule && since
  }
}

const reasonKept = (f: Filters) => (r: Reason): boolean =>
  (f.rule === undefined || (r.kind === "decision" && r.rule === f.rule)) && (f.sinceSeq === undefined || r.seq >= f.sinceSeq)

/**
 * The desired state narrowed by the filters, in the same shape (and order): the blocks that touch
 * the address, name the user, come from the rule, or were decided or requested at or after
 * `since` (by a reason recorded then: `sinceSeq`). A block is kept whole, with all its reasons.
 */
export const filterState = (state: DesiredState, f: Filters): DesiredState => {
  if (!hasFilters(f)) return state
  const byReason = reasonKept(f)
  const reasonsHold = (reasons: ReadonlyArray<Reason>) => (f.rule === undefined && f.sinceSeq === undefined) || reasons.some(byReason)
  const ipOk = (text: string) => f.ip === undefined || touches(f.ip, text)
  const noUser = f.user === undefined
  const userOk = (...names: ReadonlyArray<string>) => f.user === undefined || names.some((n) => nameMatches(f.user!, n))
  // Ledger entries and allowlisted blocks carry no rule; the ledger says when by its seq.
  const noRule = f.rule === undefined
  const seqOk = (seq: number) => f.sinceSeq === undefined || seq >= f.sinceSeq
  const noSince = f.sinceSeq === undefined
  const ipBlocks = state.ipBlocks.filter((b) => noUser && ipOk(b.cidr) && reasonsHold(b.reasons))
  const userBlocks = state.userBlocks.filter(
    (u) => (f.ip === undefined || u.seenAt.some((s) => touches(f.ip!, s.ip))) && userOk(u.userId, u.userName, u.userPrincipalName) && reasonsHold(u.reasons)
  )
  const pendingUserBlocks = state.pendingUserBlocks.filter((u) => ipOk(u.ip) && userOk(u.userIdentity) && reasonsHold(u.reasons))
  const counts: Record<string, number> = {}
  for (const b of ipBlocks) counts[b.target] = (counts[b.target] ?? 0) + 1
  if (userBlocks.length > 0) counts["cryptospike"] = userBlocks.length
  if (pendingUserBlocks.length > 0) counts["cryptospike (pending user)"] = pendingUserBlocks.length
  const userIds = new Set(userBlocks.map((u) => u.userId))
  const ownedUserBlocks = state.ownedUserBlocks.filter((u) => noRule && (f.ip === undefined ? true : userIds.has(u.userId)) && (noUser || userIds.has(u.userId) || userOk(u.userId)) && seqOk(u.seq))
  return {
    ...state,
    ipBlocks,
    suppressed: state.suppressed.filter((s) => noUser && noRule && noSince && ipOk(s.cidr)),
    userBlocks,
    pendingUserBlocks,
    owned: state.owned.filter((o) => noUser && noRule && ipOk(o.cidr) && seqOk(o.seq)),
    ownedUsers: ownedUserBlocks.map((u) => u.userId),
    ownedUserBlocks,
    heldByOthers: state.heldByOthers.filter((h) =>
      noRule && seqOk(h.seq) && (h.target === "cryptospike" ? f.ip === undefined && userOk(h.entry) : noUser && ipOk(h.entry))
    ),
    takeOvers: state.takeOvers.filter((t) => noUser && noRule && ipOk(t.cidr) && seqOk(t.seq)),
    counts
  }
}

/**
 * Finding the Windows user behind an address on CryptoSpike: recorded, never guessed.
 *
 * - The file activity searched is anchored on the detection, `[detectedAt − lookback,
 *   detectedAt + grace]`, not on "now": a reconcile an hour later still finds the user.
 * - Exactly one distinct user → resolved, with the names the activity gives. None, and the ADS
 *   event named a user → search that name. More than one → ambiguous, with the candidates.
 *   IDS events carry no user name, so they have no name fallback.
 * - A name search resolves only on exactly one user whose account and domain agree with the
 *   name (src/domain/UserName.ts). A match in another domain (and nothing else), or two
 *   matches, is ambiguous: recorded with the candidates and their names, nobody blocked.
 */
import { compareName, parseAccountName } from "./UserName.js"

export interface ActivityWindow {
  readonly from: string
  readonly to: string
}

export const activityWindow = (detectedAt: string, lookbackMs: number, graceMs: number): ActivityWindow => {
  const at = Date.parse(detectedAt)
  return { from: new Date(at - lookbackMs).toISOString(), to: new Date(at + graceMs).toISOString() }
}

/** A user as the resolution reports it ("" where CryptoSpike gave no name). */
export interface ResolvedUser {
  readonly userId: string
  readonly userName: string
  readonly userPrincipalName: string
}

/** One row of file activity: its user, and the names the row gives ("" when none). */
export interface ActivityRow {
  readonly userId: string
  readonly userName: string
  readonly userPrincipalName: string
}

export type Resolution =
  | { readonly kind: "resolved"; readonly user: ResolvedUser; readonly via: "file-activity" | "name" }
  | {
      readonly kind: "failed"
      readonly reason: "unknown" | "ambiguous"
      /** the candidates' user ids, sorted */
      readonly candidates: ReadonlyArray<string>
      /** the candidates with their names, in the same order */
      readonly matches: ReadonlyArray<ResolvedUser>
    }
  /** no activity: search CryptoSpike's users for this name, then call `fromNameSearch` */
  | { readonly kind: "search-name"; readonly name: string }

const UNKNOWN: Resolution = { kind: "failed", reason: "unknown", candidates: [], matches: [] }

/** Each user once (by id, sorted), with the first non-empty names seen for it. */
const distinctUsers = (rows: ReadonlyArray<ActivityRow>): ResolvedUser[] => {
  const byId = new Map<string, ResolvedUser>()
  for (const r of rows) {
    const seen = byId.get(r.userId)
    byId.set(r.userId, {
      userId: r.userId,
      userName: seen?.userName || r.userName,
      userPrincipalName: seen?.userPrincipalName || r.userPrincipalName
    })
  }
  return [...byId.values()].sort((a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0))
}

const ambiguous = (users: ReadonlyArray<ResolvedUser>): Resolution => ({
  kind: "failed",
  reason: "ambiguous",
  candidates: users.map((u) => u.userId),
  matches: users
})

/**
 * @param rows every activity row from the address in the window
 * @param userIdentity the user name the Flowmon event carried ("" when none; IDS: always "")
 */
export const fromActivity = (rows: ReadonlyArray<ActivityRow>, userIdentity: string): Resolution => {
  const users = distinctUsers(rows)
  if (users.length === 1) return { kind: "resolved", user: users[0]!, via: "file-activity" }
  if (users.length > 1) return ambiguous(users)
  const name = userIdentity.trim()
  return name === "" ? UNKNOWN : { kind: "search-name", name }
}

/**
 * @param name the name searched for (`CORP\jdoe`, `jdoe@corp.example`, `jdoe`)
 * @param found what CryptoSpike's (fuzzy) search returned for it
 */
export const fromNameSearch = (name: string, found: ReadonlyArray<ResolvedUser>): Resolution => {
  const wanted = parseAccountName(name)
  if (wanted === undefined) return UNKNOWN
  const same: ResolvedUser[] = []
  const other: ResolvedUser[] = []
  for (const u of distinctUsers(found)) {
    const match = compareName(wanted, u)
    if (match === "same") same.push(u)
    else if (match === "other-domain") other.push(u)
  }
  // A name with a domain rules out the users of other domains; a bare name cannot.
  const candidates = wanted.domain === null || same.length === 0 ? [...same, ...other].sort((a, b) => (a.userId < b.userId ? -1 : 1)) : same
  if (candidates.length === 1 && same.length === 1) return { kind: "resolved", user: same[0]!, via: "name" }
  return candidates.length === 0 ? UNKNOWN : ambiguous(candidates)
}

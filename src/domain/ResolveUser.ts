/**
 * Finding the Windows user behind an address on CryptoSpike: recorded, never guessed.
 *
 * - The file activity searched is anchored on the detection, `[detectedAt − lookback,
 *   detectedAt + grace]`, not on "now": a reconcile an hour later still finds the user.
 * - Exactly one distinct user → resolved. None, and the ADS event named a user → search that
 *   name (an exact match only). More than one → ambiguous, with the candidates. IDS events
 *   carry no user name, so they have no name fallback.
 */

export interface ActivityWindow {
  readonly from: string
  readonly to: string
}

export const activityWindow = (detectedAt: string, lookbackMs: number, graceMs: number): ActivityWindow => {
  const at = Date.parse(detectedAt)
  return { from: new Date(at - lookbackMs).toISOString(), to: new Date(at + graceMs).toISOString() }
}

/** A user as the resolution reports it. */
export interface ResolvedUser {
  readonly userId: string
  readonly userName: string
  readonly userPrincipalName: string
}

export type Resolution =
  | { readonly kind: "resolved"; readonly user: ResolvedUser; readonly via: "file-activity" | "name" }
  | { readonly kind: "failed"; readonly reason: "unknown" | "ambiguous"; readonly candidates: ReadonlyArray<string> }
  /** no activity: search CryptoSpike's users for this name, then call `fromNameSearch` */
  | { readonly kind: "search-name"; readonly name: string }

/**
 * @param activityUserIds the user of every activity row from the address in the window
 * @param userIdentity the user name the Flowmon event carried ("" when none; IDS: always "")
 */
export const fromActivity = (activityUserIds: ReadonlyArray<string>, userIdentity: string): Resolution => {
  const distinct = [...new Set(activityUserIds)].sort()
  if (distinct.length === 1) return { kind: "resolved", user: { userId: distinct[0]!, userName: "", userPrincipalName: "" }, via: "file-activity" }
  if (distinct.length > 1) return { kind: "failed", reason: "ambiguous", candidates: distinct }
  const name = userIdentity.trim()
  return name === "" ? { kind: "failed", reason: "unknown", candidates: [] } : { kind: "search-name", name }
}

/** @param exactMatches the users whose name matches exactly (case-insensitively) */
export const fromNameSearch = (exactMatches: ReadonlyArray<ResolvedUser>): Resolution => {
  const byId = new Map(exactMatches.map((u) => [u.userId, u]))
  if (byId.size === 1) return { kind: "resolved", user: [...byId.values()][0]!, via: "name" }
  if (byId.size > 1) return { kind: "failed", reason: "ambiguous", candidates: [...byId.keys()].sort() }
  return { kind: "failed", reason: "unknown", candidates: [] }
}

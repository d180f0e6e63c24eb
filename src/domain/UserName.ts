/**
 * Windows account names as Flowmon and CryptoSpike write them: `DOMAIN\user` (NetBIOS domain),
 * `user@realm` (a user principal name, DNS domain) or a bare `user`. Compared case-insensitively
 * (Windows names are), and domains agree when they are equal or when one is a NetBIOS name that
 * is the first label of the other (`CORP` and `corp.example`): that is how Active Directory names
 * them by default. Domains that agree only by another mapping (an alternative UPN suffix, a
 * renamed NetBIOS name) do not agree here: the user is then ambiguous, never guessed.
 */

export interface AccountName {
  /** lower case */
  readonly account: string
  /** lower case; null when the name carries no domain */
  readonly domain: string | null
}

/** The account and domain of a name; undefined for an empty name or an empty part (`CORP\`, `@x`). */
export const parseAccountName = (name: string): AccountName | undefined => {
  const n = name.trim().toLowerCase()
  if (n === "") return undefined
  const slash = n.lastIndexOf("\\")
  if (slash >= 0) {
    const domain = n.slice(0, slash).trim()
    const account = n.slice(slash + 1).trim()
    return domain === "" || account === "" ? undefined : { account, domain }
  }
  const at = n.lastIndexOf("@")
  if (at >= 0) {
    const account = n.slice(0, at).trim()
    const domain = n.slice(at + 1).trim()
    return domain === "" || account === "" ? undefined : { account, domain }
  }
  return { account: n, domain: null }
}

const firstLabel = (dns: string): string => dns.split(".", 1)[0]!

/** Whether two (lower-case) domain names name the same domain. */
export const sameDomain = (a: string, b: string): boolean =>
  a === b || (!a.includes(".") && b.includes(".") && firstLabel(b) === a) || (!b.includes(".") && a.includes(".") && firstLabel(a) === b)

/** What a listed user's names say about it. */
export interface ListedNames {
  readonly userName: string
  readonly userPrincipalName: string
}

/**
 * How a listed user relates to the name searched for:
 * - `same`: the account agrees, and so does every domain the listed user gives (a bare name
 *   searched matches only a listed bare `userName`: the domain cannot be checked otherwise);
 * - `other-domain`: the account agrees but a domain the listed user gives does not (or, for a
 *   bare name searched, the listed user carries a domain that cannot be checked);
 * - `none`: another account.
 */
export const compareName = (wanted: AccountName, user: ListedNames): "same" | "other-domain" | "none" => {
  const names = [parseAccountName(user.userName), parseAccountName(user.userPrincipalName)].filter((n): n is AccountName => n !== undefined)
  if (!names.some((n) => n.account === wanted.account)) return "none"
  if (wanted.domain === null) {
    const bare = parseAccountName(user.userName)
    return bare !== undefined && bare.domain === null && bare.account === wanted.account ? "same" : "other-domain"
  }
  const domain = wanted.domain
  return names.every((n) => n.domain === null || sameDomain(n.domain, domain)) ? "same" : "other-domain"
}

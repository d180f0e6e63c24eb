/**
 * Takes the secrets in use out of appliance text. An appliance may echo a request in its error
 * body (its URL with `apikey=`, its headers with `Authorization`, its JSON body), and what it
 * echoes would otherwise reach an error message, the terminal, the log file and the event log.
 * Every text a client reads from an appliance passes through `redact` first, before it is
 * parsed, cut to length or put into a message (a cut could otherwise split a secret and leave a
 * piece of it that no longer matches), and every error a client returns passes through it again.
 *
 * A secret is looked for in the forms a request carries it or an appliance echoes it: as it is,
 * URL-encoded (`encodeURIComponent`, `%XX` in either case, and the form encoding with `+` for a
 * blank), escaped in JSON (also with `\/`) or XML, base64 and base64url (padded or not, alone or
 * inside a longer base64 text), and the `user:password` pair of a Basic `Authorization` header in
 * base64.
 */
import * as Redacted from "effect/Redacted"

export const REDACTED = "<redacted>"

export interface BasicCredentials {
  readonly user: string
  readonly password: Redacted.Redacted<string>
}

export interface Redactor {
  /** `text` with every form of every secret replaced by `<redacted>` */
  readonly redact: (text: string) => string
  /** a redactor that also knows `secret` (a session token obtained at login) */
  readonly with: (secret: Redacted.Redacted<string>) => Redactor
}

/**
 * The secret inside a longer base64 text (an echoed request body, say): its bytes may start at any
 * of three offsets from a 3-byte group, and the groups it shares with the bytes around it are
 * spelled differently each time. What is the secret's alone, at each offset, is the run of
 * characters between those shared groups; runs too short to be the secret's are left out.
 */
const embeddedBase64 = (bytes: Buffer, encoding: "base64" | "base64url"): string[] => {
  const runs: string[] = []
  for (let offset = 0; offset < 3; offset++) {
    const text = Buffer.concat([Buffer.alloc(offset), bytes]).toString(encoding)
    const start = offset === 0 ? 0 : 4
    const end = Math.floor((offset + bytes.length) / 3) * 4
    if (end - start >= 8) runs.push(text.slice(start, end))
  }
  return runs
}

const base64Forms = (text: string): string[] => {
  const bytes = Buffer.from(text, "utf8")
  const b64 = bytes.toString("base64")
  const url = bytes.toString("base64url")
  return [b64, b64.replace(/=+$/, ""), url, ...embeddedBase64(bytes, "base64"), ...embeddedBase64(bytes, "base64url")]
}

const xmlEscaped = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[c]!)

/** The forms one secret may take in a request or an echo of it. */
export const secretForms = (secret: string): string[] => {
  const uri = encodeURIComponent(secret)
  const json = JSON.stringify(secret).slice(1, -1)
  return [
    secret,
    uri,
    uri.replace(/%20/g, "+"),
    new URLSearchParams({ k: secret }).toString().slice(2),
    json,
    json.replace(/\//g, "\\/"),
    xmlEscaped(secret),
    ...base64Forms(secret)
  ]
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&")

/** A needle as a pattern: the hex digits of its `%XX` escapes in either case. */
const patternOf = (needle: string): string =>
  needle
    .split(/(%[0-9A-Fa-f]{2})/)
    .map((part) => (/^%[0-9A-Fa-f]{2}$/.test(part) ? `%[${part[1]!.toLowerCase()}${part[1]!.toUpperCase()}][${part[2]!.toLowerCase()}${part[2]!.toUpperCase()}]` : escapeRegExp(part)))
    .join("")

const build = (plain: ReadonlyArray<string>, basic: ReadonlyArray<string>): Redactor => {
  const needles = [...new Set([...plain.flatMap(secretForms), ...basic.flatMap(base64Forms)])].filter((n) => n !== "")
  // Longest first: a form that contains another is replaced whole.
  needles.sort((a, b) => b.length - a.length)
  const pattern = needles.length === 0 ? undefined : new RegExp(needles.map(patternOf).join("|"), "g")
  // The pattern is tried only on text that holds a secret's first form, or a `%` (the
  // case-insensitive escapes): most answers hold none, and a list can be megabytes long.
  const quick = needles.map((n) => (n.includes("%") ? "%" : n))
  const redact = (text: string): string => {
    if (pattern === undefined || !quick.some((q) => text.includes(q))) return text
    return text.replace(pattern, REDACTED)
  }
  return {
    redact,
    with: (secret) => build([...plain, Redacted.value(secret)], basic)
  }
}

/** A redactor for `secrets` and the Basic credentials made of `basic`. */
export const makeRedactor = (secrets: ReadonlyArray<Redacted.Redacted<string>>, basic: ReadonlyArray<BasicCredentials> = []): Redactor =>
  build(
    secrets.map((s) => Redacted.value(s)),
    basic.map((b) => `${b.user}:${Redacted.value(b.password)}`)
  )

/** An error of a client with its message redacted (and nothing else changed). */
export const redactError = <E extends { readonly message: string }>(redactor: Redactor, error: E, rebuild: (message: string) => E): E => {
  const message = redactor.redact(error.message)
  return message === error.message ? error : rebuild(message)
}

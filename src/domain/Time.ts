/**
 * Timestamps as Flowmon writes them, turned into UTC ISO strings.
 *
 * Flowmon writes `YYYY-MM-DD HH:MM:SS` without a zone: it is the appliance's local time, so the
 * zone is a parameter (`--timezone`). Only unambiguous forms are accepted; `8/28/2023 10:13`
 * (month or day first?) is refused rather than guessed.
 */
import type { ParseResult } from "./Address.js"
import { quote } from "./SafeText.js"

const ok = <A>(value: A): ParseResult<A> => ({ ok: true, value })
const fail = (error: string): ParseResult<never> => ({ ok: false, error })

/** A validated IANA time zone name (or "UTC"). */
export type TimeZone = string & { readonly _brand: "TimeZone" }

const formatters = new Map<string, Intl.DateTimeFormat>()

const formatterFor = (zone: string): Intl.DateTimeFormat => {
  let f = formatters.get(zone)
  if (f === undefined) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit"
    })
    formatters.set(zone, f)
  }
  return f
}

export const parseTimeZone = (name: string): ParseResult<TimeZone> => {
  if (name === "") return fail("empty time zone name")
  try {
    formatterFor(name)
    return ok(name as TimeZone)
  } catch {
    return fail(`unknown time zone '${name}' (expected an IANA name such as Europe/Prague, or UTC)`)
  }
}

/** Offset of `zone` from UTC at the instant `utcMs`, in milliseconds. */
const offsetAt = (zone: string, utcMs: number): number => {
  const parts = formatterFor(zone).formatToParts(new Date(utcMs))
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value)
  const asUtc = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second"))
  return asUtc - Math.floor(utcMs / 1000) * 1000
}

// Zone offsets only change on whole quarter hours, so one lookup serves a whole local quarter hour.
const offsetCache = new Map<string, number>()

/** Converts a wall-clock time in `zone` to UTC milliseconds (DST gaps move forward). */
const localToUtc = (zone: TimeZone, localMs: number): number => {
  if (zone === "UTC" || zone === "Etc/UTC") return localMs
  const quarter = Math.floor(localMs / 900_000)
  const key = `${zone}|${quarter}`
  let offset = offsetCache.get(key)
  if (offset === undefined) {
    const first = offsetAt(zone, localMs)
    const second = offsetAt(zone, localMs - first)
    offset = first === second ? first : Math.max(first, second)
    if (offsetCache.size > 10_000) offsetCache.clear()
    offsetCache.set(key, offset)
  }
  return localMs - offset
}

const daysInMonth = (year: number, month: number): number => new Date(Date.UTC(year, month, 0)).getUTCDate()

const checkParts = (
  y: number,
  mo: number,
  d: number,
  h: number,
  mi: number,
  s: number
): string | undefined => {
  if (mo < 1 || mo > 12) return `month ${mo} is out of range`
  if (d < 1 || d > daysInMonth(y, mo)) return `day ${d} does not exist in ${y}-${String(mo).padStart(2, "0")}`
  if (h > 23) return `hour ${h} is out of range`
  if (mi > 59) return `minute ${mi} is out of range`
  if (s > 60) return `second ${s} is out of range`
  return undefined
}

const ISO_LIKE =
  /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(?:\s*(Z|[+-]\d{2}:?\d{2}))?$/

const toIso = (ms: number): string => new Date(ms).toISOString()

/**
 * Parses a Flowmon timestamp: `YYYY-MM-DD HH:MM:SS` (also with `T`, fractions, and an explicit
 * `Z`/`±hh:mm` zone, which then wins over `zone`), or Unix epoch seconds / milliseconds.
 */
export const parseFlowmonTime = (input: string, zone: TimeZone): ParseResult<string> => {
  const text = input.trim()
  if (text === "") return fail("empty timestamp")
  const m = ISO_LIKE.exec(text)
  if (m !== null) {
    const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [
      number,
      number,
      number,
      number,
      number,
      number
    ]
    const bad = checkParts(y, mo, d, h, mi, s)
    if (bad !== undefined) return fail(`${quote(input)}: ${bad}`)
    const fraction = m[7] === undefined ? 0 : Math.floor(Number(`0.${m[7]}`) * 1000)
    const wall = Date.UTC(y, mo - 1, d, h, mi, Math.min(s, 59), fraction)
    const designator = m[8]
    if (designator === undefined) return ok(toIso(localToUtc(zone, wall)))
    if (designator === "Z") return ok(toIso(wall))
    const sign = designator[0] === "-" ? -1 : 1
    const digits = designator.slice(1).replace(":", "")
    const offsetMin = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))
    return ok(toIso(wall - sign * offsetMin * 60_000))
  }
  if (/^\d{9,10}$/.test(text)) return ok(toIso(Number(text) * 1000))
  if (/^\d{12,13}$/.test(text)) return ok(toIso(Number(text)))
  return fail(`${quote(input)} is not a timestamp (expected YYYY-MM-DD HH:MM:SS)`)
}

const MONTHS: Record<string, number> = {
  jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12
}

const CEF_TIME = /^([A-Za-z]{3}) (\d{1,2}) (\d{4}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?$/

/** Parses a CEF `start=` value: `MMM dd yyyy HH:mm:ss` in `zone`, or epoch milliseconds. */
export const parseCefTime = (input: string, zone: TimeZone): ParseResult<string> => {
  const text = input.trim()
  const m = CEF_TIME.exec(text)
  if (m !== null) {
    const mo = MONTHS[m[1]!.toLowerCase()]
    if (mo === undefined) return fail(`${quote(input)}: unknown month ${quote(m[1]!)}`)
    const [d, y, h, mi, s] = [m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number]
    const bad = checkParts(y, mo, d, h, mi, s)
    if (bad !== undefined) return fail(`${quote(input)}: ${bad}`)
    const wall = Date.UTC(y, mo - 1, d, h, mi, Math.min(s, 59), m[7] === undefined ? 0 : Number(m[7].padEnd(3, "0")))
    return ok(toIso(localToUtc(zone, wall)))
  }
  if (/^\d{12,13}$/.test(text)) return ok(toIso(Number(text)))
  return fail(`${quote(input)} is not a CEF time (expected MMM dd yyyy HH:mm:ss)`)
}

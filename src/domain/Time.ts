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

const isUtc = (zone: string): boolean => zone === "UTC" || zone === "Etc/UTC"

export const parseTimeZone = (name: string): ParseResult<TimeZone> => {
  if (name === "") return fail("empty time zone name")
  // UTC needs no zone data; loading Intl's costs ~20 ms, a tenth of a cold start.
  if (isUtc(name)) return ok(name as TimeZone)
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
  if (isUtc(zone)) return localMs
  const quarter = Math.floor(localMs / 900_000)
  const key = `${zone}|${quarter}`
  let offset = offsetCache.get(key)
  if (offset === undefined) {
    // The offsets in force a day before and a day after differ only around a transition.
    const before = offsetAt(zone, localMs - 86_400_000)
    const after = offsetAt(zone, localMs + 86_400_000)
    if (before === after || offsetAt(zone, localMs - before) === before) offset = before // (first reading in an overlap)
    else if (offsetAt(zone, localMs - after) === after) offset = after
    else offset = before // in a gap: the offset before the jump moves the time forward
    if (offsetCache.size > 10_000) offsetCache.clear()
    offsetCache.set(key, offset)
  }
  return localMs - offset
}

const isLeapYear = (y: number): boolean => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0

const daysInMonth = (year: number, month: number): number =>
  month === 2 ? (isLeapYear(year) ? 29 : 28) : month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31

const checkParts = (
  y: number,
  mo: number,
  d: number,
  h: number,
  mi: number,
  s: number
): string | undefined => {
  // Also keeps Date.UTC from reading years 0-99 as 1900-1999.
  if (y < 1970) return `year ${y} is before 1970`
  if (mo < 1 || mo > 12) return `month ${mo} is out of range`
  if (d < 1 || d > daysInMonth(y, mo)) return `day ${d} does not exist in ${y}-${String(mo).padStart(2, "0")}`
  if (h > 23) return `hour ${h} is out of range`
  if (mi > 59) return `minute ${mi} is out of range`
  if (s > 60) return `second ${s} is out of range`
  return undefined
}

const ISO_LIKE =
  /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(?:\s*(Z|[+-]\d{2}:?\d{2}))?$/

const pad2 = (n: number): string => (n < 10 ? `0${n}` : `${n}`)

/**
 * `new Date(ms).toISOString()` without the Date: the ingest hot path formats two per event.
 * Civil-from-days after Howard Hinnant's algorithm; years 1970-9999 (checked by the parsers).
 */
const toIso = (ms: number): string => {
  const days = Math.floor(ms / 86_400_000)
  let rest = ms - days * 86_400_000
  const z = days + 719_468
  const era = Math.floor(z / 146_097)
  const doe = z - era * 146_097
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365)
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
  const mp = Math.floor((5 * doy + 2) / 153)
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1
  const month = mp < 10 ? mp + 3 : mp - 9
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0)
  const h = Math.floor(rest / 3_600_000)
  rest -= h * 3_600_000
  const mi = Math.floor(rest / 60_000)
  rest -= mi * 60_000
  const s = Math.floor(rest / 1000)
  const msPart = rest - s * 1000
  return `${year}-${pad2(month)}-${pad2(day)}T${pad2(h)}:${pad2(mi)}:${pad2(s)}.${msPart < 10 ? `00${msPart}` : msPart < 100 ? `0${msPart}` : msPart}Z`
}

const digitsAt = (s: string, at: number, count: number): number => {
  let n = 0
  for (let i = at; i < at + count; i++) {
    const d = s.charCodeAt(i) - 48
    if (d < 0 || d > 9) return -1
    n = n * 10 + d
  }
  return n
}

/**
 * The form Flowmon writes, `YYYY-MM-DD HH:MM:SS` exactly, as wall-clock milliseconds, without
 * allocating; undefined sends anything else (or anything invalid) through the general parser.
 */
const exactFlowmonTime = (s: string): number | undefined => {
  if (s.length !== 19 || s[4] !== "-" || s[7] !== "-" || s[10] !== " " || s[13] !== ":" || s[16] !== ":") return undefined
  const y = digitsAt(s, 0, 4)
  const mo = digitsAt(s, 5, 2)
  const d = digitsAt(s, 8, 2)
  const h = digitsAt(s, 11, 2)
  const mi = digitsAt(s, 14, 2)
  const sec = digitsAt(s, 17, 2)
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59) {
    return undefined
  }
  return Date.UTC(y, mo - 1, d, h, mi, sec)
}

/**
 * Parses a Flowmon timestamp: `YYYY-MM-DD HH:MM:SS` (also with `T`, fractions, and an explicit
 * `Z`/`±hh:mm` zone, which then wins over `zone`), or Unix epoch seconds / milliseconds.
 */
export const parseFlowmonTime = (input: string, zone: TimeZone): ParseResult<string> => {
  const exact = exactFlowmonTime(input)
  if (exact !== undefined) return ok(toIso(localToUtc(zone, exact)))
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

const CEF_TIME = /^([A-Za-z]{3}) {1,2}(\d{1,2}) (\d{4}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?$/

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

// ---------------------------------------------------------------------------------------------
// Instants: expiries are fixed-width UTC ISO text (`YYYY-MM-DDTHH:MM:SS.sssZ`), so comparing the
// text compares the instants. `new Date(ms).toISOString()` is not: past year 9999 it writes
// `+029405-…` (which sorts before every year from 1970 on), and past year 275760 it throws.

/** The latest instant mitigator writes: the last one with a four-digit year. */
export const FAR_FUTURE = "9999-12-31T23:59:59.999Z"
const FAR_FUTURE_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999)
const EPOCH = "1970-01-01T00:00:00.000Z"

/**
 * `atMs + durationMs` as a fixed-width UTC ISO instant, saturating at 1970 and at FAR_FUTURE
 * (an overflow or a NaN saturates at FAR_FUTURE). Every expiry mitigator computes comes from here.
 */
export const instantAfter = (atMs: number, durationMs: number): string => {
  const ms = atMs + durationMs
  if (!(ms < FAR_FUTURE_MS)) return FAR_FUTURE
  if (ms <= 0) return EPOCH
  return toIso(Math.floor(ms))
}

/** `at` (UTC ISO) plus `durationMs`, as `instantAfter`. */
export const isoAfter = (at: string, durationMs: number): string => instantAfter(Date.parse(at), durationMs)

/** Whether `text` has the form mitigator writes instants in: `YYYY-MM-DDTHH:MM:SS.sssZ`. */
export const isFixedWidthInstant = (text: string): boolean =>
  text.length === 24 && text.charCodeAt(23) === 90 && text.charCodeAt(10) === 84 && text.charCodeAt(4) === 45 && text.charCodeAt(19) === 46

/**
 * An instant read from the log, as fixed-width text. Older versions wrote expiries past year 9999
 * as `+029405-…`: such an expiry is read as FAR_FUTURE (in force), never as the past; so is one
 * that cannot be read at all. Cheap for what is already fixed-width (everything written now).
 */
export const readInstant = (text: string): string => {
  if (isFixedWidthInstant(text)) return text
  const ms = Date.parse(text)
  return Number.isNaN(ms) ? FAR_FUTURE : instantAfter(ms, 0)
}

/**
 * How far a run's clock may be behind the log's newest row before it counts as skew (recorded as
 * ClockSkewObserved, shown by append, status and doctor): clocks of one host under NTP agree
 * far better than this.
 */
export const CLOCK_TOLERANCE_MS = 60_000

/**
 * `clock` against another clock's `reference` time, when they differ by more than
 * CLOCK_TOLERANCE_MS either way: behindMs = reference - clock (negative when `clock` is ahead).
 */
export const clockSkew = (clock: string, reference: string | undefined): { readonly reference: string; readonly behindMs: number } | undefined => {
  if (reference === undefined) return undefined
  const behindMs = Date.parse(reference) - Date.parse(clock)
  return Math.abs(behindMs) > CLOCK_TOLERANCE_MS ? { reference, behindMs } : undefined
}

/**
 * Durations as written in the config and on the command line: a whole number and a unit,
 * `90s`, `30m`, `6h`, `7d`, `2w`. Only one unit per value: `1h30m` is written `90m`.
 *
 * Every duration has a ceiling, MAX_DURATION (3650 days, ten years): a ttl, an escalation window
 * or maxTtl, an `allow --ttl` longer than that is refused where it is written, so no expiry
 * computed from one can leave the range of a fixed-width timestamp.
 */
import type { ParseResult } from "./Address.js"
import { quote } from "./SafeText.js"

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }

const DURATION = /^([0-9]+)(s|m|h|d|w)$/

/** The longest duration anywhere: 3650 days (ten years), 315,360,000,000 ms. */
export const MAX_DURATION_MS = 3650 * UNIT_MS["d"]!

/** MAX_DURATION_MS as written in messages. */
export const MAX_DURATION_TEXT = "3650d (10 years)"

export const DURATION_HINT = 'expected a duration like "90s", "30m", "6h" or "7d"'

export const DURATION_ZERO = "a duration must be longer than zero"

export const DURATION_CEILING = `longer than the ceiling of ${MAX_DURATION_TEXT}`

/** Why a text is not a duration: its shape, zero, or over the ceiling. */
export type DurationProblem = typeof DURATION_HINT | typeof DURATION_ZERO | typeof DURATION_CEILING

/** The duration in milliseconds, or what is wrong with it (without the text itself). */
export const checkDuration = (text: string): { readonly ok: true; readonly value: number } | { readonly ok: false; readonly problem: DurationProblem } => {
  const m = DURATION.exec(text.trim())
  if (m === null) return { ok: false, problem: DURATION_HINT }
  // A number of any length: 400 digits is Infinity, still over the ceiling, never a NaN.
  const ms = Number(m[1]) * UNIT_MS[m[2]!]!
  if (ms <= 0) return { ok: false, problem: DURATION_ZERO }
  if (!(ms <= MAX_DURATION_MS)) return { ok: false, problem: DURATION_CEILING }
  return { ok: true, value: ms }
}

/** `'999999999w': longer than the ceiling of 3650d (10 years)` and the like. */
export const parseDuration = (text: string): ParseResult<number> => {
  const checked = checkDuration(text)
  return checked.ok ? checked : { ok: false, error: `${quote(text)}: ${checked.problem}` }
}

/** The shortest exact text for a duration in milliseconds (`21600000` → `6h`). */
export const formatDuration = (ms: number): string => {
  for (const unit of ["w", "d", "h", "m", "s"] as const) {
    const size = UNIT_MS[unit]!
    if (ms % size === 0) return `${ms / size}${unit}`
  }
  return `${ms}ms`
}

/** How `clock` stands against another clock, in words: `1d 0h ahead of`, `3m 20s behind`. */
export const skewInWords = (behindMs: number): string => `${formatSpan(behindMs)} ${behindMs < 0 ? "ahead of" : "behind"}`

/** A span as a person reads it, in its two largest units: `45s`, `3m 20s`, `5h 12m`, `1d 2h`. */
export const formatSpan = (ms: number): string => {
  const s = Math.floor(Math.abs(ms) / 1000)
  const [d, h, m] = [Math.floor(s / 86_400), Math.floor((s % 86_400) / 3600), Math.floor((s % 3600) / 60)]
  return d > 0 ? `${d}d ${h}h` : h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${s % 60}s` : `${s}s`
}

/**
 * The time an expiry has left, for a person, in its two largest units (a zero second one left
 * out): `5h 12m left`, `74d left`, `1d 3h left`, `42s left` under a minute, `expired` at or past
 * it. Minutes are rounded up: precise enough for a person, and stable to read.
 */
export const timeLeft = (until: string, now: string): string => {
  const ms = Date.parse(until) - Date.parse(now)
  if (!(ms > 0)) return "expired"
  if (ms < 60_000) return `${Math.ceil(ms / 1000)}s left`
  const minutes = Math.ceil(ms / 60_000)
  const [d, h, m] = [Math.floor(minutes / 1440), Math.floor((minutes % 1440) / 60), minutes % 60]
  const span = d > 0 ? `${d}d${h > 0 ? ` ${h}h` : ""}` : h > 0 ? `${h}h${m > 0 ? ` ${m}m` : ""}` : `${m}m`
  return `${span} left`
}

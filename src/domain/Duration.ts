/**
 * Durations as written in the config and on the command line: a whole number and a unit,
 * `90s`, `30m`, `6h`, `7d`, `2w`. Only one unit per value: `1h30m` is written `90m`.
 */
import type { ParseResult } from "./Address.js"
import { quote } from "./SafeText.js"

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }

const DURATION = /^([0-9]{1,9})(s|m|h|d|w)$/

export const DURATION_HINT = 'expected a duration like "90s", "30m", "6h" or "7d"'

export const parseDuration = (text: string): ParseResult<number> => {
  const m = DURATION.exec(text.trim())
  if (m === null) return { ok: false, error: `${quote(text)}: ${DURATION_HINT}` }
  const ms = Number(m[1]) * UNIT_MS[m[2]!]!
  if (ms <= 0) return { ok: false, error: `${quote(text)}: a duration must be longer than zero` }
  return { ok: true, value: ms }
}

/** The shortest exact text for a duration in milliseconds (`21600000` → `6h`). */
export const formatDuration = (ms: number): string => {
  for (const unit of ["w", "d", "h", "m", "s"] as const) {
    const size = UNIT_MS[unit]!
    if (ms % size === 0) return `${ms / size}${unit}`
  }
  return `${ms}ms`
}

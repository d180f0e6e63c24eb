/** What a command says about this run's clock against the log's newest row. */
import { formatSpan } from "../domain/Duration.js"
import { CLOCK_TOLERANCE_MS, clockSkew } from "../domain/Time.js"

export { CLOCK_TOLERANCE_MS }

export interface ClockBehind {
  readonly clock: string
  readonly newest: string
  readonly behindMs: number
}

/** How far `clock` is behind `newest`, when that is more than CLOCK_TOLERANCE_MS. */
export const clockBehind = (clock: string, newest: string | undefined): ClockBehind | undefined => {
  const skew = clockSkew(clock, newest)
  return skew !== undefined && skew.behindMs > 0 ? { clock, newest: skew.reference, behindMs: skew.behindMs } : undefined
}

/** The warning of a run whose clock is behind the log (append, status). */
export const clockBehindWarning = (skew: ClockBehind): string =>
  `warning: this clock (${skew.clock}) is ${formatSpan(skew.behindMs)} behind the log's newest event (${skew.newest}): ` +
  "expiries are counted from this clock; if it is right, an earlier run's clock was ahead. Check NTP (mitigator doctor)"

/**
 * How long `reconcile --watch` waits before its next pass. After a pass that could not reach or
 * read an appliance (or failed outright) the wait doubles with each such pass in a row, from
 * `--interval` up to five minutes (or the interval, when that is longer), so an appliance that
 * is down is not asked again and again at full rate; the first pass that reaches every appliance
 * goes back to the interval.
 */

export const MAX_BACKOFF_MS = 5 * 60 * 1000

/** The wait after `outagesInARow` passes in a row that met an outage (0: the last pass did not). */
export const watchDelayMs = (intervalMs: number, outagesInARow: number): number => {
  if (outagesInARow <= 0) return intervalMs
  const ceiling = Math.max(intervalMs, MAX_BACKOFF_MS)
  // 2^20 × any interval is past any ceiling; the exponent is bounded so the product stays finite.
  return Math.min(ceiling, intervalMs * 2 ** Math.min(outagesInARow - 1, 20))
}

/** Summaries of repeated runs, and the progress lines a long run prints to stderr. */

export interface Stats {
  readonly median: number
  readonly min: number
  readonly max: number
  readonly runs: number
}

export const stats = (values: ReadonlyArray<number>): Stats => {
  if (values.length === 0) throw new Error("no samples")
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, runs: sorted.length }
}

/** A ratio of medians against its target (a ceiling): the figure and whether it holds. */
export interface Ratio {
  readonly value: number
  readonly max: number
  readonly pass: boolean
}

export const ratio = (numerator: Stats, denominator: Stats, max: number): Ratio => {
  const value = numerator.median / denominator.median
  return { value, max, pass: value <= max }
}

const started = Date.now()

/** One line per step on stderr, with the time since the bench started: a 20-minute run is not silent. */
export const progress = (message: string) => {
  const s = (Date.now() - started) / 1000
  process.stderr.write(`[bench ${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, "0")}] ${message}\n`)
}

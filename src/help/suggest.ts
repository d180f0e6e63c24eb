/** "Did you mean": the known word nearest to a misspelt one, when it is near enough to be meant. */

/** Edits (insert, delete, substitute, swap two neighbours) from `a` to `b`. */
export const distance = (a: string, b: string): number => {
  const d: Array<Array<number>> = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)])
  for (let j = 1; j <= b.length; j++) d[0]![j] = j
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1)
      d[i]![j] = best
    }
  }
  return d[a.length]![b.length]!
}

/**
 * The candidate `word` most likely stands for: the nearest within a third of its length (at
 * least 1, at most 3 edits), or the only one it is the start of (`rec` for `reconcile`).
 */
export const didYouMean = (word: string, candidates: Iterable<string>): string | undefined => {
  const all = [...candidates]
  const ranked = all
    .map((c) => ({ c, d: distance(word.toLowerCase(), c.toLowerCase()) }))
    .sort((x, y) => x.d - y.d)
  const best = ranked[0]
  const limit = Math.min(3, Math.max(1, Math.floor(Math.max(word.length, best?.c.length ?? 0) / 3)))
  if (best !== undefined && best.d <= limit && (ranked[1] === undefined || ranked[1].d > best.d)) return best.c
  const prefixed = word.length >= 2 ? all.filter((c) => c.startsWith(word)) : []
  return prefixed.length === 1 ? prefixed[0] : undefined
}

/**
 * A token bucket: `ratePerSecond` requests a second on average, and bursts of as many (at least
 * one). The caller passes the time (a monotonic clock in ms), so the bucket itself is pure.
 */
export class TokenBucket {
  private tokens: number
  private last: number | undefined

  constructor(
    readonly ratePerSecond: number,
    readonly capacity = Math.max(1, ratePerSecond)
  ) {
    this.tokens = capacity
  }

  /** Takes a token at `nowMs`: 0 when there was one, else the seconds until there will be one. */
  take(nowMs: number): number {
    if (this.last !== undefined) this.tokens = Math.min(this.capacity, this.tokens + ((nowMs - this.last) / 1000) * this.ratePerSecond)
    this.last = nowMs
    if (this.tokens >= 1) {
      this.tokens -= 1
      return 0
    }
    return (1 - this.tokens) / this.ratePerSecond
  }
}

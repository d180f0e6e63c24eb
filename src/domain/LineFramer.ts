/**
 * Splits a byte stream into lines without ever holding an oversized line in memory: a line over
 * the limit keeps only a prefix (for the rejection record) and its length.
 * Accepts LF and CRLF, and a last line without a terminator.
 */

export const MAX_LINE_BYTES = 1024 * 1024
const KEPT_PREFIX_BYTES = 4096

export interface FramedLine {
  /** 1-based position in the input, counting empty lines too */
  readonly number: number
  /** the line without its terminator; only a prefix when `oversized` */
  readonly bytes: Uint8Array
  readonly byteLength: number
  readonly oversized: boolean
}

export class LineFramer {
  private parts: Uint8Array[] = []
  private length = 0
  private oversized = false
  private lineNumber = 0

  /** Feeds a chunk; returns the lines it completed. */
  push(chunk: Uint8Array): FramedLine[] {
    const out: FramedLine[] = []
    let pos = 0
    for (let nl = chunk.indexOf(10, pos); nl !== -1; nl = chunk.indexOf(10, pos)) {
      this.add(chunk.subarray(pos, nl))
      out.push(this.take())
      pos = nl + 1
    }
    if (pos < chunk.length) this.add(chunk.subarray(pos))
    return out
  }

  /** Ends the input; returns the last line when it had no terminator. */
  end(): FramedLine[] {
    return this.length > 0 ? [this.take()] : []
  }

  private add(segment: Uint8Array): void {
    if (segment.length === 0) return
    if (!this.oversized && this.length + segment.length > MAX_LINE_BYTES + 1) {
      // +1: a CR before the LF does not count against the limit.
      const kept = concat(this.parts, this.length).subarray(0, KEPT_PREFIX_BYTES)
      this.parts = kept.length < KEPT_PREFIX_BYTES ? [kept, segment.subarray(0, KEPT_PREFIX_BYTES - kept.length)] : [kept]
      this.oversized = true
    } else if (this.oversized) {
      const keptLength = this.parts.reduce((n, p) => n + p.length, 0)
      if (keptLength < KEPT_PREFIX_BYTES) this.parts.push(segment.subarray(0, KEPT_PREFIX_BYTES - keptLength))
    } else {
      this.parts.push(segment)
    }
    this.length += segment.length
  }

  private take(): FramedLine {
    this.lineNumber++
    let bytes = this.oversized ? concat(this.parts, KEPT_PREFIX_BYTES) : concat(this.parts, this.length)
    let byteLength = this.length
    let oversized = this.oversized
    if (!oversized && byteLength > 0 && bytes[byteLength - 1] === 13) {
      bytes = bytes.subarray(0, byteLength - 1)
      byteLength--
    }
    if (!oversized && byteLength > MAX_LINE_BYTES) {
      bytes = bytes.subarray(0, KEPT_PREFIX_BYTES)
      oversized = true
    }
    const line: FramedLine = { number: this.lineNumber, bytes, byteLength, oversized }
    this.parts = []
    this.length = 0
    this.oversized = false
    return line
  }
}

const concat = (parts: ReadonlyArray<Uint8Array>, length: number): Uint8Array => {
  if (parts.length === 1) return parts[0]!
  const out = new Uint8Array(Math.min(length, parts.reduce((n, p) => n + p.length, 0)))
  let at = 0
  for (const p of parts) {
    const take = Math.min(p.length, out.length - at)
    out.set(p.subarray(0, take), at)
    at += take
    if (at === out.length) break
  }
  return out
}

/**
 * Making untrusted input safe to store and to show.
 *
 * Rejected lines are kept for the audit trail, but they may hold anything: ANSI escapes that
 * repaint an operator's terminal, NUL bytes, invalid UTF-8, megabytes of junk. They are stored
 * as printable ASCII with visible escapes, cut to a bounded size.
 */

export const MAX_REJECTED_RAW_BYTES = 4096

const hex2 = (n: number) => n.toString(16).padStart(2, "0")

/**
 * Escapes bytes into printable ASCII: `\\`, `\t`, `\r`, `\n`, other control bytes and bytes that
 * are not valid UTF-8 as `\xNN`; valid non-ASCII characters as `\u{…}` so nothing can hide
 * (bidi overrides, zero-width characters).
 */
export const escapeBytes = (bytes: Uint8Array): string => {
  let out = ""
  let i = 0
  while (i < bytes.length) {
    const b = bytes[i]!
    if (b < 0x80) {
      if (b === 0x5c) out += "\\\\"
      else if (b === 0x09) out += "\\t"
      else if (b === 0x0a) out += "\\n"
      else if (b === 0x0d) out += "\\r"
      else if (b < 0x20 || b === 0x7f) out += `\\x${hex2(b)}`
      else out += String.fromCharCode(b)
      i++
      continue
    }
    const decoded = decodeUtf8Char(bytes, i)
    if (decoded === undefined) {
      out += `\\x${hex2(b)}`
      i++
    } else {
      out += `\\u{${decoded.codePoint.toString(16)}}`
      i += decoded.length
    }
  }
  return out
}

const decodeUtf8Char = (bytes: Uint8Array, i: number): { codePoint: number; length: number } | undefined => {
  const b0 = bytes[i]!
  let length: number
  let cp: number
  let min: number
  if (b0 >= 0xc2 && b0 <= 0xdf) [length, cp, min] = [2, b0 & 0x1f, 0x80]
  else if (b0 >= 0xe0 && b0 <= 0xef) [length, cp, min] = [3, b0 & 0x0f, 0x800]
  else if (b0 >= 0xf0 && b0 <= 0xf4) [length, cp, min] = [4, b0 & 0x07, 0x10000]
  else return undefined
  if (i + length > bytes.length) return undefined
  for (let k = 1; k < length; k++) {
    const b = bytes[i + k]!
    if ((b & 0xc0) !== 0x80) return undefined
    cp = (cp << 6) | (b & 0x3f)
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return undefined
  return { codePoint: cp, length }
}

/** Offset of the first byte that does not start or continue a valid UTF-8 sequence. */
export const firstInvalidUtf8Offset = (bytes: Uint8Array): number => {
  let i = 0
  while (i < bytes.length) {
    if (bytes[i]! < 0x80) {
      i++
      continue
    }
    const decoded = decodeUtf8Char(bytes, i)
    if (decoded === undefined) return i
    i += decoded.length
  }
  return -1
}

/** The input kept in an `InputRejected` event: escaped, and cut to 4 KiB of the original bytes. */
export const rejectedRaw = (bytes: Uint8Array): { readonly raw: string; readonly truncated: boolean } => {
  const truncated = bytes.length > MAX_REJECTED_RAW_BYTES
  return { raw: escapeBytes(truncated ? bytes.subarray(0, MAX_REJECTED_RAW_BYTES) : bytes), truncated }
}

/**
 * Position and code of the first control character that has no business in a Flowmon line
 * (C0 controls except TAB, DEL, C1 controls), or undefined.
 */
export const findControlCharacter = (line: string): { readonly index: number; readonly code: number } | undefined => {
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i)
    if ((c < 0x20 && c !== 0x09) || (c >= 0x7f && c <= 0x9f)) return { index: i, code: c }
  }
  return undefined
}

export const describeCodeUnit = (code: number): string => `U+${code.toString(16).toUpperCase().padStart(4, "0")}`

/** A short, printable quotation of a value for an error message. */
export const quote = (value: string, max = 60): string => {
  const shown = value.length > max ? `${value.slice(0, max)}…` : value
  return `'${escapeBytes(new TextEncoder().encode(shown))}'`
}

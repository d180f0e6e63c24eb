/**
 * IP address validation and canonical text forms.
 *
 * Canonical forms matter because blocks are keyed by address: `2001:DB8::0:1` and
 * `2001:db8::1` must be the same key, and the same entry on a remote ACL.
 * IPv4: dotted quad, decimal, no leading zeros (a leading zero is refused rather than read
 * as octal or decimal: both readings exist in the wild). IPv6: RFC 5952 (lower case, no
 * leading zeros, the longest run of two or more zero groups compressed, the first on a tie).
 *
 * One canonical form per address: an IPv4 address written as IPv6 is IPv4. IPv4-mapped
 * (`::ffff:10.0.0.5`, `::ffff:a00:5`, in ::ffff:0:0/96) and IPv4-compatible (`::10.0.0.5`, in
 * ::/96, deprecated by RFC 4291; `::` and `::1` excepted, they are IPv6's own unspecified and
 * loopback addresses) become the IPv4 address, so an allowlist of `10.0.0.0/8` or a never-block
 * rail applies to them whatever form Flowmon, the config or an operator wrote.
 */
import { quote } from "./SafeText.js"

export type IpVersion = 4 | 6

export interface IpAddress {
  readonly version: IpVersion
  /** canonical text */
  readonly text: string
}

export type ParseResult<A> = { readonly ok: true; readonly value: A } | { readonly ok: false; readonly error: string }

const ok = <A>(value: A): ParseResult<A> => ({ ok: true, value })
const fail = (error: string): ParseResult<never> => ({ ok: false, error })

const parseIpv4Octets = (text: string): number[] | string => {
  const parts = text.split(".")
  if (parts.length !== 4) return `expected 4 dot-separated numbers, got ${parts.length}`
  const octets: number[] = []
  for (const part of parts) {
    if (!/^[0-9]{1,3}$/.test(part)) return `${quote(part)} is not a decimal number from 0 to 255`
    if (part.length > 1 && part[0] === "0") return `'${part}' has a leading zero (ambiguous: octal or decimal)`
    const n = Number(part)
    if (n > 255) return `${part} is over 255`
    octets.push(n)
  }
  return octets
}

/** Parses an IPv6 address into 8 16-bit groups. */
const parseIpv6Groups = (text: string): number[] | string => {
  if (text.includes("%")) return "zone indexes (%…) are not accepted"
  if (text.startsWith("[") || text.endsWith("]")) return "brackets are not part of an address"
  const doubleColon = text.indexOf("::")
  if (doubleColon !== -1 && text.indexOf("::", doubleColon + 1) !== -1) return "'::' may appear only once"

  const parseSide = (side: string): number[] | string => {
    if (side === "") return []
    const pieces = side.split(":")
    const groups: number[] = []
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i]!
      if (piece.includes(".")) {
        if (i !== pieces.length - 1) return `embedded IPv4 '${piece}' must be last`
        const octets = parseIpv4Octets(piece)
        if (typeof octets === "string") return `embedded IPv4 '${piece}': ${octets}`
        groups.push((octets[0]! << 8) | octets[1]!, (octets[2]! << 8) | octets[3]!)
        continue
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(piece)) {
        return piece === "" ? "empty group (single ':' at the start or end, or ':::')" : `${quote(piece)} is not a group of 1 to 4 hex digits`
      }
      groups.push(parseInt(piece, 16))
    }
    return groups
  }

  if (doubleColon === -1) {
    const groups = parseSide(text)
    if (typeof groups === "string") return groups
    if (groups.length !== 8) return `expected 8 groups, got ${groups.length}`
    return groups
  }
  const head = parseSide(text.slice(0, doubleColon))
  if (typeof head === "string") return head
  const tail = parseSide(text.slice(doubleColon + 2))
  if (typeof tail === "string") return tail
  if (head.length + tail.length > 7) return "too many groups for '::'"
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail]
}

/**
 * The IPv4 address an IPv6 address stands for (its four bytes), when it is IPv4-mapped
 * (::ffff:0:0/96) or IPv4-compatible (::/96 except `::` and `::1`); undefined otherwise.
 */
export const embeddedIpv4 = (groups: ReadonlyArray<number>): number[] | undefined => {
  for (let i = 0; i < 5; i++) if (groups[i] !== 0) return undefined
  const g5 = groups[5]!
  const a = groups[6]!
  const b = groups[7]!
  if (g5 !== 0xffff && !(g5 === 0 && (a !== 0 || b > 1))) return undefined
  return [a >> 8, a & 0xff, b >> 8, b & 0xff]
}

/**
 * RFC 5952 text of 8 groups. Canonical addresses never reach it in ::ffff:0:0/96 (they are IPv4),
 * so it has no mixed notation.
 */
export const formatIpv6 = (groups: ReadonlyArray<number>): string => {
  let bestStart = -1
  let bestLength = 0
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLength) {
      bestStart = i
      bestLength = j - i
    }
    i = j
  }
  const hex = groups.map((g) => g.toString(16))
  if (bestLength < 2) return hex.join(":")
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`
}

/**
 * The common case without allocations: a well-formed dotted quad is already canonical.
 * Anything else (undefined) goes through the detailed parser, which explains what is wrong.
 */
const fastIpv4 = (input: string): string | undefined => {
  let dots = 0
  let value = 0
  let digits = 0
  for (let i = 0; i < input.length; i++) {
    const c = input.charCodeAt(i)
    if (c === 46) {
      if (digits === 0 || ++dots > 3) return undefined
      value = 0
      digits = 0
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && value === 0) return undefined
      value = value * 10 + (c - 48)
      if (value > 255 || ++digits > 3) return undefined
    } else {
      return undefined
    }
  }
  return dots === 3 && digits > 0 ? input : undefined
}

/** An address as written: its version and bytes, before IPv4-in-IPv6 forms become IPv4. */
export interface WrittenAddress {
  readonly version: IpVersion
  /** 4 or 16 bytes, network order */
  readonly bytes: Uint8Array
}

const groupsToBytes = (groups: ReadonlyArray<number>): Uint8Array => {
  const bytes = new Uint8Array(16)
  groups.forEach((g, i) => {
    bytes[2 * i] = g >> 8
    bytes[2 * i + 1] = g & 0xff
  })
  return bytes
}

/**
 * Validates an address and returns it as written (an IPv6 address stays IPv6 even when it stands
 * for an IPv4 one): what a CIDR's prefix length is measured against. Use `parseIpAddress` for the
 * canonical form.
 */
export const parseWrittenAddress = (input: string): ParseResult<WrittenAddress> => {
  if (input === "") return fail("empty address")
  if (input.includes(":")) {
    const groups = parseIpv6Groups(input)
    return typeof groups === "string"
      ? fail(`${quote(input)} is not a valid IPv6 address: ${groups}`)
      : ok({ version: 6, bytes: groupsToBytes(groups) })
  }
  const octets = parseIpv4Octets(input)
  return typeof octets === "string" ? fail(`${quote(input)} is not a valid IPv4 address: ${octets}`) : ok({ version: 4, bytes: Uint8Array.from(octets) })
}

/** Validates an IPv4 or IPv6 address and returns its canonical form (IPv4-in-IPv6 forms become IPv4). */
export const parseIpAddress = (input: string): ParseResult<IpAddress> => {
  if (input === "") return fail("empty address")
  if (input.includes(":")) {
    const groups = parseIpv6Groups(input)
    if (typeof groups === "string") return fail(`${quote(input)} is not a valid IPv6 address: ${groups}`)
    const v4 = embeddedIpv4(groups)
    return v4 === undefined ? ok({ version: 6, text: formatIpv6(groups) }) : ok({ version: 4, text: v4.join(".") })
  }
  const fast = fastIpv4(input)
  if (fast !== undefined) return ok({ version: 4, text: fast })
  const octets = parseIpv4Octets(input)
  return typeof octets === "string"
    ? fail(`${quote(input)} is not a valid IPv4 address: ${octets}`)
    : ok({ version: 4, text: octets.join(".") })
}

/** The address as bytes (4 or 16), network order. */
export const addressBytes = (address: IpAddress): Uint8Array => {
  if (address.version === 4) return Uint8Array.from(address.text.split(".").map(Number))
  return groupsToBytes(parseIpv6Groups(address.text) as number[])
}

/** Canonical text of an address given as bytes. */
export const bytesToText = (bytes: Uint8Array): string => {
  if (bytes.length === 4) return Array.from(bytes).join(".")
  const groups: number[] = []
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!)
  return formatIpv6(groups)
}

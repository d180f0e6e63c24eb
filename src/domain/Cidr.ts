/**
 * Address blocks. A single address is the block `/32` (IPv4) or `/128` (IPv6), so blocks on
 * hosts and on networks are keyed the same way. Canonical text: network address in canonical
 * form, then the prefix length (`192.0.2.0/24`, `2001:db8::a1/128`).
 *
 * As for addresses (Address.ts), IPv4 written as IPv6 is IPv4: a block inside ::ffff:0:0/96
 * (IPv4-mapped) or ::/96 (IPv4-compatible) with a prefix of 96 or more is the IPv4 block with
 * the prefix less 96 (`::ffff:10.0.0.0/104` is `10.0.0.0/8`); `::/128` and `::1/128` stay IPv6.
 */
import { bytesToText, parseWrittenAddress, type IpVersion, type ParseResult } from "./Address.js"
import { quote } from "./SafeText.js"

export interface Cidr {
  readonly version: IpVersion
  /** network address, 4 or 16 bytes */
  readonly bytes: Uint8Array
  readonly prefix: number
  readonly text: string
}

const maxPrefix = (version: IpVersion) => (version === 4 ? 32 : 128)

const bitAt = (bytes: Uint8Array, i: number): number => (bytes[i >> 3]! >> (7 - (i & 7))) & 1

const make = (version: IpVersion, bytes: Uint8Array, prefix: number): Cidr => ({
  version,
  bytes,
  prefix,
  text: `${bytesToText(bytes)}/${prefix}`
})

const masked = (bytes: Uint8Array, prefix: number): Uint8Array => {
  const out = new Uint8Array(bytes)
  for (let i = prefix; i < out.length * 8; i++) out[i >> 3]! &= ~(1 << (7 - (i & 7)))
  return out
}

/**
 * The canonical block of `bytes/prefix` as written: IPv4 written as IPv6 (a prefix of 96 or more
 * inside ::ffff:0:0/96 or ::/96, except the hosts `::` and `::1`) becomes IPv4.
 */
const canonical = (version: IpVersion, bytes: Uint8Array, prefix: number): Cidr => {
  if (version === 6 && prefix >= 96) {
    let zeros = true
    for (let i = 0; i < 10 && zeros; i++) zeros = bytes[i] === 0
    const mapped = zeros && bytes[10] === 0xff && bytes[11] === 0xff
    const compatible = zeros && bytes[10] === 0 && bytes[11] === 0
    const ownHost = prefix === 128 && bytes[12] === 0 && bytes[13] === 0 && bytes[14] === 0 && bytes[15]! <= 1
    if (mapped || (compatible && !ownHost)) return make(4, bytes.slice(12), prefix - 96)
  }
  return make(version, bytes, prefix)
}

/**
 * Parses `ADDR` or `ADDR/PREFIX`. Host bits set under the prefix (`192.0.2.31/24`) are refused,
 * with the network it probably meant: a block wider than the user typed is not a guess to make.
 * The prefix is measured against the address as written (`::ffff:10.0.0.0/104` is `10.0.0.0/8`).
 */
export const parseCidr = (input: string): ParseResult<Cidr> => {
  const text = input.trim()
  const slash = text.indexOf("/")
  const addressText = slash === -1 ? text : text.slice(0, slash)
  const address = parseWrittenAddress(addressText)
  if (!address.ok) return address
  const max = maxPrefix(address.value.version)
  let prefix = max
  if (slash !== -1) {
    const prefixText = text.slice(slash + 1)
    if (!/^[0-9]{1,3}$/.test(prefixText) || Number(prefixText) > max) {
      return { ok: false, error: `${quote(text)}: the prefix length must be a number from 0 to ${max}` }
    }
    prefix = Number(prefixText)
  }
  const bytes = address.value.bytes
  const network = masked(bytes, prefix)
  if (!network.every((b, i) => b === bytes[i])) {
    const host = canonical(address.value.version, bytes, max).text
    return {
      ok: false,
      error: `${quote(text)} has host bits set: the network is ${canonical(address.value.version, network, prefix).text}, the single address is ${host.slice(0, host.indexOf("/"))}`
    }
  }
  return { ok: true, value: canonical(address.value.version, network, prefix) }
}

/**
 * ::ffff:0:0/96 as an IPv6 block (parseCidr reads that text as 0.0.0.0/0): only an IPv6 network
 * wider than /96 can overlap it, and such a network would block IPv4 addresses by another name.
 */
export const IPV4_MAPPED_RANGE: Cidr = make(6, Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0]), 96)

/** The /32 or /128 block of one canonical address. */
export const hostCidr = (address: string): Cidr => {
  const parsed = parseCidr(address)
  if (!parsed.ok) throw new Error(`not an address: ${address}`)
  return parsed.value
}

/** Whether `outer` contains all of `inner` (a block contains itself). */
export const contains = (outer: Cidr, inner: Cidr): boolean => {
  if (outer.version !== inner.version || outer.prefix > inner.prefix) return false
  const fullBytes = outer.prefix >> 3
  for (let i = 0; i < fullBytes; i++) if (outer.bytes[i] !== inner.bytes[i]) return false
  for (let i = fullBytes * 8; i < outer.prefix; i++) if (bitAt(outer.bytes, i) !== bitAt(inner.bytes, i)) return false
  return true
}

export const overlaps = (a: Cidr, b: Cidr): boolean => contains(a, b) || contains(b, a)

/**
 * `outer` without `hole`: the fewest blocks that cover every address of `outer` outside `hole`
 * (sorted). Used when an allowlisted address lies inside a blocked network: the rest of the
 * network stays blocked, the allowlisted part does not.
 */
export const exclude = (outer: Cidr, hole: Cidr): Cidr[] => {
  if (!overlaps(outer, hole)) return [outer]
  if (contains(hole, outer)) return []
  const out: Cidr[] = []
  let current = outer
  while (current.prefix < hole.prefix) {
    const prefix = current.prefix + 1
    const low = make(current.version, current.bytes, prefix)
    const highBytes = new Uint8Array(current.bytes)
    highBytes[current.prefix >> 3]! |= 1 << (7 - (current.prefix & 7))
    const high = make(current.version, highBytes, prefix)
    if (contains(low, hole)) {
      out.push(high)
      current = low
    } else {
      out.push(low)
      current = high
    }
  }
  return out.sort(compareCidr)
}

/** Orders by version, then address, then prefix: a stable order for output and plans. */
export const compareCidr = (a: Cidr, b: Cidr): number => {
  if (a.version !== b.version) return a.version - b.version
  for (let i = 0; i < a.bytes.length; i++) if (a.bytes[i] !== b.bytes[i]) return a.bytes[i]! - b.bytes[i]!
  return a.prefix - b.prefix
}

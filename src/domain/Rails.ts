/**
 * Never-block rails: what mitigator never blocks, whatever a rule, an operator or an old log says.
 *
 * - Built in, and not configurable off: the unspecified addresses (0.0.0.0/8, ::), loopback
 *   (127.0.0.0/8, ::1), link-local (169.254.0.0/16, fe80::/10), multicast (224.0.0.0/4, ff00::/8)
 *   and the limited broadcast address (255.255.255.255); also any IPv6 network around the
 *   IPv4-mapped range ::ffff:0:0/96 (it would block IPv4 addresses by another name).
 * - The config's `policy.neverBlock` (Flowmon's own address, gateways, DNS servers, …).
 * - The appliances mitigator talks to (the LoadMaster's and CryptoSpike's addresses): resolved
 *   by the commands that decide, and passed in here, so the domain stays free of I/O.
 *
 * A host is protected when a rail contains it; a network when it overlaps a rail (contains one,
 * or lies inside one): blocking it would block the protected address too.
 *
 * Width limits: automatic decisions block single hosts only; an operator's block wider than /24
 * (IPv4) or /64 (IPv6) needs --force, and one wider than /8 or /32 is never made.
 */
import { IPV4_MAPPED_RANGE, overlaps, parseCidr, type Cidr } from "./Cidr.js"

export interface Rail {
  readonly cidr: Cidr
  /** what it protects, for people: `loopback 127.0.0.0/8`, `neverBlock 192.0.2.53/32` */
  readonly label: string
}

const railOf = (text: string, label: (cidr: Cidr) => string): Rail => {
  const parsed = parseCidr(text)
  if (!parsed.ok) throw new Error(`not a CIDR: ${text}`)
  return { cidr: parsed.value, label: label(parsed.value) }
}

/** The built-in rails as data: which block, and its name. */
export const BUILT_IN_RAILS: ReadonlyArray<{ readonly cidr: string; readonly name: string }> = [
  { cidr: "0.0.0.0/8", name: "unspecified" },
  { cidr: "::/128", name: "unspecified" },
  { cidr: "127.0.0.0/8", name: "loopback" },
  { cidr: "::1/128", name: "loopback" },
  { cidr: "169.254.0.0/16", name: "link-local" },
  { cidr: "fe80::/10", name: "link-local" },
  { cidr: "224.0.0.0/4", name: "multicast" },
  { cidr: "ff00::/8", name: "multicast" },
  { cidr: "255.255.255.255/32", name: "broadcast" }
]

const builtIn: ReadonlyArray<Rail> = [
  ...BUILT_IN_RAILS.map((r) => railOf(r.cidr, (cidr) => `${r.name} ${cidr.text}`)),
  { cidr: IPV4_MAPPED_RANGE, label: `IPv4-mapped ${IPV4_MAPPED_RANGE.text}` }
]

/** Rails for the config's `policy.neverBlock` entries (canonical CIDR text). */
export const neverBlockRails = (entries: ReadonlyArray<string>): Rail[] => entries.map((text) => railOf(text, (cidr) => `neverBlock ${cidr.text}`))

/**
 * The rail for an appliance's address: `appliance loadmaster lm.example (198.51.100.7)`, or
 * `appliance loadmaster 198.51.100.7` when the config names it by address.
 */
export const applianceRail = (appliance: string, host: string, address: string): Rail =>
  railOf(address, (cidr) => {
    const ip = cidr.text.slice(0, cidr.text.indexOf("/"))
    return host === ip || host === `[${ip}]` ? `appliance ${appliance} ${ip}` : `appliance ${appliance} ${host} (${ip})`
  })

/**
 * The first rail `cidr` touches (built-in ones first, then `extra`): for a host, the rail that
 * contains it; for a network, a rail it contains or lies inside.
 */
export const protectionOf = (cidr: Cidr, extra: ReadonlyArray<Rail> = []): Rail | undefined => {
  if (!clearOfBuiltIn(cidr)) for (const rail of builtIn) if (overlaps(rail.cidr, cidr)) return rail
  for (const rail of extra) if (overlaps(rail.cidr, cidr)) return rail
  return undefined
}

/**
 * The common case at a glance (the projection asks for every block it folds): a block of /8 or
 * narrower whose first byte no built-in rail starts with touches none of them.
 */
const clearOfBuiltIn = (cidr: Cidr): boolean => {
  if (cidr.prefix < 8) return false
  const first = cidr.bytes[0]!
  return cidr.version === 4 ? first !== 0 && first !== 127 && first !== 169 && first !== 255 && (first < 224 || first > 239) : first !== 0 && first < 0xfe
}

/** Width limits on blocks: wider than `force` needs --force; wider than `max` is never made. */
export const WIDTH_LIMITS = { 4: { force: 24, max: 8 }, 6: { force: 64, max: 32 } } as const

/** Whether a block of this width may be made: always, with --force only, or never. */
export const widthOf = (cidr: Cidr): "ok" | "needs-force" | "too-wide" => {
  const limits = WIDTH_LIMITS[cidr.version]
  return cidr.prefix < limits.max ? "too-wide" : cidr.prefix < limits.force ? "needs-force" : "ok"
}

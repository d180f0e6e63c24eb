/**
 * Where `serve` listens: `HOST:PORT`, the host an IP literal (`127.0.0.1`, `[::1]`, `0.0.0.0`)
 * or `localhost`. Names other than localhost are refused: which interfaces a name binds depends
 * on DNS at start-up, and whether plain HTTP is allowed (loopback only) must not.
 */
import { parseIpAddress, type ParseResult } from "./Address.js"
import { contains, hostCidr, parseCidr } from "./Cidr.js"

export interface ListenAddress {
  /** what to bind: an IP address in canonical text */
  readonly host: string
  readonly port: number
  /** only this machine can connect (127.0.0.0/8, ::1): plain HTTP is allowed there */
  readonly loopback: boolean
}

export const DEFAULT_LISTEN = "127.0.0.1:8787"

const LOOPBACK = ["127.0.0.0/8", "::1/128"].map((text) => {
  const parsed = parseCidr(text)
  if (!parsed.ok) throw new Error(parsed.error)
  return parsed.value
})

const HINT = "expected HOST:PORT with an IP address or localhost (127.0.0.1:8787, [::1]:8787, 0.0.0.0:8443)"

export const parseListen = (text: string): ParseResult<ListenAddress> => {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text)
  if (match === null) return { ok: false, error: HINT }
  const port = Number(match[3])
  if (port < 1 || port > 65535) return { ok: false, error: `port ${match[3]} is not between 1 and 65535` }
  const written = match[1] ?? match[2]!
  if (written.toLowerCase() === "localhost") return { ok: true, value: { host: "127.0.0.1", port, loopback: true } }
  const address = parseIpAddress(written)
  if (!address.ok) return { ok: false, error: `${address.error} (${HINT})` }
  const host = address.value.text
  return { ok: true, value: { host, port, loopback: LOOPBACK.some((range) => contains(range, hostCidr(host))) } }
}

/** `127.0.0.1:8787`, `[::1]:8787`: as a URL writes it. */
export const formatListen = (listen: Pick<ListenAddress, "host" | "port">): string =>
  listen.host.includes(":") ? `[${listen.host}]:${listen.port}` : `${listen.host}:${listen.port}`

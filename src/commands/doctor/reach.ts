/**
 * Can this host open a TCP connection to an appliance at all? One attempt, bounded by a short
 * connect timeout, before anything is sent: a refused, unroutable or unresolvable address fails
 * at once and the same way on every retry, so doctor says so at once, with the fix for that cause,
 * instead of retrying it as the clients retry a transient failure.
 */
import * as Effect from "effect/Effect"
import * as net from "node:net"
import { fail, type Check } from "./Check.js"

/**
 * Long enough for a connection whose first SYN was lost (retransmitted after 1 s), short enough
 * that a firewall dropping the packets is reported in seconds rather than after the client's 10.
 */
export const CONNECT_TIMEOUT_MS = 2_000

export interface Unreachable {
  /** the OS's error code (ECONNREFUSED, EHOSTUNREACH, ENOTFOUND…), or TIMEOUT */
  readonly code: string
  readonly message: string
}

const hostOf = (url: URL): string => url.hostname.replace(/^\[(.*)\]$/, "$1")
const portOf = (url: URL): number => (url.port !== "" ? Number(url.port) : url.protocol === "https:" ? 443 : 80)

/** undefined: a TCP connection was opened (and closed again at once). */
export const probe = (url: URL, timeoutMs = CONNECT_TIMEOUT_MS): Effect.Effect<Unreachable | undefined> =>
  Effect.async<Unreachable | undefined>((resume) => {
    const socket = net.connect({ host: hostOf(url), port: portOf(url) })
    const timer = setTimeout(() => {
      socket.destroy()
      resume(Effect.succeed({ code: "TIMEOUT", message: `no answer to a connection within ${timeoutMs / 1000} s` }))
    }, timeoutMs)
    socket.once("connect", () => {
      clearTimeout(timer)
      socket.destroy()
      resume(Effect.succeed(undefined))
    })
    socket.once("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      resume(Effect.succeed({ code: e.code ?? "ERROR", message: e.message }))
    })
    return Effect.sync(() => {
      clearTimeout(timer)
      socket.destroy()
    })
  })

/** The cause in words, for the OS's code. */
const WORDS: Readonly<Record<string, string>> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  EHOSTUNREACH: "no route to host",
  ENETUNREACH: "network unreachable",
  ENOTFOUND: "host name not found",
  EAI_AGAIN: "host name lookup failed",
  TIMEOUT: "no answer"
}

/**
 * The failed check for an appliance that cannot be reached: the address, the cause, and the fix
 * for that cause. `configKey` is the config section (`loadmaster`), `serves` what its URL must
 * be, `listensOn` where the appliance chooses the address it answers on, if it does.
 */
export const unreachableCheck = (name: string, appliance: string, configKey: string, url: URL, why: Unreachable, serves: string, listensOn?: string): Check => {
  // Shown as in the URL (an IPv6 address in brackets, so that its port stands apart).
  const host = url.hostname
  const port = portOf(url)
  const words = WORDS[why.code] ?? why.message
  const detail = `${appliance} at ${host}:${port}: ${words} (${why.code === "TIMEOUT" ? why.message : why.code})`
  const fix =
    why.code === "ECONNREFUSED"
      ? `nothing listens on port ${port} of ${host}: check that ${configKey}.url is ${serves}${listensOn === undefined ? "" : `, and ${listensOn}`}`
      : why.code === "TIMEOUT"
        ? `nothing answered: check that a firewall between this host and ${host} lets TCP port ${port} through, and ${configKey}.url`
        : why.code === "ENOTFOUND" || why.code === "EAI_AGAIN"
          ? `${host} does not resolve here: check the host name in ${configKey}.url, or this host's DNS`
          : why.code === "EHOSTUNREACH" || why.code === "ENETUNREACH"
            ? `this host has no route to ${host}: check ${configKey}.url and this host's network (address, route, VLAN)`
            : `check ${configKey}.url and the network path to ${host}:${port}`
  return fail(name, detail, fix)
}

/** The OS's code in a client's transport message (`cannot reach … : ECONNRESET`), for the same words and fix. */
export const unreachableFromMessage = (message: string): Unreachable => {
  const code = /\b(E[A-Z_]{3,})\b/.exec(message)?.[1]
  return { code: code ?? "ERROR", message }
}

/**
 * The appliances' own addresses as never-block rails (src/domain/Rails.ts): the hosts of
 * `loadmaster.url` and `cryptospike.url`, resolved when a command that decides starts. An address
 * literal needs no lookup; a name is looked up (every address it has, IPv4 and IPv6) within a
 * short deadline. A lookup that fails or takes too long is a warning, never a stop: `append` still
 * records its events, and the other rails still hold.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { AppConfig } from "../config/loadConfig.js"
import { parseIpAddress } from "../domain/Address.js"
import { applianceRail, type Rail } from "../domain/Rails.js"

/** How long a name may take to resolve. */
export const LOOKUP_TIMEOUT_MS = 1500

export interface ApplianceRails {
  readonly rails: ReadonlyArray<Rail>
  /** one line per appliance whose name could not be resolved */
  readonly warnings: ReadonlyArray<string>
}

/** The appliances the config names, with the host of each URL (brackets of an IPv6 literal removed). */
export const appliancesOf = (cfg: AppConfig): ReadonlyArray<{ readonly name: string; readonly host: string }> =>
  [
    ["loadmaster", cfg.loadmaster?.url],
    ["cryptospike", cfg.cryptospike?.url]
  ].flatMap(([name, url]) => {
    if (url === undefined) return []
    try {
      const host = new URL(url).hostname.replace(/^\[(.*)\]$/, "$1")
      return host === "" ? [] : [{ name: name!, host }]
    } catch {
      return [] // the config validated its URLs
    }
  })

/** Whether resolving the appliances needs a lookup (a name rather than an address). */
export const needsLookup = (cfg: AppConfig): boolean => appliancesOf(cfg).some((a) => !parseIpAddress(a.host).ok)

/**
 * node:dns/promises, fetched by name rather than by import(): the installed launcher runs the
 * bundle through vm.Script, where an import() of a module outside the bundle fails
 * (ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING) and the appliance would go unprotected.
 */
const dnsPromises = (): Promise<typeof import("node:dns/promises")> =>
  typeof process.getBuiltinModule === "function" ? Promise.resolve(process.getBuiltinModule("node:dns/promises")) : import("node:dns/promises")

const resolveOne = (appliance: { readonly name: string; readonly host: string }, timeoutMs: number) => {
  const literal = parseIpAddress(appliance.host)
  if (literal.ok) return Effect.succeed({ rails: [applianceRail(appliance.name, appliance.host, literal.value.text)], warnings: [] })
  // The resolver is loaded only for a name: an address literal (the usual config) needs none.
  return Effect.tryPromise({
    try: () => dnsPromises().then((dns) => dns.lookup(appliance.host, { all: true, verbatim: true })),
    catch: (e) => e
  }).pipe(
    Effect.timeoutFail({ duration: Duration.millis(timeoutMs), onTimeout: (): unknown => new Error(`no answer within ${timeoutMs} ms`) }),
    Effect.map((found) => {
      const addresses = new Set<string>()
      for (const a of found) {
        const parsed = parseIpAddress(a.address)
        if (parsed.ok) addresses.add(parsed.value.text)
      }
      return { rails: [...addresses].map((ip) => applianceRail(appliance.name, appliance.host, ip)), warnings: [] as string[] }
    }),
    Effect.catchAll((e) => {
      const why = e instanceof Error ? ((e as NodeJS.ErrnoException).code ?? e.message) : String(e)
      return Effect.succeed({
        rails: [] as Rail[],
        warnings: [`could not resolve the ${appliance.name} host ${appliance.host} (${why}): its own address is not protected from blocks this time`]
      })
    })
  )
}

/** The rails for every appliance the config names (none when it names none). */
export const applianceRails = (cfg: AppConfig, timeoutMs = LOOKUP_TIMEOUT_MS): Effect.Effect<ApplianceRails> =>
  Effect.map(Effect.all(appliancesOf(cfg).map((a) => resolveOne(a, timeoutMs)), { concurrency: "unbounded" }), (each) => ({
    rails: each.flatMap((r) => r.rails),
    warnings: each.flatMap((r) => r.warnings)
  }))

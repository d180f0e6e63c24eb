/**
 * What both appliances are checked for before their API is asked anything: the credential (where
 * it comes from, never its value; missing or unreadable is a failed check, not the end of the
 * run), and the transport (plain HTTP, or the certificate the appliance presents, checked exactly
 * as the clients check it, with the line that pins it when it does not verify).
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Redacted from "effect/Redacted"
import type { TlsSettings } from "../../config/loadConfig.js"
import { describeCertificate, pinLine } from "../../targets/certificate.js"
import { describeSource, pickSource, resolveSecretWithSource, type SecretSource, type SecretSources } from "../../targets/secrets.js"
import { fail, pass, warn, type Check } from "./Check.js"

export interface Appliance {
  /** `LoadMaster`, `CryptoSpike` */
  readonly name: string
  /** the config section: `loadmaster` */
  readonly key: string
  /** `API key`, `API token` */
  readonly credential: string
  /** the config key naming the credential's file (`apiKeyFile`) */
  readonly fileKey: string
  /** where the appliance makes a credential, for the fix */
  readonly makeCredential: string
}

export interface Resolved {
  readonly secret: Redacted.Redacted<string>
  readonly source: SecretSource
}

/** The credential by the clients' precedence, as a check; `resolved` undefined when the check failed. */
export const credentialCheck = (appliance: Appliance, sources: SecretSources, whoAmI: string) =>
  Effect.map(Effect.either(resolveSecretWithSource(sources, () => Effect.void)), (found): { readonly check: Check; readonly resolved?: Resolved } => {
    const name = `${appliance.key}.credential`
    const what = `${appliance.name} ${appliance.credential}`
    if (Either.isRight(found)) {
      const { source } = found.right
      const detail = `${what} from ${describeSource(source)}`
      const check =
        source.kind === "flag"
          ? warn(name, detail, `the process list shows it to every user of this machine: prefer ${sources.env} or a file named in ${appliance.key}.${appliance.fileKey} (chmod 600)`)
          : pass(name, detail)
      return { check, resolved: found.right }
    }
    const message = found.left.message
    const file = pickSource(sources)?.name
    if (file === undefined) {
      return {
        check: fail(
          name,
          `no ${what}: none of ${sources.flagName}, ${sources.env} or ${appliance.key}.${appliance.fileKey} is set`,
          `put the ${appliance.credential} in a file only mitigator's user can read (chmod 600) and name it in ${appliance.key}.${appliance.fileKey}, or set ${sources.env} in mitigator's environment (${appliance.makeCredential})`
        )
      }
    }
    const fix = /can be read by group or others/.test(message)
      ? `chmod 600 ${file} (owned by the user that runs mitigator)`
      : /is empty$/.test(message)
        ? `put the ${appliance.credential} in ${file} (${appliance.makeCredential})`
        : `make ${file} (${appliance.key}.${appliance.fileKey}) a regular file this user (${whoAmI}) can read, holding the ${appliance.credential}`
    return { check: fail(name, `${what}: ${message}`, fix) }
  })

/**
 * The fix for a credential the appliance refused, for the source it came from: the one place to
 * change.
 */
export const refusedCredentialFix = (appliance: Appliance, source: SecretSource, sources: SecretSources): string => {
  switch (source.kind) {
    case "file":
      return `put a valid ${appliance.credential} in ${source.name} (${appliance.key}.${appliance.fileKey}; ${appliance.makeCredential})`
    case "env":
      return `set ${source.name} to a valid ${appliance.credential} (${appliance.makeCredential}), or unset it to use ${appliance.key}.${appliance.fileKey}`
    case "flag":
      return `give ${source.name} a valid ${appliance.credential} (${appliance.makeCredential}); better, put it in a file named in ${appliance.key}.${appliance.fileKey} (chmod 600)${sources.file === undefined ? "" : `: ${sources.file}`}`
  }
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"])

/** How long doctor waits for a TLS handshake (the TCP connection was just opened). */
const HANDSHAKE_TIMEOUT_MS = 10_000

/**
 * One check for the transport: plain HTTP (fine on loopback only), or the certificate. `trusted`
 * false: the credential must not be sent (the certificate does not verify, or no TLS session
 * could be made), so the API is not asked.
 */
export interface Transport {
  readonly check: Check
  readonly trusted: boolean
}

export const transportCheck = (appliance: Appliance, url: URL, settings: TlsSettings): Effect.Effect<Transport> =>
  Effect.gen(function* () {
    const name = `${appliance.key}.tls`
    if (url.protocol !== "https:") {
      return LOOPBACK.has(url.hostname)
        ? { check: pass(name, `${appliance.name} at ${url.origin}: plain HTTP, on loopback only`), trusted: true }
        : {
            check: fail(name, `${appliance.name} at ${url.origin} is plain HTTP: the ${appliance.credential} travels unencrypted`, `use the https:// URL of the ${appliance.name} in ${appliance.key}.url`),
            trusted: true
          }
    }
    const { inspectCertificate } = yield* Effect.promise(() => import("../../targets/tls.js"))
    const inspected = yield* Effect.either(inspectCertificate(url, settings, HANDSHAKE_TIMEOUT_MS, appliance.key))
    if (Either.isLeft(inspected)) {
      const e = inspected.left
      if (e.reason === "transport" || e.reason === "timeout") {
        return {
          check: fail(
            name,
            `${appliance.name} at ${url.host}: no TLS session (${e.message})`,
            `check that port ${url.port === "" ? 443 : url.port} of ${url.hostname} serves HTTPS; if it serves plain HTTP, ${appliance.key}.url starts with http://`
          ),
          trusted: false
        }
      }
      const fix = settings.ca !== undefined && e.message.includes(settings.ca) ? `make ${appliance.key}.tls.ca name a PEM file of the CA that signed the ${appliance.name}'s certificate, readable by this user` : `correct ${appliance.key}.tls`
      return { check: fail(name, `${appliance.name} TLS: ${e.message}`, fix), trusted: false }
    }
    const { certificate, problem, advice } = inspected.right
    const more = [`certificate: ${describeCertificate(certificate)}`]
    const checkIt = `check its fingerprint against the ${appliance.name}'s (its web interface, or \`openssl x509 -noout -fingerprint -sha256\` there)`
    if (settings.insecure) {
      return {
        check: fail(
          name,
          `${appliance.name} certificate NOT verified (${appliance.key}.tls.insecure: true): the ${appliance.credential} goes to whoever answers at ${url.host}`,
          `${checkIt}, then put this line under ${appliance.key}.tls in place of insecure: true:\n        ${pinLine(certificate)}`,
          more
        ),
        trusted: true
      }
    }
    if (problem === undefined) {
      const how = settings.fingerprint !== undefined ? " (pinned)" : settings.serverName !== undefined ? ` as ${settings.serverName}` : ""
      return { check: pass(name, `${appliance.name} certificate verified${how}`, more), trusted: true }
    }
    const replacing = settings.fingerprint !== undefined ? ", in place of the fingerprint there" : settings.ca !== undefined ? ", in place of ca" : ""
    const pin = `to trust exactly this certificate, ${checkIt}, then put this line under ${appliance.key}.tls${replacing}:\n        ${pinLine(certificate)}`
    return { check: fail(name, `${appliance.name} certificate NOT verified: ${problem}`, advice === undefined ? pin : `${advice}; or ${pin}`, more), trusted: false }
  })

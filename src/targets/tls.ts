/**
 * TLS for the appliances: verified against the system CAs by default; a CA file; or a pinned
 * certificate fingerprint for self-signed units; `insecure` only when the config says so.
 *
 * Pinning: Node skips its identity check when the chain does not verify (a self-signed
 * certificate), so a fingerprint cannot be checked there. Instead one handshake (no request
 * sent) fetches the server's certificate; only when its sha256 matches is that very certificate
 * trusted as the CA for the real connections. The API key never goes to an unverified peer.
 *
 * `serverName`: the certificate is checked against that name instead of the URL's host (an
 * appliance reached by IP whose certificate carries its DNS name); it is also sent as SNI when it
 * is a DNS name.
 */
import * as Effect from "effect/Effect"
import type * as http from "node:http"
import * as https from "node:https"
import * as net from "node:net"
import type { Duplex } from "node:stream"
import * as tls from "node:tls"
import type { TlsSettings } from "../config/ConfigFile.js"
import { FileRefused, readRegularFile } from "../platform/RegularFile.js"
import { certificateFacts, nameAdvice, type CertificateFacts } from "./certificate.js"
import { LoadMasterError } from "./LoadMasterAcl.js"

const normalise = (fingerprint: string): string => fingerprint.replace(/^sha256:/i, "").replace(/:/g, "").toLowerCase()

const toPem = (der: Buffer): string =>
  `-----BEGIN CERTIFICATE-----\n${der.toString("base64").match(/.{1,64}/g)?.join("\n") ?? ""}\n-----END CERTIFICATE-----\n`

/** OpenSSL's verification codes (Node's `authorizationError`) in words. */
const CHAIN_ERRORS: Readonly<Record<string, string>> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: "a self-signed certificate",
  SELF_SIGNED_CERT_IN_CHAIN: "a self-signed certificate in the chain",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "signed by a CA that is not trusted",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "signed by a CA that is not trusted",
  UNABLE_TO_GET_ISSUER_CERT: "signed by a CA that is not trusted",
  CERT_HAS_EXPIRED: "expired",
  CERT_NOT_YET_VALID: "not valid yet"
}

const describeChainError = (code: string): string => (CHAIN_ERRORS[code] === undefined ? code : `${CHAIN_ERRORS[code]} (${code})`)

/** The URL's host without the brackets of an IPv6 literal. */
const hostOf = (url: URL): string => url.hostname.replace(/^\[(.*)\]$/, "$1")

/** SNI carries DNS names only (RFC 6066 §3). */
const sniOf = (name: string): string | undefined => (net.isIP(name) === 0 ? name : undefined)

interface Handshake {
  readonly der: Buffer
  readonly sha256: string
  readonly cert: tls.PeerCertificate
  /** why the chain did not verify against `ca` (the system's CAs when none); undefined: it did */
  readonly chainError: string | undefined
}

/** One handshake that sends no request: the server's certificate and whether its chain verifies. */
const handshake = (url: URL, timeoutMs: number, sni: string | undefined, ca: string | undefined) =>
  Effect.async<Handshake, LoadMasterError>((resume) => {
    const socket = tls.connect({
      host: hostOf(url),
      port: Number(url.port === "" ? 443 : url.port),
      servername: sni,
      ...(ca === undefined ? {} : { ca }),
      rejectUnauthorized: false,
      // The name is checked apart (inspectCertificate), so that `authorizationError` is the chain's alone.
      checkServerIdentity: () => undefined
    } as tls.ConnectionOptions)
    const timer = setTimeout(() => {
      socket.destroy()
      resume(Effect.fail(new LoadMasterError({ reason: "timeout", message: `TLS handshake with ${url.host} timed out`, retryable: true })))
    }, timeoutMs)
    socket.once("secureConnect", () => {
      clearTimeout(timer)
      const cert = socket.getPeerCertificate(false)
      socket.end()
      if (cert.raw === undefined) {
        resume(Effect.fail(new LoadMasterError({ reason: "protocol", message: `${url.host} presented no certificate`, retryable: false })))
        return
      }
      const chainError = socket.authorized ? undefined : String(socket.authorizationError ?? "not verified")
      resume(Effect.succeed({ der: cert.raw, sha256: normalise(cert.fingerprint256), cert, chainError }))
    })
    socket.once("error", (e) => {
      clearTimeout(timer)
      // Retried within the call only where nobody waits on it (http.ts retriesWithinCall, retryRefused).
      const refused = (e as NodeJS.ErrnoException).code === "ECONNREFUSED"
      resume(
        Effect.fail(
          new LoadMasterError({
            reason: "transport",
            message: `TLS connection to ${url.host}: ${refused ? "connection refused (ECONNREFUSED)" : e.message}`,
            retryable: true,
            ...(refused ? { refused: true } : {})
          })
        )
      )
    })
    return Effect.sync(() => socket.destroy())
  })

/** The server's certificate (DER) and its sha256, from one handshake that sends no request. */
export const fetchPeerCertificate = (url: URL, timeoutMs: number, serverName?: string) =>
  Effect.map(handshake(url, timeoutMs, sniOf(serverName ?? hostOf(url)), undefined), ({ der, sha256 }) => ({ der, sha256 }))

/** The CA file's text, or the error naming it. */
const readCa = (ca: string) =>
  Effect.try({
    // A regular file of at most 1 MiB (a FIFO here would hang the command).
    try: () => readRegularFile(ca).toString("utf8"),
    catch: (e) =>
      new LoadMasterError({
        reason: "protocol",
        message: `cannot read the CA file ${ca}: ${e instanceof FileRefused ? e.detail.replace(/^cannot read: /, "") : e instanceof Error ? e.message : String(e)}`,
        retryable: false
      })
  })

/** The certificate an https appliance presents, and whether `settings` trust it (with why not). */
export interface CertificateInspection {
  readonly certificate: CertificateFacts
  /** undefined: verified as the clients verify it; else why not */
  readonly problem: string | undefined
  /** what to change besides a pin (the name to give, the CA to check), when there is something */
  readonly advice: string | undefined
}

/**
 * One handshake (no request) that checks the certificate exactly as the clients will: the pin,
 * else the chain against `tls.ca` (or the system's CAs) and the name (`tls.serverName`, else the
 * URL's host). For `doctor`: it reports what was presented whatever the outcome.
 */
export const inspectCertificate = (url: URL, settings: TlsSettings, timeoutMs: number, configKey: string) =>
  Effect.gen(function* () {
    const name = settings.serverName ?? hostOf(url)
    const ca = settings.fingerprint === undefined && settings.ca !== undefined ? yield* readCa(settings.ca) : undefined
    const peer = yield* handshake(url, timeoutMs, sniOf(name), ca)
    const certificate = certificateFacts(peer.cert)
    if (settings.insecure) return { certificate, problem: undefined, advice: undefined } satisfies CertificateInspection
    if (settings.fingerprint !== undefined) {
      const expected = normalise(settings.fingerprint)
      return {
        certificate,
        problem: peer.sha256 === expected ? undefined : `its sha256 fingerprint is not the pinned ${expected}`,
        advice: undefined
      } satisfies CertificateInspection
    }
    if (peer.chainError !== undefined) {
      return {
        certificate,
        problem: `${describeChainError(peer.chainError)}${settings.ca === undefined ? " (checked against the system's CAs)" : ` (checked against ${settings.ca})`}`,
        advice:
          settings.ca === undefined
            ? `for a certificate your own CA signed, set ${configKey}.tls.ca to that CA's certificate (a PEM file)`
            : `check that ${settings.ca} holds the CA that signed this certificate`
      } satisfies CertificateInspection
    }
    const mismatch = tls.checkServerIdentity(name, peer.cert)
    return mismatch === undefined
      ? ({ certificate, problem: undefined, advice: undefined } satisfies CertificateInspection)
      : ({
          certificate,
          // Node's reason ("IP: 10.0.0.5 is not in the cert's list: "), without its dangling separator.
          problem: ((mismatch as Error & { reason?: string }).reason ?? mismatch.message).replace(/[\s:,]+$/, ""),
          advice: nameAdvice(certificate, name, configKey)
        } satisfies CertificateInspection)
  })

/** A connection whose certificate is not the pinned one (PinnedAgent): closed before any request is written. */
export class PinMismatch extends Error {
  readonly code = "ERR_MITIGATOR_PIN_MISMATCH"
  constructor(host: string, presented: string, pinned: string) {
    super(`the certificate of ${host} has sha256 fingerprint ${presented}, not the pinned ${pinned}: refusing to connect`)
  }
}

/** Agent options that ask for a PinnedAgent (see agentOptions' `pinInHandshake`). */
export interface PinnedAgentOptions extends https.AgentOptions {
  readonly pinnedSha256: string
  /** a handshake not done by then is abandoned (the connection closed; its request fails) */
  readonly handshakeTimeoutMs: number
}

export const isPinned = (options: https.AgentOptions): options is PinnedAgentOptions =>
  typeof (options as Partial<PinnedAgentOptions>).pinnedSha256 === "string" && typeof (options as Partial<PinnedAgentOptions>).handshakeTimeoutMs === "number"

/**
 * A keep-alive agent for a pinned appliance that checks the pin in each connection's own
 * handshake: a new connection is handed to its request only once the certificate presented has
 * the pinned sha256 (Node writes a request only when the agent hands it the connection), else it
 * is closed and the request fails with PinMismatch. One handshake per connection instead of two
 * (a first one to fetch the certificate, see agentOptions): an `append` reaches the LoadMaster
 * sooner. The chain is not verified (that is what a pin of a self-signed certificate replaces);
 * a certificate that cannot be read (no fingerprint) does not match.
 */
export class PinnedAgent extends https.Agent {
  private readonly pin: string
  private readonly handshakeTimeoutMs: number
  constructor({ pinnedSha256, handshakeTimeoutMs, ...options }: PinnedAgentOptions) {
    super({ ...options, rejectUnauthorized: false })
    this.pin = pinnedSha256
    this.handshakeTimeoutMs = handshakeTimeoutMs
  }

  override createConnection(
    options: http.ClientRequestArgs,
    callback?: (error: Error | null, socket: Duplex) => void
  ): undefined {
    // Node's agent always passes the callback; without one there would be no way to answer.
    const answer = callback ?? (() => undefined)
    const socket = tls.connect({ ...(options as tls.ConnectionOptions), rejectUnauthorized: false })
    const failed = (e: Error) => answer(e, socket)
    socket.once("error", failed)
    // Not for a request to wait on (its caller has its own deadline): so that a handshake that
    // never ends does not keep its connection open for the life of the process (`serve`).
    const abandon = setTimeout(() => socket.destroy(Object.assign(new Error(`no TLS handshake within ${this.handshakeTimeoutMs} ms`), { code: "ETIMEDOUT" })), this.handshakeTimeoutMs)
    socket.once("close", () => clearTimeout(abandon))
    socket.once("secureConnect", () => {
      clearTimeout(abandon)
      socket.off("error", failed)
      const presented = normalise(socket.getPeerCertificate().fingerprint256 ?? "")
      if (presented !== "" && presented === this.pin) return answer(null, socket)
      socket.destroy()
      answer(new PinMismatch(`${options.host ?? "?"}:${options.port ?? "?"}`, presented === "" ? "(none)" : presented, this.pin), socket)
    })
    return undefined
  }
}

/**
 * Agent options for `url` under `settings` (plain http needs none). A CA or a pin comes as one
 * secure context for every connection: given as `ca`, Node parses it again for each new one.
 * `pinInHandshake`: a pin comes as PinnedAgentOptions, for a client that makes its agent with
 * PinnedAgent (nodeExchange.ts); otherwise one handshake fetches the certificate first and only
 * that certificate is trusted.
 */
export const agentOptions = (url: URL, settings: TlsSettings, timeoutMs: number, pinInHandshake = false) =>
  Effect.gen(function* () {
    if (url.protocol !== "https:") return {} as https.AgentOptions
    if (settings.insecure) return { rejectUnauthorized: false } as https.AgentOptions
    if (settings.fingerprint !== undefined && pinInHandshake) {
      return { pinnedSha256: normalise(settings.fingerprint), handshakeTimeoutMs: timeoutMs } satisfies PinnedAgentOptions as https.AgentOptions
    }
    if (settings.fingerprint !== undefined) {
      const expected = normalise(settings.fingerprint)
      const peer = yield* fetchPeerCertificate(url, timeoutMs)
      if (peer.sha256 !== expected) {
        return yield* new LoadMasterError({
          reason: "auth",
          message: `the certificate of ${url.host} has sha256 fingerprint ${peer.sha256}, not the pinned ${expected}: refusing to connect`,
          retryable: false
        })
      }
      // Trust exactly this certificate; the pin stands in for the host-name check.
      return { secureContext: tls.createSecureContext({ ca: toPem(peer.der) }), checkServerIdentity: () => undefined } as https.AgentOptions
    }
    const serverName = settings.serverName
    // Another name than the URL's host: sent as SNI (a DNS name) and checked instead of the host.
    const naming: https.AgentOptions =
      serverName === undefined
        ? {}
        : { servername: sniOf(serverName) ?? "", checkServerIdentity: (_host: string, cert: tls.PeerCertificate) => tls.checkServerIdentity(serverName, cert) }
    if (settings.ca !== undefined) return { secureContext: tls.createSecureContext({ ca: yield* readCa(settings.ca) }), ...naming } as https.AgentOptions
    return naming
  })

/**
 * TLS for the appliances: verified against the system CAs by default; a CA file; or a pinned
 * certificate fingerprint for self-signed units; `insecure` only when the config says so.
 *
 * Pinning: Node skips its identity check when the chain does not verify (a self-signed
 * certificate), so a fingerprint cannot be checked there. Instead one handshake (no request
 * sent) fetches the server's certificate; only when its sha256 matches is that very certificate
 * trusted as the CA for the real connections. The API key never goes to an unverified peer.
 */
import * as Effect from "effect/Effect"
import type * as https from "node:https"
import * as tls from "node:tls"
import type { TlsSettings } from "../config/ConfigFile.js"
import { FileRefused, readRegularFile } from "../platform/RegularFile.js"
import { LoadMasterError } from "./LoadMasterAcl.js"

const normalise = (fingerprint: string): string => fingerprint.replace(/^sha256:/i, "").replace(/:/g, "").toLowerCase()

const toPem = (der: Buffer): string =>
  `-----BEGIN CERTIFICATE-----\n${der.toString("base64").match(/.{1,64}/g)?.join("\n") ?? ""}\n-----END CERTIFICATE-----\n`

/** The server's certificate (DER) and its sha256, from one handshake that sends no request. */
export const fetchPeerCertificate = (url: URL, timeoutMs: number) =>
  Effect.async<{ readonly der: Buffer; readonly sha256: string }, LoadMasterError>((resume) => {
    const socket = tls.connect({
      host: url.hostname,
      port: Number(url.port === "" ? 443 : url.port),
      servername: /^[0-9.]+$|:/.test(url.hostname) ? undefined : url.hostname,
      rejectUnauthorized: false
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
      resume(Effect.succeed({ der: cert.raw, sha256: normalise(cert.fingerprint256) }))
    })
    socket.once("error", (e) => {
      clearTimeout(timer)
      resume(Effect.fail(new LoadMasterError({ reason: "transport", message: `TLS connection to ${url.host}: ${e.message}`, retryable: true })))
    })
    return Effect.sync(() => socket.destroy())
  })

/** Agent options for `url` under `settings` (plain http needs none). */
export const agentOptions = (url: URL, settings: TlsSettings, timeoutMs: number) =>
  Effect.gen(function* () {
    if (url.protocol !== "https:") return {} as https.AgentOptions
    if (settings.insecure) return { rejectUnauthorized: false } as https.AgentOptions
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
      return { ca: toPem(peer.der), checkServerIdentity: () => undefined } as https.AgentOptions
    }
    if (settings.ca !== undefined) {
      const ca = settings.ca
      const pem = yield* Effect.try({
        // A regular file of at most 1 MiB (a FIFO here would hang the command).
        try: () => readRegularFile(ca).toString("utf8"),
        catch: (e) =>
          new LoadMasterError({
            reason: "protocol",
            message: `cannot read the CA file ${ca}: ${e instanceof FileRefused ? e.detail.replace(/^cannot read: /, "") : e instanceof Error ? e.message : String(e)}`,
            retryable: false
          })
      })
      return { ca: pem } as https.AgentOptions
    }
    return {} as https.AgentOptions
  })

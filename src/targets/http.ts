/** What both appliance clients need around HTTP: the client itself, pacing, and reading Node's transport errors. */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import pkg from "../../package.json" with { type: "json" }
import { certificateFacts, nameAdvice, type CertificateLike } from "./certificate.js"
import { PinMismatch } from "./tls.js"

/** What an appliance sees in its access log. */
export const USER_AGENT = `mitigator/${pkg.version}`

/**
 * An appliance's clock, as its answers give it: the `Date` header of the newest one (UTC ISO,
 * whole seconds; an unreadable header is ignored). A clock to check this one against.
 */
export const makeApplianceClock = () => {
  let time: string | undefined
  return {
    note: (header: string | undefined): void => {
      const ms = header === undefined ? NaN : Date.parse(header)
      if (Number.isFinite(ms)) time = new Date(ms).toISOString()
    },
    time: Effect.sync(() => time)
  }
}

/**
 * A token bucket: up to one second's worth of calls at once, then `perSecond` (LoadMaster drops
 * clients over 30 calls in 3 s; CryptoSpike documents no limit, and long paging runs should not
 * hammer it either). A small burst, such as `append` applying its one block, goes out at once.
 */
export const makePacer = (perSecond: number) => {
  const rate = perSecond > 0 ? perSecond : 10
  const capacity = Math.max(1, rate)
  let tokens = capacity
  let refilledAt = 0
  return Effect.flatMap(Clock.currentTimeMillis, (now) => {
    if (refilledAt === 0) refilledAt = now
    tokens = Math.min(capacity, tokens + ((now - refilledAt) * rate) / 1000)
    refilledAt = now
    tokens -= 1
    // A negative balance is a debt: wait until it is paid back.
    return tokens >= 0 ? Effect.void : Effect.sleep(Duration.millis((-tokens * 1000) / rate))
  })
}

const CERTIFICATE_ERRORS = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "ERR_TLS_CERT_ALTNAME_INVALID"
])

/** The Node error code somewhere down the cause chain. */
const errorCodeOf = (cause: unknown): string | undefined => {
  for (let c: unknown = cause, depth = 0; c !== null && typeof c === "object" && depth < 5; depth++) {
    const code = (c as { code?: unknown }).code
    if (typeof code === "string") return code
    c = (c as { cause?: unknown }).cause
  }
  return undefined
}

/** The certificate a name-check error carries (Node's ERR_TLS_CERT_ALTNAME_INVALID has `cert` and `host`). */
const nameErrorOf = (cause: unknown): { readonly cert: CertificateLike; readonly host: string } | undefined => {
  for (let c: unknown = cause, depth = 0; c !== null && typeof c === "object" && depth < 5; depth++) {
    const { cert, host } = c as { cert?: unknown; host?: unknown }
    if (cert !== null && typeof cert === "object" && typeof host === "string") return { cert: cert as CertificateLike, host }
    c = (c as { cause?: unknown }).cause
  }
  return undefined
}

/** A certificate that is not trusted now will not be trusted on a retry either. */
const isCertificateError = (code: string | undefined): code is string => code !== undefined && CERTIFICATE_ERRORS.has(code)

/**
 * Whether a failed call is tried again within the call (after a short backoff): only what may
 * pass within those few seconds, a timeout, a reset, a 5xx, a 429, and a refused connection when
 * the caller can wait for it (`retryRefused`). `reconcile` can: an appliance restarting its web
 * service or an HA pair failing over refuses connections for a moment, and without a retry every
 * change of the pass would fail at once. `plan`, `doctor`, append's immediate apply and the
 * operator commands cannot (a person or Flowmon waits): for them a refusal is reported at once;
 * it stays `retryable` for the next call and the next pass.
 */
export const retriesWithinCall = (e: { readonly retryable: boolean; readonly refused?: boolean | undefined }, retryRefused: boolean): boolean =>
  e.retryable && (retryRefused || e.refused !== true)

/**
 * A failed exchange, said for one appliance: an untrusted certificate (`auth`, not retried: it
 * will not be trusted on a retry either) or an unreachable host (`transport`, retryable; a
 * refused connection is marked `refused`: retried within the call only when the caller can wait, see retriesWithinCall).
 */
export const transportFailure = (
  url: URL,
  cause: unknown,
  appliance: string,
  configKey: string
): { readonly reason: "auth" | "transport"; readonly message: string; readonly retryable: boolean; readonly refused?: true } => {
  // A pin checked in the handshake (tls.ts PinnedAgent) says itself what was presented.
  if (cause instanceof PinMismatch) return { reason: "auth", message: cause.message, retryable: false }
  const code = errorCodeOf(cause)
  const named = code === "ERR_TLS_CERT_ALTNAME_INVALID" ? nameErrorOf(cause) : undefined
  if (named !== undefined) {
    // The chain was trusted (tls.ca did its part): only the name failed, so tls.ca is no fix.
    return {
      reason: "auth",
      message: `the certificate of ${url.host} is not trusted (${code}): ${nameAdvice(certificateFacts(named.cert), named.host, configKey)}; \`mitigator doctor\` shows the certificate`,
      retryable: false
    }
  }
  if (isCertificateError(code)) {
    return {
      reason: "auth",
      message: `the certificate of ${url.host} is not trusted (${code}): set ${configKey}.tls.ca (a PEM file of the CA that signed it) or ${configKey}.tls.fingerprint for a self-signed appliance; \`mitigator doctor\` shows the certificate and the line that pins it`,
      retryable: false
    }
  }
  if (code === "ECONNREFUSED") {
    return { reason: "transport", message: `cannot reach ${appliance} at ${url.host}: connection refused (ECONNREFUSED)`, retryable: true, refused: true }
  }
  return {
    reason: "transport",
    message: `cannot reach ${appliance} at ${url.host}: ${code ?? (cause instanceof Error ? cause.message : String(cause))}`,
    retryable: true
  }
}

/** What both appliance clients need around HTTP: pacing, and reading Node's transport errors. */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

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

/** A certificate that is not trusted now will not be trusted on a retry either. */
const isCertificateError = (code: string | undefined): code is string => code !== undefined && CERTIFICATE_ERRORS.has(code)

/**
 * A failed exchange, said for one appliance: an untrusted certificate (`auth`, not retried: it
 * will not be trusted on a retry either) or an unreachable host (`transport`, retried).
 */
export const transportFailure = (
  url: URL,
  cause: unknown,
  appliance: string,
  configKey: string
): { readonly reason: "auth" | "transport"; readonly message: string; readonly retryable: boolean } => {
  const code = errorCodeOf(cause)
  if (isCertificateError(code)) {
    return {
      reason: "auth",
      message: `the certificate of ${url.host} is not trusted (${code}): set ${configKey}.tls.ca (a PEM file) or ${configKey}.tls.fingerprint for a self-signed appliance`,
      retryable: false
    }
  }
  return {
    reason: "transport",
    message: `cannot reach ${appliance} at ${url.host}: ${code ?? (cause instanceof Error ? cause.message : String(cause))}`,
    retryable: true
  }
}

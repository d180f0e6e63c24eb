/**
 * The live LoadMaster client: APIv2 (`POST /accessv2`, JSON) for every call, or with
 * `loadmaster.api: v1` APIv1 (`GET /access/<cmd>?…`, XML) for every call: firmware without the
 * JSON API (before 7.2.52) has only that. A single host is added in the configured address form
 * (`addressForm`: `/32` by default, or bare). Every call is paced by a per-appliance rate limit (the
 * appliance drops clients over 30 calls in 3 s), bounded by a timeout, and retried with
 * exponential backoff and jitter only when the failure is transient and may pass within seconds
 * (a reset, a timeout, 5xx, 429, and a refused connection unless `retryRefused` is false: someone
 * waits); 401/403, 404 (API disabled) and 422 are reported at once, by reason.
 * The API key is added to the request at the last moment and appears in no log or error: every
 * answer is read with a byte cap (`maxBodyBytes`, default 16 MiB) and passes through a redactor
 * of the key before it is parsed or quoted, and every error the client returns passes through it
 * again (an appliance may echo the request, key included, in its error body).
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import type { TlsSettings } from "../../config/ConfigFile.js"
import { LoadMasterError, type LoadMasterAclService } from "../LoadMasterAcl.js"
import { BodyTooLarge, DEFAULT_MAX_BODY_BYTES, describeTooLarge } from "../body.js"
import { applianceConnection } from "../connection.js"
import { makeApplianceClock, makePacer, retriesWithinCall, transportFailure } from "../http.js"
import { nodeExchange, type ExchangeRequest } from "../nodeExchange.js"
import { makeRedactor } from "../Redactor.js"
import { readList } from "./listShape.js"
import * as Wire from "./wire.js"

export interface LiveLoadMasterOptions {
  readonly url: string
  readonly apiKey: Redacted.Redacted<string>
  readonly api: "v2" | "v1"
  /** how an add writes a single host; default `cidr` (`/32`, `/128`) */
  readonly addressForm?: Wire.AddressForm
  /** calls per second */
  readonly rateLimit: number
  readonly tls: TlsSettings
  /** per call; default 10 s */
  readonly timeoutMs?: number
  /** retries of a transient failure; default 4 */
  readonly retries?: number
  /**
   * whether a refused connection is retried like the other transient failures; default true.
   * False where someone waits for the answer (http.ts retriesWithinCall).
   */
  readonly retryRefused?: boolean
  /** the largest answer read; default 16 MiB */
  readonly maxBodyBytes?: number
}

const transportError = (url: URL, cause: unknown): LoadMasterError => new LoadMasterError(transportFailure(url, cause, "the LoadMaster", "loadmaster"))

const tooLarge = (url: URL, e: BodyTooLarge): LoadMasterError =>
  new LoadMasterError({ reason: "too-large", message: `the LoadMaster at ${url.host} sent ${describeTooLarge(e)}`, retryable: false })

export const makeLiveLoadMaster = (options: LiveLoadMasterOptions) =>
  Effect.gen(function* () {
    const base = new URL(options.url)
    const timeoutMs = options.timeoutMs ?? 10_000
    const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES
    // The key in every form it can come back in; `bal` is the LoadMaster's user for Basic auth.
    const redactor = makeRedactor([options.apiKey], [{ user: "bal", password: options.apiKey }])
    const redacted = (e: LoadMasterError): LoadMasterError => {
      const message = redactor.redact(e.message)
      return message === e.message
        ? e
        : new LoadMasterError({
            reason: e.reason,
            message,
            retryable: e.retryable,
            ...(e.status === undefined ? {} : { status: e.status }),
            ...(e.refused === undefined ? {} : { refused: e.refused })
          })
    }
    const secure = base.protocol === "https:"
    const connection = yield* Effect.mapError(
      applianceConnection(base, options.tls, timeoutMs, (agent) => nodeExchange(secure, agent), true),
      redacted
    )
    const pace = makePacer(options.rateLimit)
    const retryRefused = options.retryRefused ?? true
    const retry = Schedule.exponential("200 millis", 2).pipe(Schedule.jittered, Schedule.intersect(Schedule.recurs(options.retries ?? 4)))

    const clock = makeApplianceClock()

    /** One HTTP exchange: status and body text (redacted, at most `maxBodyBytes`), or an error. */
    const exchange = (request: ExchangeRequest) =>
      pace.pipe(
        Effect.zipRight(connection),
        Effect.flatMap((send) =>
          send(request, maxBodyBytes).pipe(
            Effect.map((answer) => {
              clock.note(answer.date)
              return { status: answer.status, text: redactor.redact(answer.text) }
            }),
            Effect.mapError((cause) => (cause instanceof BodyTooLarge ? tooLarge(base, cause) : transportError(base, cause)))
          )
        ),
        Effect.timeoutFail({
          duration: Duration.millis(timeoutMs),
          onTimeout: () => new LoadMasterError({ reason: "timeout", message: `the LoadMaster at ${base.host} did not answer within ${timeoutMs} ms`, retryable: true })
        })
      )

    const withRetry = <A>(effect: Effect.Effect<A, LoadMasterError>) =>
      Effect.retry(effect, { schedule: retry, while: (e) => retriesWithinCall(e, retryRefused) }).pipe(Effect.mapError(redacted))

    const v2 = (body: Record<string, string>) =>
      withRetry(
        Effect.flatMap(
          exchange({ method: "POST", url: new URL("/accessv2", base).toString(), json: JSON.stringify({ ...body, apikey: Redacted.value(options.apiKey) }) }),
          ({ status, text }) => {
            const result = Wire.classifyV2(status, text)
            return result.ok ? Effect.succeed({ body: result.body, text }) : Effect.fail(result.error)
          }
        )
      )

    /**
     * The key is appended to the query text here rather than set as a URL parameter: setting one
     * makes the whole query re-serialised as a form (a space becomes `+`, which not every server
     * reads as a space), where the path keeps Kemp's own encoding (`%20`, as its PowerShell module
     * sends; `/` and `:` readable).
     */
    const v1Url = (body: Record<string, string>): string => {
      const path = Wire.v1Path(body)
      return new URL(`${path}${path.includes("?") ? "&" : "?"}apikey=${encodeURIComponent(Redacted.value(options.apiKey))}`, base).toString()
    }

    const v1 = (body: Record<string, string>) =>
      withRetry(
        Effect.flatMap(
          exchange({ method: "GET", url: v1Url(body) }),
          ({ status, text }) => {
            const result = Wire.classifyV1(status, text)
            return result.ok ? Effect.succeed({ body: result.body, text }) : Effect.fail(result.error)
          }
        )
      )

    /** One command in the configured API. */
    const call = (body: Record<string, string>) => (options.api === "v1" ? v1(body) : v2(body))

    /** The body of an answer. */
    const bodyOf = (body: Record<string, string>) => Effect.map(call(body), (answer) => answer.body)

    const addressForm = options.addressForm ?? "cidr"

    const service: LoadMasterAclService = {
      list: (scope) =>
        Effect.flatMap(call(Wire.listBody(scope)), ({ body, text }) => {
          // An answer in a shape no known firmware or client uses is not read as a list (it could
          // be read as an empty one): the pass leaves this list alone and says why.
          const listing = readList(body, text, scope)
          return listing instanceof LoadMasterError ? Effect.fail(listing) : Effect.succeed(listing)
        }).pipe(
          Effect.tap(({ unparsed }) =>
            unparsed.length === 0
              ? Effect.void
              : Effect.logWarning(`LoadMaster list has entries that are not addresses, left alone: ${unparsed.join(", ")}`)
          ),
          Effect.map(({ entries }) => entries)
        ),
      add: (scope, cidr, comment) => {
        const body = Wire.addBody(scope, cidr, comment, addressForm)
        return Effect.as(call(body), body["addr"]!)
      },
      remove: (scope, entry) => Effect.asVoid(call(Wire.removeBody(scope, entry.listed))),
      listVirtualServices: Effect.map(bodyOf(Wire.listVsBody()), Wire.parseVirtualServices),
      packetFilterEnabled: Effect.flatMap(bodyOf(Wire.isEnabledBody()), (body) => {
        const enabled = Wire.parseIsEnabled(body)
        return typeof enabled === "boolean" ? Effect.succeed(enabled) : Effect.fail(enabled)
      }),
      applianceTime: clock.time
    }
    return service
  })

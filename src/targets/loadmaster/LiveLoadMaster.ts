/**
 * The live LoadMaster client: APIv2 (`POST /accessv2`, JSON) for everything, APIv1 (XML) for
 * listing when `loadmaster.api: v1`. Every call is paced by a per-appliance rate limit (the
 * appliance drops clients over 30 calls in 3 s), bounded by a timeout, and retried with
 * exponential backoff and jitter only when the failure is transient (connection, timeout, 5xx,
 * 429); 401/403, 404 (API disabled) and 422 are reported at once, by reason.
 * The API key is added to the request at the last moment and appears in no log or error.
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import type { TlsSettings } from "../../config/ConfigFile.js"
import { LoadMasterError, type AclScope, type LoadMasterAclService } from "../LoadMasterAcl.js"
import { applianceHttpClient, makePacer, transportFailure } from "../http.js"
import { agentOptions } from "../tls.js"
import * as Wire from "./wire.js"

export interface LiveLoadMasterOptions {
  readonly url: string
  readonly apiKey: Redacted.Redacted<string>
  readonly api: "v2" | "v1"
  /** calls per second */
  readonly rateLimit: number
  readonly tls: TlsSettings
  /** per call; default 10 s */
  readonly timeoutMs?: number
  /** retries of a transient failure; default 4 */
  readonly retries?: number
}

const transportError = (url: URL, cause: unknown): LoadMasterError => new LoadMasterError(transportFailure(url, cause, "the LoadMaster", "loadmaster"))

export const makeLiveLoadMaster = (options: LiveLoadMasterOptions) =>
  Effect.gen(function* () {
    const base = new URL(options.url)
    const timeoutMs = options.timeoutMs ?? 10_000
    const agent = yield* agentOptions(base, options.tls, timeoutMs)
    const http = yield* applianceHttpClient(agent)
    const pace = makePacer(options.rateLimit)
    const retry = Schedule.exponential("200 millis", 2).pipe(Schedule.jittered, Schedule.intersect(Schedule.recurs(options.retries ?? 4)))

    /** One HTTP exchange: status and body text, or a transport error. */
    const exchange = (request: HttpClientRequest.HttpClientRequest) =>
      pace.pipe(
        Effect.zipRight(http.execute(request)),
        Effect.flatMap((response) => Effect.map(response.text, (text) => ({ status: response.status, text }))),
        Effect.mapError((cause) => transportError(base, cause)),
        Effect.timeoutFail({
          duration: Duration.millis(timeoutMs),
          onTimeout: () => new LoadMasterError({ reason: "timeout", message: `the LoadMaster at ${base.host} did not answer within ${timeoutMs} ms`, retryable: true })
        }),
        Effect.scoped
      )

    const withRetry = <A>(effect: Effect.Effect<A, LoadMasterError>) =>
      Effect.retry(effect, { schedule: retry, while: (e) => e.retryable })

    const v2 = (body: Record<string, string>) =>
      withRetry(
        Effect.flatMap(
          exchange(
            HttpClientRequest.post(new URL("/accessv2", base).toString()).pipe(
              HttpClientRequest.bodyUnsafeJson({ ...body, apikey: Redacted.value(options.apiKey) })
            )
          ),
          ({ status, text }) => {
            const result = Wire.classifyV2(status, text)
            return result.ok ? Effect.succeed(result.body) : Effect.fail(result.error)
          }
        )
      )

    const v1List = (scope: AclScope) =>
      withRetry(
        Effect.flatMap(
          exchange(
            HttpClientRequest.get(new URL(Wire.v1ListPath(scope), base).toString()).pipe(
              HttpClientRequest.setUrlParam("apikey", Redacted.value(options.apiKey))
            )
          ),
          ({ status, text }) => {
            const result = Wire.classifyV1(status, text)
            return result.ok ? Effect.succeed(Wire.parseV1List(result.body, scope)) : Effect.fail(result.error)
          }
        )
      )

    const service: LoadMasterAclService = {
      list: (scope) =>
        (options.api === "v1" ? v1List(scope) : Effect.map(v2(Wire.listBody(scope)), (body) => Wire.parseV2List(body, scope))).pipe(
          Effect.tap(({ unparsed }) =>
            unparsed.length === 0
              ? Effect.void
              : Effect.logWarning(`LoadMaster list has entries that are not addresses, left alone: ${unparsed.join(", ")}`)
          ),
          Effect.map(({ entries }) => entries)
        ),
      add: (scope, cidr, comment) => Effect.asVoid(v2(Wire.addBody(scope, cidr, comment))),
      remove: (scope, entry) => Effect.asVoid(v2(Wire.removeBody(scope, entry.listed))),
      listVirtualServices: Effect.map(v2(Wire.listVsBody()), Wire.parseVirtualServices),
      packetFilterEnabled: Effect.flatMap(v2(Wire.isEnabledBody()), (body) => {
        const enabled = Wire.parseIsEnabled(body)
        return typeof enabled === "boolean" ? Effect.succeed(enabled) : Effect.fail(enabled)
      })
    }
    return service
  })

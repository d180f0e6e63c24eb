/**
 * The live CryptoSpike REST client (spec shared/specs/cryptospike-api.md §8).
 *
 * Authentication: an application token (`xapp-…`) in `x-auth-token` (the only attested header
 * for app tokens, spec §2b), or a user name and password: one `POST /api/v1/Server/auth/login`
 * on first need, then `Authorization: Bearer <jwt>`; a 401 on a call logs in again once and
 * repeats the call. Secrets are added to the request at the last moment and appear in no log or
 * error (errors are built from status codes, Node error codes and the appliance's answers, and
 * every answer passes through a redactor of the token, password and session before it is parsed
 * or quoted: an appliance may echo the request in its error body). Answers are read with a byte
 * cap (`maxBodyBytes`, default 16 MiB).
 *
 * Like the LoadMaster client (loadmaster/LiveLoadMaster.ts): every call is paced by a token
 * bucket (re-implemented here in a few lines rather than exported from there), bounded by a
 * timeout, and retried with exponential backoff and jitter only when the failure is transient and
 * may pass within seconds (a reset, a timeout, 408, 429, 5xx, and a refused connection unless
 * `retryRefused` is false: someone waits); 401/403 and refused requests are reported at once.
 * Lists are read page by page until a short page or `totalItems` (spec §6 #8: never only the
 * first page).
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type { TlsSettings } from "../../config/ConfigFile.js"
import { CryptoSpikeError, type CryptoSpikeUsersService, type FileActivity, type StorageUser } from "../CryptoSpikeUsers.js"
import type { LoadMasterError } from "../LoadMasterAcl.js"
import { BodyTooLarge, DEFAULT_MAX_BODY_BYTES, describeTooLarge, readBodyCapped } from "../body.js"
import { applianceConnection } from "../connection.js"
import { makeApplianceClock, makePacer, retriesWithinCall, transportFailure } from "../http.js"
import { makeRedactor, type Redactor } from "../Redactor.js"
import * as Wire from "./wire.js"

export type CryptoSpikeAuth =
  | { readonly kind: "token"; readonly token: Redacted.Redacted<string> }
  | { readonly kind: "login"; readonly username: string; readonly password: Redacted.Redacted<string> }

export interface LiveCryptoSpikeOptions {
  readonly url: string
  readonly auth: CryptoSpikeAuth
  readonly tls: TlsSettings
  /** the `userAccessState` of an unblock (`cryptospike.unblock.userAccessState`) */
  readonly unblockState: string
  /** per call; default 10 s */
  readonly timeoutMs?: number
  /** retries of a transient failure; default 4 */
  readonly retries?: number
  /**
   * whether a refused connection is retried like the other transient failures; default true.
   * False where someone waits for the answer (http.ts retriesWithinCall).
   */
  readonly retryRefused?: boolean
  /** items per page; default 100 */
  readonly pageSize?: number
  /** calls per second; default 20 */
  readonly rateLimit?: number
  /** the largest answer read; default 16 MiB */
  readonly maxBodyBytes?: number
}

/** More pages than this means a server that ignores `page`, or a window far too busy to use. */
export const MAX_PAGES = 10_000

/** The comment sent with an unblock. */
export const UNBLOCK_COMMENT = "mitigator: unblocked"

const transportError = (url: URL, cause: unknown): CryptoSpikeError => new CryptoSpikeError(transportFailure(url, cause, "CryptoSpike", "cryptospike"))

/** tls.ts reports in LoadMaster terms; the same failure, said for CryptoSpike. */
const fromTlsError = (e: LoadMasterError): CryptoSpikeError => {
  const reason: CryptoSpikeError["reason"] =
    e.reason === "api-disabled" ? "rejected" : e.reason === "rate-limited" ? "server" : e.reason
  return new CryptoSpikeError({
    reason,
    message: e.message,
    retryable: e.retryable,
    ...(e.status === undefined ? {} : { status: e.status }),
    ...(e.refused === undefined ? {} : { refused: e.refused })
  })
}

const protocolError = (message: string): CryptoSpikeError => new CryptoSpikeError({ reason: "protocol", message, retryable: false })

const tooLarge = (url: URL, e: BodyTooLarge): CryptoSpikeError =>
  new CryptoSpikeError({ reason: "too-large", message: `CryptoSpike at ${url.host} sent ${describeTooLarge(e)}`, retryable: false })

/** The secrets of `auth`, in every form they can come back in. */
const redactorOf = (auth: CryptoSpikeAuth): Redactor =>
  auth.kind === "token" ? makeRedactor([auth.token]) : makeRedactor([auth.password], [{ user: auth.username, password: auth.password }])

type Method = "GET" | "POST"

export const makeLiveCryptoSpike = (
  options: LiveCryptoSpikeOptions
): Effect.Effect<CryptoSpikeUsersService, CryptoSpikeError, Scope.Scope> =>
  Effect.gen(function* () {
    const base = yield* Effect.try({
      try: () => new URL(options.url),
      catch: () => new CryptoSpikeError({ reason: "protocol", message: `cryptospike.url is not a URL: ${Wire.printable(options.url, 120)}`, retryable: false })
    })
    const timeoutMs = options.timeoutMs ?? 10_000
    const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES
    const pageSize = Math.max(1, Math.floor(options.pageSize ?? Wire.DEFAULT_PAGE_SIZE))
    // Grows by the session token of each login.
    let redactor = redactorOf(options.auth)
    const redacted = (e: CryptoSpikeError): CryptoSpikeError => {
      const message = redactor.redact(e.message)
      return message === e.message
        ? e
        : new CryptoSpikeError({
            reason: e.reason,
            message,
            retryable: e.retryable,
            ...(e.status === undefined ? {} : { status: e.status }),
            ...(e.refused === undefined ? {} : { refused: e.refused })
          })
    }
    const connect = yield* Effect.mapError(applianceConnection(base, options.tls, timeoutMs), fromTlsError)
    const connection = Effect.mapError(connect, fromTlsError)
    const pace = makePacer(options.rateLimit ?? 20)
    const retryRefused = options.retryRefused ?? true
    const retry = Schedule.exponential("200 millis", 2).pipe(Schedule.jittered, Schedule.intersect(Schedule.recurs(options.retries ?? 4)))
    const authHint = options.auth.kind === "token" ? Wire.TOKEN_HINT : Wire.LOGIN_HINT

    const request = (method: Method, path: string, body: unknown): HttpClientRequest.HttpClientRequest => {
      const url = Wire.joinUrl(base, path)
      const req = HttpClientRequest.acceptJson(method === "GET" ? HttpClientRequest.get(url) : HttpClientRequest.post(url))
      return body === undefined ? req : HttpClientRequest.bodyUnsafeJson(req, body)
    }

    const clock = makeApplianceClock()

    /** One HTTP exchange: status and body text (redacted, at most `maxBodyBytes`), or an error. */
    const exchange = (req: HttpClientRequest.HttpClientRequest) =>
      pace.pipe(
        Effect.zipRight(
          Effect.flatMap(connection, (http) =>
            http.execute(req).pipe(
              Effect.tap((response) => clock.note(response.headers["date"])),
              Effect.flatMap((response) =>
                Effect.map(readBodyCapped(response, maxBodyBytes), (text) => ({ status: response.status, text: redactor.redact(text) }))
              ),
              Effect.mapError((cause) => (cause instanceof BodyTooLarge ? tooLarge(base, cause) : transportError(base, cause)))
            )
          ).pipe(
            Effect.timeoutFail({
              duration: Duration.millis(timeoutMs),
              onTimeout: () =>
                new CryptoSpikeError({ reason: "timeout", message: `CryptoSpike at ${base.host} did not answer within ${timeoutMs} ms`, retryable: true })
            }),
            Effect.scoped
          )
        )
      )

    /** One call with its retries of transient failures; the JSON body (or undefined). */
    const attempt = (req: HttpClientRequest.HttpClientRequest, json: boolean, hint: string) =>
      Effect.retry(
        Effect.flatMap(exchange(req), ({ status, text }) => {
          const result = Wire.classify(status, text, { json, authHint: hint })
          return result.ok ? Effect.succeed(result.body) : Effect.fail(result.error)
        }),
        { schedule: retry, while: (e) => retriesWithinCall(e, retryRefused) }
      ).pipe(Effect.mapError(redacted))

    // ---- login sessions ------------------------------------------------------------------
    let session: Redacted.Redacted<string> | undefined
    const loginLock = yield* Effect.makeSemaphore(1)

    const login = (username: string, password: Redacted.Redacted<string>) =>
      Effect.flatMap(
        // The body is built here, not logged anywhere, and never part of an error.
        attempt(request("POST", Wire.LOGIN_PATH, { username, password: Redacted.value(password) }), true, Wire.LOGIN_HINT),
        (body) => {
          const token = Wire.parseLoginToken(body)
          return token === undefined
            ? Effect.fail(protocolError(`the CryptoSpike login answer has no "token"`))
            : Effect.sync(() => {
                session = Redacted.make(token)
                redactor = redactor.with(session)
                return session
              })
        }
      )

    /** The current session, logging in when there is none or when it is `stale`. */
    const sessionToken = (stale?: Redacted.Redacted<string>) =>
      loginLock.withPermits(1)(
        Effect.suspend(() => {
          if (options.auth.kind !== "login") return Effect.die(new Error("sessionToken: not in login mode"))
          if (session !== undefined && session !== stale) return Effect.succeed(session)
          session = undefined
          return login(options.auth.username, options.auth.password)
        })
      )

    const bearer = (req: HttpClientRequest.HttpClientRequest, token: Redacted.Redacted<string>) =>
      HttpClientRequest.setHeader(req, "authorization", `Bearer ${Redacted.value(token)}`)

    /** An authenticated call: the JSON body (`json`), or nothing of interest. */
    const call = (method: Method, path: string, body: unknown, json: boolean): Effect.Effect<unknown, CryptoSpikeError> => {
      const auth = options.auth
      if (auth.kind === "token") {
        return attempt(HttpClientRequest.setHeader(request(method, path, body), "x-auth-token", Redacted.value(auth.token)), json, authHint)
      }
      return Effect.flatMap(sessionToken(), (token) =>
        attempt(bearer(request(method, path, body), token), json, authHint).pipe(
          // The session may have expired: log in again, once, and repeat the call.
          Effect.catchIf(
            (e) => e.reason === "auth" && e.status === 401,
            () => Effect.flatMap(sessionToken(token), (fresh) => attempt(bearer(request(method, path, body), fresh), json, authHint))
          )
        )
      )
    }

    if (options.auth.kind === "login") {
      // Best effort (spec §2a: some appliances answer 401 to every logout).
      yield* Effect.addFinalizer(() =>
        Effect.suspend(() => {
          const token = session
          if (token === undefined) return Effect.void
          session = undefined
          return exchange(bearer(request("GET", Wire.LOGOUT_PATH, undefined), token)).pipe(Effect.ignore)
        })
      )
    }

    // ---- paging ----------------------------------------------------------------------------
    const pageAll = <A>(
      what: string,
      method: Method,
      pathOf: (page: number) => string,
      body: unknown,
      parse: (body: unknown) => Wire.Page<A> | CryptoSpikeError
    ): Effect.Effect<ReadonlyArray<A>, CryptoSpikeError> =>
      Effect.gen(function* () {
        const rows: Array<A> = []
        let seen = 0
        let skipped = 0
        for (let page = 0; ; page++) {
          if (page >= MAX_PAGES) {
            return yield* protocolError(
              `CryptoSpike's ${what} did not end after ${MAX_PAGES} pages of ${pageSize}: refusing to act on a partial list`
            )
          }
          const parsed = parse(yield* call(method, pathOf(page), body, true))
          if (parsed instanceof CryptoSpikeError) return yield* parsed
          rows.push(...parsed.rows)
          seen += parsed.count
          skipped += parsed.skipped
          const shortfall = Wire.pagingShortfall(parsed, pageSize, seen)
          if (shortfall !== undefined) return yield* protocolError(`CryptoSpike's ${what} cannot be complete (${shortfall}): refusing to act on a partial list`)
          if (Wire.pagingDone(parsed, pageSize, seen)) break
        }
        if (skipped > 0) yield* Effect.logWarning(`CryptoSpike's ${what} had ${skipped} item(s) without a user id; left out`)
        return rows
      })

    const fileActivity = (ip: string, from: string, to: string): Effect.Effect<ReadonlyArray<FileActivity>, CryptoSpikeError> => {
      const start = Wire.epochSeconds(from, "floor")
      const end = Wire.epochSeconds(to, "ceil")
      if (start === undefined || end === undefined) {
        return Effect.fail(
          new CryptoSpikeError({
            reason: "rejected",
            message: `cannot ask CryptoSpike for file activity between ${Wire.printable(from, 60)} and ${Wire.printable(to, 60)}: not a time`,
            retryable: false
          })
        )
      }
      return pageAll(
        `file activity of ${ip}`,
        "POST",
        (page) => Wire.activityPath(page, pageSize, start, end),
        Wire.activityBody(ip),
        Wire.parseActivityPage
      )
    }

    const searchUsers = (name: string): Effect.Effect<ReadonlyArray<StorageUser>, CryptoSpikeError> =>
      pageAll(
        `user search`,
        "GET",
        (page) => Wire.searchUsersPath(name, page, pageSize),
        undefined,
        (body) => Wire.parseUsersPage(body, false)
      )

    const blockedUsers: Effect.Effect<ReadonlyArray<StorageUser>, CryptoSpikeError> = pageAll(
      `blocked-user list`,
      "GET",
      (page) => Wire.blockedUsersPath(page, pageSize),
      undefined,
      (body) => Wire.parseUsersPage(body, true)
    )

    // Every error leaves through the redactor, whatever built it.
    const service: CryptoSpikeUsersService = {
      fileActivity: (ip, from, to) => Effect.mapError(fileActivity(ip, from, to), redacted),
      searchUsers: (name) => Effect.mapError(searchUsers(name), redacted),
      blockedUsers: Effect.mapError(blockedUsers, redacted),
      block: (userId, comment) => Effect.asVoid(call("POST", Wire.ACCESS_PATH, Wire.blockBody(userId, comment), false)).pipe(Effect.mapError(redacted)),
      unblock: (userId) =>
        Effect.asVoid(call("POST", Wire.ACCESS_PATH, Wire.unblockBody(userId, options.unblockState, UNBLOCK_COMMENT), false)).pipe(Effect.mapError(redacted)),
      applianceTime: clock.time
    }
    return service
  })

/**
 * `mitigator serve`: a resident detection server. Flowmon POSTs its detection lines (what
 * `append` reads on stdin) to /v1/events with a bearer token; each batch is recorded the way
 * `append` records it (one code path: recordLines), answered only once committed, and its new
 * blocks applied at once in the background; the reconcile loop of `reconcile --watch` runs in the
 * same process (preparePass, watchPasses), one pass or immediate apply at a time.
 * Exit 1: a bad command line or config (no token, plain HTTP off loopback, the port taken);
 * 130: stopped by SIGTERM or SIGINT.
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import * as http from "node:http"
import * as https from "node:https"
import { DEFAULT_LISTEN, formatListen, parseListen } from "../domain/ListenAddress.js"
import { parseDuration } from "../domain/Duration.js"
import { LineFramer } from "../domain/LineFramer.js"
import { parseTimeZone } from "../domain/Time.js"
import { EventLog, EventLogError } from "../eventlog/EventLog.js"
import { readRegularFile } from "../platform/RegularFile.js"
import { allowStopGrace } from "../platform/StopGrace.js"
import { immediateResult } from "../reconciler/applyAtOnce.js"
import { holdingReconcileLease } from "../reconciler/Lease.js"
import { applySession, PendingAdds, type SessionSettings } from "../serve/ApplySession.js"
import type { PassRecord } from "../reconciler/passRecord.js"
import { bearerMatcher, MIN_TOKEN_LENGTH } from "../serve/BearerToken.js"
import { BodyRefused, checkText, readBody } from "../serve/Body.js"
import { TokenBucket } from "../serve/RateLimit.js"
import { ServeState } from "../serve/ServeState.js"
import { readSecretFile } from "../targets/secrets.js"
import { APPLY_AT_ONCE_MAX, BATCH_LINES, INSTANCE, newAppendSummary, recordParts, type AppendSettings, type AppendSummary, type LinesToRecord } from "./append.js"
import { applianceRails } from "./appliances.js"
import { applyUsersNow, logImmediateResult } from "./applyNow.js"
import { liveCryptoSpike } from "./cryptospike.js"
import { activePolicy } from "./decisions.js"
import { liveLoadMaster } from "./loadmaster.js"
import { commandLogger, fileFormat } from "./logging.js"
import { preparePass, watchPasses } from "./reconcile.js"
import { besideConfig, configuredLog, instanceOf, LoadedConfig, localStatePath, logPath, UsageError } from "./shared.js"
import { apiKeyOption, globalOptions, logOptions, tokenOption } from "./options.js"

/** How long an immediate apply may take, and wait for the lease, as `append --apply-timeout`'s default. */
const APPLY_TIMEOUT_MS = 10_000
/** Adds in flight at once when applying what the requests call for: one round holds many requests' blocks. */
const SERVE_APPLY_CONCURRENCY = 16
const LOCK_WAIT_MS = 30_000
/** The header that names the appliance a POST comes from (the forwarder sends its MITIGATOR_INSTANCE). */
const INSTANCE_HEADER = "mitigator-instance"
/**
 * Adds waiting for the immediate apply, at most (beyond: left to the next pass). A reconcile pass
 * holds the appliance for seconds on a large list while detections keep coming: at 1,000 new
 * sources a second they wait here meanwhile (a few MiB), rather than for the next pass.
 */
const PENDING_ADDS_MAX = 20_000
/** The immediate apply's outcomes are recorded together this often (one transaction for many adds). */
const FLUSH_EVERY_MS = 50
/** How often serve's log writes its head file (SqliteEventLogOptions.headEveryMs). */
const HEAD_EVERY_MS = 250
/** WAL pages (16 KiB) before a checkpoint: 2 MiB steps instead of SQLite's 16 MiB (p99 time to block at 100/s: 350–630 ms → 40–80 ms, measured) */
const WAL_CHECKPOINT_PAGES = 128
/** A session of the immediate apply gives the lease back after this long without work, or after SESSION_MAX_MS. */
const SESSION_IDLE_MS = 50
const SESSION_MAX_MS = 5_000
/** After SIGTERM, the pass or apply in flight may finish for this long; the process ends by STOP_GRACE_MS. */
const FINISH_GRACE_MS = 1_400
const STOP_GRACE_MS = 1_900

/**
 * Runs `work` to its end even when serve is told to stop meanwhile (up to FINISH_GRACE_MS, then it
 * is interrupted): a pass or an apply in flight finishes, and records what it did. It runs in a
 * fiber of its own, so it can still be interrupted from within (a lost lease stops it at once).
 */
const finishing = <A, E, R>(work: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(Effect.forkDaemon(work), (fiber) =>
    Fiber.join(fiber).pipe(
      Effect.onInterrupt(() =>
        Fiber.await(fiber).pipe(
          Effect.timeout(FINISH_GRACE_MS),
          Effect.catchAll(() => Fiber.interrupt(fiber)),
          Effect.asVoid
        )
      )
    )
  )

const listen = Options.text("listen").pipe(
  Options.withDescription(`HOST:PORT to listen on (else the config's serve.listen; else ${DEFAULT_LISTEN}); plain HTTP only on loopback`),
  Options.optional
)
const tokenFile = Options.text("token-file").pipe(
  Options.withDescription("file holding the bearer token clients must send (mode 600; else the config's serve.tokenFile)"),
  Options.optional
)
const tlsCert = Options.text("tls-cert").pipe(Options.withDescription("the server's certificate chain (PEM; else serve.tls.cert)"), Options.optional)
const tlsKey = Options.text("tls-key").pipe(Options.withDescription("the server's private key (PEM, mode 600; else serve.tls.key)"), Options.optional)
const interval = Options.text("interval").pipe(Options.withDescription("time between reconcile passes (default 60s)"), Options.withDefault("60s"))

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  HttpServerResponse.unsafeJson(body, { status, headers: { "cache-control": "no-store", ...headers } })

export const serveCommand = Command.make(
  "serve",
  { ...globalOptions, ...logOptions, listen, tokenFile, tlsCert, tlsKey, interval, apiKey: apiKeyOption, csToken: tokenOption },
  (opts) =>
    Effect.gen(function* () {
      const cfg = yield* LoadedConfig
      allowStopGrace(STOP_GRACE_MS)
      const log = yield* EventLog
      const settingsFile = cfg.serve
      const usage = (message: string) => new UsageError({ message: `serve: ${message}` })

      // Where, and how: plain HTTP only where nobody else can listen in.
      const listenText = Option.getOrUndefined(opts.listen) ?? settingsFile?.listen ?? DEFAULT_LISTEN
      const where = parseListen(listenText)
      if (!where.ok) return yield* usage(`--listen ${listenText}: ${where.error}`)
      const certFile = Option.getOrUndefined(opts.tlsCert) ?? besideConfig(cfg, settingsFile?.tls?.cert)
      const keyFile = Option.getOrUndefined(opts.tlsKey) ?? besideConfig(cfg, settingsFile?.tls?.key)
      if ((certFile === undefined) !== (keyFile === undefined)) return yield* usage("TLS needs both a certificate and its key (--tls-cert and --tls-key, or serve.tls.cert and serve.tls.key)")
      if (certFile === undefined && !where.value.loopback) {
        return yield* usage(
          `refusing plain HTTP on ${formatListen(where.value)}, which is not a loopback address: the token and the detections would cross the network in clear; give --tls-cert and --tls-key (or serve.tls), or listen on 127.0.0.1`
        )
      }
      const tokenPath = Option.getOrUndefined(opts.tokenFile) ?? besideConfig(cfg, settingsFile?.tokenFile)
      if (tokenPath === undefined) return yield* usage("no token: give --token-file FILE (a file of mode 600 holding the bearer token clients send), or serve.tokenFile in the config")
      const token = yield* readSecretFile(tokenPath, "the serve token").pipe(Effect.mapError((e) => usage(e.message)))
      if (Redacted.value(token).length < MIN_TOKEN_LENGTH) {
        return yield* usage(`the token in ${tokenPath} is shorter than ${MIN_TOKEN_LENGTH} characters: make a long random one (openssl rand -hex 32 > ${tokenPath})`)
      }
      const tls =
        certFile === undefined || keyFile === undefined
          ? undefined
          : {
              cert: yield* Effect.try({ try: () => readRegularFile(certFile), catch: (e) => usage(`cannot read the TLS certificate ${certFile}: ${e instanceof Error ? e.message : String(e)}`) }),
              key: Redacted.value(yield* readSecretFile(keyFile, "the serve TLS private key").pipe(Effect.mapError((e) => usage(e.message))))
            }
      const every = parseDuration(opts.interval)
      if (!every.ok) return yield* usage(`--interval ${every.error}`)
      const zone = parseTimeZone(cfg.timezone ?? "UTC")
      if (!zone.ok) return yield* usage(zone.error)
      const bodyLimit = settingsFile?.bodyLimit ?? 1024 * 1024
      const bucket = new TokenBucket(settingsFile?.rateLimit ?? 50)
      const authorized = bearerMatcher(token)
      const logFile = localStatePath(opts, cfg)
      const reconciling = cfg.loadmaster !== undefined || cfg.cryptospike !== undefined
      const state = new ServeState(logFile, Date.now(), reconciling ? every.value : undefined, logFile === logPath(opts, cfg))
      if (!reconciling) yield* Effect.logWarning("mitigator serve: the config has no `loadmaster` and no `cryptospike` section: detections are recorded and decided, nothing is applied")

      // Resolved once: a block of an appliance's own address is never decided.
      const deciding = cfg.policy.rules.length > 0
      const rails = deciding ? yield* applianceRails(cfg) : { rails: [], warnings: [] }
      for (const warning of rails.warnings) yield* Effect.logWarning(`mitigator serve: ${warning}`)
      const settings: AppendSettings = {
        instance: instanceOf(cfg),
        timeZone: zone.value,
        format: "auto",
        logFile: Option.getOrUndefined(opts.logFile),
        logFormat: fileFormat(opts),
        policy: activePolicy(cfg.policy, cfg.source),
        applyAtOnce: APPLY_AT_ONCE_MAX,
        appliances: Effect.succeed(rails.rails)
      }

      // One reconcile pass or immediate apply at a time in this process (the lease keeps other
      // processes out).
      const oneChange = yield* Effect.makeSemaphore(1)
      // The clients' own scope, made before the workers are forked: closed after they have
      // ended (finalizers run last-in first-out), so an apply finishing after SIGTERM still has
      // its connections.
      const clientScope = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)

      // The appliances' clients live from one immediate apply to the next, with their open
      // connections (a pinned certificate costs a handshake to fetch): made at the first apply,
      // made anew after an apply that did not all succeed (a rotated key, a new certificate).
      // Each client in a scope of its own, closed when it is dropped (its agent and sockets with it).
      const kept = <A, E>(make: Effect.Effect<A, E, Scope.Scope>) => {
        let client: { readonly value: A; readonly scope: Scope.CloseableScope } | undefined
        return {
          get: Effect.suspend(() =>
            client !== undefined
              ? Effect.succeed(client.value)
              : Effect.flatMap(Scope.fork(clientScope, ExecutionStrategy.sequential), (scope) =>
                  Scope.extend(make, scope).pipe(
                    Effect.tap((value) => Effect.sync(() => void (client = { value, scope }))),
                    Effect.tapError(() => Scope.close(scope, Exit.void))
                  )
                )
          ),
          drop: Effect.suspend(() => {
            const dropped = client
            client = undefined
            return dropped === undefined ? Effect.void : Scope.close(dropped.scope, Exit.void)
          })
        }
      }
      const lmClient = kept(liveLoadMaster(cfg, opts.apiKey, { retryRefused: false }))
      const csClient = kept(liveCryptoSpike(cfg, opts.csToken, { retryRefused: false }))

      // The immediate apply: what the committed batches call for waits here. The LoadMaster's
      // adds go out as they come (ApplySession), the users behind addresses to CryptoSpike in
      // rounds; each holds the lease, one at a time in this process with the reconcile passes.
      const wakeAdds = yield* Queue.sliding<void>(1)
      const pendingAdds = new PendingAdds(PENDING_ADDS_MAX, wakeAdds)
      const wakeUsers = yield* Queue.sliding<void>(1)
      const pendingUsers = new Set<string>()
      const depth = () => (state.queueDepth = pendingAdds.size + pendingUsers.size)
      const sessionSettings: SessionSettings = {
        concurrency: SERVE_APPLY_CONCURRENCY,
        takeMax: cfg.policy.caps.maxAddsPerPass,
        flushEveryMs: FLUSH_EVERY_MS,
        idleMs: SESSION_IDLE_MS,
        maxMs: SESSION_MAX_MS,
        onOutcomes: (outcomes, recorded) => {
          const r = immediateResult(outcomes, 0, 0)
          state.applied("loadmaster", "applied", r.applied)
          state.applied("loadmaster", "present", r.present)
          state.applied("loadmaster", "failed", r.failed)
          if (!recorded) state.applied("loadmaster", "not_recorded", outcomes.length)
          depth()
        }
      }
      const applyAdds = Effect.gen(function* () {
        yield* Queue.take(wakeAdds)
        if (pendingAdds.size === 0 || cfg.loadmaster === undefined) return
        const session = Effect.flatMap(lmClient.get, (lm) => applySession(log, lm, pendingAdds, sessionSettings)).pipe(
          holdingReconcileLease(APPLY_TIMEOUT_MS),
          Effect.scoped,
          Effect.either
        )
        const outcome = yield* finishing(oneChange.withPermits(1)(session))
        // What arrived as the session ended (its signal may have gone with the session's last wait) is taken next.
        if (pendingAdds.size > 0) yield* Queue.offer(wakeAdds, undefined)
        if (outcome._tag === "Right") {
          if (outcome.right.failed > 0) yield* lmClient.drop
          return yield* logImmediateResult("mitigator serve", outcome.right)
        }
        // No lease, no client: what waits is left to the next reconcile pass.
        yield* lmClient.drop
        const left = pendingAdds.take(pendingAdds.size)
        state.applied("loadmaster", "not_done", left.length)
        depth()
        yield* Effect.logWarning(`mitigator serve: blocks not applied now (${outcome.left.message}): ${left.length} left to the next reconcile`)
      }).pipe(Effect.catchAllDefect((defect) => Effect.logError(`mitigator serve: immediate apply failed (a bug; please report it): ${String(defect)}`)))

      const applyUsers = Effect.gen(function* () {
        yield* Queue.take(wakeUsers)
        if (pendingUsers.size === 0 || cfg.cryptospike === undefined) return
        const users = new Set(pendingUsers)
        pendingUsers.clear()
        const report = yield* finishing(oneChange.withPermits(1)(applyUsersNow(cfg, opts, users, APPLY_TIMEOUT_MS, csClient.get)))
        if ("done" in report) {
          state.applied("cryptospike", "applied", report.done.applied)
          state.applied("cryptospike", "failed", report.done.failed)
        } else state.applied("cryptospike", "not_done", users.size)
        if (!("done" in report) || report.done.failed > 0) yield* csClient.drop
        depth()
      }).pipe(Effect.catchAllDefect((defect) => Effect.logError(`mitigator serve: immediate apply failed (a bug; please report it): ${String(defect)}`)))

      // Group commit: the bodies of the requests that arrived while a transaction was being
      // written go into the next one together (one commit, one fsync, one head file for all),
      // each answered with its own counts. A body of more than BATCH_LINES lines is written on
      // its own, in transactions of BATCH_LINES (answered once the last is committed).
      interface Job extends LinesToRecord {
        readonly done: Deferred.Deferred<AppendSummary, EventLogError>
      }
      const jobs = yield* Queue.unbounded<Job>()
      const settle = (group: ReadonlyArray<Job>, exit: Exit.Exit<unknown, EventLogError>) =>
        Effect.forEach(group, (job) => Deferred.done(job.done, Exit.as(exit, job.summary)), { discard: true })
      const writeTaken = (waiting: Array<Job>) =>
        Effect.gen(function* () {
          while (waiting.length > 0) {
            const first = waiting.shift()!
            if (first.lines.length > BATCH_LINES) {
              const chunks = Effect.forEach(
                Array.from({ length: Math.ceil(first.lines.length / BATCH_LINES) }, (_, i) => first.lines.slice(i * BATCH_LINES, (i + 1) * BATCH_LINES)),
                (chunk) => recordParts(settings, [{ ...first, lines: chunk }]),
                { discard: true }
              )
              yield* settle([first], yield* Effect.exit(chunks))
              continue
            }
            const group = [first]
            let lines = first.lines.length
            while (waiting.length > 0 && lines + waiting[0]!.lines.length <= BATCH_LINES) {
              lines += waiting[0]!.lines.length
              group.push(waiting.shift()!)
            }
            yield* settle(group, yield* Effect.exit(recordParts(settings, group)))
          }
        }).pipe(
          Effect.catchAllDefect((defect) => Effect.logError(`mitigator serve: writing to the log failed (a bug; please report it): ${String(defect)}`))
        )

      const writeJobs = Effect.flatMap(Queue.takeBetween(jobs, 1, Number.MAX_SAFE_INTEGER), (taken) =>
        // A batch being written is finished, also when serve is told to stop.
        Effect.uninterruptible(writeTaken([...taken]))
      )

      /** Records a body's lines; done means committed. */
      const record = (body: Uint8Array, instance: string | undefined) =>
        Effect.gen(function* () {
          const framer = new LineFramer()
          const lines = [...framer.push(body), ...framer.end()]
          const done = yield* Deferred.make<AppendSummary, EventLogError>()
          yield* Queue.offer(jobs, { lines, summary: newAppendSummary(), done, ...(instance === undefined ? {} : { instance }) })
          return yield* Deferred.await(done)
        })

      const postEvents = (request: HttpServerRequest.HttpServerRequest, from: string) =>
        Effect.gen(function* () {
          const wait = bucket.take(performance.now())
          if (wait > 0) return json(429, { error: "too many requests (serve.rateLimit)" }, { "retry-after": String(Math.ceil(wait)) })
          if (!authorized(request.headers["authorization"])) {
            yield* Effect.logWarning(`mitigator serve: POST /v1/events from ${from}: refused, no valid bearer token`)
            return json(401, { error: "a valid bearer token is required (Authorization: Bearer <token>)" }, { "www-authenticate": 'Bearer realm="mitigator"' })
          }
          // Which appliance posts (ADS numbers its events per appliance): its name goes into the
          // dedupe keys, as `append --instance` does; without it, this serve's instance.
          const instance = request.headers[INSTANCE_HEADER]
          if (instance !== undefined && !INSTANCE.test(instance)) {
            return json(400, { error: `${INSTANCE_HEADER}: expected a name of up to 253 letters, digits, dots, hyphens and underscores` })
          }
          const body = yield* readBody(NodeHttpServerRequest.toIncomingMessage(request), bodyLimit)
          yield* checkText(body)
          const summary = yield* record(body, instance)
          // Committed: counted, answered, and applied without making the client wait.
          state.lastWriteError = undefined
          state.events.stored += summary.stored
          state.events.duplicate += summary.duplicate
          state.events.rejected += summary.rejected
          state.warnings += summary.warnings
          state.decisions += summary.decided
          if (summary.stored > 0) state.lastStoredAt = Date.now()
          const counts = { stored: summary.stored, duplicate: summary.duplicate, rejected: summary.rejected, warnings: summary.warnings }
          yield* (summary.rejected > 0 ? Effect.logWarning : Effect.logInfo)(
            `mitigator serve: POST /v1/events from ${from}: ${counts.stored} stored, ${counts.duplicate} duplicate, ${counts.rejected} rejected` +
              (summary.decided > 0 ? `, ${summary.decided} blocks decided` : "") +
              (summary.firstRejection === undefined ? "" : ` (first: ${summary.firstRejection})`)
          ).pipe(Effect.annotateLogs({ ...counts, decided: summary.decided }))
          for (const [key, add] of summary.toApply) pendingAdds.offer(key, add)
          for (const user of summary.touchedUsers) if (pendingUsers.size < APPLY_AT_ONCE_MAX) pendingUsers.add(user)
          depth()
          if (summary.toApply.size > 0) yield* Queue.offer(wakeAdds, undefined)
          if (summary.touchedUsers.size > 0) yield* Queue.offer(wakeUsers, undefined)
          return json(200, counts)
        }).pipe(
          Effect.catchTags({
            BodyRefused: (e: BodyRefused) => Effect.succeed(json(e.status, { error: e.message }, e.status === 413 ? { connection: "close" } : {})),
            EventLogError: (e: EventLogError) => {
              state.lastWriteError = e.message
              return Effect.as(
                Effect.logError(`mitigator serve: POST /v1/events from ${from}: not recorded: ${e.message}`),
                json(503, { error: `not recorded, send again later: ${e.message}` }, { "retry-after": "5" })
              )
            }
          })
        )

      const app = Effect.gen(function* () {
        const request = yield* HttpServerRequest.HttpServerRequest
        const path = request.url.split("?", 1)[0]
        const from = Option.getOrElse(request.remoteAddress, () => "?")
        if (path === "/v1/events") {
          if (request.method !== "POST") return json(405, { error: "POST only" }, { allow: "POST" })
          const response = yield* postEvents(request, from)
          state.answered(response.status)
          return response
        }
        if (path === "/healthz" && (request.method === "GET" || request.method === "HEAD")) {
          const health = state.health(Date.now())
          return json(health.ok ? 200 : 503, { status: health.ok ? "ok" : "unhealthy", reasons: health.reasons, lastPassAt: health.lastPassAt })
        }
        if (path === "/metrics" && (request.method === "GET" || request.method === "HEAD")) {
          return HttpServerResponse.text(state.metrics(Date.now()), { contentType: "text/plain; version=0.0.4; charset=utf-8" })
        }
        return json(404, { error: "not found: POST /v1/events, GET /healthz, GET /metrics" })
      }).pipe(
        Effect.catchAllCause((cause) =>
          Effect.as(Effect.logError(`mitigator serve: unexpected error (a bug; please report it): ${String(cause)}`), json(500, { error: "internal error" }))
        )
      )

      const server = yield* Layer.build(
        NodeHttpServer.layer(() => (tls === undefined ? http.createServer() : (https.createServer({ cert: tls.cert, key: tls.key }) as unknown as http.Server)), {
          host: where.value.host,
          port: where.value.port
        })
      ).pipe(Effect.mapError((e) => usage(`cannot listen on ${formatListen(where.value)}: ${e.cause instanceof Error ? e.cause.message : String(e.cause)}`)))
      yield* HttpServer.serveEffect(app).pipe(Effect.provide(server))
      yield* Effect.logInfo(`mitigator serve: listening on ${tls === undefined ? "http" : "https"}://${formatListen(where.value)} (POST /v1/events, GET /healthz, GET /metrics)`)
      yield* Effect.forkScoped(Effect.forever(writeJobs))
      yield* Effect.forkScoped(Effect.forever(applyAdds))
      yield* Effect.forkScoped(Effect.forever(applyUsers))
      if (!reconciling) return yield* Effect.never
      // The pass holds the appliance while it changes it, and the immediate apply waits meanwhile:
      // it makes its changes as many at once as the immediate apply does.
      const passOptions = { ...opts, force: false, dryRun: false, concurrency: SERVE_APPLY_CONCURRENCY, json: false, metricsFile: Option.none<string>() }
      const passSettings = { everyMs: every.value, lockWaitMs: LOCK_WAIT_MS, onRecorded: (r: PassRecord) => void (state.lastPass = r) }
      const pass = yield* preparePass(cfg, log, passOptions, passSettings)
      return yield* watchPasses(finishing(oneChange.withPermits(1)(pass)), logFile, { ...passSettings, dryRun: false, metricsFile: Option.none() })
    }).pipe(Effect.scoped)
).pipe(
  Command.withDescription("Receive Flowmon detections over HTTP(S) (POST /v1/events), record and apply them at once, and reconcile in the same process"),
  Command.provide((opts) => {
    // serve writes the log: it creates it when it is not there yet.
    const logger = commandLogger(opts, "stdout", true)
    // Hundreds of commits a second under load: the head file follows every HEAD_EVERY_MS, and
    // the WAL is checkpointed in smaller steps (each runs in the commit of some request).
    return Layer.mergeAll(configuredLog(opts, true, { headEveryMs: HEAD_EVERY_MS, walAutocheckpointPages: WAL_CHECKPOINT_PAGES }), logger)
  })
)

/**
 * The immediate apply of `append`: its new blocks on the LoadMaster and the users behind its
 * addresses on CryptoSpike, now rather than at the next reconcile. A module of its own so that an
 * append with nothing to apply never loads the HTTP and TLS stack.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type { AppConfig } from "../config/loadConfig.js"
import { EventLog } from "../eventlog/EventLog.js"
import { applyAtOnce, type ImmediateAdd, type ImmediateResult } from "../reconciler/applyAtOnce.js"
import { holdingReconcileLease } from "../reconciler/Lease.js"
import { liveLoadMaster } from "./loadmaster.js"
import type { GlobalOptions, UsageError } from "./shared.js"
import type { CryptoSpikeError, CryptoSpikeUsersService } from "../targets/CryptoSpikeUsers.js"
import type { LoadMasterAclService, LoadMasterError } from "../targets/LoadMasterAcl.js"

/** Failed applies said one line each, up to this many (the rest are counted; each is in the log). */
const MAX_FAILURES_SHOWN = 10

/** `a, b, c … and 7 more`: what was not applied, short. */
const listed = (items: ReadonlyArray<string>): string =>
  items.slice(0, MAX_FAILURES_SHOWN).join(", ") + (items.length > MAX_FAILURES_SHOWN ? ` … and ${items.length - MAX_FAILURES_SHOWN} more` : "")

/** What an immediate apply did, for `append --json`: its result, or why it was not done. */
export type ApplyReport<A> = { readonly done: A } | { readonly notDone: string }

/**
 * What both immediate applies share: their scope, a deadline, and an outcome that is logged (and
 * returned) and never fails `append` (storing succeeded already; the next reconcile does whatever
 * is left).
 */
const withinDeadline = <A, E extends { readonly message: string }, R>(
  work: Effect.Effect<A, E, R>,
  settings: {
    readonly timeoutMs: number
    readonly target: "loadmaster" | "cryptospike"
    /** the warning for a failure or a missed deadline, given its message */
    readonly notDone: (message: string) => string
    readonly done: (result: A) => Effect.Effect<void>
  }
) =>
  work.pipe(
    Effect.scoped,
    Effect.timeoutFail({ duration: Duration.millis(settings.timeoutMs), onTimeout: () => ({ message: `not done within ${settings.timeoutMs} ms` }) }),
    Effect.matchEffect({
      onFailure: (e: { readonly message: string }): Effect.Effect<ApplyReport<A>> =>
        Effect.as(Effect.logWarning(settings.notDone(e.message)), { notDone: e.message }),
      onSuccess: (result): Effect.Effect<ApplyReport<A>> => Effect.as(settings.done(result), { done: result })
    }),
    Effect.annotateLogs({ target: settings.target })
  )

/**
 * Puts this run's new blocks on the LoadMaster now, so an attacker is blocked in well under a
 * second rather than at the next reconcile: the adds its decisions call for, and nothing else (no
 * fold, no list). Best effort within `timeoutMs`: storing already succeeded, and whatever is not
 * applied here the next reconcile applies. More adds than `policy.caps.maxAddsPerPass` are left to
 * reconcile, which holds them to the caps.
 */
export const applyNow = (
  cfg: AppConfig,
  opts: GlobalOptions & { readonly apiKey: Option.Option<string> },
  adds: ReadonlyArray<ImmediateAdd>,
  timeoutMs: number,
  /** adds in flight at once (`serve`, applying what many requests call for, takes more) */
  concurrency = 4,
  /** the client to use (`serve` keeps one, with its connections, from one apply to the next); else one is made */
  client?: Effect.Effect<LoadMasterAclService, LoadMasterError | UsageError>
) =>
  Effect.gen(function* () {
    if (adds.length > cfg.policy.caps.maxAddsPerPass) {
      return yield* Effect.fail({ message: `${adds.length} additions exceed maxAddsPerPass (${cfg.policy.caps.maxAddsPerPass})` })
    }
    const log = yield* EventLog
    const lm = yield* (client ?? liveLoadMaster(cfg, opts.apiKey, { retryRefused: false }))
    return yield* applyAtOnce(log, lm, adds, concurrency, new Date(yield* Clock.currentTimeMillis).toISOString()).pipe(
      holdingReconcileLease(timeoutMs)
    )
  }).pipe((work) =>
    withinDeadline(work, {
      timeoutMs,
      target: "loadmaster",
      notDone: (message) => `mitigator append: blocks not applied now (${message}): ${listed(adds.map((a) => `${a.target} ${a.cidr}`))}; the next reconcile applies them`,
      done: (r) => logImmediateResult("mitigator append", r)
    })
  )

/** What an immediate apply did, said: one line, and one per failed add (the first few). */
export const logImmediateResult = (who: string, r: ImmediateResult) => {
  const present =
    (r.present > 0 ? `; ${r.present} already on the list (the next reconcile decides whose)` : "") +
    (r.ours > 0 ? `; ${r.ours} already mitigator's` : "") +
    (r.deferred > 0 ? `; ${r.deferred} left to the next reconcile (lifted, re-decided or held by someone else since)` : "")
  if (r.failed === 0) return Effect.logInfo(`${who}: applied at once: ${r.applied} change(s) on the LoadMaster${present}`)
  // One line per failed add (where, what, why), then the count.
  const shown = r.failures.slice(0, MAX_FAILURES_SHOWN)
  return Effect.zipRight(
    Effect.forEach(shown, (f) => Effect.logWarning(`${who}: not applied: ${f.target} ${f.cidr}: ${f.message}; the next reconcile retries`)),
    Effect.logWarning(
      `${who}: applied ${r.applied}, ${r.failed} failed${present}; the next reconcile retries` +
        (r.failures.length > shown.length ? ` (${r.failures.length - shown.length} more failures not shown: replay --events)` : "")
    )
  )
}

/**
 * A CryptoSpike pass limited to the users behind `only` (`ip|at` keys), connected for someone who
 * waits (a refused connection is not retried within the call): find them and block them now.
 */
export const userBlockPass = (
  cfg: AppConfig,
  csToken: Option.Option<string>,
  only: ReadonlySet<string>,
  client?: Effect.Effect<CryptoSpikeUsersService, CryptoSpikeError | UsageError>
) =>
  Effect.gen(function* () {
    const settings = cfg.cryptospike!
    const log = yield* EventLog
    // Loaded here: an `append` that blocks addresses only (the LoadMaster) does not load CryptoSpike's client.
    const [{ liveCryptoSpike }, { reconcileCryptoSpikePass }] = yield* Effect.promise(() =>
      Promise.all([import("./cryptospike.js"), import("../reconciler/reconcileCryptoSpike.js")])
    )
    const cs = yield* (client ?? liveCryptoSpike(cfg, csToken, { retryRefused: false }))
    return yield* reconcileCryptoSpikePass(log, cs, {
      caps: cfg.policy.caps,
      force: false,
      dryRun: false,
      lookbackMs: settings.lookbackMs,
      graceMs: settings.graceMs,
      repairDrift: settings.repairDrift,
      only
    })
  })

/** As `applyNow`, for CryptoSpike: find the users behind this run's addresses and block them now. */
export const applyUsersNow = (
  cfg: AppConfig,
  opts: GlobalOptions & { readonly csToken: Option.Option<string> },
  touched: ReadonlySet<string>,
  timeoutMs: number,
  /** as applyNow's */
  client?: Effect.Effect<CryptoSpikeUsersService, CryptoSpikeError | UsageError>
) =>
  userBlockPass(cfg, opts.csToken, touched, client).pipe(holdingReconcileLease(timeoutMs), (work) =>
    withinDeadline(work, {
      timeoutMs,
      target: "cryptospike",
      notDone: (message) =>
        `mitigator append: users not blocked now (${message}): cryptospike, the users behind ${listed([...new Set([...touched].map((k) => k.slice(0, k.indexOf("|"))))])}; the next reconcile does it`,
      done: (r) =>
        r.converged
          ? Effect.logInfo(`mitigator append: CryptoSpike at once: ${r.resolved} user(s) found, ${r.unresolved} not resolvable, ${r.applied} blocked`)
          : Effect.zipRight(
              Effect.forEach(r.problems.slice(0, MAX_FAILURES_SHOWN), (p) =>
                Effect.logWarning(`mitigator append: not applied: cryptospike: ${p}; the next reconcile retries`)
              ),
              Effect.logWarning(`mitigator append: CryptoSpike: ${r.applied} blocked, ${r.failed} failed or pending; the next reconcile retries`)
            )
    })
  )

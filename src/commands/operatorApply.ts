/**
 * An operator's block, unblock or allow applied at once, as `append` applies its blocks: under the
 * reconcile lease, within a deadline, recorded like any pass. On the LoadMaster it is a reconcile
 * pass limited to the entries that overlap the address or network (reconcileLoadMaster.ts
 * `subject`): it adds what is wanted and missing there, and removes only what mitigator made and
 * still holds (an administrator's entry is never touched). On CryptoSpike a block resolves and
 * blocks the user behind the address (append's immediate apply of a user block); an unblock or
 * an allow there is left to the next reconcile, which decides which users it ends.
 *
 * Never fails: the request is recorded already; what could not be done is said, and the next
 * reconcile does it.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type { Cidr } from "../domain/Cidr.js"
import type { AppConfig } from "../config/loadConfig.js"
import { EventLog } from "../eventlog/EventLog.js"
import { holdingLease } from "../reconciler/lock.js"
import { reconcilePass } from "../reconciler/reconcileLoadMaster.js"
import { reconcileCryptoSpikePass } from "../reconciler/reconcileCryptoSpike.js"
import { applianceRails } from "./appliances.js"
import { liveCryptoSpike } from "./cryptospike.js"
import { liveLoadMaster } from "./loadmaster.js"
import { instanceOf, logPath, type GlobalOptions } from "./shared.js"

/** How long waiting for the lease and applying may take together; what is not done by then, reconcile does. */
export const OPERATOR_APPLY_TIMEOUT_MS = 10_000

export interface AppliedChange {
  readonly target: string
  readonly op: "add" | "remove" | "block user"
  /** the address or network, or the CryptoSpike user id */
  readonly what: string
}

/** What an immediate apply did, for the output (text and JSON). */
export interface ApplyOutcome {
  /**
   * applied: every change made (or nothing was needed: `changes` is empty); not-applied: some or
   * all could not be made (`problems` says why); deferred: --defer, or left to reconcile by
   * design; no-target: no appliance for it is configured
   */
  readonly status: "applied" | "not-applied" | "deferred" | "no-target"
  readonly changes: ReadonlyArray<AppliedChange>
  readonly problems: ReadonlyArray<string>
  /** what is left to the next reconcile on purpose (an unblock on CryptoSpike) */
  readonly leftToReconcile: ReadonlyArray<string>
}

export type OperatorApplyOptions = GlobalOptions & { readonly apiKey: Option.Option<string>; readonly csToken: Option.Option<string> }

/** Within the deadline, under the lease; a failure or a missed deadline is a problem, never an error. */
const bounded = <A, E extends { readonly message: string }, R>(work: Effect.Effect<A, E, R>, dbPath: string) =>
  work.pipe(
    holdingLease(dbPath, OPERATOR_APPLY_TIMEOUT_MS),
    Effect.scoped,
    Effect.timeoutFail({
      duration: Duration.millis(OPERATOR_APPLY_TIMEOUT_MS),
      onTimeout: () => ({ message: `not done within ${OPERATOR_APPLY_TIMEOUT_MS / 1000}s` })
    }),
    Effect.either
  )

/** The LoadMaster part: one reconcile pass limited to `subject`. */
const onLoadMaster = (cfg: AppConfig, opts: OperatorApplyOptions, subject: { readonly cidr: Cidr; readonly target: string | null }) =>
  Effect.gen(function* () {
    const log = yield* EventLog
    const outcome = yield* bounded(
      Effect.gen(function* () {
        const lm = yield* liveLoadMaster(cfg, opts.apiKey, { retryRefused: false })
        const { rails } = yield* applianceRails(cfg)
        return yield* reconcilePass(log, lm, {
          caps: cfg.policy.caps,
          force: false,
          dryRun: false,
          concurrency: 4,
          instance: instanceOf(cfg),
          protect: rails,
          subject
        })
      }),
      logPath(opts, cfg)
    )
    if (outcome._tag === "Left") return { changes: [], problems: [`the LoadMaster: ${outcome.left.message}`] }
    const r = outcome.right
    const problems = [
      ...r.unobserved.map((t) => `${t}: cannot list: ${r.whyUnobserved[t] ?? "unknown"}`),
      ...r.problems.filter((p) => !r.unobserved.some((t) => p.startsWith(`${t}: cannot list:`))),
      ...(r.refused === undefined ? [] : [`over the caps: ${r.refused} (reconcile --force applies it)`])
    ]
    // With no failure, each planned change was made; with one, `problems` says which.
    const changes: AppliedChange[] =
      r.failed === 0 && r.refused === undefined
        ? [
            ...r.plan.adds.map((a): AppliedChange => ({ target: a.target, op: "add", what: a.cidr })),
            ...r.plan.removes.map((x): AppliedChange => ({ target: x.target, op: "remove", what: x.cidr }))
          ]
        : []
    return { changes, problems: [...new Set(problems)] }
  })

/** A block of the user behind `ip` (recorded at `at`) on CryptoSpike: resolved and blocked now. */
const userOnCryptoSpike = (cfg: AppConfig, opts: OperatorApplyOptions, ip: string, at: string) =>
  Effect.gen(function* () {
    const settings = cfg.cryptospike!
    const log = yield* EventLog
    const outcome = yield* bounded(
      Effect.flatMap(liveCryptoSpike(cfg, opts.csToken, { retryRefused: false }), (cs) =>
        reconcileCryptoSpikePass(log, cs, {
          caps: cfg.policy.caps,
          force: false,
          dryRun: false,
          lookbackMs: settings.lookbackMs,
          graceMs: settings.graceMs,
          repairDrift: settings.repairDrift,
          only: new Set([`${ip}|${at}`])
        })
      ),
      logPath(opts, cfg)
    )
    if (outcome._tag === "Left") return { changes: [], problems: [`CryptoSpike: ${outcome.left.message}`] }
    const r = outcome.right
    const problems = [...r.problems, ...(r.unresolved > 0 ? [`the user behind ${ip} could not be resolved (status shows why)`] : [])]
    const changes = r.failed === 0 ? r.toBlock.map((userId): AppliedChange => ({ target: "cryptospike", op: "block user", what: userId })) : []
    if (problems.length === 0 && changes.length === 0 && r.resolved === 0) problems.push(`no user found behind ${ip} yet`)
    return { changes, problems }
  })

/**
 * Applies what an operator's request just recorded. `kind`: a block on `target`, or an unblock
 * (`target` null: every target) or an allow (every target) of `cidr`.
 */
export const applyOperatorRequest = (
  cfg: AppConfig,
  opts: OperatorApplyOptions,
  request:
    | { readonly kind: "block"; readonly cidr: Cidr; readonly target: string; readonly recordedAt: string }
    | { readonly kind: "unblock" | "allow"; readonly cidr: Cidr; readonly target: string | null }
) =>
  Effect.gen(function* () {
    const wantsLoadMaster = request.target === null || request.target.startsWith("loadmaster:")
    const wantsCryptoSpike = request.target === null || request.target === "cryptospike"
    const lm = wantsLoadMaster && cfg.loadmaster !== undefined
    const cs = wantsCryptoSpike && cfg.cryptospike !== undefined
    if (!lm && !cs) return { status: "no-target", changes: [], problems: [], leftToReconcile: [] } satisfies ApplyOutcome
    const changes: AppliedChange[] = []
    const problems: string[] = []
    const leftToReconcile: string[] = []
    if (lm) {
      const r = yield* onLoadMaster(cfg, opts, { cidr: request.cidr, target: request.target })
      changes.push(...r.changes)
      problems.push(...r.problems)
    }
    if (cs) {
      if (request.kind === "block") {
        const ip = request.cidr.text.slice(0, request.cidr.text.indexOf("/"))
        const r = yield* userOnCryptoSpike(cfg, opts, ip, request.recordedAt)
        changes.push(...r.changes)
        problems.push(...r.problems)
      } else {
        leftToReconcile.push("cryptospike")
      }
    }
    return {
      status: problems.length > 0 ? "not-applied" : "applied",
      changes,
      problems,
      leftToReconcile
    } satisfies ApplyOutcome
  })

/** `applied on loadmaster:global (added 203.0.113.7/32)` and the like: the second line of the output. */
export const describeOutcome = (o: ApplyOutcome): string => {
  const made = o.changes.map((c) => `${c.op === "add" ? "added" : c.op === "remove" ? "removed" : "blocked user"} ${c.what} on ${c.target}`)
  const left = o.leftToReconcile.length > 0 ? `; ${o.leftToReconcile.join(", ")}: left to the next reconcile` : ""
  switch (o.status) {
    case "no-target":
      return "recorded; no target configured (the config has no section for it): nothing to apply"
    case "deferred":
      return "recorded; not applied (--defer): the next reconcile will"
    case "applied":
      return made.length === 0 ? `recorded; applied: nothing to change${left}` : `recorded; applied: ${made.join(", ")}${left}`
    case "not-applied":
      return `recorded; not applied: ${o.problems.join("; ")}${made.length > 0 ? ` (made: ${made.join(", ")})` : ""}; the next reconcile will${left}`
  }
}

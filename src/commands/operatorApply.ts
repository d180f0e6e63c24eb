/**
 * An operator's block, unblock or allow applied at once, as `append` applies its blocks: under the
 * reconcile lease, recorded like any pass. On the LoadMaster it is a reconcile pass limited to the
 * entries that overlap the address or network, widened by the entries mitigator holds that
 * overlap it (reconcileLoadMaster.ts `subject`): it adds what is wanted and missing there (the
 * pieces of a network split by an allow too), then removes only what mitigator made and no longer
 * wants (an administrator's entry is never touched). The caps apply as in any pass, the per-target
 * count over everything wanted on the target. On CryptoSpike a block resolves and blocks the user
 * behind the address (append's immediate apply of a user block); an unblock or an allow there is
 * left to the next reconcile, which decides which users it ends: the output names the users it
 * will unblock (exit 4: not all in effect yet).
 *
 * The deadline bounds the wait for the lease: once a pass has the lease it runs to its end (each
 * appliance call is bounded by the client's own timeout) and records what it did, so what the
 * output says is what the appliance and the log hold. Only a lost lease or a signal stops it, as
 * they stop reconcile.
 *
 * What the next reconcile can get past (an appliance unreachable or refusing, the lease held) is
 * said, and the request stays recorded (exit 4). A config or credential error, a tampered or
 * unreadable log fails the command (exit 1, the error said), as it fails reconcile.
 */
import type * as Option from "effect/Option"
import * as Effect from "effect/Effect"
import type { Cidr } from "../domain/Cidr.js"
import type { AppConfig } from "../config/loadConfig.js"
import { EventLog } from "../eventlog/EventLog.js"
import { holdingReconcileLease } from "../reconciler/Lease.js"
import { reconcilePass, type PassResult } from "../reconciler/reconcileLoadMaster.js"
import { desiredOf, openProjection } from "../projection/desiredState.js"
import { applianceRails } from "./appliances.js"
import { userBlockPass } from "./applyNow.js"
import { liveLoadMaster } from "./loadmaster.js"
import { instanceOf, type GlobalOptions } from "./shared.js"

/** How long to wait for the lease (another reconcile's pass); without it, the next reconcile applies the request. */
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
   * applied: every change made (or nothing was needed: `changes` is empty); held-back: a block
   * an operator's allow covers (nothing to apply while it is in force); pending: what could be
   * done now was, the rest waits for the next reconcile by design (`leftToReconcile`);
   * not-applied: some or all could not be made (`problems` says why); deferred: --defer;
   * no-target: no appliance for it is configured
   */
  readonly status: "applied" | "held-back" | "pending" | "not-applied" | "deferred" | "no-target"
  readonly changes: ReadonlyArray<AppliedChange>
  readonly problems: ReadonlyArray<string>
  /** what the next reconcile does on purpose (an unblock on CryptoSpike) */
  readonly leftToReconcile: ReadonlyArray<string>
  /** whether the next reconcile tries what was not done (false: a refused plan, an unresolvable user) */
  readonly retried: boolean
  /** the operator's allow that holds the block back */
  readonly heldBackBy?: string
}

export type OperatorApplyOptions = GlobalOptions & { readonly apiKey: Option.Option<string>; readonly csToken: Option.Option<string> }

/**
 * Whether the next reconcile can get past `e`: an appliance unreachable or refusing, the lease
 * held by another pass or lost, the log busy. Anything else (a credential or config error, a
 * tampered or unreadable log, a lease file that cannot be used) would stop reconcile too.
 */
const passable = (e: unknown): boolean => {
  const error = e as { readonly _tag?: string; readonly reason?: string }
  switch (error._tag) {
    case "LoadMasterError":
    case "CryptoSpikeError":
      return true
    case "LockError":
      return error.reason !== "io"
    case "EventLogError":
      // fenced: the lease was taken over while this apply ran (PostgreSQL): as lease-lost
      return error.reason === "busy" || error.reason === "fenced"
    default:
      return false
  }
}

/**
 * Under the lease, waited for up to the deadline; the pass itself runs to its end. An error the
 * next reconcile can get past is returned (Left), any other fails.
 */
const underLease = <A, E extends { readonly message: string }, R>(work: Effect.Effect<A, E, R>) =>
  work.pipe(
    holdingReconcileLease(OPERATOR_APPLY_TIMEOUT_MS),
    Effect.scoped,
    Effect.either,
    Effect.flatMap((outcome) => (outcome._tag === "Left" && !passable(outcome.left) ? Effect.fail(outcome.left) : Effect.succeed(outcome)))
  )

/** What one appliance's part did: the changes made, what went wrong, whether the next reconcile tries it again. */
interface PartOutcome {
  readonly changes: ReadonlyArray<AppliedChange>
  readonly problems: ReadonlyArray<string>
  readonly retried: boolean
}

/** The LoadMaster part: one reconcile pass limited to `subject`. */
const onLoadMaster = (cfg: AppConfig, opts: OperatorApplyOptions, subject: { readonly cidr: Cidr; readonly target: string | null }) =>
  Effect.gen(function* () {
    const log = yield* EventLog
    const outcome = yield* underLease(
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
      })
    )
    if (outcome._tag === "Left") return { changes: [], problems: [`the LoadMaster: ${outcome.left.message}`], retried: true } satisfies PartOutcome
    const r: PassResult = outcome.right
    // A plan over the caps is refused by the next reconcile too: only --force (or fewer blocks) applies it.
    if (r.refused !== undefined) {
      return { changes: [], problems: [`over the caps: ${r.refused} (reconcile --force applies it)`], retried: false } satisfies PartOutcome
    }
    const problems = [
      ...r.unobserved.map((t) => `${t}: cannot list: ${r.whyUnobserved[t] ?? "unknown"}`),
      ...r.problems.filter((p) => !r.unobserved.some((t) => p.startsWith(`${t}: cannot list:`)))
    ]
    // What was made and recorded, whatever failed beside it.
    const changes = (r.made ?? []).map((c): AppliedChange => ({ target: c.target, op: c.op, what: c.cidr }))
    return { changes, problems: [...new Set(problems)], retried: true } satisfies PartOutcome
  })

/** A block of the user behind `ip` (recorded at `at`) on CryptoSpike: resolved and blocked now. */
const userOnCryptoSpike = (cfg: AppConfig, opts: OperatorApplyOptions, ip: string, at: string) =>
  Effect.gen(function* () {
    const outcome = yield* underLease(userBlockPass(cfg, opts.csToken, new Set([`${ip}|${at}`])))
    if (outcome._tag === "Left") return { changes: [], problems: [`CryptoSpike: ${outcome.left.message}`], retried: true } satisfies PartOutcome
    const r = outcome.right
    if (r.refused !== undefined) {
      return { changes: [], problems: [`over the caps: ${r.refused} (reconcile --force applies it)`], retried: false } satisfies PartOutcome
    }
    // A failed resolution is final: no reconcile tries it again (a new detection or block does).
    if (r.unresolved > 0) {
      const why = r.unresolvedWhy.length > 0 ? ` (${r.unresolvedWhy.join("; ")})` : ""
      return { changes: [], problems: [`not resolved: the user behind ${ip}${why}; nobody is blocked`], retried: false } satisfies PartOutcome
    }
    const problems = [...r.problems]
    const changes = r.failed === 0 ? r.toBlock.map((userId): AppliedChange => ({ target: "cryptospike", op: "block user", what: userId })) : []
    if (problems.length === 0 && changes.length === 0 && r.resolved === 0) problems.push(`no user found behind ${ip} yet`)
    return { changes, problems, retried: true } satisfies PartOutcome
  })

/**
 * The users mitigator blocked on CryptoSpike that no longer have to be (an unblock or an allow
 * just ended their blocks): the next reconcile unblocks them. Read from the log, not CryptoSpike.
 */
const usersToUnblock = Effect.gen(function* () {
  const log = yield* EventLog
  const state = desiredOf(yield* openProjection(log), new Date().toISOString())
  const wanted = new Set(state.userBlocks.map((b) => b.userId))
  return state.ownedUsers.filter((u) => !wanted.has(u))
})

/**
 * Applies what an operator's request just recorded. `kind`: a block on `target`, or an unblock
 * (`target` null: every target) or an allow (every target) of `cidr`. `heldBackBy`: the operator's
 * allow that covers a block (then nothing of it is blocked; the pass still runs, to leave the
 * LoadMaster as a whole pass would).
 */
export const applyOperatorRequest = (
  cfg: AppConfig,
  opts: OperatorApplyOptions,
  request:
    | { readonly kind: "block"; readonly cidr: Cidr; readonly target: string; readonly recordedAt: string }
    | { readonly kind: "unblock" | "allow"; readonly cidr: Cidr; readonly target: string | null },
  heldBackBy?: string
) =>
  Effect.gen(function* () {
    const wantsLoadMaster = request.target === null || request.target.startsWith("loadmaster:")
    const wantsCryptoSpike = request.target === null || request.target === "cryptospike"
    const lm = wantsLoadMaster && cfg.loadmaster !== undefined
    const cs = wantsCryptoSpike && cfg.cryptospike !== undefined
    if (!lm && !cs) return { status: "no-target", changes: [], problems: [], leftToReconcile: [], retried: true } satisfies ApplyOutcome
    const changes: AppliedChange[] = []
    const problems: string[] = []
    const leftToReconcile: string[] = []
    let retried = false
    const take = (r: PartOutcome) => {
      changes.push(...r.changes)
      problems.push(...r.problems)
      if (r.problems.length > 0 && r.retried) retried = true
    }
    if (lm) take(yield* onLoadMaster(cfg, opts, { cidr: request.cidr, target: request.target }))
    if (cs) {
      if (request.kind === "block") {
        // Held back, the user block is not wanted: there is nobody to resolve or block.
        if (heldBackBy === undefined) take(yield* userOnCryptoSpike(cfg, opts, request.cidr.text.slice(0, request.cidr.text.indexOf("/")), request.recordedAt))
      } else {
        const users = yield* usersToUnblock
        if (users.length > 0) leftToReconcile.push(`CryptoSpike: the next reconcile unblocks ${users.length === 1 ? "user" : "users"} ${users.join(", ")} (no longer wanted)`)
      }
    }
    const status: ApplyOutcome["status"] =
      problems.length > 0 ? "not-applied" : leftToReconcile.length > 0 ? "pending" : heldBackBy !== undefined ? "held-back" : "applied"
    return {
      status,
      changes,
      problems,
      leftToReconcile,
      retried,
      ...(heldBackBy === undefined ? {} : { heldBackBy })
    } satisfies ApplyOutcome
  })

/** `applied: added 203.0.113.7/32 on loadmaster:global` and the like: the second line of the output. */
export const describeOutcome = (o: ApplyOutcome): string => {
  const made = o.changes.map((c) => `${c.op === "add" ? "added" : c.op === "remove" ? "removed" : "blocked user"} ${c.what} on ${c.target}`)
  const left = o.leftToReconcile.length > 0 ? `; ${o.leftToReconcile.join("; ")}` : ""
  const held = o.heldBackBy === undefined ? "" : `; held back by ${o.heldBackBy}`
  switch (o.status) {
    case "no-target":
      return "recorded; no target configured (the config has no section for it): nothing to apply"
    case "deferred":
      return "recorded; not applied (--defer): the next reconcile will"
    case "held-back":
      return `recorded; held back by ${o.heldBackBy}: not blocked while that allow is in force${made.length > 0 ? ` (made: ${made.join(", ")})` : ""}`
    case "applied":
      return made.length === 0 ? `recorded; applied: nothing to change` : `recorded; applied: ${made.join(", ")}`
    case "pending":
      return `recorded; ${made.length > 0 ? `applied: ${made.join(", ")}; ` : ""}${o.leftToReconcile.join("; ")}`
    case "not-applied":
      return `recorded; not applied: ${o.problems.join("; ")}${made.length > 0 ? ` (made: ${made.join(", ")})` : ""}${o.retried ? "; the next reconcile will" : ""}${held}${left}`
  }
}

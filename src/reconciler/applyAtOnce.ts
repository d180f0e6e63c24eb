/**
 * `append`'s immediate apply: the blocks its own decisions call for go on the LoadMaster now,
 * with no fold of the log and no list of the block lists, so nothing between the detection and
 * the first add depends on how long the log is. An add that succeeds is mitigator's (recorded as
 * TargetChanged); an address already on the list is recorded as such and left to the next
 * reconcile pass, which lists and decides whose it is; a failure is recorded and retried there.
 * What the ledger says mitigator (or someone else) holds already is not added again, and what an
 * operator lifted while this waited for the lock is left to reconcile.
 */
import * as Effect from "effect/Effect"
import type { NewEvent } from "../domain/Events.js"
import { scopeOfTarget, type AclScope, type LoadMasterAclService, type LoadMasterError } from "../targets/LoadMasterAcl.js"
import type { EventLogService } from "../eventlog/EventLog.js"
import { contains } from "../domain/Cidr.js"
import { allowEntryInForce, cidrOf } from "../domain/Decide.js"
import { failure } from "./reconcileLoadMaster.js"

/** One add a decision just made calls for, with the comment that names it. */
export interface ImmediateAdd {
  readonly target: string
  readonly cidr: string
  readonly comment: string
  /** the decision's seq */
  readonly causeSeq: number
}

export interface ImmediateResult {
  /** on the list already as mitigator's (the ledger says so): nothing to do */
  readonly ours: number
  /** left to reconcile: lifted or re-decided since (an unblock, an allow, a new policy), or held by someone else */
  readonly deferred: number
  readonly applied: number
  /** already on the list (whose it is, the next reconcile decides) */
  readonly present: number
  readonly failed: number
  /** what went wrong, each distinct message once */
  readonly problems: ReadonlyArray<string>
  /** each failed add: where, what, and why (redacted by the client) */
  readonly failures: ReadonlyArray<{ readonly target: string; readonly cidr: string; readonly message: string }>
}

const alreadyThere = (e: LoadMasterError): boolean => e.reason === "rejected" && /already exist/i.test(e.message)

/**
 * What can lift or re-decide a block recorded after its decision: only these are read (a busy
 * log records thousands of detections and decisions while an apply waits its turn).
 */
const LIFTING_TYPES = ["UnblockRequested", "AllowRequested", "PolicyActivated"]

/** More such events recorded since the decisions than this, and nothing is applied at once (reconcile sees it all). */
const SINCE_LIMIT = 10_000

/**
 * The adds still to make, once the lock is held: an unblock, an allow or a new policy recorded
 * since the decisions (while this waited for the lock) leaves the adds it touches to reconcile;
 * an entry the ledger says mitigator holds already, or someone else holds now, is not added again.
 */
export const stillToApply = (log: EventLogService, adds: ReadonlyArray<ImmediateAdd>, now: string) =>
  Effect.gen(function* () {
    const first = Math.min(...adds.map((a) => a.causeSeq))
    const since = yield* log.read({ afterSeq: first, limit: SINCE_LIMIT, types: LIFTING_TYPES })
    if (since.length === SINCE_LIMIT || since.some((e) => e.type === "PolicyActivated")) return { adds: [], ours: 0, deferred: adds.length }
    const lifted = (add: ImmediateAdd) =>
      since.some((e) => {
        const p = e.payload as { cidr?: string; target?: string | null; until?: string | null }
        if (e.seq <= add.causeSeq || p.cidr === undefined || !contains(cidrOf(p.cidr), cidrOf(add.cidr))) return false
        if (e.type === "UnblockRequested") return p.target === null || p.target === add.target
        return e.type === "AllowRequested" && allowEntryInForce({ cidr: p.cidr, until: p.until ?? null }, now)
      })
    const toMake: ImmediateAdd[] = []
    let ours = 0
    let deferred = 0
    for (const add of adds) {
      if (lifted(add)) {
        deferred++
        continue
      }
      const last = yield* log.latestLedgerEvent(add.target, add.cidr)
      const p = last?.payload as { op?: string; kind?: string } | undefined
      if (last?.type === "OwnershipLost") deferred++
      else if (p?.op === "add" || p?.kind === "adopted") ours++
      else toMake.push(add)
    }
    return { adds: toMake, ours, deferred }
  })

/** The add of one block, and what it comes to as an event: mitigator's entry, already there, or a failure. */
export const addOne = (lm: LoadMasterAclService, add: ImmediateAdd): Effect.Effect<NewEvent> =>
  lm.add(scopeOfTarget(add.target) as AclScope, add.cidr, add.comment).pipe(
    Effect.match({
      onSuccess: (sent): NewEvent => ({
        type: "TargetChanged",
        dedupeKey: null,
        payload: { target: add.target, cidr: add.cidr, op: "add", listed: sent, comment: add.comment, causeSeq: add.causeSeq }
      }),
      onFailure: (e): NewEvent =>
        alreadyThere(e)
          ? {
              type: "TargetChangeFailed",
              dedupeKey: null,
              payload: {
                target: add.target,
                cidr: add.cidr,
                op: "add",
                errorClass: "rejected",
                reason: "exists",
                message: `${add.cidr} is already on ${add.target}: the next reconcile decides whose it is`
              }
            }
          : failure(add.target, add.cidr, "add", e)
    })
  )

/** What a set of adds came to, from their events. */
export const immediateResult = (outcomes: ReadonlyArray<NewEvent>, ours: number, deferred: number): ImmediateResult => {
  const failures = outcomes.flatMap((e) => (e.type === "TargetChangeFailed" && e.payload.reason !== "exists" ? [e.payload] : []))
  return {
    ours,
    deferred,
    applied: outcomes.filter((e) => e.type === "TargetChanged").length,
    present: outcomes.filter((e) => e.type === "TargetChangeFailed" && e.payload.reason === "exists").length,
    failed: failures.length,
    problems: [...new Set(failures.map((f) => `${f.target} add: ${f.message}`))],
    failures: failures.map((f) => ({ target: f.target, cidr: f.cidr ?? "", message: f.message }))
  }
}

export const applyAtOnce = (log: EventLogService, lm: LoadMasterAclService, requested: ReadonlyArray<ImmediateAdd>, concurrency: number, now: string) =>
  Effect.gen(function* () {
    const { adds, ours, deferred } = requested.length === 0 ? { adds: [], ours: 0, deferred: 0 } : yield* stillToApply(log, requested, now)
    const outcomes = yield* Effect.forEach(adds, (add) => addOne(lm, add), { concurrency })
    if (outcomes.length > 0) yield* log.append(outcomes)
    return immediateResult(outcomes, ours, deferred)
  })

/**
 * `append`'s immediate apply: the blocks its own decisions call for go on the LoadMaster now,
 * with no fold of the log and no list of the block lists, so nothing between the detection and
 * the first add depends on how long the log is. An add that succeeds is mitigator's (recorded as
 * TargetChanged); an address already on the list is recorded as such and left to the next
 * reconcile pass, which lists and decides whose it is; a failure is recorded and retried there.
 */
import * as Effect from "effect/Effect"
import type { NewEvent } from "../domain/Events.js"
import { scopeOfTarget, type AclScope, type LoadMasterAclService, type LoadMasterError } from "../targets/LoadMasterAcl.js"
import type { EventLogService } from "../eventlog/EventLog.js"

/** One add a decision just made calls for, with the comment that names it. */
export interface ImmediateAdd {
  readonly target: string
  readonly cidr: string
  readonly comment: string
  /** the decision's seq */
  readonly causeSeq: number
}

export interface ImmediateResult {
  readonly applied: number
  /** already on the list (whose it is, the next reconcile decides) */
  readonly present: number
  readonly failed: number
  /** what went wrong, each distinct message once */
  readonly problems: ReadonlyArray<string>
}

const alreadyThere = (e: LoadMasterError): boolean => e.reason === "rejected" && /already exist/i.test(e.message)

const errorClass = (e: LoadMasterError): "transient" | "auth" | "rejected" =>
  e.retryable ? "transient" : e.reason === "auth" || e.reason === "api-disabled" ? "auth" : "rejected"

export const applyAtOnce = (log: EventLogService, lm: LoadMasterAclService, adds: ReadonlyArray<ImmediateAdd>, concurrency: number) =>
  Effect.gen(function* () {
    const outcomes = yield* Effect.forEach(
      adds,
      (add) =>
        lm.add(scopeOfTarget(add.target) as AclScope, add.cidr, add.comment).pipe(
          Effect.match({
            onSuccess: (): NewEvent => ({
              type: "TargetChanged",
              dedupeKey: null,
              payload: { target: add.target, cidr: add.cidr, op: "add", listed: add.cidr, comment: add.comment, causeSeq: add.causeSeq }
            }),
            onFailure: (e): NewEvent => ({
              type: "TargetChangeFailed",
              dedupeKey: null,
              payload: alreadyThere(e)
                ? {
                    target: add.target,
                    cidr: add.cidr,
                    op: "add",
                    errorClass: "rejected",
                    reason: "exists",
                    message: `${add.cidr} is already on ${add.target}: the next reconcile decides whose it is`
                  }
                : { target: add.target, cidr: add.cidr, op: "add", errorClass: errorClass(e), reason: e.reason, message: e.message }
            })
          })
        ),
      { concurrency }
    )
    if (outcomes.length > 0) yield* log.append(outcomes)
    const failures = outcomes.flatMap((e) => (e.type === "TargetChangeFailed" && e.payload.reason !== "exists" ? [e.payload] : []))
    return {
      applied: outcomes.filter((e) => e.type === "TargetChanged").length,
      present: outcomes.filter((e) => e.type === "TargetChangeFailed" && e.payload.reason === "exists").length,
      failed: failures.length,
      problems: [...new Set(failures.map((f) => `${f.target} add: ${f.message}`))]
    } satisfies ImmediateResult
  })

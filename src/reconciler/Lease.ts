/**
 * The reconcile lease as a port: one pass (reconcile, an immediate apply, an operator's apply) at a
 * time per event log, whoever runs it and wherever. Two implementations:
 * - a SQLite log: the lease file beside it (lock.ts), for the processes of one host;
 * - a log on PostgreSQL: a lease row in the same database (PgLease.ts), for every host, with a
 *   fencing token.
 *
 * While a pass holds it, `HeldLease` is in its context: the appliance clients call `guard` before
 * each change (fenced.ts), and the log on PostgreSQL checks and records the fencing token in the
 * transaction that records the pass's outcomes. Should the lease be lost, the pass stops at once
 * with LockError "lease-lost".
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { EventLog } from "../eventlog/EventLog.js"
import { reconcileLockWithin, type LockError } from "./lock.js"

/** The token a PostgreSQL lease was taken with: raised by every take. */
export interface Fence {
  /** the lease row's name (reconcile_lease.name) */
  readonly lease: string
  readonly token: number
}

/** The lease as the pass holding it sees it. */
export interface HeldLeaseService {
  /** what the lease is: its file, or its row */
  readonly where: string
  /** the fencing token (PostgreSQL), recorded with every change; undefined for the file lease */
  readonly fence: Fence | undefined
  /**
   * Before an appliance change: returns while the lease is still this holder's; once it is not
   * (or cannot be told), fails the pass with LockError "lease-lost" and never returns.
   */
  readonly guard: Effect.Effect<void>
  /** The lease was found lost elsewhere (the log refused a stale token): the pass stops. */
  readonly lose: (why: string) => Effect.Effect<void>
}

export class HeldLease extends Context.Tag("mitigator/HeldLease")<HeldLease, HeldLeaseService>() {}

/** A lease taken: `lost` fails (LockError "lease-lost") once it is no longer this holder's. */
export interface TakenLease {
  readonly held: HeldLeaseService
  readonly lost: Effect.Effect<never, LockError>
}

export interface HoldOptions {
  /**
   * How long the lease lasts unrenewed, where the implementation lets the pass choose (the lease
   * row; the file lease keeps its own): a dead holder is replaced once it has expired.
   */
  readonly ttlMs?: number
}

export interface ReconcileLeaseService {
  /** what the lease is (its file, its row), for messages */
  readonly where: string
  /** Takes the lease for the enclosing scope, waiting for another holder up to `waitMs`; renews it while held. */
  readonly hold: (waitMs: number, options?: HoldOptions) => Effect.Effect<TakenLease, LockError, Scope.Scope | EventLog>
}

export class ReconcileLease extends Context.Tag("mitigator/ReconcileLease")<ReconcileLease, ReconcileLeaseService>() {}

/** The lease file beside the SQLite log at `path` (lock.ts): unchanged behaviour, no fencing token. */
export const fileLease = (path: string): ReconcileLeaseService => ({
  where: path,
  hold: (waitMs) =>
    Effect.map(reconcileLockWithin(path, waitMs), (lease) => ({
      held: { where: lease.file, fence: undefined, guard: Effect.void, lose: () => Effect.void },
      lost: lease.lost
    }))
})

/**
 * Runs `body` holding the reconcile lease of the log (for the enclosing scope), waiting for
 * another holder up to `waitMs`; should the lease be lost meanwhile, `body` is interrupted at once
 * (no further appliance call, no further record) and this fails with LockError "lease-lost".
 */
export const holdingReconcileLease =
  (waitMs: number, options: HoldOptions = {}) =>
  <A, E, R>(body: Effect.Effect<A, E, R>) =>
    Effect.flatMap(ReconcileLease, (lease) =>
      Effect.flatMap(lease.hold(waitMs, options), (taken) => Effect.raceFirst(Effect.provideService(body, HeldLease, taken.held), taken.lost))
    )

/**
 * The lease row's lifetime for passes every `everyMs`: half the interval (at least 2 s, at most
 * 30 s). A holder that dies is replaced by the first pass of another after the expiry: within
 * ttl + interval ≤ 1.5 intervals of its death (90 s for the default 60 s interval).
 */
export const leaseTtlFor = (everyMs: number): number => Math.min(30_000, Math.max(2_000, Math.floor(everyMs / 2)))

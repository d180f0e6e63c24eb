/**
 * The reconcile lease of a log on PostgreSQL: a row of `reconcile_lease` (migrations/pg/0002) in
 * the log's own database, so the processes of every host take turns, not only those of one.
 *
 * - Taken by one statement (INSERT … ON CONFLICT DO UPDATE … WHERE the row is free, expired, or
 *   already this process's), which raises the fencing token. Expiry is judged by the DATABASE's
 *   clock (`now()`), never a host's: hosts' clocks step, the server's is the one all holders share.
 * - Renewed every quarter of its lifetime by one UPDATE that names the holder and its token; a
 *   renewal that finds neither (taken over after it expired unrenewed: the holder was paused, or
 *   cut off) ends the pass at once with LockError "lease-lost". So does a lease that could not be
 *   renewed before it would have expired (PostgreSQL unreachable).
 * - Fencing: the holder checks the token is still its own before each appliance change, in
 *   PostgreSQL (one primary-key lookup) whenever its last confirmation is older than a second or
 *   than the lease's remaining life, as measured by this process's monotonic clock, which a pause
 *   (SIGSTOP, a suspended VM) does not stop. The log checks it again, under its head lock, in the
 *   transaction that records the pass's outcomes, and stamps the changes with it (PgEventLog.ts):
 *   a paused holder that wakes up after a takeover changes nothing more and records nothing.
 * - Released (holder NULL) when the pass ends; a holder that dies leaves it to expire.
 * - A takeover (the row held by another holder, expired) is recorded in the log (LeaseTakenOver).
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import { randomBytes } from "node:crypto"
import * as os from "node:os"
import { performance } from "node:perf_hooks"
import { EventLog } from "../eventlog/EventLog.js"
import { makePgClient, redactedUrl, type PgTarget } from "../eventlog/PgConnection.js"
import type { Fence, HeldLeaseService, HoldOptions, ReconcileLeaseService, TakenLease } from "./Lease.js"
import { LockError } from "./lock.js"

/** The lease row of the reconcile pass (one per log: one log per database). */
export const RECONCILE_LEASE = "reconcile"

/** How long the lease lasts unrenewed when the pass does not say (append's and operators' applies). */
export const PG_LEASE_TTL_MS = 30_000

/** The longest the holder goes on its last confirmation before it asks PostgreSQL again. */
const RECHECK_EVERY_MS = 1_000

/** How often a waiting taker tries again. */
const TAKE_EVERY_MS = 200

/** Who holds a lease: its host and pid (for messages and LeaseTakenOver), and an id of its own. */
export interface Holder {
  readonly host: string
  readonly pid: number
  readonly holder: string
}

/** This process as a holder: host/pid and a random part (a pid is reused; a process is not). */
const thisProcess: Holder = { host: os.hostname(), pid: process.pid, holder: `${os.hostname()}/${process.pid}/${randomBytes(6).toString("hex")}` }

type LeaseRow = {
  readonly fencing_token: number
  readonly holder: string | null
  readonly host: string | null
  readonly pid: number | null
  readonly acquired_at: unknown
  readonly expires_at: unknown
  readonly remaining_ms: string | number | null
}

type TakenRow = LeaseRow & {
  readonly previous_holder: string | null
  readonly previous_host: string | null
  readonly previous_pid: number | null
  readonly previous_acquired_at: unknown
  readonly previous_expires_at: unknown
}

const iso = (v: unknown): string | null => (v === null || v === undefined ? null : new Date(v as string).toISOString())

const sqlMessage = (e: unknown): string => {
  const cause = (e as { cause?: unknown }).cause
  const inner = cause instanceof Error ? cause.message : e instanceof Error ? e.message : String(e)
  return inner
}

export interface PgLeaseOptions {
  /** the lease row's name (default RECONCILE_LEASE) */
  readonly name?: string
  /** what messages call the database (the URL, redacted) */
  readonly label: string
  /** who takes it (default: this process; tests play several holders in one) */
  readonly holder?: Holder
}

/**
 * The lease service over `sql` (a client of the log's database, whose schema is migrated: the
 * log is opened before any lease is taken).
 */
export const makePgLease = (sql: SqlClient.SqlClient, options: PgLeaseOptions): ReconcileLeaseService => {
  const name = options.name ?? RECONCILE_LEASE
  const me = options.holder ?? thisProcess
  const where = `the reconcile lease row ${name} (table reconcile_lease in ${options.label})`
  const leaseId = `postgresql:reconcile_lease/${name}`

  const heldBy = (row: { readonly holder: string | null; readonly host: string | null; readonly pid: number | null }) =>
    row.holder === null ? "nobody" : `pid ${row.pid ?? "?"}${row.host === me.host ? "" : ` on ${row.host ?? "?"}`}`

  const take = (ttlMs: number) =>
    Effect.gen(function* () {
      const sentAt = performance.now()
      const rows = yield* sql<TakenRow>`
        INSERT INTO reconcile_lease AS l (name, holder, host, pid, fencing_token, acquired_at, renewed_at, expires_at)
        VALUES (${name}, ${me.holder}, ${me.host}, ${me.pid}, 1, now(), now(), now() + ${ttlMs}::bigint * interval '1 millisecond')
        ON CONFLICT (name) DO UPDATE SET
          holder = excluded.holder, host = excluded.host, pid = excluded.pid,
          fencing_token = l.fencing_token + 1,
          acquired_at = now(), renewed_at = now(), expires_at = excluded.expires_at,
          previous_holder = l.holder, previous_host = l.host, previous_pid = l.pid,
          previous_acquired_at = l.acquired_at, previous_expires_at = l.expires_at
        WHERE l.holder IS NULL OR l.expires_at <= now() OR l.holder = excluded.holder
        RETURNING fencing_token, holder, host, pid, acquired_at, expires_at,
          extract(epoch FROM expires_at - now()) * 1000 AS remaining_ms,
          previous_holder, previous_host, previous_pid, previous_acquired_at, previous_expires_at`.pipe(
        Effect.mapError((e) => new LockError({ reason: "io", message: `cannot take ${where}: ${sqlMessage(e)}` }))
      )
      const taken = rows[0]
      if (taken !== undefined) return { row: taken, sentAt }
      // Held by another: say by whom, and until when (the database's clock).
      const now = yield* sql<LeaseRow>`
        SELECT fencing_token, holder, host, pid, acquired_at, expires_at, extract(epoch FROM expires_at - now()) * 1000 AS remaining_ms
        FROM reconcile_lease WHERE name = ${name}`.pipe(Effect.orElseSucceed(() => [] as ReadonlyArray<LeaseRow>))
      const holder = now[0]
      return yield* new LockError({
        reason: "held",
        message:
          holder === undefined
            ? `another reconcile is taking ${where} right now`
            : `another reconcile (${heldBy(holder)}) is running on this event log; it holds ${where} (until ${iso(holder.expires_at)} by the database's clock, renewed while it runs)`
      })
    })

  const hold: ReconcileLeaseService["hold"] = (waitMs, holdOptions: HoldOptions = {}) =>
    Effect.gen(function* () {
      const ttlMs = Math.max(1_000, holdOptions.ttlMs ?? PG_LEASE_TTL_MS)
      const { row, sentAt } = yield* take(ttlMs).pipe(
        Effect.retry({ schedule: Schedule.spaced(Duration.millis(TAKE_EVERY_MS)).pipe(Schedule.upTo(Duration.millis(waitMs))), while: (e) => e.reason === "held" })
      )
      const fence: Fence = { lease: name, token: Number(row.fencing_token) }
      const lost = yield* Deferred.make<never, LockError>()
      // Until when (monotonic ms) the lease is known to be ours without asking: a confirmation
      // sent at `sentAt` that found `remaining` ms left, less a margin for the clocks' rates.
      let confirmedUntil = 0
      let confirmedAt = 0
      const confirm = (at: number, remainingMs: number) => {
        confirmedAt = at
        confirmedUntil = at + remainingMs - Math.min(ttlMs / 8, 2_000)
      }
      confirm(sentAt, Number(row.remaining_ms ?? 0))

      const stop = (what: string) =>
        Effect.gen(function* () {
          const message = `${where} ${what}; the pass stopped here, so that two passes never change the appliances at once (the next pass takes the lease anew)`
          if (yield* Deferred.fail(lost, new LockError({ reason: "lease-lost", message }))) yield* Effect.logError(`mitigator: ${message}`)
        })
      const lose = (why: string) => stop(`was lost while this pass ran: ${why}`)
      /** PostgreSQL did not answer: the lease may have been taken meanwhile, nobody can tell. */
      const unconfirmed = (why: string) => stop(`could not be confirmed as this holder's while this pass ran: ${why}`)

      // The release: only our own lease (never one taken from us since). Best effort: a lease
      // left behind expires.
      yield* Effect.addFinalizer(() =>
        sql`UPDATE reconcile_lease SET holder = NULL, expires_at = now()
            WHERE name = ${name} AND holder = ${me.holder} AND fencing_token = ${fence.token}`.pipe(
          Effect.timeout(Duration.seconds(5)),
          Effect.ignore
        )
      )

      if (row.previous_holder !== null && row.previous_holder !== me.holder) {
        yield* Effect.logWarning(
          `mitigator: took over ${where} (fencing token ${fence.token}): ${heldBy({ holder: row.previous_holder, host: row.previous_host, pid: row.previous_pid })} held it until ${iso(row.previous_expires_at)} without renewing it`
        )
        const log = yield* EventLog
        yield* log
          .append([
            {
              type: "LeaseTakenOver",
              dedupeKey: null,
              payload: {
                lease: leaseId,
                reason: "expired",
                previous: {
                  pid: row.previous_pid ?? 0,
                  host: row.previous_host,
                  acquiredAt: iso(row.previous_acquired_at),
                  expiresAt: iso(row.previous_expires_at)
                },
                pid: me.pid,
                host: me.host,
                fencingToken: fence.token
              }
            }
          ])
          .pipe(Effect.catchAll((e) => Effect.logWarning(`mitigator: cannot record the lease takeover in the log: ${e.message}`)))
      }

      /** Asks PostgreSQL whether the lease is still ours: undefined when it is, else why not. */
      const check = Effect.gen(function* () {
        const at = performance.now()
        const rows = yield* sql<LeaseRow>`
          SELECT fencing_token, holder, host, pid, acquired_at, expires_at, extract(epoch FROM expires_at - now()) * 1000 AS remaining_ms
          FROM reconcile_lease WHERE name = ${name}`
        const now = rows[0]
        if (now === undefined) return "its row is gone"
        if (Number(now.fencing_token) !== fence.token || now.holder !== me.holder) {
          if (Number(now.fencing_token) === fence.token) return `it was released behind this holder's back (fencing token ${fence.token})`
          const by = now.holder === null ? `${heldBy({ ...now, holder: "" })}, which has released it since` : heldBy(now)
          return `another holder took it over (${by}; fencing token ${now.fencing_token}, this pass's was ${fence.token})`
        }
        confirm(at, Number(now.remaining_ms ?? 0))
        return undefined
      })

      // One check at a time: the changes in flight wait for the one under way, not each its own.
      const checking = yield* Effect.makeSemaphore(1)
      const fresh = () => {
        const t = performance.now()
        return t < confirmedUntil && t - confirmedAt < RECHECK_EVERY_MS
      }
      const guard: Effect.Effect<void> = Effect.suspend(() =>
        fresh()
          ? Effect.void
          : checking.withPermits(1)(
              Effect.suspend(() =>
                fresh()
                  ? Effect.void
                  : check.pipe(
                      Effect.matchEffect({
                        onFailure: (e) => Effect.zipRight(unconfirmed(`PostgreSQL did not answer (${sqlMessage(e)})`), Effect.never),
                        onSuccess: (why) => (why === undefined ? Effect.void : Effect.zipRight(lose(why), Effect.never))
                      })
                    )
              )
            )
      )

      // Renewed every quarter of its lifetime; a renewal that fails is tried again each second
      // until the lease would have expired, then the pass stops (it could have been taken).
      const renewEveryMs = Math.max(250, Math.floor(ttlMs / 4))
      yield* Effect.forkScoped(
        Effect.gen(function* () {
          let wait = renewEveryMs
          for (;;) {
            yield* Effect.sleep(Duration.millis(wait))
            const at = performance.now()
            const renewed = yield* Effect.either(
              sql<{ remaining_ms: string | number }>`
                UPDATE reconcile_lease SET renewed_at = now(), expires_at = now() + ${ttlMs}::bigint * interval '1 millisecond'
                WHERE name = ${name} AND holder = ${me.holder} AND fencing_token = ${fence.token}
                RETURNING extract(epoch FROM expires_at - now()) * 1000 AS remaining_ms`
            )
            if (renewed._tag === "Right") {
              const row = renewed.right[0]
              if (row === undefined) {
                const why = yield* check.pipe(Effect.orElseSucceed(() => "another holder took it"))
                return yield* lose(why ?? "another holder took it")
              }
              confirm(at, Number(row.remaining_ms))
              wait = renewEveryMs
              continue
            }
            if (performance.now() >= confirmedUntil) {
              return yield* unconfirmed(`it could not be renewed before it would expire (PostgreSQL: ${sqlMessage(renewed.left)})`)
            }
            wait = Math.min(1_000, renewEveryMs)
          }
        })
      )

      const held: HeldLeaseService = { where, fence, guard, lose }
      return { held, lost: Deferred.await(lost) } satisfies TakenLease
    })

  return { where, hold }
}

/**
 * The lease service of the log at `target`, with its own small pool, connected on the first take
 * (a command that never takes the lease never connects for it) and closed with the scope.
 */
export const pgLease = (target: PgTarget): Effect.Effect<ReconcileLeaseService, never, Scope.Scope> =>
  Effect.gen(function* () {
    const scope = yield* Effect.scope
    const label = redactedUrl(target.url)
    let client: SqlClient.SqlClient | undefined
    const connecting = yield* Effect.makeSemaphore(1)
    const connected = connecting.withPermits(1)(
      Effect.suspend(() =>
        client !== undefined
          ? Effect.succeed(client)
          : Scope.extend(makePgClient({ ...target, applicationName: "mitigator lease", maxConnections: 2 }), scope).pipe(
              Effect.provide(Reactivity.layer),
              Effect.tap((made) => Effect.sync(() => void (client = made))),
              Effect.mapError((e) => new LockError({ reason: "io", message: `cannot take the reconcile lease: ${e.message}` }))
            )
      )
    )
    const where = `the reconcile lease row ${RECONCILE_LEASE} (table reconcile_lease in ${label})`
    return {
      where,
      hold: (waitMs, options) => Effect.flatMap(connected, (sql) => makePgLease(sql, { label }).hold(waitMs, options))
    } satisfies ReconcileLeaseService
  })

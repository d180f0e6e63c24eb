/**
 * The reconcile lease row of a log on PostgreSQL (src/reconciler/PgLease.ts), on a real server:
 * taken, renewed and released; a second taker waits; an expired lease is taken over with a higher
 * fencing token (and the takeover recorded); a holder whose token went stale can neither make a
 * change nor record one.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { describe, expect, it } from "vitest"
import type { NewEvent } from "../../src/domain/Events.js"
import { EventLog, type EventLogService } from "../../src/eventlog/EventLog.js"
import { makePgClient } from "../../src/eventlog/PgConnection.js"
import * as PgEventLog from "../../src/eventlog/PgEventLog.js"
import { HeldLease, holdingReconcileLease, ReconcileLease, type ReconcileLeaseService } from "../../src/reconciler/Lease.js"
import { leaseGuard } from "../../src/reconciler/fenced.js"
import { makePgLease, type Holder } from "../../src/reconciler/PgLease.js"
import type { LockError } from "../../src/reconciler/lock.js"
import type { PgDatabase } from "../support/postgres.js"
import { usePostgres } from "../support/usePostgres.js"

const server = usePostgres()

const holderA: Holder = { host: "host-a", pid: 101, holder: "host-a/101/aaaa" }
const holderB: Holder = { host: "host-b", pid: 202, holder: "host-b/202/bbbb" }

const change = (cidr: string): NewEvent => ({
  type: "TargetChanged",
  dedupeKey: null,
  payload: { target: "loadmaster:global", cidr, op: "add", listed: cidr, comment: "mitigator test", causeSeq: null }
})

/**
 * Runs `body` with the log (migrated: the lease table is there) and a lease service per holder,
 * each over its own client, as separate processes would have.
 */
const withLeases = <A, E>(
  db: PgDatabase,
  body: (ctx: { log: EventLogService; lease: (who: Holder) => ReconcileLeaseService; sql: SqlClient.SqlClient }) => Effect.Effect<A, E, EventLog | Scope.Scope>
) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const log = yield* EventLog
      const sql = yield* makePgClient({ url: db.url, passwordFile: db.passwordFile })
      const lease = (who: Holder) => makePgLease(sql, { label: "the test's database", holder: who })
      return yield* body({ log, lease, sql })
    }).pipe(Effect.scoped, Effect.provide(PgEventLog.layer({ url: db.url, passwordFile: db.passwordFile, create: true })), Effect.provide(Reactivity.layer))
  )

const leaseRow = (db: PgDatabase) =>
  server().admin(db.name, "SELECT coalesce(holder, '-'), fencing_token, expires_at > now() FROM reconcile_lease WHERE name = 'reconcile'")

/** The body under `who`'s lease (waiting `waitMs` for it), as the commands run their passes. */
const under = <A, E, R>(lease: ReconcileLeaseService, body: Effect.Effect<A, E, R>, waitMs = 0, ttlMs?: number) =>
  body.pipe(holdingReconcileLease(waitMs, ttlMs === undefined ? {} : { ttlMs }), Effect.scoped, Effect.provideService(ReconcileLease, lease))

describe("the reconcile lease row on PostgreSQL", () => {
  it("is taken with a fencing token, stamps the holder's changes with it, and is released when the pass ends", async () => {
    const db = await server().createDatabase()
    const seen = await withLeases(db, ({ log, lease }) =>
      Effect.gen(function* () {
        const during = yield* under(
          lease(holderA),
          Effect.gen(function* () {
            const held = yield* HeldLease
            yield* leaseGuard
            yield* log.append([change("192.0.2.1/32")])
            return { fence: held.fence, row: leaseRow(db) }
          })
        )
        const again = yield* under(lease(holderA), Effect.map(HeldLease, (held) => held.fence?.token))
        return { ...during, again, rows: yield* log.read({ limit: 10 }) }
      })
    )
    expect(seen.fence).toStrictEqual({ lease: "reconcile", token: 1 })
    expect(seen.row).toStrictEqual([["host-a/101/aaaa", "1", "t"]])
    // Every take raises the token.
    expect(seen.again).toBe(2)
    expect(seen.rows.map((e) => [e.type, (e.payload as { fence?: number }).fence])).toStrictEqual([["TargetChanged", 1]])
    // Released: nobody holds it, and it is not taken over (no LeaseTakenOver) by the next taker.
    expect(leaseRow(db)).toStrictEqual([["-", "2", "f"]])
  })

  it("makes a second taker wait while it is held, and lets it in (with the next token) once released", async () => {
    const db = await server().createDatabase()
    const seen = await withLeases(db, ({ lease }) =>
      Effect.gen(function* () {
        const scope = yield* Scope.make()
        // A holds it, in a scope of its own: released when that scope closes.
        yield* Scope.extend(lease(holderA).hold(0), scope)
        const refused = yield* Effect.flip(under(lease(holderB), Effect.void, 300))
        yield* Scope.close(scope, Exit.void)
        const token = yield* under(lease(holderB), Effect.map(HeldLease, (held) => held.fence?.token), 5_000)
        return { refused, token }
      })
    )
    expect(seen.refused.reason).toBe("held")
    expect(seen.refused.message).toMatch(/another reconcile \(pid 101 on host-a\) is running on this event log; it holds the reconcile lease row reconcile .*by the database's clock/)
    expect(seen.token).toBe(2)
  })

  it("is taken over once it has expired by the database's clock, with a higher token, and the takeover is recorded", async () => {
    const db = await server().createDatabase()
    await withLeases(db, ({ log }) => log.append([]))
    // A holder that died holding token 7: expired a second ago by the server's clock; another one
    // that expires in an hour.
    server().admin(
      db.name,
      "INSERT INTO reconcile_lease (name, holder, host, pid, fencing_token, acquired_at, expires_at) VALUES ('reconcile', 'dead/9/x', 'dead-host', 9, 7, now() - interval '1 minute', now() - interval '1 second'), ('other', 'live/8/y', 'live-host', 8, 3, now(), now() + interval '1 hour')"
    )
    const seen = await withLeases(db, ({ log, lease, sql }) =>
      Effect.gen(function* () {
        const token = yield* under(lease(holderB), Effect.map(HeldLease, (held) => held.fence?.token))
        const notExpired = yield* Effect.flip(under(makePgLease(sql, { label: "db", holder: holderB, name: "other" }), Effect.void, 200))
        return { token, notExpired, rows: yield* log.read({ limit: 10 }) }
      })
    )
    expect(seen.token).toBe(8)
    expect(seen.notExpired.reason).toBe("held")
    expect(seen.notExpired.message).toMatch(/pid 8 on live-host/)
    expect(seen.rows.map((e) => e.type)).toStrictEqual(["LeaseTakenOver"])
    expect(seen.rows[0]!.payload).toMatchObject({
      lease: "postgresql:reconcile_lease/reconcile",
      reason: "expired",
      previous: { pid: 9, host: "dead-host" },
      pid: 202,
      host: "host-b",
      fencingToken: 8
    })
  })

  it("refuses the outcomes of a holder whose token went stale, and stops its pass (lease-lost) before it changes anything more", async () => {
    const db = await server().createDatabase()
    const seen = await withLeases(db, ({ log, lease }) =>
      Effect.gen(function* () {
        // The holder is "paused" past its lease: meanwhile another takes it over (a new token).
        const recorded = yield* Effect.flip(
          under(
            lease(holderA),
            Effect.gen(function* () {
              yield* log.append([change("192.0.2.1/32")])
              server().admin(db.name, "UPDATE reconcile_lease SET holder = 'host-b/202/bbbb', host = 'host-b', pid = 202, fencing_token = fencing_token + 1, expires_at = now() + interval '1 minute'")
              return yield* log.append([change("192.0.2.2/32")])
            })
          )
        )
        server().admin(db.name, "UPDATE reconcile_lease SET holder = NULL, expires_at = now()")
        let changed = 0
        const guarded = yield* Effect.flip(
          under(
            lease(holderA),
            Effect.gen(function* () {
              yield* leaseGuard
              changed++
              server().admin(db.name, "UPDATE reconcile_lease SET holder = 'host-b/202/bbbb', host = 'host-b', pid = 202, fencing_token = fencing_token + 1, expires_at = now() + interval '1 minute'")
              // Past the holder's last confirmation (a second at most): the guard asks PostgreSQL.
              yield* Effect.sleep("1100 millis")
              yield* leaseGuard
              changed++
            })
          )
        )
        return { recorded, guarded, changed, rows: yield* log.read({ limit: 10 }) }
      })
    )
    const failed = seen.recorded as { _tag: string; reason: string; message: string }
    expect([failed._tag, failed.reason]).toStrictEqual(
      failed._tag === "LockError" ? ["LockError", "lease-lost"] : ["EventLogError", "fenced"]
    )
    expect(failed.message).toMatch(/fencing token 1 is stale \(the lease's is 2: another holder took it over\)/)
    expect((seen.guarded as LockError).reason).toBe("lease-lost")
    expect((seen.guarded as LockError).message).toMatch(/another holder took it over \(pid 202 on host-b; fencing token 4, this pass's was 3\)/)
    expect(seen.changed).toBe(1)
    // Only what was recorded while the token was current.
    expect(seen.rows.map((e) => (e.payload as { cidr: string; fence: number }).cidr)).toStrictEqual(["192.0.2.1/32"])
  })

  it("stops a pass whose lease was taken while it ran, when the renewal finds it gone", async () => {
    const db = await server().createDatabase()
    const lost = await withLeases(db, ({ lease }) =>
      Effect.flip(
        under(
          lease(holderA),
          Effect.gen(function* () {
            server().admin(db.name, "UPDATE reconcile_lease SET holder = 'host-b/202/bbbb', host = 'host-b', pid = 202, fencing_token = fencing_token + 1")
            // A long pass: interrupted by the renewal (every 250 ms for a 1 s lease), not ended.
            yield* Effect.sleep("1 minute")
          }),
          0,
          1_000
        )
      )
    )
    expect(lost.reason).toBe("lease-lost")
    expect(lost.message).toMatch(/the reconcile lease row reconcile .* was lost while this pass ran: another holder took it over \(pid 202 on host-b; fencing token 2, this pass's was 1\)/)
  })
})

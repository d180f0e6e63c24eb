/** What only the PostgreSQL log has to show: many connections at once, and a connection lost mid-write. */
import * as Effect from "effect/Effect"
import { describe, expect, it } from "vitest"
import { EventLog, type EventLogService } from "../../src/eventlog/EventLog.js"
import * as PgEventLog from "../../src/eventlog/PgEventLog.js"
import type { PgDatabase } from "../support/postgres.js"
import { usePostgres } from "../support/usePostgres.js"
import { rejected } from "./support.js"

const server = usePostgres()

const withLog = <A, E>(db: PgDatabase, f: (log: EventLogService) => Effect.Effect<A, E>, applicationName = "mitigator") =>
  Effect.runPromise(Effect.flatMap(EventLog, f).pipe(Effect.provide(PgEventLog.layer({ url: db.url, passwordFile: db.passwordFile, create: true, applicationName }))))

describe("PgEventLog with many writers", () => {
  it("reports a dedupe key another writer stored first as a Duplicate, never as an error, whichever writer wins", async () => {
    const db = await server().createDatabase()
    await withLog(db, (log) => log.append([rejected(0)]))
    const keys = Array.from({ length: 20 }, (_, i) => `k${i}`)
    // Four writers (each its own pool of connections) append the same keys, one event at a time.
    const outcomes = await Promise.all(
      Array.from({ length: 4 }, () => withLog(db, (log) => Effect.forEach(keys, (key, i) => Effect.map(log.append([rejected(i + 1, key)]), ([o]) => o!))))
    )
    const stored = outcomes.flat().filter((o) => o._tag === "Stored")
    expect(stored).toHaveLength(keys.length)
    const all = await withLog(db, (log) => log.read({ limit: 1000 }))
    expect(all.map((e) => e.seq)).toStrictEqual(all.map((_, i) => i + 1))
    expect(new Set(all.map((e) => e.dedupeKey)).size).toBe(keys.length + 1)
    // every Duplicate names the seq of the one stored row of its key
    const seqOf = new Map(all.map((e) => [e.dedupeKey, e.seq]))
    outcomes.forEach((forWriter) => forWriter.forEach((o, i) => expect(o.seq).toBe(seqOf.get(keys[i]!))))
  })
})

describe("PgEventLog when the connection is lost", () => {
  it("fails the write with a clear error, records none of it, and the next write goes on from the head", async () => {
    const db = await server().createDatabase()
    const lost = await withLog(
      db,
      (log) =>
        Effect.gen(function* () {
          yield* log.append([rejected(1)])
          const failed = yield* Effect.flip(
            log.transaction((tx) =>
              Effect.gen(function* () {
                yield* tx.append([rejected(2)])
                // The server ends this session (as a restart or a network cut would) before the commit.
                server().admin("postgres", `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'lost-${db.name}'`)
                return yield* tx.append([rejected(3)])
              })
            )
          )
          const after = yield* log.append([rejected(4)])
          return { failed, after, rows: yield* log.read({ limit: 10 }) }
        }),
      `lost-${db.name}`
    )
    expect(lost.failed.reason).toBe("write")
    expect(lost.failed.message).toMatch(/lost the connection to PostgreSQL at postgres:\/\/mitigator@127\.0\.0\.1:\d+\/\w+ .*Nothing was acknowledged/)
    expect(lost.after).toStrictEqual([{ _tag: "Stored", seq: 2 }])
    expect(lost.rows.map((e) => (e.payload as { line: number }).line)).toStrictEqual([1, 4])
  })
})

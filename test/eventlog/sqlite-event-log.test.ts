import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import Database from "better-sqlite3"
import * as fs from "node:fs"
import * as path from "node:path"
import { canonicalJson } from "../../src/domain/CanonicalJson.js"
import type { NewEvent } from "../../src/domain/Events.js"
import {
  EventLog,
  type EventLogError,
  type EventLogService,
  type ReadPage,
  type StoredEvent,
  PROJECTION_EVENT_TYPES,
  streamEvents
} from "../../src/eventlog/EventLog.js"
import { GENESIS_HASH, rowHash } from "../../src/eventlog/HashChain.js"
import * as SqliteEventLog from "../../src/eventlog/SqliteEventLog.js"
import { LEDGER_EVENT_TYPES, typeFilter } from "../../src/eventlog/SqliteEventLog.js"
import {
  detection,
  freshDb,
  freshDir,
  rawRows,
  rejected,
  rejectedPayload,
  tamper,
  withRaw
} from "./support.js"
import { migrations } from "../../migrations/index.js"

/** Every migration the code base ships, as the migrator records them. */
const EXPECTED_MIGRATIONS = Object.keys(migrations).map((key) => {
  const at = key.indexOf("_")
  return { migration_id: Number(key.slice(0, at)), name: key.slice(at + 1) }
})

const logLayer = (filename: string) => SqliteEventLog.layer({ filename, create: true })

/** Opens the log on `filename` (creating it if needed), runs `f`, and closes it again. */
const withLog = <A, E>(filename: string, f: (log: EventLogService) => Effect.Effect<A, E>) =>
  Effect.flatMap(EventLog, f).pipe(Effect.provide(logLayer(filename)))

/** Fails with the error opening the log failed with (and fails the test if it opened). */
const openError = (options: SqliteEventLog.SqliteEventLogOptions) =>
  Effect.flip(Effect.provide(EventLog, SqliteEventLog.layer(options)))

const readAll = (log: EventLogService) => log.read({ limit: 1_000_000 })

const setTime = (iso: string) => TestClock.setTime(Date.parse(iso))

const seqs = (events: ReadonlyArray<StoredEvent>) => events.map((e) => e.seq)

const UTC_ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

describe("SqliteEventLog.append", () => {
  it.effect("stores events with seq 1..n and recordedAt as the UTC ISO time of the append", () =>
    Effect.gen(function* () {
      const filename = freshDb()
      yield* withLog(filename, (log) =>
        Effect.gen(function* () {
          yield* setTime("2025-11-03T15:13:05.123Z")
          const first = yield* log.append([rejected(1), rejected(2), rejected(3)])
          expect(first).toStrictEqual([
            { _tag: "Stored", seq: 1 },
            { _tag: "Stored", seq: 2 },
            { _tag: "Stored", seq: 3 }
          ])
          yield* setTime("2025-11-03T16:00:00.000Z")
          const second = yield* log.append([rejected(4), rejected(5)])
          expect(second).toStrictEqual([
            { _tag: "Stored", seq: 4 },
            { _tag: "Stored", seq: 5 }
          ])

          const events = yield* readAll(log)
          expect(seqs(events)).toStrictEqual([1, 2, 3, 4, 5])
          for (const e of events) expect(e.recordedAt).toMatch(UTC_ISO)
          expect(events.map((e) => e.recordedAt)).toStrictEqual([
            "2025-11-03T15:13:05.123Z",
            "2025-11-03T15:13:05.123Z",
            "2025-11-03T15:13:05.123Z",
            "2025-11-03T16:00:00.000Z",
            "2025-11-03T16:00:00.000Z"
          ])
          expect(events.map((e) => e.payload)).toStrictEqual([1, 2, 3, 4, 5].map((n) => rejectedPayload(n)))
        })
      )
    }))

  it.effect("stores an empty batch as nothing", () =>
    Effect.gen(function* () {
      const filename = freshDb()
      yield* withLog(filename, (log) =>
        Effect.gen(function* () {
          expect(yield* log.append([])).toStrictEqual([])
          expect(yield* readAll(log)).toStrictEqual([])
          yield* log.append([rejected(1)])
          expect(yield* log.append([])).toStrictEqual([])
          expect(seqs(yield* readAll(log))).toStrictEqual([1])
        })
      )
    }))

  it.effect("gives back every payload exactly as appended, stored as canonical JSON", () =>
    Effect.gen(function* () {
      const filename = freshDb()
      const payload = detection("4711")
      yield* withLog(filename, (log) =>
        Effect.gen(function* () {
          yield* log.append([
            { type: "FlowmonEventReceived", payload, dedupeKey: "ids:fm-č-01:4711" },
            { type: "InputRejected", payload: rejectedPayload(7, { format: "cef", truncated: true }), dedupeKey: null }
          ])
          const [a, b] = yield* readAll(log)
          expect(a).toMatchObject({ seq: 1, type: "FlowmonEventReceived", dedupeKey: "ids:fm-č-01:4711" })
          expect(a?.payload).toStrictEqual(payload)
          expect(b).toMatchObject({ seq: 2, type: "InputRejected", dedupeKey: null })
          expect(b?.payload).toStrictEqual(rejectedPayload(7, { format: "cef", truncated: true }))
        })
      )
      const stored = rawRows(filename)
      expect(stored[0]?.payload).toBe(canonicalJson(payload))
      // canonical: keys sorted at every level
      expect(stored[0]?.payload.startsWith('{"cef":null,"dataFeed":null,"description":')).toBe(true)
    }))

  it.effect("chains every row's hash to the one before it, starting from the genesis hash", () =>
    Effect.gen(function* () {
      const filename = freshDb()
      const events = yield* withLog(filename, (log) =>
        Effect.gen(function* () {
          yield* setTime("2025-01-01T00:00:00.000Z")
          yield* log.append([rejected(1, "k1"), rejected(2)])
          yield* setTime("2025-01-02T00:00:00.000Z")
          yield* log.append([rejected(3, "k3")])
          return yield* readAll(log)
        })
      )
      let previous = GENESIS_HASH
      for (const e of events) {
        const expected = rowHash(previous, {
          seq: e.seq,
          recordedAt: e.recordedAt,
          type: e.type,
          payloadJson: canonicalJson(e.payload),
          dedupeKey: e.dedupeKey
        })
        expect(e.hash).toBe(expected)
        previous = expected
      }
      expect(new Set(events.map((e) => e.hash)).size).toBe(3)
    }))

  it.effect("reports a dedupe key already in the log as a Duplicate of the original and does not store it again", () =>
    Effect.gen(function* () {
      const filename = freshDb()
      yield* withLog(filename, (log) =>
        Effect.gen(function* () {
          expect(yield* log.append([rejected(1, "k1"), rejected(2), rejected(3, "k2")])).toStrictEqual([
            { _tag: "Stored", seq: 1 },
            { _tag: "Stored", seq: 2 },
            { _tag: "Stored", seq: 3 }
          ])
          expect(
            yield* log.append([
              rejected(10, "k1"), // in the log already, at 1
              rejected(11), // no key: always stored
              rejected(12, "k3"), // new
              rejected(13, "k3"), // new a moment ago, earlier in this same batch
              rejected(14, "k2"), // in the log already, at 3
              rejected(15) // no key: always stored
            ])
          ).toStrictEqual([
            { _tag: "Duplicate", seq: 1 },
            { _tag: "Stored", seq: 4 },
            { _tag: "Stored", seq: 5 },
            { _tag: "Duplicate", seq: 5 },
            { _tag: "Duplicate", seq: 3 },
            { _tag: "Stored", seq: 6 }
          ])
          // a batch made only of duplicates stores nothing
          expect(yield* log.append([rejected(20, "k3"), rejected(21, "k1")])).toStrictEqual([
            { _tag: "Duplicate", seq: 5 },
            { _tag: "Duplicate", seq: 1 }
          ])

          const events = yield* readAll(log)
          expect(events.map((e) => [e.seq, e.dedupeKey, (e.payload as { line: number }).line])).toStrictEqual([
            [1, "k1", 1],
            [2, null, 2],
            [3, "k2", 3],
            [4, null, 11],
            [5, "k3", 12],
            [6, null, 15]
          ])
        })
      )
    }))

  it.effect("stores events without a dedupe key every time, even when they are identical", () =>
    Effect.gen(function* () {
      const filename = freshDb()
      yield* withLog(filename, (log) =>
        Effect.gen(function* () {
          const same = rejected(1)
          expect(yield* log.append([same, same])).toStrictEqual([
            { _tag: "Stored", seq: 1 },
            { _tag: "Stored", seq: 2 }
          ])
          expect(yield* log.append([same])).toStrictEqual([{ _tag: "Stored", seq: 3 }])
          expect(seqs(yield* readAll(log))).toStrictEqual([1, 2, 3])
        })
      )
    }))

  it.effect("deduplicates against keys anywhere in a large log and a large batch", () =>
    Effect.gen(function* () {
      const filename = freshDb()
      yield* withLog(filename, (log) =>
        Effect.gen(function* () {
          // more keys than one IN (...) query and more rows than one INSERT carry
          const first = Array.from({ length: 1200 }, (_, i) => rejected(i, `k${i}`))
          const stored = yield* log.append(first)
          expect(stored.every((o, i) => o._tag === "Stored" && o.seq === i + 1)).toBe(true)
          const second = Array.from({ length: 1200 }, (_, i) => rejected(i, `k${i + 600}`))
          const outcomes = yield* log.append(second)
          expect(outcomes.slice(0, 600).every((o, i) => o._tag === "Duplicate" && o.seq === i + 601)).toBe(true)
          expect(outcomes.slice(600).every((o, i) => o._tag === "Stored" && o.seq === i + 1201)).toBe(true)
          const events = yield* readAll(log)
          expect(events.length).toBe(1800)
          expect(new Set(events.map((e) => e.dedupeKey)).size).toBe(1800)
          expect(yield* log.verify).toStrictEqual({ _tag: "Intact", count: 1800, head: { seq: 1800, hash: events[1799]?.hash }, headFile: 1800 })
        })
      )
    }))
})

describe("SqliteEventLog.append is atomic", () => {
  it.effect("stores nothing of a batch holding a payload that has no JSON form", () =>
    Effect.gen(function* () {
      const filename = freshDb()
      yield* withLog(filename, (log) =>
        Effect.gen(function* () {
          yield* log.append([rejected(1, "a"), rejected(2)])
          const before = yield* readAll(log)

          const bad: NewEvent = { type: "InputRejected", payload: rejectedPayload(5, { rawBytes: Number.NaN }), dedupeKey: null }
          const exit = yield* Effect.exit(log.append([rejected(3, "b"), rejected(4), bad, rejected(6)]))
          expect(Exit.isFailure(exit)).toBe(true)
          if (Exit.isFailure(exit)) expect(Cause.pretty(exit.cause)).toContain("no canonical JSON form")

          expect(yield* readAll(log)).toStrictEqual(before)
          // the key of the failed batch was not taken, and the log carries on where it was
          expect(yield* log.append([rejected(3, "b")])).toStrictEqual([{ _tag: "Stored", seq: 3 }])
          expect(yield* log.verify).toMatchObject({ _tag: "Intact", count: 3 })
        })
      )
    }))

  it.effect("rolls back rows already inserted when a later insert of the same batch fails", () =>
    Effect.gen(function* () {
      const filename = freshDb()
      yield* withLog(filename, (log) =>
        Effect.gen(function* () {
          yield* log.append([rejected(1, "a")])
          const before = yield* readAll(log)
          // the database refuses one particular row (as a full disk or an I/O error would refuse a write)
          withRaw(filename, (raw) =>
            raw.exec(`CREATE TRIGGER refuse_poison BEFORE INSERT ON events WHEN NEW.payload LIKE '%poison%'
                      BEGIN SELECT RAISE(ABORT, 'poisoned row refused'); END`)
          )

          // 400 events go in over several INSERT statements: the poisoned one is in the last, after the
          // earlier statements have already written their rows inside the transaction
          const batch: NewEvent[] = Array.from({ length: 400 }, (_, i) => rejected(100 + i, `batch-${i}`))
          batch.push({ type: "InputRejected", payload: rejectedPayload(999, { raw: "poison" }), dedupeKey: null })
          const error = yield* Effect.flip(log.append(batch))
          expect(error._tag).toBe("EventLogError")
          expect(error.reason).toBe("write")
          expect(error.message).toContain("poisoned row refused")

          expect(yield* readAll(log)).toStrictEqual(before)
          expect(rawRows(filename).length).toBe(1)
          // not left inside an open transaction: the next append works and takes the next seq
          expect(yield* log.append([rejected(2, "batch-0")])).toStrictEqual([{ _tag: "Stored", seq: 2 }])
          expect(yield* log.verify).toMatchObject({ _tag: "Intact", count: 2 })
        })
      )
    }))
})

describe("SqliteEventLog.read", () => {
  it.effect("returns the page after `afterSeq`, at most `limit` events, in seq order", () =>
    Effect.gen(function* () {
      const filename = freshDb()
      yield* withLog(filename, (log) =>
        Effect.gen(function* () {
          yield* log.append(Array.from({ length: 10 }, (_, i) => rejected(i + 1)))
          expect(seqs(yield* log.read({ limit: 3 }))).toStrictEqual([1, 2, 3])
          expect(seqs(yield* log.read({ afterSeq: 0, limit: 3 }))).toStrictEqual([1, 2, 3])
          expect(seqs(yield* log.read({ afterSeq: 3, limit: 3 }))).toStrictEqual([4, 5, 6])
          expect(seqs(yield* log.read({ afterSeq: 8, limit: 3 }))).toStrictEqual([9, 10])
          expect(seqs(yield* log.read({ afterSeq: 10, limit: 3 }))).toStrictEqual([])
          expect(seqs(yield* log.read({ afterSeq: 50, limit: 3 }))).toStrictEqual([])
          expect(seqs(yield* log.read({ afterSeq: 2, limit: 100 }))).toStrictEqual([3, 4, 5, 6, 7, 8, 9, 10])
          expect(seqs(yield* log.read({ afterSeq: 4, limit: 1 }))).toStrictEqual([5])
          // the payload belongs to the seq
          expect((yield* log.read({ afterSeq: 6, limit: 1 }))[0]?.payload).toStrictEqual(rejectedPayload(7))
        })
      )
    }))

  it.effect("with `until`, returns only events recorded at or before that instant", () =>
    Effect.gen(function* () {
      const filename = freshDb()
      yield* withLog(filename, (log) =>
        Effect.gen(function* () {
          yield* setTime("2025-03-01T10:00:00.000Z")
          yield* log.append([rejected(1), rejected(2), rejected(3)])
          yield* setTime("2025-03-01T11:00:00.000Z")
          yield* log.append([rejected(4), rejected(5)])
          yield* setTime("2025-03-01T12:00:00.000Z")
          yield* log.append([rejected(6), rejected(7)])

          const until = (instant: string, page: Partial<ReadPage> = {}) =>
            Effect.map(log.read({ limit: 100, ...page, until: instant }), seqs)
          expect(yield* until("2025-03-01T09:59:59.999Z")).toStrictEqual([])
          expect(yield* until("2025-03-01T10:00:00.000Z")).toStrictEqual([1, 2, 3])
          expect(yield* until("2025-03-01T10:59:59.999Z")).toStrictEqual([1, 2, 3])
          expect(yield* until("2025-03-01T11:00:00.000Z")).toStrictEqual([1, 2, 3, 4, 5])
          expect(yield* until("2025-03-01T12:00:00.000Z")).toStrictEqual([1, 2, 3, 4, 5, 6, 7])
          expect(yield* until("2030-01-01T00:00:00.000Z")).toStrictEqual([1, 2, 3, 4, 5, 6, 7])
          // combined with paging
          expect(yield* until("2025-03-01T11:30:00.000Z", { afterSeq: 2, limit: 2 })).toStrictEqual([3, 4])
          expect(yield* until("2025-03-01T11:30:00.000Z", { afterSeq: 4, limit: 2 })).toStrictEqual([5])
          expect(yield* until("2025-03-01T11:30:00.000Z", { afterSeq: 5, limit: 2 })).toStrictEqual([])
        })
      )
    }))

  it.effect("never lets recordedAt go backwards along seq, even when the clock is set back", () =>
    Effect.gen(function* () {
      const filename = freshDb()
      yield* withLog(filename, (log) =>
        Effect.gen(function* () {
          yield* setTime("2025-03-01T10:00:00.000Z")
          yield* log.append([rejected(1)])
          yield* setTime("2025-03-01T12:00:00.000Z")
          yield* log.append([rejected(2)])
          yield* setTime("2025-02-01T08:00:00.000Z") // the clock jumps back a month
          yield* log.append([rejected(3), rejected(4)])
          yield* setTime("2025-03-01T12:30:00.000Z")
          yield* log.append([rejected(5)])

          const events = yield* readAll(log)
          expect(events.map((e) => [e.type, e.recordedAt])).toStrictEqual([
            ["InputRejected", "2025-03-01T10:00:00.000Z"],
            ["InputRejected", "2025-03-01T12:00:00.000Z"],
            // the clock behind the newest row is a fact of its own, recorded before the events
            ["ClockSkewObserved", "2025-03-01T12:00:00.000Z"], // clamped to the row before
            ["InputRejected", "2025-03-01T12:00:00.000Z"],
            ["InputRejected", "2025-03-01T12:00:00.000Z"],
            ["InputRejected", "2025-03-01T12:30:00.000Z"]
          ])
          expect(events[2]!.payload).toStrictEqual({
            against: "log",
            behindMs: 28 * 86_400_000 + 4 * 3_600_000,
            clock: "2025-02-01T08:00:00.000Z",
            reference: "2025-03-01T12:00:00.000Z"
          })
          for (let i = 1; i < events.length; i++) {
            expect(events[i]!.recordedAt >= events[i - 1]!.recordedAt).toBe(true)
          }
          // so "the log up to an instant" is always a prefix of the log
          expect(seqs(yield* log.read({ limit: 100, until: "2025-02-15T00:00:00.000Z" }))).toStrictEqual([])
          expect(seqs(yield* log.read({ limit: 100, until: "2025-03-01T11:00:00.000Z" }))).toStrictEqual([1])
          expect(seqs(yield* log.read({ limit: 100, until: "2025-03-01T12:00:00.000Z" }))).toStrictEqual([1, 2, 3, 4, 5])
          expect(yield* log.verify).toMatchObject({ _tag: "Intact", count: 6 })
        })
      )
    }))
})

describe("the projection's partial index", () => {
  it.effect("covers every event type the projection reads, so a fold never scans the whole table", () =>
    Effect.gen(function* () {
      const filename = freshDb()
      yield* withLog(filename, (log) => log.append([rejected(1)]))
      const plan = withRaw(filename, (raw) =>
        raw.prepare(`EXPLAIN QUERY PLAN SELECT seq, recorded_at, type, payload, dedupe_key, hash FROM events WHERE seq > 0 AND ${typeFilter(PROJECTION_EVENT_TYPES)} ORDER BY seq LIMIT 10`).all()
      ) as Array<{ detail: string }>
      expect(plan.map((row) => row.detail).join("; ")).toMatch(/USING INDEX events_projection/)
    }))

  it.effect("the ledger of one address (append's check before it applies at once) is read through its index", () =>
    Effect.gen(function* () {
      const filename = freshDb()
      yield* withLog(filename, (log) => log.append([rejected(1)]))
      const plan = withRaw(filename, (raw) =>
        raw
          .prepare(
            `EXPLAIN QUERY PLAN SELECT seq FROM events WHERE ${typeFilter(LEDGER_EVENT_TYPES)}
             AND json_extract(payload, '$.target') = 'loadmaster:global' AND json_extract(payload, '$.cidr') = '192.0.2.31/32' ORDER BY seq DESC LIMIT 1`
          )
          .all()
      ) as Array<{ detail: string }>
      expect(plan.map((row) => row.detail).join("; ")).toMatch(/USING INDEX events_ledger/)
    }))
})

describe("streamEvents", () => {
  /** The log, recording every page it is asked for. */
  const recordingReads = (log: EventLogService, pages: ReadPage[]): EventLogService => ({
    ...log,
    read: (page) => {
      pages.push(page)
      return log.read(page)
    }
  })

  it.effect("streams every event, page by page", () =>
    Effect.gen(function* () {
      const filename = freshDb()
      yield* withLog(filename, (log) =>
        Effect.gen(function* () {
          yield* log.append(Array.from({ length: 10 }, (_, i) => rejected(i + 1)))
          const pages: ReadPage[] = []
          const events = Chunk.toReadonlyArray(yield* Stream.runCollect(streamEvents(recordingReads(log, pages), { pageSize: 3 })))
          expect(seqs(events)).toStrictEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
          expect(events.map((e) => e.payload)).toStrictEqual(Array.from({ length: 10 }, (_, i) => rejectedPayload(i + 1)))
          expect(pages).toStrictEqual([
            { afterSeq: 0, limit: 3 },
            { afterSeq: 3, limit: 3 },
            { afterSeq: 6, limit: 3 },
            { afterSeq: 9, limit: 3 }
          ])
        })
      )
    }))

  it.effect("ends after the last event when the log fills its last page exactly, and on an empty log", () =>
    Effect.gen(function* () {
      const filename = freshDb()
      yield* withLog(filename, (log) =>
        Effect.gen(function* () {
          expect(Chunk.toReadonlyArray(yield* Stream.runCollect(streamEvents(log, { pageSize: 3 })))).toStrictEqual([])
          yield* log.append(Array.from({ length: 9 }, (_, i) => rejected(i + 1)))
          const events = Chunk.toReadonlyArray(yield* Stream.runCollect(streamEvents(log, { pageSize: 3 })))
          expect(seqs(events)).toStrictEqual([1, 2, 3, 4, 5, 6, 7, 8, 9])
          // and with the default page size
          expect(seqs(Chunk.toReadonlyArray(yield* Stream.runCollect(streamEvents(log))))).toStrictEqual([1, 2, 3, 4, 5, 6, 7, 8, 9])
        })
      )
    }))

  it.effect("with `until`, streams only the events recorded up to that instant", () =>
    Effect.gen(function* () {
      const filename = freshDb()
      yield* withLog(filename, (log) =>
        Effect.gen(function* () {
          yield* setTime("2025-03-01T10:00:00.000Z")
          yield* log.append(Array.from({ length: 7 }, (_, i) => rejected(i + 1)))
          yield* setTime("2025-03-01T11:00:00.000Z")
          yield* log.append(Array.from({ length: 5 }, (_, i) => rejected(i + 8)))

          const pages: ReadPage[] = []
          const upTo = (until: string) =>
            Effect.map(Stream.runCollect(streamEvents(recordingReads(log, pages), { until, pageSize: 3 })), (c) =>
              seqs(Chunk.toReadonlyArray(c))
            )
          expect(yield* upTo("2025-03-01T10:30:00.000Z")).toStrictEqual([1, 2, 3, 4, 5, 6, 7])
          expect(pages.every((p) => p.until === "2025-03-01T10:30:00.000Z")).toBe(true)
          expect(yield* upTo("2025-03-01T11:00:00.000Z")).toStrictEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])
          expect(yield* upTo("2025-03-01T09:00:00.000Z")).toStrictEqual([])
        })
      )
    }))
})

describe("the events table is append-only", () => {
  it.effect("refuses UPDATE and DELETE from any connection", () =>
    Effect.gen(function* () {
      const filename = freshDb()
      yield* withLog(filename, (log) => log.append([rejected(1, "k1"), rejected(2)]))
      const before = rawRows(filename)
      withRaw(filename, (raw) => {
        expect(() => raw.prepare("UPDATE events SET type = 'x' WHERE seq = 1").run()).toThrow(
          "events are append-only: UPDATE refused"
        )
        expect(() => raw.prepare("UPDATE events SET payload = '{}'").run()).toThrow("events are append-only: UPDATE refused")
        expect(() => raw.prepare("DELETE FROM events WHERE seq = 2").run()).toThrow("events are append-only: DELETE refused")
        expect(() => raw.prepare("DELETE FROM events").run()).toThrow("events are append-only: DELETE refused")
      })
      expect(rawRows(filename)).toStrictEqual(before)
      yield* withLog(filename, (log) => Effect.map(log.verify, (r) => expect(r).toMatchObject({ _tag: "Intact", count: 2 })))
    }))
})

describe("SqliteEventLog.verify", () => {
  /** A log of 5 events (3 of them with dedupe keys), appended in two batches at different instants. */
  const fiveEvents = (filename: string) =>
    withLog(filename, (log) =>
      Effect.gen(function* () {
        yield* setTime("2025-05-01T00:00:00.000Z")
        yield* log.append([rejected(1, "k1"), rejected(2), rejected(3, "k3")])
        yield* setTime("2025-05-02T00:00:00.000Z")
        yield* log.append([rejected(4), rejected(5, "k5")])
        expect(yield* log.verify).toMatchObject({ _tag: "Intact", count: 5 })
      })
    )

  // As `mitigator verify` opens the log: a head file that disagrees is reported, not refused.
  const verify = (filename: string) =>
    Effect.flatMap(EventLog, (log) => log.verify).pipe(Effect.provide(SqliteEventLog.layer({ filename, create: true, checkHead: false })))

  const expectBroken = (result: unknown, seq: number, checked: number, reason: RegExp) => {
    expect(result).toMatchObject({ _tag: "Broken", seq, checked })
    expect((result as { reason: string }).reason).toMatch(reason)
  }

  it.effect("finds an empty log intact, with no head", () =>
    Effect.gen(function* () {
      const filename = freshDb()
      expect(yield* verify(filename)).toStrictEqual({ _tag: "Intact", count: 0, head: null, headFile: null })
    }))

  it.effect("finds an untouched log intact, with the last row as its head", () =>
    Effect.gen(function* () {
      const filename = freshDb()
      yield* fiveEvents(filename)
      const last = rawRows(filename)[4]!
      expect(yield* verify(filename)).toStrictEqual({ _tag: "Intact", count: 5, head: { seq: 5, hash: last.hash }, headFile: 5 })
      expect(last.seq).toBe(5)
    }))

  it.effect("finds a row whose payload was altered", () =>
    Effect.gen(function* () {
      const filename = freshDb()
      yield* fiveEvents(filename)
      tamper(filename, (raw) =>
        raw.prepare("UPDATE events SET payload = replace(payload, 'garbage 3', 'harmless 3') WHERE seq = 3").run()
      )
      expect(rawRows(filename)[2]?.payload).toContain("harmless 3")
      expectBroken(yield* verify(filename), 3, 2, /row 3 does not match its hash/)
    }))

  it.effect("finds a row whose recorded_at was altered", () =>
    Effect.gen(function* () {
      const filename = freshDb()
      yield* fiveEvents(filename)
      tamper(filename, (raw) => raw.prepare("UPDATE events SET recorded_at = '2025-05-01T00:00:00.001Z' WHERE seq = 4").run())
      expectBroken(yield* verify(filename), 4, 3, /row 4 does not match its hash/)
    }))

  it.effect("finds a row whose type or dedupe key was altered", () =>
    Effect.gen(function* () {
      const typeChanged = freshDb()
      yield* fiveEvents(typeChanged)
      tamper(typeChanged, (raw) => raw.prepare("UPDATE events SET type = 'FlowmonEventReceived' WHERE seq = 2").run())
      expectBroken(yield* verify(typeChanged), 2, 1, /row 2 does not match its hash/)

      const keyDropped = freshDb()
      yield* fiveEvents(keyDropped)
      tamper(keyDropped, (raw) => raw.prepare("UPDATE events SET dedupe_key = NULL WHERE seq = 5").run())
      expectBroken(yield* verify(keyDropped), 5, 4, /row 5 does not match its hash/)
    }))

  it.effect("names the missing seq when a middle row was deleted", () =>
    Effect.gen(function* () {
      const filename = freshDb()
      yield* fiveEvents(filename)
      tamper(filename, (raw) => raw.prepare("DELETE FROM events WHERE seq = 3").run())
      expectBroken(yield* verify(filename), 3, 2, /row 3 is missing \(the next row is 4\)/)
    }))

  it.effect("names seq 1 when the first row was deleted", () =>
    Effect.gen(function* () {
      const filename = freshDb()
      yield* fiveEvents(filename)
      tamper(filename, (raw) => raw.prepare("DELETE FROM events WHERE seq = 1").run())
      expectBroken(yield* verify(filename), 1, 0, /row 1 is missing \(the next row is 2\)/)
    }))

  it.effect("finds two rows whose contents were swapped at the first of them", () =>
    Effect.gen(function* () {
      const filename = freshDb()
      yield* fiveEvents(filename)
      tamper(filename, (raw) => {
        const rows = raw.prepare("SELECT seq, type, payload, dedupe_key FROM events WHERE seq IN (3, 5) ORDER BY seq").all() as Array<{
          type: string
          payload: string
          dedupe_key: string
        }>
        const [three, five] = [rows[0]!, rows[1]!]
        const put = raw.prepare("UPDATE events SET type = ?, payload = ?, dedupe_key = ? WHERE seq = ?")
        raw.transaction(() => {
          put.run(three.type, three.payload, null, 3) // free the unique key for a moment
          put.run(three.type, three.payload, three.dedupe_key, 5)
          put.run(five.type, five.payload, five.dedupe_key, 3)
        })()
      })
      const after = rawRows(filename)
      expect(after.map((r) => r.dedupe_key)).toStrictEqual(["k1", null, "k5", null, "k3"])
      expectBroken(yield* verify(filename), 3, 2, /row 3 does not match its hash/)
    }))

  it.effect("finds an altered row at the next row when the forger recomputed the altered row's own hash", () =>
    Effect.gen(function* () {
      const filename = freshDb()
      yield* fiveEvents(filename)
      tamper(filename, (raw) => {
        const rows = rawRows(filename)
        const [two, three] = [rows[1]!, rows[2]!]
        const payloadJson = three.payload.replace("garbage 3", "harmless 3")
        const forged = rowHash(two.hash, {
          seq: 3,
          recordedAt: three.recorded_at,
          type: three.type,
          payloadJson,
          dedupeKey: three.dedupe_key
        })
        raw.prepare("UPDATE events SET payload = ?, hash = ? WHERE seq = 3").run(payloadJson, forged)
      })
      expectBroken(yield* verify(filename), 4, 3, /row 4 does not match its hash/)
    }))

  it.effect("finds a replaced hash on the last row", () =>
    Effect.gen(function* () {
      const filename = freshDb()
      yield* fiveEvents(filename)
      tamper(filename, (raw) => raw.prepare("UPDATE events SET hash = ? WHERE seq = 5").run("f".repeat(64)))
      expectBroken(yield* verify(filename), 5, 4, /row 5 does not match its hash/)
    }))

  it.effect("walks a chain longer than one verify page", () =>
    Effect.gen(function* () {
      const filename = freshDb()
      yield* withLog(filename, (log) =>
        Effect.gen(function* () {
          for (let batch = 0; batch < 3; batch++) {
            yield* log.append(Array.from({ length: 2000 }, (_, i) => rejected(batch * 2000 + i)))
          }
        })
      )
      const rows = rawRows(filename)
      expect(yield* verify(filename)).toStrictEqual({ _tag: "Intact", count: 6000, head: { seq: 6000, hash: rows[5999]!.hash }, headFile: 6000 })
      tamper(filename, (raw) => raw.prepare("UPDATE events SET payload = '{}' WHERE seq = 5500").run())
      expectBroken(yield* verify(filename), 5500, 5499, /row 5500 does not match its hash/)
    }))
})

describe("opening the log", () => {
  it.effect("refuses a missing file when not asked to create it, and does not create it", () =>
    Effect.gen(function* () {
      const filename = freshDb()
      const error = yield* openError({ filename, create: false })
      expect(error._tag).toBe("EventLogError")
      expect(error.reason).toBe("missing")
      expect(error.message).toContain(`no event log at ${filename}`)
      expect(fs.existsSync(filename)).toBe(false)
      expect(fs.readdirSync(path.dirname(filename))).toStrictEqual([])
    }))

  it.effect("refuses to create a log in a directory that does not exist, naming the directory", () =>
    Effect.gen(function* () {
      const parent = freshDir()
      const dir = path.join(parent, "no", "such", "dir")
      const filename = path.join(dir, "events.db")
      const error = yield* openError({ filename, create: true })
      expect(error.reason).toBe("open")
      expect(error.message).toContain(`directory ${dir} does not exist`)
      expect(fs.readdirSync(parent)).toStrictEqual([])
    }))

  it.effect("refuses a file that is not a database, leaving it as it was", () =>
    Effect.gen(function* () {
      const filename = path.join(freshDir(), "notes.db")
      const text = "these are my notes, not a database\n".repeat(200)
      fs.writeFileSync(filename, text)
      const error: EventLogError = yield* openError({ filename, create: true })
      expect(error.reason).toBe("open")
      expect(error.message).toContain(filename)
      expect(fs.readFileSync(filename, "utf8")).toBe(text)
    }))

  it.effect("refuses a log whose schema is newer than this program knows", () =>
    Effect.gen(function* () {
      const filename = freshDb()
      yield* withLog(filename, (log) => log.append([rejected(1)]))
      withRaw(filename, (raw) => raw.prepare("INSERT INTO effect_sql_migrations (migration_id, name) VALUES (9999, 'from_the_future')").run())
      const error = yield* openError({ filename, create: true })
      expect(error.reason).toBe("schema")
      expect(error.message).toMatch(/schema version 9999/)
      expect(error.message).toMatch(/upgrade mitigator/)
    }))

  it.effect("creates and migrates a fresh file: the events table and its triggers exist, in WAL mode", () =>
    Effect.gen(function* () {
      const filename = freshDb()
      yield* withLog(filename, () => Effect.void)
      expect(fs.existsSync(filename)).toBe(true)
      withRaw(filename, (raw) => {
        const objects = raw
          .prepare("SELECT type, name FROM sqlite_master WHERE tbl_name = 'events' AND type IN ('table', 'trigger') ORDER BY type, name")
          .all()
        expect(objects).toStrictEqual([
          { type: "table", name: "events" },
          { type: "trigger", name: "events_refuse_delete" },
          { type: "trigger", name: "events_refuse_update" }
        ])
        const columns = (raw.prepare("PRAGMA table_info(events)").all() as Array<{ name: string }>).map((c) => c.name)
        expect(columns).toStrictEqual(["seq", "recorded_at", "type", "payload", "dedupe_key", "hash"])
        expect(raw.prepare("SELECT migration_id, name FROM effect_sql_migrations ORDER BY migration_id").all()).toStrictEqual([
          ...EXPECTED_MIGRATIONS
        ])
        expect(raw.pragma("journal_mode", { simple: true })).toBe("wal")
      })
    }))

  it.effect("reopens an existing log without migrating again, continuing its seq and its chain", () =>
    Effect.gen(function* () {
      const filename = freshDb()
      yield* setTime("2025-06-01T00:00:00.000Z")
      yield* withLog(filename, (log) => log.append([rejected(1, "k1"), rejected(2), rejected(3)]))
      const firstHead = rawRows(filename)[2]!

      yield* setTime("2025-06-02T00:00:00.000Z")
      yield* withLog(filename, (log) =>
        Effect.gen(function* () {
          expect(yield* log.verify).toStrictEqual({ _tag: "Intact", count: 3, head: { seq: 3, hash: firstHead.hash }, headFile: 3 })
          expect(yield* log.append([rejected(4, "k1"), rejected(5, "k5"), rejected(6)])).toStrictEqual([
            { _tag: "Duplicate", seq: 1 },
            { _tag: "Stored", seq: 4 },
            { _tag: "Stored", seq: 5 }
          ])
        })
      )

      const reopened = yield* withLog(filename, (log) => Effect.all([log.verify, readAll(log)]))
      const [result, events] = reopened
      expect(seqs(events)).toStrictEqual([1, 2, 3, 4, 5])
      expect(result).toStrictEqual({ _tag: "Intact", count: 5, head: { seq: 5, hash: events[4]!.hash }, headFile: 5 })
      // the first row appended after reopening chains to the head before it
      expect(events[3]!.hash).toBe(
        rowHash(firstHead.hash, {
          seq: 4,
          recordedAt: "2025-06-02T00:00:00.000Z",
          type: "InputRejected",
          payloadJson: canonicalJson(rejectedPayload(5)),
          dedupeKey: "k5"
        })
      )
      withRaw(filename, (raw) => {
        expect(raw.prepare("SELECT count(*) AS n FROM effect_sql_migrations").get()).toStrictEqual({ n: EXPECTED_MIGRATIONS.length })
        expect(raw.pragma("journal_mode", { simple: true })).toBe("wal")
      })
    }))

  it.effect("reads an existing log when opened without `create`", () =>
    Effect.gen(function* () {
      const filename = freshDb()
      yield* withLog(filename, (log) => log.append([rejected(1), rejected(2)]))
      const events = yield* Effect.flatMap(EventLog, readAll).pipe(Effect.provide(SqliteEventLog.layer({ filename, create: false })))
      expect(seqs(events)).toStrictEqual([1, 2])
    }))
})

describe("two connections on one file", () => {
  it.live(
    "an append waits for another writer that holds the write lock longer than the busy timeout, then chains onto its rows",
    () =>
      Effect.gen(function* () {
        const filename = freshDb()
        yield* withLog(filename, (log) =>
          Effect.gen(function* () {
            yield* log.append([rejected(1, "k1")])
            const [first] = yield* readAll(log)

            // another process takes the write lock, appends a row of its own, and commits only
            // after our append has already given up waiting once (the busy timeout is 5 s)
            const other = new Database(filename)
            other.exec("BEGIN IMMEDIATE")
            const recordedAt = new Date().toISOString()
            const theirs = { seq: 2, recordedAt, type: "InputRejected", payloadJson: canonicalJson(rejectedPayload(2)), dedupeKey: "k2" }
            other
              .prepare("INSERT INTO events (seq, recorded_at, type, payload, dedupe_key, hash) VALUES (?, ?, ?, ?, ?, ?)")
              .run(2, recordedAt, theirs.type, theirs.payloadJson, "k2", rowHash(first!.hash, theirs))
            const release = setTimeout(() => {
              other.exec("COMMIT")
              other.close()
            }, 500)

            const started = Date.now()
            const outcomes = yield* log.append([rejected(3, "k2"), rejected(4, "k4")]).pipe(
              Effect.ensuring(Effect.sync(() => clearTimeout(release)))
            )
            expect(Date.now() - started).toBeGreaterThanOrEqual(4000) // it really was kept waiting
            expect(other.open).toBe(false)
            // it looked for duplicates and the head only once it held the lock
            expect(outcomes).toStrictEqual([
              { _tag: "Duplicate", seq: 2 },
              { _tag: "Stored", seq: 3 }
            ])
            const events = yield* readAll(log)
            expect(events.map((e) => e.dedupeKey)).toStrictEqual(["k1", "k2", "k4"])
            expect(yield* log.verify).toStrictEqual({ _tag: "Intact", count: 3, head: { seq: 3, hash: events[2]!.hash }, headFile: 3 })
          })
        )
      }),
    30_000
  )

  it.scopedLive(
    "append interleaved batches concurrently without losing, repeating or duplicating anything",
    () =>
      Effect.gen(function* () {
        const filename = freshDb()
        const open = Effect.map(Layer.build(logLayer(filename)), Context.get(EventLog))
        const a = yield* open
        const b = yield* open

        const BATCHES = 20
        // each batch: 4 events of its own and one event whose key the other connection appends too
        const batch = (who: string, i: number): NewEvent[] => [
          ...Array.from({ length: 4 }, (_, j) => rejected(i * 10 + j, `${who}-${i}-${j}`)),
          rejected(i * 10 + 9, `shared-${i}`)
        ]
        const work = [...Array.from({ length: BATCHES }, (_, i) => ({ log: a, who: "a", i })), ...Array.from({ length: BATCHES }, (_, i) => ({ log: b, who: "b", i }))]
          .sort((x, y) => x.i - y.i) // interleave a and b
        const results = yield* Effect.all(
          work.map(({ i, log, who }) => Effect.map(Effect.zipRight(Effect.yieldNow(), log.append(batch(who, i))), (outcomes) => ({ who, i, outcomes }))),
          { concurrency: "unbounded" }
        )

        const storedSeqs = results.flatMap((r) => r.outcomes.flatMap((o) => (o._tag === "Stored" ? [o.seq] : [])))
        const expectedCount = BATCHES * 4 * 2 + BATCHES
        expect(storedSeqs.length).toBe(expectedCount)
        expect([...storedSeqs].sort((x, y) => x - y)).toStrictEqual(Array.from({ length: expectedCount }, (_, i) => i + 1))

        // each shared key was stored by exactly one connection; the other was told where it is
        for (let i = 0; i < BATCHES; i++) {
          const shared = results.filter((r) => r.i === i).map((r) => r.outcomes[4]!)
          expect(shared.map((o) => o._tag).sort()).toStrictEqual(["Duplicate", "Stored"])
          expect(shared[0]!.seq).toBe(shared[1]!.seq)
        }

        const events = yield* readAll(a)
        expect(seqs(events)).toStrictEqual(Array.from({ length: expectedCount }, (_, i) => i + 1))
        expect(new Set(events.map((e) => e.dedupeKey)).size).toBe(expectedCount)
        // a batch's own events are stored contiguously, in order, never mixed with another batch's
        for (const r of results) {
          const own = r.outcomes.slice(0, 4).map((o) => o.seq)
          expect(own).toStrictEqual([own[0]!, own[0]! + 1, own[0]! + 2, own[0]! + 3])
        }
        const head = { seq: expectedCount, hash: events[expectedCount - 1]!.hash }
        // Each writer moved the head file on, under the write lock: it ends at the last row.
        expect(yield* a.verify).toStrictEqual({ _tag: "Intact", count: expectedCount, head, headFile: expectedCount })
        expect(yield* b.verify).toStrictEqual({ _tag: "Intact", count: expectedCount, head, headFile: expectedCount })
      }),
    60_000
  )
})

describe("a head file written at most every headEveryMs (serve)", () => {
  it.effect("stays behind the log while commits come faster, and catches up when the log is closed", () =>
    Effect.gen(function* () {
      const filename = freshDb()
      // Given a log that writes its head file at most once an hour
      const whileOpen = yield* Effect.flatMap(EventLog, (log) =>
        Effect.gen(function* () {
          for (const i of [1, 2, 3]) yield* log.append([rejected(i)])
          return yield* log.verify
        })
      ).pipe(Effect.provide(SqliteEventLog.layer({ filename, create: true, headEveryMs: 3_600_000 })))
      // Then the head file names the first commit's head (behind the log, which is allowed)
      expect(whileOpen).toMatchObject({ _tag: "Intact", count: 3, headFile: 1 })
      // And once the log is closed it names the last
      expect(yield* withLog(filename, (log) => log.verify)).toMatchObject({ _tag: "Intact", count: 3, headFile: 3 })
    })
  )
})

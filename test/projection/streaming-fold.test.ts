/**
 * The streaming fold (EventLog.fold, which the projection folds with): on real logs with random
 * events of every type the projection reads, among events it does not, recorded at many times,
 * it hands over exactly the events a page-by-page read returns, for any range; and the projection
 * it builds equals the fold of those events, now and as of any time. Small batches make the
 * reads cross batch boundaries. A fold that drops what expires by its horizon (the newest event's
 * time) is evaluated the same as one that keeps everything.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as fc from "effect/FastCheck"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as TestContext from "effect/TestContext"
import * as path from "node:path"
import type { NewEvent } from "../../src/domain/Events.js"
import { desiredAt, evolveWithHorizon, initialState, project, type LoggedEvent } from "../../src/domain/Project.js"
import { EventLog, type EventLogService, type FoldedEvent, type FoldRange } from "../../src/eventlog/EventLog.js"
import { GENESIS_HASH } from "../../src/eventlog/HashChain.js"
import * as SqliteEventLog from "../../src/eventlog/SqliteEventLog.js"
import { restoreState, serializeState } from "../../src/projection/Checkpoint.js"
import { desiredOf, openProjection } from "../../src/projection/desiredState.js"
import { tempDir } from "../support/cli.js"
import { iso, MINUTE, randomLog } from "./randomEvents.js"

/** An event the projection does not read, recorded between the others. */
const noise = (n: number): NewEvent => ({
  type: "InputRejected",
  dedupeKey: null,
  payload: { instance: "fm1", line: n, reason: "noise", format: null, raw: "x", rawBytes: 1, truncated: false }
})

/** Writes `events` (and `noiseEvery`-spaced noise) into a new log, one transaction per recording time. */
const writeLog = (db: string, events: ReadonlyArray<LoggedEvent>, noiseEvery: number) =>
  Effect.gen(function* () {
    const log = yield* EventLog
    let n = 0
    for (let i = 0; i < events.length; ) {
      const at = events[i]!.recordedAt
      const batch: NewEvent[] = []
      for (; i < events.length && events[i]!.recordedAt === at; i++) {
        if (++n % noiseEvery === 0) batch.push(noise(n))
        batch.push({ type: events[i]!.type, payload: events[i]!.payload, dedupeKey: null } as NewEvent)
      }
      yield* TestClock.setTime(Date.parse(at))
      yield* log.append(batch)
    }
  }).pipe(Effect.provide(SqliteEventLog.layer({ filename: db, create: true })), Effect.provide(TestContext.TestContext))

const withLog = <A, E>(db: string, batch: number, f: (log: EventLogService) => Effect.Effect<A, E>) =>
  Effect.flatMap(EventLog, f).pipe(Effect.provide(SqliteEventLog.layer({ filename: db, create: false, foldBatch: batch })))

const folded = (log: EventLogService, range: FoldRange) =>
  Effect.gen(function* () {
    const seen: FoldedEvent[] = []
    const end = yield* log.fold(range, (e) => void seen.push(e))
    return { seen, end }
  })

const paged = (log: EventLogService, range: FoldRange) => log.read({ ...range, limit: 1_000_000 })

const scenario = fc.record({
  events: randomLog,
  noiseEvery: fc.integer({ min: 1, max: 5 }),
  batch: fc.integer({ min: 1, max: 7 }),
  afterSeq: fc.nat({ max: 60 }),
  cut: fc.option(fc.nat({ max: 45 }), { nil: undefined }),
  laterMin: fc.integer({ min: 0, max: 2000 })
})

describe("a fold that knows its horizon", () => {
  it("keeps nothing that could be in force at or after it: for random logs and horizons up to the last event, the state is the same then and later", () => {
    fc.assert(
      fc.property(randomLog, fc.nat(), fc.nat({ max: 600 }), fc.nat(), fc.integer({ min: 0, max: 2000 }), (events, pick, earlierMin, cutAt, laterMin) => {
        const horizon = iso(Date.parse(events[pick % events.length]!.recordedAt) - earlierMin * MINUTE)
        const last = events[events.length - 1]!.recordedAt
        if (horizon > last) return
        // A checkpoint half-way, restored, folded on with the same horizon.
        const cut = cutAt % (events.length + 1)
        const head = initialState()
        for (const e of events.slice(0, cut)) evolveWithHorizon(head, e, horizon)
        const state = restoreState(serializeState(head))!
        for (const e of events.slice(cut)) evolveWithHorizon(state, e, horizon)
        for (const t of [last, iso(Date.parse(last) + laterMin * MINUTE)]) {
          expect(JSON.stringify(desiredAt(state, t))).toBe(JSON.stringify(project(events, t)))
        }
      }),
      { numRuns: 1000 }
    )
  })
})

describe("the streaming fold", () => {
  it("hands over what a paged read returns, for any range, and the projection equals the fold of it", async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ events, noiseEvery, batch, afterSeq, cut, laterMin }) => {
        const db = path.join(tempDir("mitigator-fold-"), "events.db")
        await Effect.runPromise(writeLog(db, events, noiseEvery))
        const until = cut === undefined ? undefined : events[Math.min(cut, events.length - 1)]!.recordedAt
        await Effect.runPromise(
          withLog(db, batch, (log) =>
            Effect.gen(function* () {
              for (const only of ["projection", undefined] as const) {
                const range: FoldRange = { afterSeq, ...(only === undefined ? {} : { only }), ...(until === undefined ? {} : { until }) }
                const expected = yield* paged(log, range)
                // Every row of the range is read and checked, whatever the fold hands over.
                const { only: _, ...everyType } = range
                const read = yield* paged(log, everyType)
                const { seen, end } = yield* folded(log, range)
                expect(seen).toEqual(expected.map(({ seq, recordedAt, type, payload, hash }) => ({ seq, recordedAt, type, payload, hash })))
                const last = read[read.length - 1]
                expect(end).toEqual({
                  folded: expected.length,
                  checked: read.length,
                  last: last === undefined ? undefined : { seq: last.seq, recordedAt: last.recordedAt, hash: last.hash }
                })
              }
              const rows = yield* paged(log, { only: "projection", ...(until === undefined ? {} : { until }) })
              const read = yield* paged(log, until === undefined ? {} : { until })
              const projection = yield* openProjection(log, until === undefined ? {} : { cutAt: until })
              // The projection goes on from the last row read, whatever its type.
              expect({ seq: projection.lastSeq, hash: projection.lastHash }).toEqual({ seq: read[read.length - 1]?.seq ?? 0, hash: read[read.length - 1]?.hash ?? GENESIS_HASH })
              const lastAt = rows[rows.length - 1]?.recordedAt ?? events[0]!.recordedAt
              for (const t of [lastAt, iso(Date.parse(lastAt) + laterMin * MINUTE)]) {
                expect(JSON.stringify(desiredOf(projection, t))).toBe(JSON.stringify(project(rows, t)))
              }
            })
          )
        )
      }),
      { numRuns: 60 }
    )
  }, 120_000)

  it("stops at the first event recorded after `until`, and an empty range folds nothing", async () => {
    const db = path.join(tempDir("mitigator-fold-"), "events.db")
    const events = fc.sample(randomLog, { numRuns: 1, seed: 7 })[0]!
    await Effect.runPromise(writeLog(db, events, 2))
    const { before, after } = await Effect.runPromise(
      withLog(db, 3, (log) =>
        Effect.all({ before: folded(log, { until: "2000-01-01T00:00:00.000Z" }), after: folded(log, { afterSeq: 1_000_000 }) })
      )
    )
    expect(before).toEqual({ seen: [], end: { folded: 0, checked: 0, last: undefined } })
    expect(after).toEqual({ seen: [], end: { folded: 0, checked: 0, last: undefined } })
  })

  it("a step that throws is a defect of the fold, not an error of the log, and the log stays usable", async () => {
    const db = path.join(tempDir("mitigator-fold-"), "events.db")
    const events = fc.sample(randomLog, { numRuns: 1, seed: 11 })[0]!
    await Effect.runPromise(writeLog(db, events, 3))
    const exit = await Effect.runPromiseExit(
      withLog(db, 2, (log) =>
        log.fold({}, () => {
          throw new Error("boom")
        })
      )
    )
    expect(Exit.isFailure(exit) && Cause.isDie(exit.cause) && Option.isNone(Cause.failureOption(exit.cause))).toBe(true)
    const again = await Effect.runPromise(withLog(db, 2, (log) => folded(log, {})))
    expect(again.end.folded).toBeGreaterThan(0)
  })
})

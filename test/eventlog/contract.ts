/**
 * The event log's contract: the same specifications, run against every backend (SQLite, and
 * PostgreSQL on a throwaway server). A backend gives fresh, empty logs and a way to reach behind
 * the log's back (alter or delete a row, as someone with access to the storage could).
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import * as TestContext from "effect/TestContext"
import { describe, expect, it } from "vitest"
import type { NewEvent } from "../../src/domain/Events.js"
import { EventLog, type EventLogError, type EventLogService, type FoldedEvent } from "../../src/eventlog/EventLog.js"
import { GENESIS_HASH, rowHash } from "../../src/eventlog/HashChain.js"
import { canonicalJson } from "../../src/domain/CanonicalJson.js"
import { runCli } from "../support/cli.js"
import { adsLine } from "../support/fixtures.js"
import { detection, rejected, rejectedPayload } from "./support.js"

export interface LogOptions {
  readonly create?: boolean
  readonly foldBatch?: number
  readonly checkHead?: boolean
}

/** One empty log of a backend, and hands behind its back. */
export interface ContractLog {
  readonly layer: (options?: LogOptions) => Layer.Layer<EventLog, EventLogError>
  /** replaces the stored payload text of row `seq` (its hash left as it was) */
  readonly alterPayload: (seq: number, payloadJson: string) => void
  /** deletes row `seq` (and nothing else) */
  readonly deleteRow: (seq: number) => void
  /** what `--db` is for this log, and the environment a CLI process needs to reach it */
  readonly cli: { readonly db: string; readonly env: Record<string, string> }
}

export interface Backend {
  readonly name: string
  readonly freshLog: () => Promise<ContractLog>
}

const run = <A>(log: ContractLog, f: (log: EventLogService) => Effect.Effect<A, EventLogError>, options: LogOptions = {}): Promise<A> =>
  Effect.runPromise(Effect.flatMap(EventLog, f).pipe(Effect.provide(log.layer({ create: true, ...options })), Effect.provide(TestContext.TestContext)))

const runError = (log: ContractLog, f: (log: EventLogService) => Effect.Effect<unknown, EventLogError>, options: LogOptions = {}): Promise<EventLogError> =>
  Effect.runPromise(Effect.flip(Effect.flatMap(EventLog, f).pipe(Effect.provide(log.layer({ create: true, ...options })), Effect.provide(TestContext.TestContext))))

const at = (iso: string) => TestClock.setTime(Date.parse(iso))
const all = (log: EventLogService) => log.read({ limit: 1_000_000 })
const collect = (log: EventLogService, range: Parameters<EventLogService["fold"]>[0] = {}) =>
  Effect.gen(function* () {
    const seen: FoldedEvent[] = []
    const end = yield* log.fold(range, (e) => seen.push(e))
    return { seen, end }
  })

export const eventLogContract = (backend: Backend): void => {
  describe(`the event log contract on ${backend.name}`, () => {
    describe("append", () => {
      it("stores events with seq 1..n, recordedAt the append's time, payloads as given, each row chained to the one before", async () => {
        const log = await backend.freshLog()
        const events = await run(log, (l) =>
          Effect.gen(function* () {
            yield* at("2025-11-03T15:13:05.123Z")
            expect(yield* l.append([rejected(1), { type: "FlowmonEventReceived", payload: detection("4711"), dedupeKey: "ids:4711" }])).toStrictEqual([
              { _tag: "Stored", seq: 1 },
              { _tag: "Stored", seq: 2 }
            ])
            yield* at("2025-11-03T16:00:00.000Z")
            expect(yield* l.append([rejected(3)])).toStrictEqual([{ _tag: "Stored", seq: 3 }])
            expect(yield* l.append([])).toStrictEqual([])
            return yield* all(l)
          })
        )
        expect(events.map((e) => e.seq)).toStrictEqual([1, 2, 3])
        expect(events.map((e) => e.recordedAt)).toStrictEqual(["2025-11-03T15:13:05.123Z", "2025-11-03T15:13:05.123Z", "2025-11-03T16:00:00.000Z"])
        expect(events.map((e) => e.payload)).toStrictEqual([rejectedPayload(1), detection("4711"), rejectedPayload(3)])
        let previous = GENESIS_HASH
        for (const e of events) {
          expect(e.hash).toBe(rowHash(previous, { seq: e.seq, recordedAt: e.recordedAt, type: e.type, payloadJson: canonicalJson(e.payload), dedupeKey: e.dedupeKey }))
          previous = e.hash
        }
      })

      it("reports a dedupe key already in the log (or earlier in the batch) as a Duplicate of the original, and stores it once", async () => {
        const log = await backend.freshLog()
        const events = await run(log, (l) =>
          Effect.gen(function* () {
            yield* l.append([rejected(1, "a"), rejected(2, "b")])
            expect(yield* l.append([rejected(3, "b"), rejected(4, "c"), rejected(5, "c"), rejected(6)])).toStrictEqual([
              { _tag: "Duplicate", seq: 2 },
              { _tag: "Stored", seq: 3 },
              { _tag: "Duplicate", seq: 3 },
              { _tag: "Stored", seq: 4 }
            ])
            return yield* all(l)
          })
        )
        expect(events.map((e) => e.dedupeKey)).toStrictEqual(["a", "b", "c", null])
      })

      it("stores nothing of a batch holding a payload that has no JSON form (all or none)", async () => {
        const log = await backend.freshLog()
        const bad: NewEvent = { type: "InputRejected", payload: { ...rejectedPayload(9), line: 10n } as never, dedupeKey: null }
        const events = await run(log, (l) =>
          Effect.gen(function* () {
            yield* l.append([rejected(1, "a")])
            const exit = yield* Effect.exit(l.append([rejected(2, "b"), rejected(3), bad]))
            expect(exit._tag).toBe("Failure")
            expect(yield* l.append([rejected(4, "b")])).toStrictEqual([{ _tag: "Stored", seq: 2 }])
            return yield* all(l)
          })
        )
        expect(events.map((e) => e.seq)).toStrictEqual([1, 2])
      })

      it("never lets recordedAt go back along seq when the clock is set back, and records how far it was behind", async () => {
        const log = await backend.freshLog()
        const events = await run(log, (l) =>
          Effect.gen(function* () {
            yield* at("2025-11-03T16:00:00.000Z")
            yield* l.append([rejected(1)])
            yield* at("2025-11-03T15:00:00.000Z")
            const seen = yield* l.transaction((tx) => Effect.as(tx.append([rejected(2)]), { recordedAt: tx.recordedAt, clock: tx.clock, behind: tx.clockBehindMs }))
            expect(seen).toStrictEqual({ recordedAt: "2025-11-03T16:00:00.000Z", clock: "2025-11-03T15:00:00.000Z", behind: 3_600_000 })
            return yield* all(l)
          })
        )
        expect(events.map((e) => [e.type, e.recordedAt])).toStrictEqual([
          ["InputRejected", "2025-11-03T16:00:00.000Z"],
          ["ClockSkewObserved", "2025-11-03T16:00:00.000Z"],
          ["InputRejected", "2025-11-03T16:00:00.000Z"]
        ])
      })

      it("answers the policy in force, the operators' allows, an address's offences and its newest ledger event inside a transaction", async () => {
        const log = await backend.freshLog()
        const found = await run(log, (l) =>
          Effect.gen(function* () {
            yield* at("2025-11-03T10:00:00.000Z")
            yield* l.append([
              { type: "PolicyActivated", payload: { n: 1 } as never, dedupeKey: null },
              { type: "AllowRequested", payload: { cidr: "192.0.2.0/24", until: null } as never, dedupeKey: null },
              { type: "BlockDecided", payload: { cause: { source: "198.51.100.7", seq: 9 } } as never, dedupeKey: null },
              { type: "BlockDecided", payload: { cause: { source: "198.51.100.7", seq: 9 } } as never, dedupeKey: null },
              { type: "TargetChanged", payload: { target: "lm1", cidr: "198.51.100.7/32", n: 1 } as never, dedupeKey: null },
              { type: "PolicyActivated", payload: { n: 2 } as never, dedupeKey: null },
              { type: "TargetChanged", payload: { target: "lm1", cidr: "198.51.100.7/32", n: 2 } as never, dedupeKey: null },
              { type: "TargetChanged", payload: { target: "lm2", cidr: "198.51.100.7/32", n: 3 } as never, dedupeKey: null }
            ])
            yield* at("2025-11-03T11:00:00.000Z")
            yield* l.append([{ type: "BlockDecided", payload: { cause: { source: "198.51.100.7", seq: 12 } } as never, dedupeKey: null }])
            const inTx = yield* l.transaction((tx) =>
              Effect.all({ policy: tx.latestPolicy, allows: tx.operatorAllows, offences: tx.offencesSince(["198.51.100.7", "203.0.113.1"], "2025-11-03T09:00:00.000Z") })
            )
            const ledger = yield* l.latestLedgerEvent("lm1", "198.51.100.7/32")
            const projectionTime = yield* l.newestProjectionTime
            return { ...inTx, ledger, projectionTime }
          })
        )
        expect(found.policy?.payload).toStrictEqual({ n: 2 })
        expect(found.allows).toStrictEqual([{ cidr: "192.0.2.0/24", until: null }])
        expect([...found.offences]).toStrictEqual([["198.51.100.7", ["2025-11-03T10:00:00.000Z", "2025-11-03T11:00:00.000Z"]]])
        expect(found.ledger?.payload).toStrictEqual({ target: "lm1", cidr: "198.51.100.7/32", n: 2 })
        expect(found.projectionTime).toBe("2025-11-03T11:00:00.000Z")
      })
    })

    describe("replay as of a time", () => {
      it("reads and folds only the events recorded up to `until`, and folds only the projection's types when asked", async () => {
        const log = await backend.freshLog()
        const { page, folded, projection } = await run(log, (l) =>
          Effect.gen(function* () {
            yield* at("2025-11-03T10:00:00.000Z")
            yield* l.append([rejected(1), { type: "PolicyActivated", payload: { n: 1 } as never, dedupeKey: null }])
            yield* at("2025-11-03T11:00:00.000Z")
            yield* l.append([rejected(3)])
            const page = yield* l.read({ limit: 10, until: "2025-11-03T10:30:00.000Z" })
            const folded = yield* collect(l, { until: "2025-11-03T10:30:00.000Z" })
            const projection = yield* collect(l, { only: "projection" })
            return { page, folded, projection }
          })
        )
        expect(page.map((e) => e.seq)).toStrictEqual([1, 2])
        expect(folded.seen.map((e) => e.seq)).toStrictEqual([1, 2])
        expect(folded.end).toMatchObject({ folded: 2, checked: 2, last: { seq: 2, recordedAt: "2025-11-03T10:00:00.000Z" } })
        expect(projection.seen.map((e) => e.type)).toStrictEqual(["PolicyActivated"])
        expect(projection.end.checked).toBe(3)
      })

      it("reads only the events of the types asked for, after a seq (what can lift a block since its decision)", async () => {
        const log = await backend.freshLog()
        const page = await run(log, (l) =>
          Effect.gen(function* () {
            yield* l.append([
              rejected(1),
              { type: "UnblockRequested", payload: { cidr: "192.0.2.1/32", target: null } as never, dedupeKey: null },
              rejected(3),
              { type: "AllowRequested", payload: { cidr: "192.0.2.0/24", until: null } as never, dedupeKey: null },
              { type: "PolicyActivated", payload: { n: 1 } as never, dedupeKey: null }
            ])
            return yield* l.read({ afterSeq: 2, limit: 10, types: ["UnblockRequested", "AllowRequested"] })
          })
        )
        expect(page.map((e) => [e.seq, e.type])).toStrictEqual([[4, "AllowRequested"]])
      })

      it("folds a log many batches long in order, each row once, and goes on from where an earlier fold ended", async () => {
        const log = await backend.freshLog()
        const { first, rest } = await run(
          log,
          (l) =>
            Effect.gen(function* () {
              yield* l.append(Array.from({ length: 23 }, (_, i) => rejected(i + 1)))
              const first = yield* collect(l)
              yield* l.append(Array.from({ length: 5 }, (_, i) => rejected(i + 24)))
              const rest = yield* collect(l, { afterSeq: first.end.last!.seq, afterHash: first.end.last!.hash })
              return { first, rest }
            }),
          { foldBatch: 4 }
        )
        expect(first.seen.map((e) => e.seq)).toStrictEqual(Array.from({ length: 23 }, (_, i) => i + 1))
        expect(rest.seen.map((e) => e.seq)).toStrictEqual([24, 25, 26, 27, 28])
      })
    })

    describe("the hash chain", () => {
      it("verifies an untouched log intact, with its newest row as the head", async () => {
        const log = await backend.freshLog()
        const result = await run(log, (l) => Effect.zipRight(l.append([rejected(1), rejected(2), rejected(3)]), l.verify))
        expect(result).toMatchObject({ _tag: "Intact", count: 3, head: { seq: 3 }, headFile: 3 })
      })

      it("finds a row whose payload was altered behind the log's back: verify reports it, a fold and an append refuse the log", async () => {
        const log = await backend.freshLog()
        await run(log, (l) => l.append([rejected(1), rejected(2), rejected(3)]))
        log.alterPayload(2, JSON.stringify({ ...rejectedPayload(2), reason: "forged" }))
        expect(await run(log, (l) => l.verify, { checkHead: false })).toMatchObject({ _tag: "Broken", seq: 2, checked: 1 })
        const folded = await runError(log, (l) => collect(l))
        expect(folded.reason).toBe("tampered")
        expect(folded.message).toMatch(/at seq 2: row 2 does not match its hash/)
        const appended = await runError(log, (l) => l.append([rejected(4)]))
        expect(appended.reason).toBe("tampered")
      })

      it("refuses a log whose newest row was cut off: the head remembers how far it went", async () => {
        const log = await backend.freshLog()
        await run(log, (l) => l.append([rejected(1), rejected(2), rejected(3)]))
        log.deleteRow(3)
        const verified = await run(log, (l) => l.verify, { checkHead: false })
        expect(verified).toMatchObject({ _tag: "Broken", seq: 3 })
        expect((verified as { reason: string }).reason).toMatch(/cut off/)
        const opened = await runError(log, (l) => l.append([rejected(4)]))
        expect(opened.reason).toBe("tampered")
        expect(opened.message).toMatch(/row 3 was cut off/)
      })
    })

    describe("checkpoints", () => {
      it("gives back the newest checkpoint bound to its CheckpointSaved row, and none once the row it names is altered", async () => {
        const log = await backend.freshLog()
        const saved = await run(log, (l) =>
          Effect.gen(function* () {
            yield* at("2025-11-03T10:00:00.000Z")
            yield* l.append([rejected(1), rejected(2)])
            const [second] = yield* l.read({ afterSeq: 1, limit: 1 })
            yield* l.saveCheckpoint({ version: "v1", seq: 2, recordedAt: second!.recordedAt, eventHash: second!.hash, state: '{"n":2}' })
            yield* l.append([rejected(4)])
            const latest = yield* l.latestCheckpoint("v1")
            const before = yield* l.latestCheckpoint("v1", "2025-11-03T09:00:00.000Z")
            const other = yield* l.latestCheckpoint("v2")
            const bound = (yield* all(l)).find((e) => e.type === "CheckpointSaved")
            return { latest, before, other, bound }
          })
        )
        expect(saved.latest).toMatchObject({ version: "v1", seq: 2, state: '{"n":2}' })
        expect(saved.before).toBeUndefined()
        expect(saved.other).toBeUndefined()
        expect(saved.bound).toMatchObject({ seq: 3, dedupeKey: "checkpoint:v1:2" })
        log.alterPayload(2, JSON.stringify({ ...rejectedPayload(2), reason: "forged" }))
        const error = await runError(log, (l) => l.latestCheckpoint("v1"), { checkHead: false })
        expect(error.reason).toBe("tampered")
      })
    })

    describe("many writers", () => {
      it(
        "keeps every event of several processes appending at once: each acknowledged event once, seq gapless, the chain intact",
        async () => {
          const log = await backend.freshLog()
          const writers = 3
          const perWriter = 8
          const results = await Promise.all(
            Array.from({ length: writers }, (_, w) =>
              Promise.all(
                Array.from({ length: 2 }, (_, half) =>
                  runCli(["append", "--db", log.cli.db, "--instance", `fm${w}`], {
                    stdin: Array.from({ length: perWriter / 2 }, (_, i) => adsLine(`${w}0${half}0${i}`)).join("\n") + "\n",
                    env: log.cli.env
                  })
                )
              )
            )
          )
          for (const r of results.flat()) expect(r.code, r.stderr).toBe(0)
          const events = await run(log, all)
          const received = events.filter((e) => e.type === "FlowmonEventReceived")
          expect(received).toHaveLength(writers * perWriter)
          expect(new Set(received.map((e) => e.dedupeKey)).size).toBe(writers * perWriter)
          expect(events.map((e) => e.seq)).toStrictEqual(events.map((_, i) => i + 1))
          expect(await run(log, (l) => l.verify)).toMatchObject({ _tag: "Intact", count: events.length })
        },
        120_000
      )
    })
  })
}


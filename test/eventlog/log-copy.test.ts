/**
 * The bulk import copy-log uses (LogCopy.ts), on both backends: it takes rows with their seq and
 * hash as given only where they continue the chain the log ends with now. A batch into a log that
 * is not where the copy left it (not empty at first, or written meanwhile), or with a row whose
 * hash does not follow, writes nothing.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { describe, expect, it } from "vitest"
import { EventLog, type EventLogError, type EventLogService } from "../../src/eventlog/EventLog.js"
import { EMPTY_END, type LogCopyService, type RawEvent } from "../../src/eventlog/LogCopy.js"
import * as PgEventLog from "../../src/eventlog/PgEventLog.js"
import * as PgLogCopy from "../../src/eventlog/PgLogCopy.js"
import * as SqliteEventLog from "../../src/eventlog/SqliteEventLog.js"
import * as SqliteLogCopy from "../../src/eventlog/SqliteLogCopy.js"
import { usePostgres } from "../support/usePostgres.js"
import { freshDb, rejected } from "./support.js"

const server = usePostgres()

interface Opened {
  readonly log: EventLogService
  readonly copy: LogCopyService
}

type Backend = { readonly name: string; readonly open: () => Promise<Effect.Effect<Opened, EventLogError, Scope.Scope>> }

const opened = (layer: Layer.Layer<EventLog, EventLogError>, copy: Effect.Effect<LogCopyService, EventLogError, Scope.Scope>) =>
  Effect.gen(function* () {
    const log = Context.get(yield* Layer.build(layer), EventLog)
    return { log, copy: yield* copy }
  })

const backends: ReadonlyArray<Backend> = [
  {
    name: "SQLite",
    open: async () => {
      const filename = freshDb()
      return opened(SqliteEventLog.layer({ filename, create: true }), SqliteLogCopy.make(filename))
    }
  },
  {
    name: "PostgreSQL",
    open: async () => {
      const db = await server().createDatabase()
      const target = { url: db.url, passwordFile: db.passwordFile }
      return opened(PgEventLog.layer({ ...target, create: true }), PgLogCopy.make(target))
    }
  }
]

/** Three rows of a real chain, as stored: appended to a scratch log of the same backend, read back raw. */
const sourceRows = (open: Backend["open"]) =>
  open().then((source) =>
    Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const { log, copy } = yield* source
          yield* log.append([rejected(1), rejected(2), rejected(3)])
          return yield* copy.rows(0, 3, 10)
        })
      )
    )
  )

const run = <A, E>(open: Backend["open"], f: (target: Opened) => Effect.Effect<A, E>) =>
  open().then((target) => Effect.runPromise(Effect.scoped(Effect.flatMap(target, f))))

describe.each(backends)("the bulk import on $name", ({ open }) => {
  it("takes the rows as given into an empty log, in batches, with their seq and hash; the log then verifies and appends after them", async () => {
    const rows = await sourceRows(open)
    const result = await run(open, ({ log, copy }) =>
      Effect.gen(function* () {
        const end = yield* copy.importRows(EMPTY_END, rows.slice(0, 2))
        yield* copy.importRows(end, rows.slice(2))
        const verified = yield* log.verify
        const next = yield* log.append([rejected(4)])
        return { copied: yield* copy.rows(0, 3, 10), verified, next }
      })
    )
    expect(result.copied).toStrictEqual(rows)
    expect(result.verified).toMatchObject({ _tag: "Intact", count: 3, head: { seq: 3, hash: rows[2]!.hash } })
    expect(result.next).toStrictEqual([{ _tag: "Stored", seq: 4 }])
  })

  it("refuses a first batch into a log that is not empty, and writes nothing", async () => {
    const rows = await sourceRows(open)
    const result = await run(open, ({ log, copy }) =>
      Effect.gen(function* () {
        yield* log.append([rejected(9)])
        const refused = yield* Effect.flip(copy.importRows(EMPTY_END, rows))
        return { refused, contents: yield* copy.contents }
      })
    )
    expect(result.refused.message).toMatch(/it ends at seq 1, not where the copy left it \(seq 0\): something else wrote to it; nothing of this batch was written/)
    expect(result.contents).toStrictEqual({ events: 1, checkpoints: 0 })
  })

  it("refuses the next batch when another writer appended between two batches", async () => {
    const rows = await sourceRows(open)
    const result = await run(open, ({ log, copy }) =>
      Effect.gen(function* () {
        const end = yield* copy.importRows(EMPTY_END, rows.slice(0, 1))
        yield* log.append([rejected(9)])
        const refused = yield* Effect.flip(copy.importRows(end, rows.slice(1)))
        return { refused, contents: yield* copy.contents }
      })
    )
    expect(result.refused.message).toMatch(/it ends at seq 2, not where the copy left it \(seq 1\)/)
    expect(result.contents.events).toBe(2)
  })

  it("refuses a batch with a row that does not follow the one before it (altered, or a gap), and writes none of the batch", async () => {
    const rows = await sourceRows(open)
    const altered: RawEvent = { ...rows[1]!, payloadJson: rows[1]!.payloadJson.replace("garbage", "rubbish") }
    const result = await run(open, ({ copy }) =>
      Effect.gen(function* () {
        const alteredRefused = yield* Effect.flip(copy.importRows(EMPTY_END, [rows[0]!, altered, rows[2]!]))
        const gapRefused = yield* Effect.flip(copy.importRows(EMPTY_END, [rows[0]!, rows[2]!]))
        return { alteredRefused, gapRefused, contents: yield* copy.contents }
      })
    )
    expect(result.alteredRefused.message).toMatch(/row 2 does not match its hash/)
    expect(result.gapRefused.message).toMatch(/row 3 does not follow seq 1/)
    expect(result.contents).toStrictEqual({ events: 0, checkpoints: 0 })
  })
})

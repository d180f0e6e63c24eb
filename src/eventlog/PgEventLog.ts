/**
 * The event log on PostgreSQL, shared by many writer processes on many hosts: the same rows,
 * canonical JSON, hash chain, gapless seq, dedupe keys and checkpoints as SqliteEventLog.ts, and
 * the same checks before anything is acted on.
 * - Every write transaction (READ COMMITTED) first takes the head lock (HEAD_LOCK_DEFAULT), then
 *   reads the newest rows: seq is assigned here from the head, never by a sequence (a rolled-back
 *   sequence value would leave a gap), and each writer extends the chain the one before committed.
 * - The head row (events_head: seq, hash, time of the newest row) moves in the same statement as
 *   the rows; it plays the part of SQLite's head file: a log cut off at its end, rewritten there,
 *   or extended behind mitigator's back no longer meets it, and is refused as tampered.
 * - Dedupe keys are UNIQUE across writers; keys are looked up under the head lock, so a key
 *   another writer stored first comes out as Duplicate. A serialization failure, deadlock or
 *   unique violation all the same (40001, 40P01, 23505) runs the whole transaction again, a
 *   bounded number of times.
 * - A lost connection fails the append with a clear error: nothing is acknowledged that the
 *   server did not confirm committed.
 * - Folds and verify read in keyset batches (`seq > $last ORDER BY seq LIMIT n`), checking every
 *   row against the one before.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import { SqlError } from "@effect/sql/SqlError"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import { canonicalJson } from "../domain/CanonicalJson.js"
import { checkpointDedupeKey, withFence, type NewEvent } from "../domain/Events.js"
import { HeldLease, type HeldLeaseService } from "../reconciler/Lease.js"
import { CLOCK_TOLERANCE_MS } from "../domain/Time.js"
import { alteredRow, missingRow, tampered as tamperedLog, type ChainBreak } from "./ChainBreak.js"
import { EventLog, EventLogError, PROJECTION_EVENT_TYPES, type AppendOutcome, type EventLogService, type LogTransaction } from "./EventLog.js"
import { followsIn, GENESIS_HASH, rowHash } from "./HashChain.js"
import { chained, checkedCheckpoint, newestCheckpointRow, sha256, tailBreak, toStored, type EventRow } from "./EventRows.js"
import { commitFailureAsError, makePgClient, pgTransaction, PgConnectionError, redactedUrl, type PgTarget } from "./PgConnection.js"
import { appliedVersion, migrate } from "./PgMigrations.js"

export interface PgEventLogOptions extends PgTarget {
  /** create the schema when the database has none (append); readers refuse a database without a log */
  readonly create: boolean
  /** rows per query of a fold (tests use small ones to cross batch boundaries) */
  readonly foldBatch?: number
  /** compare the log with its head row when it is opened (default true; verify and doctor report instead) */
  readonly checkHead?: boolean
  /**
   * How writers take turns at the head (default "advisory", see HEAD_LOCK_DEFAULT): "advisory"
   * takes pg_advisory_xact_lock first, "row" locks the events_head row (SELECT … FOR UPDATE).
   * Every writer of one log must take the same one: only the bench picks.
   */
  readonly headLock?: "row" | "advisory"
}

/**
 * The advisory lock: measured with bench/concurrentAppend.ts (3 processes of single-event
 * appends, one local PostgreSQL 15 with fsync off, a loaded 2-core machine), in events/s over
 * four rounds: head row FOR UPDATE 225, 318, 188, 194; advisory lock 292, 319, 227, 278. A
 * waiter on the advisory lock reads the head afresh once it has it; a waiter on the row lock
 * re-checks the row's newer version first, and holds a row lock on what it then updates.
 */
const HEAD_LOCK_DEFAULT: "row" | "advisory" = "advisory"
/** pg_advisory_xact_lock key of the head ("mitigator head"): any constant of mitigator's own. */
export const HEAD_LOCK_KEY = 0x6d686561

const CHECKPOINT_BUCKET = 100_000
const CHECKPOINTS_KEPT = 3
const INSERT_CHUNK = 500
const IN_CHUNK = 500
const FOLD_BATCH = 2000
const TAIL_CHECKED = 8

/** What to keep for an audit of a broken PostgreSQL log. */
const EVIDENCE = "the database (pg_dump)"

const COLUMNS = "seq, recorded_at, type, payload, dedupe_key, hash"

/** The literal condition the partial indexes are built on (migrations/pg/0001), so the planner uses them. */
const typeIn = (types: ReadonlyArray<string>): string => `type IN (${types.map((t) => `'${t}'`).join(", ")})`
const LEDGER_EVENT_TYPES = ["TargetChanged", "DriftObserved", "OwnershipLost"] as const

const pgCode = (e: unknown): string => {
  const code = (e as { code?: unknown } | undefined)?.code
  return typeof code === "string" ? code : ""
}
const causeOf = (e: SqlError): unknown => e.cause

/** Worth running the whole transaction again: another writer got in the way. */
const RETRYABLE = new Set(["40001", "40P01", "23505"])
const isRetryable = (e: unknown): boolean =>
  e instanceof EventLogError && e.cause instanceof SqlError && RETRYABLE.has(pgCode(causeOf(e.cause)))

const isConnectionLoss = (e: SqlError): boolean => {
  const cause = causeOf(e)
  const code = pgCode(cause)
  const message = cause instanceof Error ? cause.message : String(cause)
  return (
    code.startsWith("08") ||
    code === "57P01" ||
    code === "57P02" ||
    code === "57P03" ||
    code === "ECONNRESET" ||
    code === "ECONNREFUSED" ||
    code === "EPIPE" ||
    /Connection terminated|connection is closed|Client has encountered a connection error|timeout exceeded when trying to connect/i.test(message)
  )
}

const describe = (e: SqlError): string => {
  const cause = causeOf(e)
  const message = cause instanceof Error ? cause.message : cause === undefined ? e.message : String(cause)
  const code = pgCode(cause)
  return code === "" ? message : `${message} (${code})`
}

// 10 ms doubling, jittered, capped at 500 ms, at most 8 retries.
const retryContention = Schedule.exponential("10 millis", 2).pipe(
  Schedule.jittered,
  Schedule.union(Schedule.spaced("500 millis")),
  Schedule.intersect(Schedule.recurs(8))
)


/**
 * The head row against the log's newest row. Both move in one statement, so they always agree;
 * when they do not, rows were cut off the end, rewritten, or added behind mitigator's back.
 */
export const compareWithHeadRow = (
  recorded: { readonly seq: number; readonly hash: string },
  newestSeq: number,
  hashThere: string | undefined
): ChainBreak | undefined => {
  const where = "its head row (table events_head)"
  if (newestSeq < recorded.seq) {
    const cut = newestSeq + 1 === recorded.seq ? `row ${recorded.seq} was` : `rows ${newestSeq + 1} to ${recorded.seq} were`
    return { seq: newestSeq + 1, reason: `the log ends at seq ${newestSeq}, but ${where} records seq ${recorded.seq}: ${cut} cut off` }
  }
  if (newestSeq > recorded.seq) {
    return { seq: recorded.seq + 1, reason: `the log goes on to seq ${newestSeq}, past seq ${recorded.seq} that ${where} records: rows were added behind mitigator's back` }
  }
  if (recorded.seq === 0) return undefined
  if (hashThere !== recorded.hash) {
    return { seq: recorded.seq, reason: `row ${recorded.seq} has another hash than ${where} records: the log was rewritten at or before seq ${recorded.seq}` }
  }
  return undefined
}

const make = (options: PgEventLogOptions) =>
  Effect.gen(function* () {
    const label = redactedUrl(options.url)
    const tampered = (problem: ChainBreak) => tamperedLog(label, problem, EVIDENCE)
    const headLock = options.headLock ?? HEAD_LOCK_DEFAULT

    const toEventLogError =
      (reason: EventLogError["reason"], what: string) =>
      (e: SqlError): EventLogError =>
        isConnectionLoss(e)
          ? new EventLogError({
              reason,
              message:
                `${what}: lost the connection to PostgreSQL at ${label} (${describe(e)}). ` +
                "Nothing was acknowledged: what the server did not confirm is not reported as recorded (a repeat of the same events is recognised by their dedupe keys)",
              cause: e
            })
          : new EventLogError({
              reason: RETRYABLE.has(pgCode(causeOf(e))) ? "busy" : reason,
              message: `${what} (${label}): ${describe(e)}`,
              cause: e
            })

    const sqlErrors = <A, E, R>(effect: Effect.Effect<A, E, R>, reason: EventLogError["reason"], what: string) =>
      Effect.mapError(effect, (e) => (e instanceof SqlError ? toEventLogError(reason, what)(e) : e)) as Effect.Effect<A, Exclude<E, SqlError> | EventLogError, R>

    const sql = yield* makePgClient(options).pipe(
      Effect.mapError((e: PgConnectionError) => new EventLogError({ reason: "open", message: e.message, cause: e }))
    )

    const inTransaction = pgTransaction(sql)
    /** A failed COMMIT is a write error like any other. */
    const committed = <A, E, R>(effect: Effect.Effect<A, E, R>, what: string) =>
      commitFailureAsError(inTransaction(effect)).pipe(
        Effect.mapError((e) => (e instanceof SqlError ? toEventLogError("write", what)(e) : e))
      ) as Effect.Effect<A, Exclude<E, SqlError> | EventLogError, R>

    if (!options.create) {
      // A reader never makes the schema: no log here is said like SQLite's missing file.
      const applied = yield* sqlErrors(appliedVersion(sql), "open", "opening the event log")
      if (applied === 0) {
        return yield* new EventLogError({
          reason: "missing",
          message: `no event log in ${label} (nothing has been appended yet, or --db / MITIGATOR_DB points elsewhere)`
        })
      }
    }
    const schema = yield* migrate(sql, (effect) => inTransaction(effect)).pipe(
      Effect.catchSomeDefect((defect) => (defect instanceof SqlError ? Option.some(Effect.fail(defect)) : Option.none())),
      (effect) => sqlErrors(effect, "schema", "migrating the event log"),
      Effect.retry({ schedule: retryContention, while: isRetryable })
    )
    if (schema._tag === "Newer") {
      return yield* new EventLogError({
        reason: "schema",
        message: `the event log ${label} has schema version ${schema.version}, newer than this mitigator knows (${schema.known}): upgrade mitigator`
      })
    }

    const projectionTypes = sql.literal(typeIn(PROJECTION_EVENT_TYPES))
    const ledgerTypes = sql.literal(typeIn(LEDGER_EVENT_TYPES))

    /** The head row, the newest seq and the hash at the head's seq, in one snapshot. */
    const headState = sql<{ seq: number; hash: string; newest: number | null; there: string | null }>`
      SELECT h.seq, h.hash, (SELECT max(seq) FROM events) AS newest, (SELECT hash FROM events WHERE seq = h.seq) AS there
      FROM events_head h`.pipe(
      Effect.map((rows) => {
        const row = rows[0]
        if (row === undefined) return { seq: 1, reason: "its head row (table events_head) is missing: the log was tampered with" } satisfies ChainBreak
        return compareWithHeadRow({ seq: Number(row.seq), hash: row.hash }, Number(row.newest ?? 0), row.there ?? undefined)
      })
    )
    const checkHead = sqlErrors(headState, "read", "reading the event log").pipe(
      Effect.flatMap((problem) => (problem === undefined ? Effect.void : Effect.fail(tampered(problem))))
    )
    if (options.checkHead !== false) yield* checkHead

    /**
     * The transaction's view: its own seq, hash and dedupe bookkeeping, shared by every append in
     * it. Written by the holder of a reconcile lease row (`held`, see PgLease.ts): refused unless
     * its fencing token is still the lease's, and its changes carry the token.
     */
    const openTransaction = (held: HeldLeaseService | undefined) => Effect.gen(function* () {
      // The head lock first: every statement after it (READ COMMITTED) sees what the writer
      // before committed. See HEAD_LOCK_DEFAULT for the two ways, measured.
      if (headLock === "advisory") yield* sql`SELECT pg_advisory_xact_lock(${HEAD_LOCK_KEY})`
      const fence = held?.fence
      if (held !== undefined && fence !== undefined) {
        // One primary-key lookup. A takeover commits its new token before the new holder writes
        // anything: a paused holder that wakes up after it finds its token stale here, and what
        // it would record is refused (its pass stops: lease-lost).
        const lease = yield* sql<{ fencing_token: number }>`SELECT fencing_token FROM reconcile_lease WHERE name = ${fence.lease}`
        const current = lease[0] === undefined ? undefined : Number(lease[0].fencing_token)
        if (current !== fence.token) {
          const why = `the log refused to record this pass's outcomes: its fencing token ${fence.token} is stale (the lease's is ${current ?? "gone"}: another holder took it over)`
          yield* held.lose(why)
          return yield* new EventLogError({ reason: "fenced", message: `${why}; nothing of it was recorded` })
        }
      }
      const headRows =
        headLock === "row"
          ? yield* sql<{ seq: number; hash: string }>`SELECT seq, hash FROM events_head FOR UPDATE`
          : yield* sql<{ seq: number; hash: string }>`SELECT seq, hash FROM events_head`
      const recorded = headRows[0]
      if (recorded === undefined) return yield* tampered({ seq: 1, reason: "its head row (table events_head) is missing: the log was tampered with" })
      const tail = (yield* sql<EventRow>`SELECT ${sql.literal(COLUMNS)} FROM events ORDER BY seq DESC LIMIT ${TAIL_CHECKED + 1}`)
        .map((row) => ({ ...row, seq: Number(row.seq) }))
        .toReversed()
      const brokenTail = tailBreak(tail)
      if (brokenTail !== undefined) return yield* tampered(brokenTail)
      const head = tail[tail.length - 1]
      const headProblem = compareWithHeadRow({ seq: Number(recorded.seq), hash: recorded.hash }, head?.seq ?? 0, head?.hash)
      if (headProblem !== undefined) return yield* tampered(headProblem)

      const now = new Date(yield* Clock.currentTimeMillis).toISOString()
      const recordedAt = head !== undefined && head.recorded_at > now ? head.recorded_at : now
      let seq = head?.seq ?? 0
      let previousHash = head?.hash ?? GENESIS_HASH
      const storedNow = new Map<string, number>()

      const prepareChunk = (chunk: ReadonlyArray<NewEvent>, existing: ReadonlyMap<string, number>) => {
        const outcomes: AppendOutcome[] = []
        const columns: [number[], string[], string[], string[], Array<string | null>, string[]] = [[], [], [], [], [], []]
        const added = new Map<string, number>()
        let nextSeq = seq
        let hash = previousHash
        for (const event of chunk) {
          if (event.dedupeKey !== null) {
            const duplicateOf = existing.get(event.dedupeKey) ?? storedNow.get(event.dedupeKey) ?? added.get(event.dedupeKey)
            if (duplicateOf !== undefined) {
              outcomes.push({ _tag: "Duplicate", seq: duplicateOf })
              continue
            }
            added.set(event.dedupeKey, nextSeq + 1)
          }
          nextSeq++
          const payloadJson = canonicalJson(event.payload)
          hash = rowHash(hash, { seq: nextSeq, recordedAt, type: event.type, payloadJson, dedupeKey: event.dedupeKey })
          columns[0].push(nextSeq)
          columns[1].push(recordedAt)
          columns[2].push(event.type)
          columns[3].push(payloadJson)
          columns[4].push(event.dedupeKey)
          columns[5].push(hash)
          outcomes.push({ _tag: "Stored", seq: nextSeq })
        }
        return { outcomes, columns, added, nextSeq, hash }
      }

      const appendInTransaction = (given: Iterable<NewEvent>) =>
        Effect.gen(function* () {
          const outcomes: AppendOutcome[] = []
          const events = fence === undefined ? given : Array.from(given, (event) => withFence(event, fence.token))
          const iterator = events[Symbol.iterator]()
          for (let done = false; !done; ) {
            const chunk: NewEvent[] = []
            while (chunk.length < INSERT_CHUNK) {
              const next = iterator.next()
              if (next.done === true) {
                done = true
                break
              }
              chunk.push(next.value)
            }
            if (chunk.length === 0) break
            // Under the head lock no other writer stores a key between this lookup and the insert.
            const keys = chunk.flatMap((e) => (e.dedupeKey === null || storedNow.has(e.dedupeKey) ? [] : [e.dedupeKey]))
            const existing = new Map<string, number>()
            if (keys.length > 0) {
              const rows = yield* sql.unsafe<{ seq: number; dedupe_key: string }>("SELECT seq, dedupe_key FROM events WHERE dedupe_key = ANY($1::text[])", [keys])
              for (const row of rows) existing.set(row.dedupe_key, Number(row.seq))
            }
            const prepared = prepareChunk(chunk, existing)
            if (prepared.nextSeq > seq) {
              // The rows and the head row in one statement: they cannot disagree.
              yield* sql.unsafe(
                `WITH stored AS (
                   INSERT INTO events (seq, recorded_at, type, payload, dedupe_key, hash)
                   SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]))
                 UPDATE events_head SET seq = $7, hash = $8, recorded_at = $9`,
                [...prepared.columns, prepared.nextSeq, prepared.hash, recordedAt]
              )
            }
            seq = prepared.nextSeq
            previousHash = prepared.hash
            for (const [key, at] of prepared.added) storedNow.set(key, at)
            outcomes.push(...prepared.outcomes)
          }
          return outcomes as ReadonlyArray<AppendOutcome>
        })

      const clockBehindMs = head !== undefined && head.recorded_at > now ? Date.parse(head.recorded_at) - Date.parse(now) : 0
      let skewNoted = !(clockBehindMs > CLOCK_TOLERANCE_MS)
      const noteSkew = Effect.suspend(() => {
        if (skewNoted) return Effect.void
        skewNoted = true
        const skew: NewEvent = {
          type: "ClockSkewObserved",
          dedupeKey: `clock-behind:${recordedAt}`,
          payload: { against: "log", behindMs: clockBehindMs, clock: now, reference: recordedAt }
        }
        return Effect.asVoid(appendInTransaction([skew]))
      })

      const tx: LogTransaction = {
        recordedAt,
        clock: now,
        clockBehindMs,
        append: (events) => sqlErrors(Effect.zipRight(noteSkew, appendInTransaction(events)), "write", "appending to the event log"),
        latestPolicy: sqlErrors(
          sql<EventRow>`SELECT ${sql.literal(COLUMNS)} FROM events WHERE type = 'PolicyActivated' ORDER BY seq DESC LIMIT 1`.pipe(
            Effect.map((rows) => rows.map(toStored)[0])
          ),
          "read",
          "reading the policy in force"
        ),
        operatorAllows: sqlErrors(
          sql<{ cidr: string; until: string | null }>`
            SELECT (payload::jsonb) ->> 'cidr' AS cidr, (payload::jsonb) ->> 'until' AS until
            FROM events WHERE type = 'AllowRequested' ORDER BY seq`,
          "read",
          "reading the operators' allows"
        ),
        offencesSince: (sources, since) =>
          sqlErrors(
            Effect.gen(function* () {
              const found = new Map<string, Set<string>>()
              for (let i = 0; i < sources.length; i += IN_CHUNK) {
                // One offence per detection: a detection with several actions has several rows.
                const rows = yield* sql<{ source: string; cause: string; recorded_at: string }>`
                  SELECT (payload::jsonb) -> 'cause' ->> 'source' AS source, (payload::jsonb) -> 'cause' ->> 'seq' AS cause,
                         min(recorded_at) AS recorded_at
                  FROM events
                  WHERE type = 'BlockDecided' AND ((payload::jsonb) -> 'cause' ->> 'source') IN ${sql.in(sources.slice(i, i + IN_CHUNK))}
                    AND recorded_at > ${since}
                  GROUP BY 1, 2`
                for (const row of rows) {
                  const times = found.get(row.source) ?? new Set<string>()
                  times.add(`${row.recorded_at}|${row.cause}`)
                  found.set(row.source, times)
                }
              }
              return new Map([...found].map(([source, times]) => [source, [...times].map((t) => t.slice(0, t.indexOf("|"))).sort()]))
            }),
            "read",
            "reading earlier offences"
          )
      }
      return tx
    })

    const transaction: EventLogService["transaction"] = (use) =>
      Effect.flatMap(Effect.serviceOption(HeldLease), (held) =>
        committed(Effect.flatMap(sqlErrors(openTransaction(Option.getOrUndefined(held)), "write", "starting a write"), use), "writing to the event log").pipe(
          Effect.retry({ schedule: retryContention, while: isRetryable })
        )
      )

    const append: EventLogService["append"] = (events) => transaction((tx) => tx.append(events))

    const read: EventLogService["read"] = (page) =>
      sqlErrors(
        sql<EventRow>`
          SELECT ${sql.literal(COLUMNS)} FROM events
          WHERE seq > ${page.afterSeq ?? 0} ${page.only === "projection" ? sql`AND ${projectionTypes}` : sql``}
          ${page.types === undefined ? sql`` : sql`AND type IN ${sql.in(page.types)}`}
          ORDER BY seq LIMIT ${page.limit}`,
        "read",
        "reading the event log"
      ).pipe(
        Effect.map((rows) => {
          const until = page.until
          const end = until === undefined ? rows.length : rows.findIndex((row) => row.recorded_at > until)
          return (end === -1 ? rows : rows.slice(0, end)).map(toStored)
        })
      )

    const newestProjectionTime: EventLogService["newestProjectionTime"] = sqlErrors(
      sql<{ recorded_at: string }>`SELECT recorded_at FROM events WHERE ${projectionTypes} ORDER BY seq DESC LIMIT 1`,
      "read",
      "reading the event log"
    ).pipe(Effect.map((rows) => rows[0]?.recorded_at))

    const batchAfter = (seq: number, limit: number) =>
      sql<EventRow>`SELECT ${sql.literal(COLUMNS)} FROM events WHERE seq > ${seq} ORDER BY seq LIMIT ${limit}`

    const foldBatchSize = options.foldBatch ?? FOLD_BATCH
    const projection = new Set<string>(PROJECTION_EVENT_TYPES)
    const fold: EventLogService["fold"] = (range, step, progress) =>
      sqlErrors(
        Effect.gen(function* () {
          yield* checkHead
          const afterSeq = range.afterSeq ?? 0
          const anchor =
            afterSeq === 0
              ? GENESIS_HASH
              : (range.afterHash ?? (yield* sql<{ hash: string }>`SELECT hash FROM events WHERE seq = ${afterSeq}`)[0]?.hash)
          const all = range.only !== "projection"
          const { until, keep } = range
          let cursor = { seq: afterSeq, hash: anchor ?? "", recordedAt: "" }
          let folded = 0
          let checked = 0
          for (let done = false; !done; ) {
            const rows = yield* batchAfter(cursor.seq, foldBatchSize)
            if (rows.length < foldBatchSize) done = true
            for (const row of rows) {
              const seq = Number(row.seq)
              // recorded_at never decreases along seq: the rows up to a time are a prefix of the log.
              if (until !== undefined && row.recorded_at > until) {
                done = true
                break
              }
              if (anchor === undefined) return yield* tampered(missingRow(cursor.seq, seq))
              if (seq !== cursor.seq + 1) return yield* tampered(missingRow(cursor.seq + 1, seq))
              if (rowHash(cursor.hash, { seq, recordedAt: row.recorded_at, type: row.type, payloadJson: row.payload, dedupeKey: row.dedupe_key }) !== row.hash) {
                return yield* tampered(alteredRow(seq))
              }
              if ((all || projection.has(row.type)) && (keep === undefined || keep(row.type, row.payload))) {
                step({ seq, recordedAt: row.recorded_at, type: row.type, payload: JSON.parse(row.payload) as unknown, hash: row.hash })
                folded++
              }
              cursor = { seq, hash: row.hash, recordedAt: row.recorded_at }
              checked++
            }
            progress?.(checked)
          }
          return { folded, checked, last: checked === 0 ? undefined : cursor }
        }),
        "read",
        "reading the event log"
      )

    const verify: EventLogService["verify"] = sqlErrors(
      Effect.gen(function* () {
        // The head row first: the rows walked afterwards reach at least as far.
        const headRows = yield* sql<{ seq: number; hash: string }>`SELECT seq, hash FROM events_head`
        const recorded = headRows[0] === undefined ? undefined : { seq: Number(headRows[0].seq), hash: headRows[0].hash }
        let hashAtRecorded: string | undefined
        let previous = { seq: 0, hash: GENESIS_HASH }
        for (;;) {
          const rows = yield* batchAfter(previous.seq, 5000)
          for (const raw of rows) {
            const row = { ...raw, seq: Number(raw.seq) }
            const link = followsIn(previous, chained(row))
            const broken = link === "missing" ? missingRow(previous.seq + 1, row.seq) : link === "altered" ? alteredRow(row.seq) : undefined
            if (broken !== undefined) return { _tag: "Broken", ...broken, checked: previous.seq } as const
            if (row.seq === recorded?.seq) hashAtRecorded = row.hash
            previous = { seq: row.seq, hash: row.hash }
          }
          if (rows.length < 5000) break
        }
        const count = previous.seq
        if (recorded === undefined) {
          return { _tag: "Broken", seq: 1, reason: "its head row (table events_head) is missing: the log was tampered with", checked: count } as const
        }
        // Rows committed after the head row was read are past it: read it again before calling that a break.
        const problem = compareWithHeadRow(recorded, count, hashAtRecorded)
        if (problem !== undefined && count > recorded.seq) {
          const again = yield* headState
          if (again === undefined) return { _tag: "Intact", count, head: count === 0 ? null : previous, headFile: recorded.seq } as const
        }
        if (problem !== undefined) return { _tag: "Broken", ...problem, checked: Math.min(count, problem.seq - 1) } as const
        return { _tag: "Intact", count, head: count === 0 ? null : previous, headFile: recorded.seq } as const
      }),
      "read",
      "verifying the event log"
    )

    // Only a checkpoint bound to the chain counts, and its rows are checked (EventRows.ts).
    const latestCheckpoint: EventLogService["latestCheckpoint"] = (version, notAfter) =>
      sqlErrors(newestCheckpointRow(sql, version, notAfter), "read", "reading the projection's checkpoint").pipe(
        Effect.flatMap((rows) => {
          const checked = checkedCheckpoint(rows[0])
          return "broken" in checked ? Effect.fail(tampered(checked.broken)) : Effect.succeed(checked.checkpoint)
        })
      )

    const latestLedgerEvent: EventLogService["latestLedgerEvent"] = (target, cidr) =>
      sqlErrors(
        sql<EventRow>`
          SELECT ${sql.literal(COLUMNS)} FROM events
          WHERE ${ledgerTypes} AND ((payload::jsonb) ->> 'target') = ${target} AND ((payload::jsonb) ->> 'cidr') = ${cidr}
          ORDER BY seq DESC LIMIT 1`,
        "read",
        "reading the ownership ledger"
      ).pipe(Effect.map((rows) => rows.map(toStored)[0]))

    const saveCheckpoint: EventLogService["saveCheckpoint"] = (c) =>
      transaction((tx) =>
        sqlErrors(
          Effect.gen(function* () {
            const stateSha256 = sha256(c.state)
            const [outcome] = yield* tx.append([
              { type: "CheckpointSaved", dedupeKey: checkpointDedupeKey(c.version, c.seq), payload: { version: c.version, seq: c.seq, stateSha256 } }
            ])
            if (outcome?._tag === "Duplicate") {
              const bound = yield* sql<{ sha: string | null }>`SELECT (payload::jsonb) ->> 'stateSha256' AS sha FROM events WHERE seq = ${outcome.seq}`
              if (bound[0]?.sha !== stateSha256) return
            }
            yield* sql`
              INSERT INTO checkpoints (version, seq, recorded_at, event_hash, state)
              VALUES (${c.version}, ${c.seq}, ${c.recordedAt}, ${c.eventHash}, ${c.state})
              ON CONFLICT (version, seq) DO UPDATE SET recorded_at = EXCLUDED.recorded_at, event_hash = EXCLUDED.event_hash, state = EXCLUDED.state`
            yield* sql`
              DELETE FROM checkpoints WHERE version <> ${c.version}
                AND seq < (SELECT max(seq) FROM checkpoints AS newest WHERE newest.version = checkpoints.version)`
            yield* sql`
              DELETE FROM checkpoints WHERE version = ${c.version}
                AND seq NOT IN (SELECT seq FROM checkpoints WHERE version = ${c.version} ORDER BY seq DESC LIMIT ${CHECKPOINTS_KEPT})
                AND seq NOT IN (SELECT min(seq) FROM checkpoints WHERE version = ${c.version} GROUP BY seq / ${CHECKPOINT_BUCKET})`
          }),
          "write",
          "saving the projection's checkpoint"
        )
      )

    return EventLog.of({ append, transaction, read, fold, newestProjectionTime, verify, latestCheckpoint, latestLedgerEvent, saveCheckpoint })
  }).pipe(Effect.provide(Reactivity.layer))

export const layer = (options: PgEventLogOptions): Layer.Layer<EventLog, EventLogError> => Layer.scoped(EventLog, make(options))

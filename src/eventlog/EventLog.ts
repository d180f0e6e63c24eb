/**
 * The event log port: the only source of truth. Append-only, hash-chained, deduplicated by key.
 */
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type { NewEvent } from "../domain/Events.js"

export class EventLogError extends Data.TaggedError("EventLogError")<{
  /** tampered: the hash chain or the head file shows rows altered, removed or cut off (see ChainBreak.ts) */
  /** fenced: a write under a reconcile lease whose fencing token is no longer the lease's (PgEventLog.ts): refused */
  readonly reason: "missing" | "open" | "schema" | "busy" | "write" | "read" | "tampered" | "fenced"
  readonly message: string
  readonly cause?: unknown
}> {}

export interface StoredEvent {
  readonly seq: number
  readonly recordedAt: string
  readonly type: string
  readonly payload: unknown
  readonly dedupeKey: string | null
  readonly hash: string
}

/** What became of each appended event, in input order. */
export type AppendOutcome =
  | { readonly _tag: "Stored"; readonly seq: number }
  /** an event with the same dedupe key is already in the log, at `seq` */
  | { readonly _tag: "Duplicate"; readonly seq: number }

/** The event types that change the desired state (the projection reads only these). */
export const PROJECTION_EVENT_TYPES = [
  "PolicyActivated",
  "BlockDecided",
  "BlockRequested",
  "UnblockRequested",
  "AllowRequested",
  "TargetChanged",
  "DriftObserved",
  "OwnershipLost",
  "UserResolved",
  "UserResolutionFailed",
  "UserBlockChanged",
  "UserBlockLifted"
] as const

export interface ReadPage {
  /** only events after this seq (default 0: from the start) */
  readonly afterSeq?: number
  /** only events recorded at or before this instant (UTC ISO) */
  readonly until?: string
  readonly limit: number
  /** "projection": only PROJECTION_EVENT_TYPES (default: every event) */
  readonly only?: "projection"
  /** only events of these types (with `only`, of both); rows of other types are skipped unread */
  readonly types?: ReadonlyArray<string>
}

/**
 * Which events a fold hands over: as ReadPage, without a page size (the log hands rows over one at
 * a time). A fold reads and checks every row of the range whatever `only` says: the chain links
 * consecutive rows, so a row it does not hand over is still checked.
 */
export type FoldRange = Omit<ReadPage, "limit" | "types"> & {
  /**
   * The hash of the row at `afterSeq`, already checked (a checkpoint's, checked against the row;
   * the end of an earlier fold): the chain goes on from it. Without it, the row's stored hash.
   */
  readonly afterHash?: string
  /**
   * A cheap test on the row's type and payload text, before the payload is parsed: rows it turns
   * down are checked like any other but not handed over (`why` reads a large log for a few rows).
   */
  readonly keep?: (type: string, payloadJson: string) => boolean
}

/** One event as a fold sees it: what the projection reads, without the stored columns it does not. */
export interface FoldedEvent {
  readonly seq: number
  readonly recordedAt: string
  readonly type: string
  readonly payload: unknown
  /** the row's hash, checked: where a later fold may go on from */
  readonly hash: string
}

/** What a fold went through: how many events it handed over, how many rows it checked, and the last of those. */
export interface FoldEnd {
  readonly folded: number
  readonly checked: number
  /** the last row checked (what a checkpoint names, and where the next fold goes on from) */
  readonly last: { readonly seq: number; readonly recordedAt: string; readonly hash: string } | undefined
}

/** What a write transaction offers: everything in it is recorded atomically, at one time. */
export interface LogTransaction {
  /**
   * the recording time of every event appended in this transaction (UTC ISO): the log's order
   * time, which never goes back along seq (the clock, or the newest row's time when the clock is
   * behind it), so "the log up to T" is a prefix of the log
   */
  readonly recordedAt: string
  /**
   * what this run's clock said when the transaction began (UTC ISO): the time decisions are made
   * at (an expiry is this plus a ttl), so a row recorded by a clock that ran ahead moves neither
   * the expiry of what was decided before it nor of what is decided after it
   */
  readonly clock: string
  /**
   * how far `clock` is behind the newest row's time (0 when it is not): above
   * CLOCK_TOLERANCE_MS, the transaction's first append records a ClockSkewObserved before the
   * events it is given
   */
  readonly clockBehindMs: number
  /** as EventLogService.append, inside this transaction */
  readonly append: (events: Iterable<NewEvent>) => Effect.Effect<ReadonlyArray<AppendOutcome>, EventLogError>
  /** the latest PolicyActivated event, if any */
  readonly latestPolicy: Effect.Effect<StoredEvent | undefined, EventLogError>
  /** every operator `allow` ever recorded (its CIDR and until, null for good): few, and indexed */
  readonly operatorAllows: Effect.Effect<ReadonlyArray<{ readonly cidr: string; readonly until: string | null }>, EventLogError>
  /**
   * For each source address: the recording times of its offences (detections that led to
   * decisions, one per detection) recorded after `since`.
   */
  readonly offencesSince: (
    sources: ReadonlyArray<string>,
    since: string
  ) => Effect.Effect<ReadonlyMap<string, ReadonlyArray<string>>, EventLogError>
}

export type VerifyResult =
  | {
      readonly _tag: "Intact"
      readonly count: number
      readonly head: { readonly seq: number; readonly hash: string } | null
      /** the seq the head file records (at most the head's), or null when there is none beside the log */
      readonly headFile: number | null
    }
  | { readonly _tag: "Broken"; readonly seq: number; readonly reason: string; readonly checked: number }

/** A saved state of the projection's fold (see src/projection/). */
export interface Checkpoint {
  /** the projection's version: a checkpoint of another version is never used */
  readonly version: string
  /** the last event folded into it */
  readonly seq: number
  readonly recordedAt: string
  /** that event's hash: the checkpoint counts only while the row is as it was */
  readonly eventHash: string
  /** the serialised fold state */
  readonly state: string
}

export interface EventLogService {
  /**
   * Appends atomically (all or none); events whose dedupe key is already present are not stored
   * again. The events are consumed as they are written, so a lazy iterable keeps memory flat; it
   * must be iterable more than once (an array is), as a retry after SQLITE_BUSY starts over.
   */
  readonly append: (events: Iterable<NewEvent>) => Effect.Effect<ReadonlyArray<AppendOutcome>, EventLogError>
  /**
   * Runs `use` in one write transaction (BEGIN IMMEDIATE): all or nothing. After SQLITE_BUSY
   * the whole of `use` runs again, so it must not depend on having run before. Before `use`, the
   * newest rows and the head file are checked (reason "tampered" when they do not hold).
   */
  readonly transaction: <A, E>(use: (tx: LogTransaction) => Effect.Effect<A, E>) => Effect.Effect<A, E | EventLogError>
  /** One page of events in seq order. */
  readonly read: (page: ReadPage) => Effect.Effect<ReadonlyArray<StoredEvent>, EventLogError>
  /**
   * Hands every event in `range`, in seq order, to `step` as it is read: no page of rows is held,
   * so memory does not grow with the log. `progress` hears the rows read so far now and then. A
   * failed read leaves `step` having seen a prefix of the range, never an event twice.
   * Checks as it goes: the head file first, then the chain of every row in the range (from
   * `afterHash`); a break fails the fold with reason "tampered" at the first bad row, after `step`
   * saw only rows before it.
   */
  readonly fold: (
    range: FoldRange,
    step: (event: FoldedEvent) => void,
    progress?: (folded: number) => void
  ) => Effect.Effect<FoldEnd, EventLogError>
  /** The recording time of the newest event the projection reads (PROJECTION_EVENT_TYPES), if any. */
  readonly newestProjectionTime: Effect.Effect<string | undefined, EventLogError>
  /** Walks the hash chain from the first row, then compares its end with the head file. */
  readonly verify: Effect.Effect<VerifyResult, EventLogError>
  /**
   * The newest checkpoint of `version` whose event is still in the log with the same hash, that
   * has its CheckpointSaved event (older ones without it are passed over), and (with `notAfter`)
   * that was recorded at or before that instant. Fails with reason "tampered" when that row's or
   * the CheckpointSaved row's content no longer gives its hash, or when sha256 of the state is
   * not the one the CheckpointSaved event records.
   */
  readonly latestCheckpoint: (version: string, notAfter?: string) => Effect.Effect<Checkpoint | undefined, EventLogError>
  /**
   * The newest ownership-ledger event (TargetChanged, DriftObserved, OwnershipLost) of `cidr` on
   * `target`: whether mitigator holds that entry now, without folding the log.
   */
  readonly latestLedgerEvent: (target: string, cidr: string) => Effect.Effect<StoredEvent | undefined, EventLogError>
  /**
   * Saves a checkpoint and prunes old ones, in one write transaction that also appends its
   * CheckpointSaved event (sha256 of the state), binding the state to the hash chain.
   */
  readonly saveCheckpoint: (checkpoint: Checkpoint) => Effect.Effect<void, EventLogError>
}

export class EventLog extends Context.Tag("mitigator/EventLog")<EventLog, EventLogService>() {}

/** Every event (optionally after a seq, up to an instant), page by page: the SQLite driver cannot stream rows. */
export const streamEvents = (
  log: EventLogService,
  options: { readonly until?: string; readonly pageSize?: number; readonly only?: "projection"; readonly afterSeq?: number } = {}
): Stream.Stream<StoredEvent, EventLogError> => {
  const limit = options.pageSize ?? 2000
  const filters = {
    ...(options.until === undefined ? {} : { until: options.until }),
    ...(options.only === undefined ? {} : { only: options.only })
  }
  return Stream.paginateChunkEffect(options.afterSeq ?? 0, (afterSeq: number) =>
    Effect.map(log.read({ afterSeq, limit, ...filters }), (rows) => {
      const last = rows[rows.length - 1]
      const next = last === undefined || rows.length < limit ? Option.none() : Option.some(last.seq)
      return [Chunk.unsafeFromArray(rows), next] as const
    })
  )
}

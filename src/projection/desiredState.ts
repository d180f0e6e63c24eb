/**
 * The desired state at a time, from the newest valid checkpoint and the events after it (or the
 * whole log where there is none). Used by the commands and the reconciler alike. The log's fold
 * checks the chain of every row it reads (from the checkpoint's hash, itself checked against its
 * row), so a command never acts on a row that is not as it was written.
 */
import * as Effect from "effect/Effect"
import { desiredAt, evolveWithHorizon, forgetBefore, initialState, type DesiredState, type ProjectionState } from "../domain/Project.js"
import { startProgress } from "../platform/Progress.js"
import type { EventLogService } from "../eventlog/EventLog.js"
import { GENESIS_HASH } from "../eventlog/HashChain.js"
import { PROJECTION_VERSION, restoreState, serializeState } from "./Checkpoint.js"

/** A fold that read (and checked) this many rows after its checkpoint leaves a new one. */
export const CHECKPOINT_EVERY = 10_000

/**
 * A fold kept open: its state and the last row it has read (and checked) of the log, with that
 * row's hash, to catch up with later ones: the chain goes on from there.
 */
export interface Projection {
  readonly state: ProjectionState
  lastSeq: number
  lastHash: string
}

/**
 * The fold's horizon: without a cut the fold reaches the newest event (at least: later ones are
 * recorded no earlier), so what had expired SKEW_ALLOWANCE before that event's time need not be
 * kept (see forgetBefore). With a cut, the last event folded is not known beforehand, and
 * everything is kept.
 */
const horizonOf = (log: EventLogService, cutAt: string | undefined) =>
  cutAt === undefined ? Effect.map(log.newestProjectionTime, (t) => forgetBefore(t ?? "")) : Effect.succeed("")

/**
 * Folds the events after `projection.lastSeq` (up to `cutAt`) into it, as the log reads them.
 * `lastSeq` moves with each event, so a read that fails half-way leaves a projection that is
 * still whole, and catching up later folds no event twice; at the end it moves on to the last row
 * read, whatever its type, so the next fold does not read the same rows again.
 */
const foldOn = (log: EventLogService, projection: Projection, cutAt: string | undefined) =>
  Effect.gen(function* () {
    const horizon = yield* horizonOf(log, cutAt)
    const bar = yield* startProgress("reading the log")
    const state = projection.state
    const end = yield* log
      .fold(
        { only: "projection", afterSeq: projection.lastSeq, afterHash: projection.lastHash, ...(cutAt === undefined ? {} : { until: cutAt }) },
        (event) => {
          evolveWithHorizon(state, event, horizon)
          projection.lastSeq = event.seq
          projection.lastHash = event.hash
        },
        bar === undefined ? undefined : (read) => bar.update(read)
      )
      .pipe(Effect.ensuring(Effect.sync(() => bar?.finish())))
    if (end.last !== undefined) {
      projection.lastSeq = end.last.seq
      projection.lastHash = end.last.hash
    }
    return end
  })

/**
 * The fold after the events recorded up to `cutAt` (all of them without it): from the newest
 * checkpoint recorded at or before `cutAt` (whose event row still has the hash it names), then
 * the rows after it. When that read `CHECKPOINT_EVERY` rows or more, a new checkpoint is saved at
 * the last row read (a failure to save is no failure of the command: a read-only log is folded
 * all the same).
 */
export const openProjection = (log: EventLogService, options: { readonly cutAt?: string } = {}) =>
  Effect.gen(function* () {
    const checkpoint = yield* log.latestCheckpoint(PROJECTION_VERSION, options.cutAt)
    const restored = checkpoint === undefined ? undefined : restoreState(checkpoint.state)
    const projection: Projection =
      restored === undefined || checkpoint === undefined
        ? { state: initialState(), lastSeq: 0, lastHash: GENESIS_HASH }
        : { state: restored, lastSeq: checkpoint.seq, lastHash: checkpoint.eventHash }
    const { checked, last } = yield* foldOn(log, projection, options.cutAt)
    if (checked >= CHECKPOINT_EVERY && last !== undefined) {
      yield* log
        .saveCheckpoint({ version: PROJECTION_VERSION, seq: last.seq, recordedAt: last.recordedAt, eventHash: last.hash, state: serializeState(projection.state) })
        .pipe(Effect.catchAll((e) => Effect.logDebug(`not saving a checkpoint of the projection: ${e.message}`)))
    }
    return projection
  })

/** Brings an open projection up to the log's newest event (what a pass recorded since it opened). */
export const catchUp = (log: EventLogService, projection: Projection) => Effect.asVoid(foldOn(log, projection, undefined))

/**
 * The desired state of an open projection at `at`: the evaluating run's clock, even when the
 * newest row carries a later time (a clock that ran ahead then must not lift blocks now).
 */
export const desiredOf = (projection: Projection, at: string): DesiredState => desiredAt(projection.state, at)

/**
 * The desired state at `at` from the events recorded up to `at`. Reads only the event types the
 * projection uses.
 */
export const desiredStateAt = (log: EventLogService, at: string, options: { readonly cutAt?: string } = {}) =>
  Effect.map(openProjection(log, options), (p) => desiredOf(p, at))

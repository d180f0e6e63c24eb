/**
 * The desired state at a time, from the newest valid checkpoint and the events after it (or the
 * whole log where there is none). Used by the commands and the reconciler alike.
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { desiredAt, evolve, initialState, type ProjectionState } from "../domain/Project.js"
import { startProgress } from "../platform/Progress.js"
import { streamEvents, type EventLogService, type StoredEvent } from "../eventlog/EventLog.js"
import { PROJECTION_VERSION, restoreState, serializeState } from "./Checkpoint.js"

/** A fold that read this many events after its checkpoint leaves a new one. */
export const CHECKPOINT_EVERY = 10_000

/** Rows per page: small, so a long log is folded as it is read and never held whole. */
const PAGE = 1000

/**
 * The fold's state after the events recorded up to `cutAt` (all of them without it): from the
 * newest checkpoint recorded at or before `cutAt`, then the events after it. When that read
 * `CHECKPOINT_EVERY` events or more, a new checkpoint is saved (a failure to save is no failure
 * of the command: a read-only log is folded all the same).
 */
export const foldedState = (log: EventLogService, options: { readonly cutAt?: string } = {}) =>
  Effect.gen(function* () {
    const checkpoint = yield* log.latestCheckpoint(PROJECTION_VERSION, options.cutAt)
    const restored = checkpoint === undefined ? undefined : restoreState(checkpoint.state)
    const start = restored === undefined ? undefined : checkpoint
    const events = streamEvents(log, {
      only: "projection",
      pageSize: PAGE,
      ...(start === undefined ? {} : { afterSeq: start.seq }),
      ...(options.cutAt === undefined ? {} : { until: options.cutAt })
    })
    const bar = yield* startProgress("reading the log")
    let folded = 0
    let last: StoredEvent | undefined
    const state: ProjectionState = restored ?? initialState()
    yield* Stream.runForEachChunk(events, (chunk) =>
      Effect.sync(() => {
        for (const event of chunk) {
          evolve(state, event)
          last = event
        }
        folded += chunk.length
        bar?.update(folded)
      })
    ).pipe(Effect.ensuring(Effect.sync(() => bar?.finish())))
    if (folded >= CHECKPOINT_EVERY && last !== undefined) {
      yield* log
        .saveCheckpoint({ version: PROJECTION_VERSION, seq: last.seq, recordedAt: last.recordedAt, eventHash: last.hash, state: serializeState(state) })
        .pipe(Effect.catchAll((e) => Effect.logDebug(`not saving a checkpoint of the projection: ${e.message}`)))
    }
    return state
  })

/**
 * The desired state at `at` from the events recorded up to `at` (or at the last event recorded,
 * when the clock is behind it). Reads only the event types the projection uses.
 */
export const desiredStateAt = (log: EventLogService, at: string, options: { readonly cutAt?: string } = {}) =>
  Effect.map(foldedState(log, options), (state) => desiredAt(state, state.lastRecordedAt > at ? state.lastRecordedAt : at))

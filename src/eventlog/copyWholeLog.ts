/**
 * A whole log from one backend into another (or the same kind), with its chain: every row as
 * stored, then the checkpoints. The source is verified first (a broken chain is refused: nothing
 * copied), the target must be empty, the rows go over in batches (one transaction each on the
 * target, at most `batch` rows in memory), and the target is verified after: it must end at the
 * same seq with the same hash.
 *
 * Rows a writer appends to the source during the copy are not copied: the copy ends at the head
 * the source's verify found.
 */
import * as Effect from "effect/Effect"
import type { EventLogError, EventLogService } from "./EventLog.js"
import { EMPTY_END, importProblem, LogCopyError, type ChainEnd, type LogCopyService } from "./LogCopy.js"

export interface CopyEnd {
  readonly log: EventLogService
  readonly copy: LogCopyService
  /** how messages name it (a URL redacted) */
  readonly label: string
}

export interface CopySummary {
  readonly events: number
  readonly checkpoints: number
  /** the head both logs share, null for an empty log */
  readonly head: { readonly seq: number; readonly hash: string } | null
}

/** The source, verified: where its chain ends (the copy's end). Refuses a broken one. */
export const verifiedSource = (source: CopyEnd): Effect.Effect<{ readonly seq: number; readonly hash: string } | null, EventLogError | LogCopyError> =>
  Effect.flatMap(source.log.verify, (result) =>
    result._tag === "Intact"
      ? Effect.succeed(result.head)
      : Effect.fail(
          new LogCopyError({
            reason: "source-broken",
            message:
              `the source log ${source.label} fails its hash-chain check at seq ${result.seq}: ${result.reason}. ` +
              `Nothing copied: a copy would carry the break along (run \`mitigator verify --db ${source.label}\`, and keep the log for the audit)`
          })
        )
  )

/** Refuses a target that holds any row or checkpoint. */
export const emptyTarget = (target: CopyEnd): Effect.Effect<void, EventLogError | LogCopyError> =>
  Effect.flatMap(target.copy.contents, ({ events, checkpoints }) =>
    events === 0 && checkpoints === 0
      ? Effect.void
      : Effect.fail(
          new LogCopyError({
            reason: "target-not-empty",
            message:
              `the target log ${target.label} is not empty (${events} events, ${checkpoints} checkpoints): copy-log copies only into an empty log, ` +
              "never over or after another log's rows. Nothing copied. Give a new SQLite file or an empty database " +
              "(a copy cut short leaves a partial target: remove it, or drop and recreate the database, and copy again)"
          })
        )
  )

/**
 * Copies the rows up to `head` and the checkpoints at or before it, then verifies the target.
 * `progress` hears the rows copied so far after each batch.
 */
export const copyRows = (
  source: CopyEnd,
  target: CopyEnd,
  head: { readonly seq: number; readonly hash: string } | null,
  options: { readonly batch: number; readonly progress?: (copied: number) => void }
): Effect.Effect<CopySummary, EventLogError | LogCopyError> =>
  Effect.gen(function* () {
    const through = head?.seq ?? 0
    let end: ChainEnd = EMPTY_END
    while (end.seq < through) {
      const batch = yield* source.copy.rows(end.seq, through, options.batch)
      // Checked here as well as by the target's import: a source row that changed since its
      // verify is the source's problem, and said so.
      const problem = batch.length === 0 ? `row ${end.seq + 1} is missing` : importProblem(end, batch)
      if (problem !== undefined) {
        return yield* new LogCopyError({
          reason: "source-broken",
          message: `the source log ${source.label} changed while it was copied (${problem}). The target ${target.label} holds the rows up to seq ${end.seq}: remove it and copy again`
        })
      }
      end = yield* target.copy.importRows(end, batch)
      options.progress?.(end.seq)
    }
    const keys = yield* source.copy.checkpointKeys(through)
    let checkpoints = 0
    for (const key of keys) {
      const checkpoint = yield* source.copy.checkpoint(key.version, key.seq)
      if (checkpoint === undefined) continue // pruned by a writer since it was listed
      yield* target.copy.importCheckpoint(checkpoint)
      checkpoints++
    }
    const copied = yield* target.log.verify
    const mismatch =
      copied._tag === "Broken"
        ? `it fails its hash-chain check at seq ${copied.seq}: ${copied.reason}`
        : copied.count !== through || (copied.head?.hash ?? null) !== (head?.hash ?? null)
          ? `it ends at seq ${copied.head?.seq ?? 0} (sha256 ${copied.head?.hash ?? "-"}), the source at seq ${through} (sha256 ${head?.hash ?? "-"})`
          : undefined
    if (mismatch !== undefined) {
      return yield* new LogCopyError({ reason: "target-mismatch", message: `the copy ${target.label} does not verify against its source ${source.label}: ${mismatch}` })
    }
    return { events: through, checkpoints, head: head === null ? null : { seq: head.seq, hash: head.hash } }
  })

/**
 * A break in the log's hash chain: the first row that is not as it was written, and why. Every
 * check (`verify`, a fold, the tail `append` extends, the head file) reports one in the same words,
 * and every command but `verify` refuses to act on a log that has one.
 */
import { EventLogError } from "./EventLog.js"

export interface ChainBreak {
  /** the first row that is missing or not as it was written */
  readonly seq: number
  readonly reason: string
}

export const missingRow = (seq: number, next: number | undefined): ChainBreak => ({
  seq,
  reason: next === undefined ? `row ${seq} is missing` : `row ${seq} is missing (the next row is ${next})`
})

export const alteredRow = (seq: number): ChainBreak => ({
  seq,
  reason: `row ${seq} does not match its hash: it was altered, or a row before it was removed, replaced or reordered`
})

/**
 * A checkpoint whose state is not the one its CheckpointSaved row vouches for. The state lies
 * outside the chain (in the checkpoints table), so `verify` may find every row intact: removing
 * the checkpoints (never the rows) lets the projection fold from the log itself again.
 */
export const alteredCheckpoint = (seq: number, boundSeq: number): ChainBreak => ({
  seq,
  reason:
    `the checkpoint of the projection at seq ${seq} does not match the state sha256 that its CheckpointSaved row (seq ${boundSeq}) records: ` +
    "its state was altered"
})

/** The refusal: names the first bad seq and what to do; nothing is acted on. */
export const tampered = (filename: string, problem: ChainBreak, evidence = "the log and its .head file"): EventLogError =>
  new EventLogError({
    reason: "tampered",
    message:
      `the event log ${filename} fails its hash-chain check at seq ${problem.seq}: ${problem.reason}. ` +
      `mitigator refuses to act on it (nothing recorded, nothing sent to an appliance): keep a copy of ${evidence} ` +
      "for the audit and run `mitigator verify`"
  })

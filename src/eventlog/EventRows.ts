/**
 * The `events` and `checkpoints` tables as both backends store them (SQLite, PostgreSQL): a row as
 * read, what the chain checks of it, and the lookup of the newest checkpoint bound to the chain.
 * The same columns, the same statement text, the same checks: one place for both.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import { createHash } from "node:crypto"
import { alteredCheckpoint, alteredRow, missingRow, type ChainBreak } from "./ChainBreak.js"
import type { Checkpoint, StoredEvent } from "./EventLog.js"
import { followsIn, GENESIS_HASH } from "./HashChain.js"

export type EventRow = {
  readonly seq: number
  readonly recorded_at: string
  readonly type: string
  /** the payload's canonical JSON, byte for byte as hashed */
  readonly payload: string
  readonly dedupe_key: string | null
  readonly hash: string
}

export const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex")

/** A row as the hash chain reads it (HashChain.ts). */
export const chained = (row: EventRow) => ({
  seq: Number(row.seq),
  recordedAt: row.recorded_at,
  type: row.type,
  payloadJson: row.payload,
  dedupeKey: row.dedupe_key,
  hash: row.hash
})

export const toStored = (row: EventRow): StoredEvent => ({
  seq: Number(row.seq),
  recordedAt: row.recorded_at,
  type: row.type,
  payload: JSON.parse(row.payload) as unknown,
  dedupeKey: row.dedupe_key,
  hash: row.hash
})

/** The first break in `rows` (ascending; the first is the anchor unless it is seq 1). */
export const tailBreak = (rows: ReadonlyArray<EventRow>): ChainBreak | undefined => {
  let previous: { seq: number; hash: string } | undefined = Number(rows[0]?.seq) === 1 ? { seq: 0, hash: GENESIS_HASH } : undefined
  for (const row of rows) {
    if (previous !== undefined) {
      const link = followsIn(previous, chained(row))
      if (link === "missing") return missingRow(previous.seq + 1, Number(row.seq))
      if (link === "altered") return alteredRow(Number(row.seq))
    }
    previous = { seq: Number(row.seq), hash: row.hash }
  }
  return undefined
}

/** The newest checkpoint's row, its event, the CheckpointSaved event that binds it and their neighbours. */
export type CheckpointRow = EventRow & {
  readonly version: string
  readonly event_hash: string
  readonly state: string
  readonly previous_hash: string | null
  readonly b_seq: number
  readonly b_recorded_at: string
  readonly b_type: string
  readonly b_payload: string
  readonly b_dedupe_key: string
  readonly b_hash: string
  readonly b_previous_hash: string | null
  readonly b_next_seq: number | null
  readonly b_next_recorded_at: string | null
  readonly b_next_type: string | null
  readonly b_next_payload: string | null
  readonly b_next_dedupe_key: string | null
  readonly b_next_hash: string | null
}

/**
 * Only a checkpoint bound to the chain counts: its CheckpointSaved event (found by its dedupe
 * key, one lookup in the UNIQUE index) records sha256 of the state; one without it (saved by an
 * older build) is passed over for an older bound one, or none. Standard SQL, for both backends.
 */
export const newestCheckpointRow = (sql: SqlClient.SqlClient, version: string, notAfter: string | undefined) =>
  sql<CheckpointRow>`
    SELECT c.version, c.seq, c.recorded_at, c.event_hash, c.state,
           e.type, e.payload, e.dedupe_key, e.hash, p.hash AS previous_hash,
           b.seq AS b_seq, b.recorded_at AS b_recorded_at, b.type AS b_type, b.payload AS b_payload,
           b.dedupe_key AS b_dedupe_key, b.hash AS b_hash, bp.hash AS b_previous_hash,
           bn.seq AS b_next_seq, bn.recorded_at AS b_next_recorded_at, bn.type AS b_next_type, bn.payload AS b_next_payload,
           bn.dedupe_key AS b_next_dedupe_key, bn.hash AS b_next_hash
    FROM checkpoints c
    JOIN events e ON e.seq = c.seq AND e.hash = c.event_hash
    JOIN events b ON b.dedupe_key = 'checkpoint:' || c.version || ':' || c.seq
    LEFT JOIN events p ON p.seq = c.seq - 1
    LEFT JOIN events bp ON bp.seq = b.seq - 1
    LEFT JOIN events bn ON bn.seq = b.seq + 1
    WHERE c.version = ${version} ${notAfter === undefined ? sql`` : sql`AND c.recorded_at <= ${notAfter}`}
    ORDER BY c.seq DESC LIMIT 1`

/**
 * The checkpoint a row names, once checked: the checkpoint's row and the CheckpointSaved row are
 * each recomputed from the row before them, and the CheckpointSaved row against the row after it
 * (a fold from the checkpoint goes on from its row's hash and never reads that row again, and a
 * fold cut short, replay --at, may not reach the CheckpointSaved row); the state's sha256 must be
 * the one recorded. A break says where the chain does not hold.
 */
export const checkedCheckpoint = (raw: CheckpointRow | undefined): { readonly checkpoint: Checkpoint | undefined } | { readonly broken: ChainBreak } => {
  if (raw === undefined) return { checkpoint: undefined }
  const row = { ...raw, seq: Number(raw.seq), b_seq: Number(raw.b_seq) }
  const previous = row.seq === 1 ? { seq: 0, hash: GENESIS_HASH } : row.previous_hash === null ? undefined : { seq: row.seq - 1, hash: row.previous_hash }
  if (previous === undefined) return { broken: missingRow(row.seq - 1, row.seq) }
  if (followsIn(previous, chained(row)) !== "ok") return { broken: alteredRow(row.seq) }
  const bound: EventRow = { seq: row.b_seq, recorded_at: row.b_recorded_at, type: row.b_type, payload: row.b_payload, dedupe_key: row.b_dedupe_key, hash: row.b_hash }
  // The CheckpointSaved row always follows its checkpoint's row, so it has a row before it.
  if (row.b_previous_hash === null) return { broken: missingRow(bound.seq - 1, bound.seq) }
  if (followsIn({ seq: bound.seq - 1, hash: row.b_previous_hash }, chained(bound)) !== "ok") return { broken: alteredRow(bound.seq) }
  if (row.b_next_seq !== null) {
    const next: EventRow = {
      seq: Number(row.b_next_seq),
      recorded_at: row.b_next_recorded_at!,
      type: row.b_next_type!,
      payload: row.b_next_payload!,
      dedupe_key: row.b_next_dedupe_key,
      hash: row.b_next_hash!
    }
    if (followsIn(bound, chained(next)) !== "ok") return { broken: alteredRow(next.seq) }
  }
  const recorded = (JSON.parse(bound.payload) as { stateSha256?: unknown }).stateSha256
  if (recorded !== sha256(row.state)) return { broken: alteredCheckpoint(row.seq, bound.seq) }
  return { checkpoint: { version: row.version, seq: row.seq, recordedAt: row.recorded_at, eventHash: row.event_hash, state: row.state } }
}

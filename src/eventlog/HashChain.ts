/**
 * The tamper-evident chain over the log: each row's hash covers the previous row's hash and the
 * row's own stored columns, so editing, removing or reordering any row (short of rewriting every
 * hash after it) breaks the chain at that row.
 */
import { createHash } from "node:crypto"

export const GENESIS_HASH = "0".repeat(64)

export interface ChainedRow {
  readonly seq: number
  readonly recordedAt: string
  readonly type: string
  /** the payload exactly as stored (canonical JSON text) */
  readonly payloadJson: string
  readonly dedupeKey: string | null
}

export const rowHash = (previousHash: string, row: ChainedRow): string =>
  createHash("sha256")
    .update(previousHash)
    .update("\n")
    // A JSON array keeps field boundaries unambiguous whatever the values contain.
    .update(JSON.stringify([row.seq, row.recordedAt, row.type, row.payloadJson, row.dedupeKey]))
    .digest("hex")

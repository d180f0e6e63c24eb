/**
 * The tamper-evident chain over the log: each row's hash covers the previous row's hash and the
 * row's own stored columns, so editing, removing or reordering any row (short of rewriting every
 * hash after it) breaks the chain at that row.
 */
import { hash } from "node:crypto"

export const GENESIS_HASH = "0".repeat(64)

export interface ChainedRow {
  readonly seq: number
  readonly recordedAt: string
  readonly type: string
  /** the payload exactly as stored (canonical JSON text) */
  readonly payloadJson: string
  readonly dedupeKey: string | null
}

/** `<length>:<text>`: keeps field boundaries unambiguous whatever the text contains. */
const field = (text: string): string => `${text.length}:${text}`

export const rowHash = (previousHash: string, row: ChainedRow): string =>
  // One-shot hashing: no Hash object per row on the ingest hot path.
  hash(
    "sha256",
    `mitigator-chain-v1|${previousHash}|${row.seq}|${field(row.recordedAt)}|${field(row.type)}|` +
      `${row.dedupeKey === null ? "-" : field(row.dedupeKey)}|${field(row.payloadJson)}`,
    "hex"
  )

/**
 * Whether `row` follows `previous` in the chain (the next seq, and the hash recomputed from the
 * previous row's): the first row follows `{ seq: 0, hash: GENESIS_HASH }`.
 */
export const followsIn = (
  previous: { readonly seq: number; readonly hash: string },
  row: ChainedRow & { readonly hash: string }
): "missing" | "altered" | "ok" =>
  row.seq !== previous.seq + 1 ? "missing" : rowHash(previous.hash, row) !== row.hash ? "altered" : "ok"

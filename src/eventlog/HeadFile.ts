/**
 * The log's head (the seq and hash of its newest row) kept outside the database, in `<db>.head`.
 * The hash chain proves each row from the one before it, but not that the newest row is the last
 * one written: rows cut off the end (or committed transactions lost with a deleted `-wal` file)
 * leave a shorter chain that is just as intact. The head file remembers how far the log went.
 *
 * Written after each commit that added rows, while the writer holds the database's write lock
 * (so a slower writer never replaces a newer head with an older one), atomically and mode 0600.
 * A crash between the COMMIT and that write leaves the database AHEAD of the file: that is fine
 * (the row at the file's seq still matches) and the next write catches the file up. A database
 * BEHIND the file, or whose row at the file's seq has another hash, is a cut or rewritten log.
 *
 * Readers must read the file BEFORE the database: it is written after the commit, so whatever
 * the database shows afterwards reaches at least as far.
 */
import * as fs from "node:fs"
import { writePrivateFileAtomically } from "../platform/AtomicFile.js"
import type { ChainBreak } from "./ChainBreak.js"
import { GENESIS_HASH } from "./HashChain.js"

export interface ChainHead {
  readonly seq: number
  readonly hash: string
}

/** Where an empty log's chain starts: a head file may record it before the first row exists. */
export const GENESIS_HEAD: ChainHead = { seq: 0, hash: GENESIS_HASH }

export const headFileOf = (db: string): string => `${db}.head`

export type RecordedHead =
  | { readonly _tag: "Missing" }
  /** this user may not read it (a deployment where another user writes the log): not checked, said so */
  | { readonly _tag: "Forbidden"; readonly problem: string }
  /** there, but not a head file: refused (written atomically and synced, it is never half-written) */
  | { readonly _tag: "Unreadable"; readonly problem: string }
  | { readonly _tag: "Recorded"; readonly head: ChainHead }

const isHead = (u: unknown): u is ChainHead =>
  typeof u === "object" &&
  u !== null &&
  Number.isSafeInteger((u as ChainHead).seq) &&
  (u as ChainHead).seq >= 0 &&
  typeof (u as ChainHead).hash === "string" &&
  /^[0-9a-f]{64}$/.test((u as ChainHead).hash)

/**
 * The head file's text. Never blocks and never follows a link: a named pipe put in its place
 * would hang every command (signals included), and a link would let someone else's file stand
 * for the head. Either is unreadable as a head file.
 */
const readHeadText = (file: string): string => {
  const { O_RDONLY, O_NONBLOCK, O_NOFOLLOW, O_NOCTTY } = fs.constants
  const fd = fs.openSync(file, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY)
  try {
    if (!fs.fstatSync(fd).isFile()) throw new Error(`${file} is not a regular file`)
    const buffer = Buffer.alloc(HEAD_FILE_MAX_BYTES)
    const n = fs.readSync(fd, buffer, 0, buffer.length, 0)
    return buffer.subarray(0, n).toString("utf8")
  } finally {
    fs.closeSync(fd)
  }
}

/** More than a head file ever holds ({"seq":…,"hash":…}). */
const HEAD_FILE_MAX_BYTES = 4096

export const readHeadFile = (file: string): RecordedHead => {
  let text: string
  try {
    text = readHeadText(file)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === "ENOENT") return { _tag: "Missing" }
    const problem = e instanceof Error ? e.message : String(e)
    return code === "EACCES" || code === "EPERM" ? { _tag: "Forbidden", problem } : { _tag: "Unreadable", problem }
  }
  try {
    const parsed = JSON.parse(text) as unknown
    if (isHead(parsed)) return { _tag: "Recorded", head: { seq: parsed.seq, hash: parsed.hash } }
  } catch {
    // reported below
  }
  return { _tag: "Unreadable", problem: "it does not hold a seq and a sha256 hash" }
}

/** Replaces the head file; run as root, it goes to the owner of `db` (the log's owner). */
export const writeHeadFile = (file: string, head: ChainHead, db: string): void => {
  const { uid, gid } = fs.statSync(db)
  writePrivateFileAtomically(file, `${JSON.stringify({ seq: head.seq, hash: head.hash })}\n`, { uid, gid })
}

/** The warning when the head file may not be read: the log is used, unchecked against it. */
export const forbiddenHead = (file: string, problem: string): string =>
  `mitigator: warning: cannot read the head file ${file} (${problem}): a cut of the log's newest rows would go unnoticed; run every mitigator command as the log's owner`

/** What a head file that cannot be read means for the log: its newest rows cannot be vouched for. */
export const unreadableHead = (file: string, problem: string, newestSeq: number): ChainBreak => ({
  seq: newestSeq,
  reason: `its head file ${file} cannot be read (${problem}), so a cut of the newest rows would go unnoticed`
})

/**
 * Whether the log still reaches the head the file recorded, with the same hash there.
 * @param newestSeq the log's newest seq (0 when it is empty), read after the file
 * @param hashThere the stored hash of the row at the recorded seq, undefined when there is no such row
 */
export const compareWithHead = (
  file: string,
  recorded: ChainHead,
  newestSeq: number,
  hashThere: string | undefined
): ChainBreak | undefined => {
  if (recorded.seq === 0) return undefined
  if (newestSeq < recorded.seq) {
    const cut = newestSeq + 1 === recorded.seq ? `row ${recorded.seq} was` : `rows ${newestSeq + 1} to ${recorded.seq} were`
    return {
      seq: newestSeq + 1,
      reason: `the log ends at seq ${newestSeq}, but its head file ${file} records seq ${recorded.seq}: ${cut} cut off, or its -wal file was lost`
    }
  }
  if (hashThere === undefined) return { seq: recorded.seq, reason: `row ${recorded.seq}, the head its head file ${file} records, is missing` }
  if (hashThere !== recorded.hash) {
    return {
      seq: recorded.seq,
      reason: `row ${recorded.seq} has another hash than its head file ${file} records: the log was rewritten at or before seq ${recorded.seq}`
    }
  }
  return undefined
}

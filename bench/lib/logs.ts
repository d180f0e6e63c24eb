/** Event logs for the bench: generated once per size through the real write path, then copied per scenario. */
import Database from "better-sqlite3"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { generateLog, requestBlocks } from "../generateLog.js"

const DAY = 86_400_000

/**
 * A log of about `events` rows of history (the generator's mix: 50,000 sources over `days`)
 * that ended 32 days ago: longer than the longest escalated TTL (30 days), so none of its blocks
 * is in force and the blocks a scenario adds are the only ones. The fold still reads and folds
 * every row; only what is in force at the end differs from a log that ends now.
 * An `events` of 0 is an empty log (created, migrated, no rows).
 */
export const generateHistory = async (file: string, events: number, days: number) => {
  const started = Date.now()
  const rows = await Effect.runPromise(generateLog(file, { events, sources: 50_000, days, endsAt: Date.now() - 32 * DAY }))
  return { rows, ms: Date.now() - started }
}

/** Copies a closed log, with its WAL if one was left behind and its head file, so each scenario starts from the same bytes. */
export const copyLog = (from: string, to: string) => {
  fs.copyFileSync(from, to)
  for (const suffix of ["-wal", ".head"]) {
    if (fs.existsSync(from + suffix)) fs.copyFileSync(from + suffix, to + suffix)
    else fs.rmSync(to + suffix, { force: true })
  }
  fs.rmSync(to + "-shm", { force: true })
}

/** Deletes a log and whatever SQLite and mitigator keep beside it. */
export const removeLog = (file: string) => {
  const dir = path.dirname(file)
  const base = path.basename(file)
  for (const name of fs.readdirSync(dir)) if (name === base || name.startsWith(`${base}-`) || name.startsWith(`${base}.`)) fs.rmSync(path.join(dir, name), { recursive: true, force: true })
}

/** `count` operator blocks (one day each) of distinct addresses on LoadMaster's global list. */
export const addBlocks = (file: string, count: number) => Effect.runPromise(requestBlocks(file, count))

/**
 * Empties the projection's checkpoints (derived data: their CheckpointSaved events stay), so the next
 * command folds the whole log as on first use; the WAL is folded into the file so the measured
 * process does not read through it.
 */
export const clearCheckpoints = (file: string) => {
  const db = new Database(file)
  try {
    db.pragma("busy_timeout = 5000")
    db.exec("DELETE FROM checkpoints")
    db.pragma("wal_checkpoint(TRUNCATE)")
  } finally {
    db.close()
  }
}

export const countRows = (file: string, table: "events" | "checkpoints") => {
  const db = new Database(file, { readonly: true })
  try {
    return (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n
  } finally {
    db.close()
  }
}

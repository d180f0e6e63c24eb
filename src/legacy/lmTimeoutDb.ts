/**
 * Reading the database of Progress' `lm-timeout.py` (default
 * `/home/flowmon/lm-mitigation/lm-block.db`), read-only: the legacy file is evidence and is never
 * changed.
 */
import Database from "better-sqlite3"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import type { LegacyRow } from "../domain/LegacyImport.js"
import { checkRegularFile, FileRefused } from "../platform/RegularFile.js"

export class LegacyDbError extends Data.TaggedError("LegacyDbError")<{
  readonly reason: "missing" | "unreadable" | "schema"
  readonly message: string
}> {}

const COLUMNS = ["ip", "event", "vsid", "ttl"] as const

/** Every row of `data(ip, event, vsid, ttl)`, in rowid order. */
export const readLmTimeoutRows = (file: string): Effect.Effect<ReadonlyArray<LegacyRow>, LegacyDbError> =>
  Effect.try({
    try: () => {
      if (!fs.existsSync(file)) {
        throw new LegacyDbError({ reason: "missing", message: `${file} does not exist (lm-timeout.py keeps it at /home/flowmon/lm-mitigation/lm-block.db)` })
      }
      // SQLite opens by name and would wait forever on a FIFO: refuse anything but a regular file.
      try {
        checkRegularFile(file)
      } catch (e) {
        throw new LegacyDbError({ reason: "unreadable", message: `${file}: ${e instanceof FileRefused ? e.detail : String(e)}` })
      }
      let db: Database.Database
      try {
        db = new Database(file, { readonly: true, fileMustExist: true })
      } catch (e) {
        throw new LegacyDbError({ reason: "unreadable", message: `cannot open ${file}: ${(e as Error).message}` })
      }
      try {
        const columns = db.prepare("SELECT name FROM pragma_table_info('data')").all() as Array<{ name: string }>
        const names = new Set(columns.map((c) => c.name.toLowerCase()))
        const lacking = COLUMNS.filter((c) => !names.has(c))
        if (columns.length === 0 || lacking.length > 0) {
          throw new LegacyDbError({
            reason: "schema",
            message:
              columns.length === 0
                ? `${file} has no table 'data': is it lm-timeout.py's database?`
                : `${file}: table 'data' lacks the column(s) ${lacking.join(", ")} that lm-timeout.py writes`
          })
        }
        return db.prepare("SELECT rowid, ip, event, vsid, ttl FROM data ORDER BY rowid").all() as ReadonlyArray<LegacyRow>
      } finally {
        db.close()
      }
    },
    catch: (e) =>
      e instanceof LegacyDbError
        ? e
        : new LegacyDbError({ reason: "unreadable", message: `cannot read ${file}: ${(e as Error).message}` })
  })

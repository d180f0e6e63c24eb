/** The event log contract (contract.ts) on SQLite: a fresh file per log. */
import Database from "better-sqlite3"
import * as SqliteEventLog from "../../src/eventlog/SqliteEventLog.js"
import { eventLogContract } from "./contract.js"
import { freshDb } from "./support.js"

const withTriggersOff = (filename: string, f: (raw: Database.Database) => void) => {
  const raw = new Database(filename)
  try {
    raw.exec("DROP TRIGGER IF EXISTS events_refuse_update; DROP TRIGGER IF EXISTS events_refuse_delete;")
    f(raw)
  } finally {
    raw.close()
  }
}

eventLogContract({
  name: "SQLite",
  freshLog: async () => {
    const filename = freshDb()
    return {
      layer: (options = {}) => SqliteEventLog.layer({ filename, create: options.create ?? true, ...options }),
      alterPayload: (seq, payloadJson) => withTriggersOff(filename, (raw) => raw.prepare("UPDATE events SET payload = ? WHERE seq = ?").run(payloadJson, seq)),
      deleteRow: (seq) => withTriggersOff(filename, (raw) => raw.prepare("DELETE FROM events WHERE seq = ?").run(seq)),
      cli: { db: filename, env: {} }
    }
  }
})

/** The event log contract (contract.ts) on PostgreSQL: a throwaway server for the file, a database per log. */
import * as PgEventLog from "../../src/eventlog/PgEventLog.js"
import { usePostgres } from "../support/usePostgres.js"
import { eventLogContract } from "./contract.js"

const server = usePostgres()

/** Behind the log's back, as the superuser: the append-only triggers do not fire for a replica session. */
const behindTheBack = (database: string, statement: string) =>
  server().admin(database, `SET session_replication_role = replica; ${statement}`)

eventLogContract({
  name: "PostgreSQL",
  freshLog: async () => {
    const db = await server().createDatabase()
    return {
      layer: (options = {}) => PgEventLog.layer({ url: db.url, passwordFile: db.passwordFile, create: options.create ?? true, ...options }),
      alterPayload: (seq, payloadJson) => behindTheBack(db.name, `UPDATE events SET payload = '${payloadJson.replaceAll("'", "''")}' WHERE seq = ${seq}`),
      deleteRow: (seq) => behindTheBack(db.name, `DELETE FROM events WHERE seq = ${seq}`),
      cli: { db: db.url, env: db.env }
    }
  }
})

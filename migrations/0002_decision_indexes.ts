import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"

/**
 * Partial indexes: each covers only the rows one query needs, so ingesting Flowmon events pays
 * nothing for them.
 */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  // The policy in force: every append compares the loaded config with it.
  yield* sql`CREATE INDEX events_policy ON events (seq) WHERE type = 'PolicyActivated'`
  // Escalation: a source's offences inside the window.
  yield* sql`
    CREATE INDEX events_decided_source ON events (json_extract(payload, '$.cause.source'), recorded_at)
    WHERE type = 'BlockDecided'`
  // The projection reads only the events that change the desired state.
  yield* sql`
    CREATE INDEX events_projection ON events (seq)
    WHERE type IN ('PolicyActivated', 'BlockDecided', 'BlockRequested', 'UnblockRequested', 'AllowRequested')`
})

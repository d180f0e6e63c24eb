import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"

/** The projection now also folds OwnershipLost (what someone else holds now): widen its partial index again. */
export default Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* sql`DROP INDEX events_projection`
  yield* sql`
    CREATE INDEX events_projection ON events (seq)
    WHERE type IN ('PolicyActivated', 'BlockDecided', 'BlockRequested', 'UnblockRequested', 'AllowRequested', 'TargetChanged', 'DriftObserved', 'OwnershipLost', 'UserResolved', 'UserResolutionFailed', 'UserBlockChanged', 'UserBlockLifted')`
})

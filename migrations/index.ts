/**
 * Every migration, imported statically so the bundle carries them (Migrator.fromRecord).
 * Keys are `<number>_<name>`; never edit or renumber a released migration, add a new one.
 */
import m0001 from "./0001_create_events.js"
import m0002 from "./0002_decision_indexes.js"
import m0003 from "./0003_projection_index_target_changes.js"
import m0004 from "./0004_projection_index_users.js"
import m0005 from "./0005_projection_index_ownership.js"
import m0006 from "./0006_checkpoints.js"
import m0007 from "./0007_type_filters_as_or.js"

export const migrations = {
  "0001_create_events": m0001,
  "0002_decision_indexes": m0002,
  "0003_projection_index_target_changes": m0003,
  "0004_projection_index_users": m0004,
  "0005_projection_index_ownership": m0005,
  "0006_checkpoints": m0006,
  "0007_type_filters_as_or": m0007
}

export const latestMigrationId = Math.max(...Object.keys(migrations).map((k) => parseInt(k, 10)))

/** Options every subcommand takes, and the errors the edge turns into exit codes. */
import * as Options from "@effect/cli/Options"
import * as Config from "effect/Config"
import * as Data from "effect/Data"

/** Bad arguments or environment: the command did not run. */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

/**
 * The command ran and reported what happened; it asks for a non-zero exit code
 * (append: 3 when some lines were rejected; verify: 1 when the chain is broken).
 */
export class ExitCode extends Data.TaggedError("ExitCode")<{ readonly code: number }> {}

// @effect/cli reads options only after the subcommand that declares them, and Flowmon passes a
// script's parameters as `--name value` pairs after the command, so every subcommand declares
// the global options itself.
export const db = Options.text("db").pipe(
  Options.withDescription("event log file (env MITIGATOR_DB; default ./mitigator.db)"),
  Options.withFallbackConfig(Config.string("MITIGATOR_DB").pipe(Config.withDefault("./mitigator.db")))
)

export const config = Options.text("config").pipe(
  Options.withDescription("configuration file (env MITIGATOR_CONFIG); not read yet by this version"),
  Options.withFallbackConfig(Config.string("MITIGATOR_CONFIG")),
  Options.optional
)

export const globalOptions = { db, config }

/**
 * The @effect/cli options several commands share: the log and config, logging, the appliances'
 * credentials. Kept apart from what the commands run (shared.ts, logging.ts, loadmaster.ts,
 * cryptospike.ts), so a run that does not parse its command line with @effect/cli (`append`'s
 * fast path, appendArgs.ts) does not load it.
 */
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import { LOG_FORMATS } from "../platform/LogFile.js"
import { logFileProblem } from "./logging.js"

// @effect/cli reads options only after the subcommand that declares them, and Flowmon passes a
// script's parameters as `--name value` pairs after the command, so every subcommand declares
// the global options itself.
export const db = Options.text("db").pipe(
  Options.withDescription("event log file (env MITIGATOR_DB; else the config's `database`; else ./mitigator.db)"),
  Options.withFallbackConfig(Config.string("MITIGATOR_DB")),
  Options.optional
)

export const config = Options.text("config").pipe(
  Options.withDescription("configuration file (env MITIGATOR_CONFIG; default ./mitigator.yaml when it exists)"),
  Options.withFallbackConfig(Config.string("MITIGATOR_CONFIG")),
  Options.optional
)

export const globalOptions = { db, config }

/** A bad option value fails argument parsing, before any layer (the log file) is built. */
export const invalidValue = (message: string) => ValidationError.invalidValue(HelpDoc.p(message))

/** Fails argument parsing, before anything else runs, when the file cannot be written (logFileProblem). */
const checkLogFile = (file: string) =>
  Effect.suspend(() => {
    const problem = logFileProblem(file)
    return problem === undefined ? Effect.succeed(file) : Effect.fail(invalidValue(`--log-file ${file}: ${problem}`))
  })

export const logFormat = Options.choice("log-format", LOG_FORMATS).pipe(
  Options.withDescription("text (one line for people, the default on the terminal), logfmt (the default in --log-file) or json; env MITIGATOR_LOG_FORMAT"),
  Options.withFallbackConfig(Config.literal(...LOG_FORMATS)("MITIGATOR_LOG_FORMAT")),
  Options.optional
)

export const logFile = Options.text("log-file").pipe(
  Options.withDescription("also append every log line to this file, created mode 600 whatever the umask (on Flowmon: /data/components/apps/log/mitigator.log); env MITIGATOR_LOG_FILE"),
  Options.withFallbackConfig(Config.string("MITIGATOR_LOG_FILE")),
  Options.mapEffect(checkLogFile),
  Options.optional
)

export const logOptions = { logFormat, logFile }

export const apiKeyOption = Options.text("api-key").pipe(
  Options.withDescription("LoadMaster API key (visible in the process list: prefer loadmaster.apiKeyFile or LOADMASTER_API_KEY)"),
  Options.optional
)

export const tokenOption = Options.text("cs-token").pipe(
  Options.withDescription("CryptoSpike API token (visible in the process list: prefer cryptospike.tokenFile or CRYPTOSPIKE_API_TOKEN)"),
  Options.optional
)

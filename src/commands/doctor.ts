/**
 * `mitigator doctor`: every check a deployment needs, each passed (✔), passed with something to
 * know (!) or failed (✖) with the one fix that works; exit 0 when none failed, 1 otherwise, in
 * text or (--json) as one object. It reads and lists, and never changes the log or an appliance:
 * before the first append it says the log will be created, and does not create it.
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as os from "node:os"
import { loadConfig, type AppConfig } from "../config/loadConfig.js"
import { fail, isOk, pass, renderJson, renderText, type Check } from "./doctor/Check.js"
import { configChecks } from "./doctor/configChecks.js"
import { cryptoSpikeChecks } from "./doctor/cryptoSpikeChecks.js"
import { loadMasterChecks } from "./doctor/loadMasterChecks.js"
import { logChecks } from "./doctor/logChecks.js"
import { commandLogger } from "./logging.js"
import { besideConfig, ExitCode, logPath, type GlobalOptions } from "./shared.js"
import { apiKeyOption, globalOptions, tokenOption } from "./options.js"

const json = Options.boolean("json").pipe(
  Options.withDescription("one JSON object: { ok, checks: [{ name, status: pass|warn|fail, detail, fix?, note? }] }, in a stable order; the same exit code")
)

/** The user this runs as, for messages about permissions. */
const whoAmI = (): string => {
  try {
    return os.userInfo().username
  } catch {
    return `uid ${process.getuid?.() ?? "?"}`
  }
}

/** Where the log's path came from, to name what to change. */
const logConfiguredBy = (opts: GlobalOptions, cfg: AppConfig): string =>
  Option.isSome(opts.db) ? "--db / MITIGATOR_DB" : cfg.database !== undefined ? `database in ${cfg.source}` : "--db (the default is ./mitigator.db)"

export const doctorCommand = Command.make("doctor", { ...globalOptions, apiKey: apiKeyOption, csToken: tokenOption, json }, (opts) =>
  Effect.gen(function* () {
    const user = whoAmI()
    const checks: Check[] = []
    const loaded = yield* Effect.either(loadConfig(Option.getOrUndefined(opts.config), undefined))
    if (loaded._tag === "Left") {
      checks.push(...configChecks(loaded.left, user))
    } else {
      const cfg = loaded.right
      checks.push(pass("config", cfg.source === null ? "no config file: built-in defaults (nothing is decided or blocked)" : `config ${cfg.source} is valid`))
      checks.push(...(yield* logChecks(logPath(opts, cfg), user, logConfiguredBy(opts, cfg), besideConfig(cfg, cfg.databasePasswordFile))))
      if (cfg.loadmaster === undefined && cfg.cryptospike === undefined) {
        checks.push(
          fail(
            "targets",
            "no appliance configured",
            cfg.source === null ? "write mitigator.yaml (or give --config) with a loadmaster and/or cryptospike section" : `add a loadmaster and/or cryptospike section to ${cfg.source}`
          )
        )
      }
      if (cfg.loadmaster !== undefined) checks.push(...(yield* loadMasterChecks(cfg, opts.apiKey, user)))
      if (cfg.cryptospike !== undefined) checks.push(...(yield* cryptoSpikeChecks(cfg, opts.csToken, user)))
    }
    yield* Console.log(opts.json ? renderJson(checks) : renderText(checks))
    if (!isOk(checks)) return yield* new ExitCode({ code: 1 })
  }).pipe(
    Effect.scoped,
    // A client's warnings (a list entry that is not an address) go to stderr: stdout is the report.
    Effect.provide(commandLogger({ logFormat: Option.none(), logFile: Option.none() }, "stderr"))
  )
).pipe(Command.withDescription("Check the config, the event log, and each configured appliance (credential, reachable, TLS, API, packet filter, clock); change nothing"))

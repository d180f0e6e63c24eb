/**
 * `append`'s fast path. Flowmon starts one `append` per detection, and @effect/cli's modules
 * (with the help printer they load) are a large part of a start. The command lines Flowmon's
 * scripts write (`append` then `--name value` options and flags) and the environment are read
 * here exactly as appendCommand.ts has @effect/cli read them; anything else (help, `--name=value`,
 * an unknown, repeated or empty option, a value that starts with `-`, a value @effect/cli would
 * refuse) is not read here but left to @effect/cli, which answers it as it always has.
 * appendArgs.test.ts holds the two readings side by side.
 */
import * as Option from "effect/Option"
import { parseDuration } from "../domain/Duration.js"
import { INPUT_FORMATS, type FormatChoice } from "../domain/flowmon/Ingest.js"
import { parseTimeZone, type TimeZone } from "../domain/Time.js"
import { LOG_FORMATS, type LogFormat } from "../platform/LogFile.js"
import { INSTANCE, type AppendOptions } from "./append.js"
import { logFileProblem } from "./logging.js"

const VALUE_OPTIONS = ["--db", "--config", "--log-format", "--log-file", "--instance", "--timezone", "--format", "--apply-timeout", "--api-key", "--cs-token"] as const
const FLAGS = ["--defer", "--json"] as const
type ValueOption = (typeof VALUE_OPTIONS)[number]
type Flag = (typeof FLAGS)[number]

const isValueOption = (arg: string): arg is ValueOption => (VALUE_OPTIONS as ReadonlyArray<string>).includes(arg)
const isFlag = (arg: string): arg is Flag => (FLAGS as ReadonlyArray<string>).includes(arg)

/** The environment variables options fall back to (appendCommand.ts, options.ts). */
const FALLBACK_ENV: Partial<Record<ValueOption, string>> = {
  "--db": "MITIGATOR_DB",
  "--config": "MITIGATOR_CONFIG",
  "--log-format": "MITIGATOR_LOG_FORMAT",
  "--log-file": "MITIGATOR_LOG_FILE",
  "--instance": "MITIGATOR_INSTANCE",
  "--timezone": "MITIGATOR_TIMEZONE"
}

/** Not read here: @effect/cli reads it (and says what is wrong with it, when something is). */
const LEFT = Symbol("left to @effect/cli")

/**
 * `append`'s options from the arguments after `append` and the environment, or undefined when
 * @effect/cli is to read them. Like @effect/cli, it checks a `--log-file` by creating it.
 */
export const fastAppendOptions = (args: ReadonlyArray<string>, env: Readonly<Record<string, string | undefined>>): AppendOptions | undefined => {
  const given = new Map<ValueOption, string>()
  const flags = new Set<Flag>()
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (isFlag(arg)) {
      if (flags.has(arg)) return undefined
      flags.add(arg)
    } else if (isValueOption(arg)) {
      const value = args[i + 1]
      if (given.has(arg) || value === undefined || value === "" || value.startsWith("-")) return undefined
      given.set(arg, value)
      i++
    } else return undefined
  }
  // The option's value, else its environment variable's; an empty variable is @effect/cli's to read.
  const value = (option: ValueOption): string | undefined | typeof LEFT => {
    const fromArgs = given.get(option)
    if (fromArgs !== undefined) return fromArgs
    const name = FALLBACK_ENV[option]
    const fromEnv = name === undefined ? undefined : env[name]
    return fromEnv === "" ? LEFT : fromEnv
  }
  const text = (option: ValueOption): Option.Option<string> | typeof LEFT => {
    const v = value(option)
    return v === LEFT ? LEFT : Option.fromNullable(v)
  }
  /** The option read by `read` (LEFT when it refuses the value), none when it is not given. */
  const checked = <A>(option: ValueOption, read: (value: string) => A | typeof LEFT): Option.Option<A> | typeof LEFT => {
    const v = value(option)
    if (v === LEFT) return LEFT
    if (v === undefined) return Option.none()
    const a = read(v)
    return a === LEFT ? LEFT : Option.some(a)
  }

  const db = text("--db")
  const config = text("--config")
  const apiKey = text("--api-key")
  const csToken = text("--cs-token")
  const logFormat = checked("--log-format", (v) => ((LOG_FORMATS as ReadonlyArray<string>).includes(v) ? (v as LogFormat) : LEFT))
  const instance = checked("--instance", (v) => (INSTANCE.test(v) ? v : LEFT))
  const timezone = checked("--timezone", (v): TimeZone | typeof LEFT => {
    const zone = parseTimeZone(v)
    return zone.ok ? zone.value : LEFT
  })
  const format = checked("--format", (v) => ((INPUT_FORMATS as ReadonlyArray<string>).includes(v) ? (v as FormatChoice) : LEFT))
  const applyTimeout = checked("--apply-timeout", (v) => {
    const parsed = parseDuration(v)
    return parsed.ok ? parsed.value : LEFT
  })
  if (db === LEFT || config === LEFT || apiKey === LEFT || csToken === LEFT || logFormat === LEFT || instance === LEFT || timezone === LEFT || format === LEFT || applyTimeout === LEFT) {
    return undefined
  }
  // Checked last, as @effect/cli does, once everything else is read: it creates the file.
  const logFile = checked("--log-file", (v) => (logFileProblem(v) === undefined ? v : LEFT))
  if (logFile === LEFT) return undefined
  return {
    db,
    config,
    logFormat,
    logFile,
    defer: flags.has("--defer"),
    instance,
    timezone,
    format: Option.getOrElse(format, () => "auto" as const),
    applyTimeout: Option.getOrElse(applyTimeout, () => DEFAULT_APPLY_TIMEOUT_MS),
    json: flags.has("--json"),
    apiKey,
    csToken
  }
}

/** `--apply-timeout`'s default, 10s (appendCommand.ts). */
export const DEFAULT_APPLY_TIMEOUT_MS = 10_000

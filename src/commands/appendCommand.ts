/**
 * `mitigator append` as @effect/cli reads its command line: the options, their checks, and the
 * command that runs `runAppend` (append.ts) with them. `append`'s fast path (appendArgs.ts) reads
 * the usual command lines without loading @effect/cli; this is what help, completion and every
 * other command line go through.
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import { parseDuration } from "../domain/Duration.js"
import { INPUT_FORMATS } from "../domain/flowmon/Ingest.js"
import { parseTimeZone } from "../domain/Time.js"
import { appendLayers, INSTANCE, runAppend } from "./append.js"
import { apiKeyOption, globalOptions, invalidValue as invalid, logOptions, tokenOption } from "./options.js"

const defer = Options.boolean("defer").pipe(
  Options.withDescription("only record and decide; the next reconcile applies the blocks")
)
const applyTimeout = Options.text("apply-timeout").pipe(
  Options.withDescription("how long applying the new blocks at once may take (default 10s); what is not done by then, reconcile does"),
  Options.withDefault("10s"),
  Options.mapEffect((text) => {
    const parsed = parseDuration(text)
    return parsed.ok ? Effect.succeed(parsed.value) : Effect.fail(invalid(`--apply-timeout ${parsed.error}`))
  })
)
const instance = Options.text("instance").pipe(
  Options.withDescription("name of this Flowmon appliance in dedupe keys (env MITIGATOR_INSTANCE; else the config's `instance`; else the host name)"),
  Options.withFallbackConfig(Config.string("MITIGATOR_INSTANCE")),
  Options.mapEffect((name) =>
    INSTANCE.test(name)
      ? Effect.succeed(name)
      : Effect.fail(invalid(`--instance '${name}' must be 1 to 253 letters, digits, '.', '_' or '-' (it is part of every event's dedupe key)`))
  ),
  Options.optional
)
const timezone = Options.text("timezone").pipe(
  Options.withDescription("zone of the timestamps Flowmon writes (IANA name; env MITIGATOR_TIMEZONE; else the config's `timezone`; else UTC)"),
  Options.withFallbackConfig(Config.string("MITIGATOR_TIMEZONE")),
  Options.mapEffect((name) => {
    const zone = parseTimeZone(name)
    return zone.ok ? Effect.succeed(zone.value) : Effect.fail(invalid(`--timezone: ${zone.error}`))
  }),
  Options.optional
)
const json = Options.boolean("json").pipe(
  Options.withDescription("also print the outcome as one JSON object on stdout (counts, and what was applied at once or why not)")
)
const format = Options.choice("format", INPUT_FORMATS).pipe(
  Options.withDescription("input layout; auto detects it per line"),
  Options.withDefault("auto" as const)
)

/** The options of `append`, as @effect/cli reads them (appendArgs.test.ts compares the fast path with them). */
export const appendOptions = { ...globalOptions, ...logOptions, defer, instance, timezone, format, applyTimeout, json, apiKey: apiKeyOption, csToken: tokenOption }

export const appendCommand = Command.make("append", appendOptions, runAppend).pipe(
  Command.withDescription("Record Flowmon events read on stdin (TSV, JSON lines or CEF) in the event log"),
  Command.provide(appendLayers)
)

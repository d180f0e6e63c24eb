/**
 * `mitigator emulate loadmaster --port N [--api-key K] [--tls] [--fail-rate R] [--latency D]
 * [--state FILE] [--list-shape SHAPE] [--host-form either|cidr|bare] [--listed-hosts cidr|bare|as-sent]
 * [--comment-max N] [--comment-charset any|plain] [--strict-params] [--host H] [--cert-out FILE]`:
 * a local LoadMaster ACL API for tests and demos (src/emulators/loadmaster), with the profiles
 * of firmware that differ (issue 18: address forms, comment limits, list shapes, strictness).
 *
 * The first line of stdout is `loadmaster emulator listening on <url> api-key <key>`, followed on
 * the same line, with --tls, by `fingerprint AB:CD:...` (the certificate's SHA-256, as openssl
 * prints it). It serves until SIGTERM or SIGINT, then saves --state (when given) and exits 0.
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as fs from "node:fs"
import type {
  LoadMasterEmulatorHandle,
  LoadMasterEmulatorOptions,
  LoadMasterEmulatorState
} from "../emulators/loadmaster/LoadMasterEmulator.js"
import { certOut, failRate, host, latency, message, port, tls, untilStopSignal, writeCertificate } from "./emulatorShell.js"
import { checkRegularFile, FileRefused } from "../platform/RegularFile.js"
import { UsageError } from "./shared.js"

const apiKey = Options.text("api-key").pipe(
  Options.withDescription("the API key clients must send (default: 32 random hex characters, printed at start)"),
  Options.optional
)

const stateFile = Options.text("state").pipe(
  Options.withDescription("load the lists from this file when it exists; save them to it on exit"),
  Options.optional
)

const listShape = Options.choice("list-shape", ["nested", "kreemer", "pier", "data", "success", "old"] as const).pipe(
  Options.withDescription("shape of list answers (APIv2 JSON; `old` also for APIv1 XML): nested, kreemer, pier, data, success or old (bare addresses, no comments)"),
  Options.withDefault("nested" as const)
)

const hostForm = Options.choice("host-form", ["either", "cidr", "bare"] as const).pipe(
  Options.withDescription("the single-host form adds and deletes accept: either, cidr (a bare host refused, as older firmware) or bare (/32 and /128 refused)"),
  Options.withDefault("either" as const)
)

const listedHosts = Options.choice("listed-hosts", ["cidr", "bare", "as-sent"] as const).pipe(
  Options.withDescription("how lists show a single host (default: bare with --host-form bare, else cidr)"),
  Options.optional
)

const commentMax = Options.integer("comment-max").pipe(
  Options.withDescription("refuse an add whose comment is longer than this (422 Invalid comment)"),
  Options.optional
)

const commentCharset = Options.choice("comment-charset", ["any", "plain"] as const).pipe(
  Options.withDescription("plain: refuse an add whose comment has a character outside [A-Za-z0-9 ._-]"),
  Options.withDefault("any" as const)
)

const strictParams = Options.boolean("strict-params").pipe(
  Options.withDescription("refuse any parameter a command does not take (422 Unknown parameter)")
)

const loadmasterCommand = Command.make(
  "loadmaster",
  { port, host, apiKey, tls, certOut, failRate, latency, state: stateFile, listShape, hostForm, listedHosts, commentMax, commentCharset, strictParams },
  (opts) =>
    Effect.scoped(
      Effect.gen(function* () {
        // Loaded here, not at start-up: only this command needs the emulator.
        const { loadState, startLoadMasterEmulator } = yield* Effect.promise(() => import("../emulators/loadmaster/LoadMasterEmulator.js"))
        const statePath = Option.getOrUndefined(opts.state)
        const saved: LoadMasterEmulatorState | undefined = yield* Effect.try({
          try: () => {
            if (statePath === undefined || !fs.existsSync(statePath)) return undefined
            // A FIFO or a device here would hang the start (and its reader cannot be interrupted).
            checkRegularFile(statePath)
            return loadState(statePath)
          },
          catch: (e) => new UsageError({ message: `emulate loadmaster: ${e instanceof FileRefused ? `--state ${statePath}: ${e.detail}` : message(e)}` })
        })
        const failRateValue = Option.getOrUndefined(opts.failRate)
        const latencyValue = Option.getOrUndefined(opts.latency)
        const options: LoadMasterEmulatorOptions = {
          port: opts.port,
          host: opts.host,
          apiKey: Option.getOrUndefined(opts.apiKey),
          tls: opts.tls,
          listShape: opts.listShape,
          hostForm: opts.hostForm,
          listedHostForm: Option.getOrUndefined(opts.listedHosts),
          commentMaxLength: Option.getOrUndefined(opts.commentMax),
          commentCharset: opts.commentCharset,
          strictParameters: opts.strictParams,
          state: saved,
          faults: { failRate: failRateValue, latencyMs: latencyValue }
        }

        // runMain interrupts this fiber on SIGTERM/SIGINT; the flag tells the finalizer why.
        let signalled = false
        const handle: LoadMasterEmulatorHandle = yield* Effect.acquireRelease(
          Effect.tryPromise({
            try: () => startLoadMasterEmulator(options),
            catch: (e) => new UsageError({ message: `emulate loadmaster: ${message(e)}` })
          }),
          (h) =>
            Effect.promise(async () => {
              if (statePath !== undefined) {
                try {
                  h.saveState(statePath)
                  process.stderr.write(`loadmaster emulator: state saved to ${statePath}\n`)
                } catch (e) {
                  process.stderr.write(`loadmaster emulator: could not save the state to ${statePath}: ${message(e)}\n`)
                }
              }
              await h.close()
              // The entry point reports an interrupted run as a failure; a stop asked for by a
              // signal is this command's normal end.
              if (signalled) process.exit(0)
            })
        )

        yield* writeCertificate(opts.certOut, handle.certificatePem, (text) => new UsageError({ message: `emulate loadmaster: ${text}` }))
        const fingerprint = handle.fingerprint === undefined ? "" : ` fingerprint ${handle.fingerprint}`
        yield* Console.log(`loadmaster emulator listening on ${handle.url} api-key ${handle.apiKey}${fingerprint}`)

        yield* untilStopSignal(() => {
          signalled = true
        })
      })
    )
).pipe(Command.withDescription("Serve a local LoadMaster ACL API (APIv2 JSON and APIv1 XML) until SIGTERM/SIGINT"))

export const emulateLoadMasterCommand = loadmasterCommand

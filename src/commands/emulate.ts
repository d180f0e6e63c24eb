/**
 * `mitigator emulate loadmaster --port N [--api-key K] [--tls] [--fail-rate R] [--latency D]
 * [--state FILE] [--list-shape nested|kreemer|pier] [--host H] [--cert-out FILE]`: a local
 * LoadMaster ACL API for tests and demos (src/emulators/loadmaster).
 *
 * The first line of stdout is `loadmaster emulator listening on <url> api-key <key>`, followed on
 * the same line, with --tls, by `fingerprint AB:CD:...` (the certificate's SHA-256, as openssl
 * prints it). It serves until SIGTERM or SIGINT, then saves --state (when given) and exits 0.
 */
import * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as fs from "node:fs"
import { parseDuration } from "../domain/Duration.js"
import type {
  LoadMasterEmulatorHandle,
  LoadMasterEmulatorOptions,
  LoadMasterEmulatorState
} from "../emulators/loadmaster/LoadMasterEmulator.js"
import { UsageError } from "./shared.js"

const invalid = (message: string) => ValidationError.invalidValue(HelpDoc.p(message))

/** `250ms`, or a duration as elsewhere (`2s`, `1m`); `0`/`0ms` is no latency. */
export const parseLatency = (text: string): { ok: true; value: number } | { ok: false; error: string } => {
  const t = text.trim()
  const ms = /^([0-9]{1,9})(ms)?$/.exec(t)
  if (ms !== null && (ms[2] === "ms" || ms[1] === "0")) return { ok: true, value: Number(ms[1]) }
  const parsed = parseDuration(t)
  return parsed.ok ? parsed : { ok: false, error: `'${text}': expected a duration like "250ms", "2s" or "1m"` }
}

const port = Options.integer("port").pipe(
  Options.withDescription("TCP port to listen on (0: any free port)"),
  Options.mapEffect((n) => (n >= 0 && n <= 65535 ? Effect.succeed(n) : Effect.fail(invalid(`--port ${n}: expected 0 to 65535`))))
)

const host = Options.text("host").pipe(
  Options.withDescription("address to listen on (default 127.0.0.1: loopback only)"),
  Options.withDefault("127.0.0.1")
)

const apiKey = Options.text("api-key").pipe(
  Options.withDescription("the API key clients must send (default: 32 random hex characters, printed at start)"),
  Options.optional
)

const tls = Options.boolean("tls").pipe(
  Options.withDescription("serve HTTPS with a fresh self-signed certificate (made with openssl); prints its SHA-256 fingerprint")
)

const certOut = Options.text("cert-out").pipe(
  Options.withDescription("with --tls: write the certificate (PEM) to this file, for clients that take a CA bundle"),
  Options.optional
)

const failRate = Options.float("fail-rate").pipe(
  Options.withDescription("share of calls (0 to 1) answered 503"),
  Options.mapEffect((r) => (r >= 0 && r <= 1 ? Effect.succeed(r) : Effect.fail(invalid(`--fail-rate ${r}: expected 0 to 1`)))),
  Options.optional
)

const latency = Options.text("latency").pipe(
  Options.withDescription('delay before every answer, e.g. "250ms" or "2s"'),
  Options.mapEffect((text) => {
    const parsed = parseLatency(text)
    return parsed.ok ? Effect.succeed(parsed.value) : Effect.fail(invalid(`--latency ${parsed.error}`))
  }),
  Options.optional
)

const stateFile = Options.text("state").pipe(
  Options.withDescription("load the lists from this file when it exists; save them to it on exit"),
  Options.optional
)

const listShape = Options.choice("list-shape", ["nested", "kreemer", "pier"] as const).pipe(
  Options.withDescription("JSON shape of APIv2 list answers"),
  Options.withDefault("nested" as const)
)

const message = (e: unknown) => (e instanceof Error ? e.message : String(e))

const loadmasterCommand = Command.make(
  "loadmaster",
  { port, host, apiKey, tls, certOut, failRate, latency, state: stateFile, listShape },
  (opts) =>
    Effect.scoped(
      Effect.gen(function* () {
        // Loaded here, not at start-up: only this command needs the emulator.
        const { loadState, startLoadMasterEmulator } = yield* Effect.promise(() => import("../emulators/loadmaster/LoadMasterEmulator.js"))
        const statePath = Option.getOrUndefined(opts.state)
        const saved: LoadMasterEmulatorState | undefined = yield* Effect.try({
          try: () => (statePath !== undefined && fs.existsSync(statePath) ? loadState(statePath) : undefined),
          catch: (e) => new UsageError({ message: `emulate loadmaster: ${message(e)}` })
        })
        const failRateValue = Option.getOrUndefined(opts.failRate)
        const latencyValue = Option.getOrUndefined(opts.latency)
        const options: LoadMasterEmulatorOptions = {
          port: opts.port,
          host: opts.host,
          apiKey: Option.getOrUndefined(opts.apiKey),
          tls: opts.tls,
          listShape: opts.listShape,
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

        const certPath = Option.getOrUndefined(opts.certOut)
        if (certPath !== undefined && handle.certificatePem !== undefined) {
          yield* Effect.try({
            try: () => fs.writeFileSync(certPath, handle.certificatePem!),
            catch: (e) => new UsageError({ message: `emulate loadmaster: --cert-out: ${message(e)}` })
          })
        }
        const fingerprint = handle.fingerprint === undefined ? "" : ` fingerprint ${handle.fingerprint}`
        yield* Console.log(`loadmaster emulator listening on ${handle.url} api-key ${handle.apiKey}${fingerprint}`)

        // Serve until a signal.
        yield* Effect.async<void>((resume) => {
          const stop = () => {
            signalled = true
            resume(Effect.void)
          }
          process.once("SIGTERM", stop)
          process.once("SIGINT", stop)
          return Effect.sync(() => {
            process.off("SIGTERM", stop)
            process.off("SIGINT", stop)
          })
        })
      })
    )
).pipe(Command.withDescription("Serve a local LoadMaster ACL API (APIv2 JSON and APIv1 XML) until SIGTERM/SIGINT"))

export const emulateLoadMasterCommand = loadmasterCommand

/**
 * `mitigator emulate cryptospike --port N [--token T] [--tls] [--seed FILE] [--fail-rate R]
 * [--latency D] [--host H] [--username U --password P] [--unblock-state S] [--cert-out FILE]`:
 * a local ProLion CryptoSpike REST API for tests and demos (src/emulators/cryptospike).
 *
 * The first line of stdout is `cryptospike emulator listening on <url> token <token> login
 * <user>:<password>`, followed on the same line, with --tls, by `fingerprint AB:CD:...` (the
 * certificate's SHA-256, as openssl prints it). It serves until SIGTERM or SIGINT, then exits 0.
 */
import * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as fs from "node:fs"
import type {
  CryptoSpikeEmulatorHandle,
  CryptoSpikeEmulatorOptions,
  CryptoSpikeSeed
} from "../emulators/cryptospike/CryptoSpikeEmulator.js"
import { parseLatency } from "./emulate.js"
import { UsageError } from "./shared.js"

const invalid = (message: string) => ValidationError.invalidValue(HelpDoc.p(message))

const port = Options.integer("port").pipe(
  Options.withDescription("TCP port to listen on (0: any free port)"),
  Options.mapEffect((n) => (n >= 0 && n <= 65535 ? Effect.succeed(n) : Effect.fail(invalid(`--port ${n}: expected 0 to 65535`))))
)

const host = Options.text("host").pipe(
  Options.withDescription("address to listen on (default 127.0.0.1: loopback only)"),
  Options.withDefault("127.0.0.1")
)

const token = Options.text("token").pipe(
  Options.withDescription("the application token clients send as x-auth-token (default: xapp- and random characters, printed at start)"),
  Options.optional
)

const username = Options.text("username").pipe(
  Options.withDescription(`the user auth/login accepts (default svc-mitigator; printed at start)`),
  Options.optional
)

const password = Options.text("password").pipe(
  Options.withDescription("the password auth/login accepts (default: random, printed at start)"),
  Options.optional
)

const tls = Options.boolean("tls").pipe(
  Options.withDescription("serve HTTPS with a fresh self-signed certificate (made with openssl); prints its SHA-256 fingerprint")
)

const certOut = Options.text("cert-out").pipe(
  Options.withDescription("with --tls: write the certificate (PEM) to this file, for clients that take a CA bundle"),
  Options.optional
)

const seed = Options.text("seed").pipe(
  Options.withDescription(
    'JSON file of users and file activity: {"users":[{userId,userName,userPrincipalName,blocked?,blockedBy?}],"fileActivity":[{userId,ip,time,path,action}]}'
  ),
  Options.optional
)

const unblockState = Options.text("unblock-state").pipe(
  Options.withDescription("the userAccessState that unblocks a user (default UNBLOCKED; the real value is unverified)"),
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

const message = (e: unknown) => (e instanceof Error ? e.message : String(e))

export const emulateCryptoSpikeCommand = Command.make(
  "cryptospike",
  { port, host, token, username, password, tls, certOut, seed, unblockState, failRate, latency },
  (opts) =>
    Effect.scoped(
      Effect.gen(function* () {
        const fail = (text: string) => new UsageError({ message: `emulate cryptospike: ${text}` })
        const user = Option.getOrUndefined(opts.username)
        const pass = Option.getOrUndefined(opts.password)
        if (user !== undefined && pass === undefined) return yield* Effect.fail(fail("--username needs --password"))
        // Loaded here, not at start-up: only this command needs the emulator.
        const { loadSeed, startCryptoSpikeEmulator, DEFAULT_LOGIN_USER } = yield* Effect.promise(
          () => import("../emulators/cryptospike/CryptoSpikeEmulator.js")
        )
        const seedPath = Option.getOrUndefined(opts.seed)
        const seeded: CryptoSpikeSeed | undefined = yield* Effect.try({
          try: () => (seedPath === undefined ? undefined : loadSeed(seedPath)),
          catch: (e) => fail(message(e))
        })
        // A password alone keeps the default user name.
        const login = pass === undefined ? undefined : { username: user ?? DEFAULT_LOGIN_USER, password: pass }
        const options: CryptoSpikeEmulatorOptions = {
          port: opts.port,
          host: opts.host,
          token: Option.getOrUndefined(opts.token),
          login,
          tls: opts.tls,
          seed: seeded,
          unblockState: Option.getOrUndefined(opts.unblockState),
          faults: { failRate: Option.getOrUndefined(opts.failRate), latencyMs: Option.getOrUndefined(opts.latency) }
        }

        // runMain interrupts this fiber on SIGTERM/SIGINT; the flag tells the finalizer why.
        let signalled = false
        const handle: CryptoSpikeEmulatorHandle = yield* Effect.acquireRelease(
          Effect.tryPromise({
            try: () => startCryptoSpikeEmulator(options),
            catch: (e) => fail(message(e))
          }),
          (h) =>
            Effect.promise(async () => {
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
            catch: (e) => fail(`--cert-out: ${message(e)}`)
          })
        }
        const fingerprint = handle.fingerprint === undefined ? "" : ` fingerprint ${handle.fingerprint}`
        yield* Console.log(
          `cryptospike emulator listening on ${handle.url} token ${handle.token} login ${handle.login.username}:${handle.login.password}${fingerprint}`
        )

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
).pipe(Command.withDescription("Serve a local ProLion CryptoSpike REST API (auth, file activity, users, block/unblock) until SIGTERM/SIGINT"))

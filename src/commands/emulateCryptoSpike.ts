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
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type {
  CryptoSpikeEmulatorHandle,
  CryptoSpikeEmulatorOptions,
  CryptoSpikeSeed
} from "../emulators/cryptospike/CryptoSpikeEmulator.js"
import { certOut, failRate, host, latency, message, port, tls, untilStopSignal, writeCertificate } from "./emulatorShell.js"
import { checkRegularFile, FileRefused } from "../platform/RegularFile.js"
import { UsageError } from "./shared.js"

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

const blockInfo = Options.choice("block-info", ["blockUnblockInfo", "none"]).pipe(
  Options.withDescription("whether listed users tell who blocked them last (blockUnblockInfo, the default) or not (none: mitigator can only trust its ledger)"),
  Options.withDefault("blockUnblockInfo" as const)
)

export const emulateCryptoSpikeCommand = Command.make(
  "cryptospike",
  { port, host, token, username, password, tls, certOut, seed, unblockState, blockInfo, failRate, latency },
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
          try: () => {
            if (seedPath === undefined) return undefined
            // A FIFO or a device here would hang the start (and its reader cannot be interrupted).
            checkRegularFile(seedPath)
            return loadSeed(seedPath)
          },
          catch: (e) => fail(e instanceof FileRefused ? `--seed ${seedPath}: ${e.detail}` : message(e))
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
          blockInfo: opts.blockInfo,
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

        yield* writeCertificate(opts.certOut, handle.certificatePem, fail)
        const fingerprint = handle.fingerprint === undefined ? "" : ` fingerprint ${handle.fingerprint}`
        yield* Console.log(
          `cryptospike emulator listening on ${handle.url} token ${handle.token} login ${handle.login.username}:${handle.login.password}${fingerprint}`
        )

        yield* untilStopSignal(() => {
          signalled = true
        })
      })
    )
).pipe(Command.withDescription("Serve a local ProLion CryptoSpike REST API (auth, file activity, users, block/unblock) until SIGTERM/SIGINT"))

#!/usr/bin/env node
/**
 * The edge: argv in, exit code out. Every error a command can fail with is printed here, once,
 * as one human line; the exit code is chosen here too.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { stopGraceMs } from "./platform/StopGrace.js"

// `mitigator replay --events | head` closes stdout early: that is not an error.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(0)
  throw e
})

/**
 * SIGTERM and SIGINT interrupt the program (runMain, below), and interruption ends a command
 * quickly wherever it waits on something interruptible. What does not let go (a finalizer stuck on
 * a peer that never answers) is cut short here, so that any command ends within a second of the
 * signal (`serve`, which finishes its pass first, within 2 s: StopGrace.ts), with exit 130. That is safe for the log: every write is one SQLite transaction, which a
 * process that ends is committed or not, never half; the reconcile lease is released on exit
 * (src/reconciler/lock.ts). A second signal ends the process at once (Node's default).
 */
const stopSoon = () => {
  process.off("SIGTERM", stopSoon)
  process.off("SIGINT", stopSoon)
  setTimeout(() => process.exit(130), stopGraceMs()).unref()
}
process.on("SIGTERM", stopSoon)
process.on("SIGINT", stopSoon)

const print = (message: string) => Effect.sync(() => process.stderr.write(`mitigator: ${message}\n`))

/** Prints what went wrong and returns the exit code. (A wrong command line was answered by Cli.ts.) */
const report = (cause: Cause.Cause<unknown>): Effect.Effect<number> => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const error = failure.value as { _tag?: string; message?: string; code?: number }
    if (error._tag === "ExitCode") return Effect.succeed(error.code ?? 1)
    return Effect.as(print(error.message ?? String(error)), 1)
  }
  if (Cause.isInterruptedOnly(cause)) return Effect.succeed(130)
  return Effect.as(print(`unexpected error (a bug; please report it):\n${Cause.pretty(cause)}`), 70)
}

/**
 * `append` (Flowmon starts one per detection) reads its usual command lines on its fast path,
 * without @effect/cli (appendArgs.ts); every other command line goes through @effect/cli (Cli.ts).
 * Both load only what they run.
 */
const run = (argv: ReadonlyArray<string>): Effect.Effect<unknown, unknown> =>
  Effect.gen(function* () {
    if (argv[2] === "append") {
      const fast = yield* Effect.promise(() => import("./commands/appendFast.js"))
      const opts = fast.fastAppendOptions(argv.slice(3), process.env)
      if (opts !== undefined) return yield* fast.appendFast(opts)
    }
    const { cliWithPlatform } = yield* Effect.promise(() => import("./Cli.js"))
    return yield* cliWithPlatform(argv)
  })

const program = Effect.suspend(() => run(process.argv)).pipe(
  // A number: the exit code of an answer that ran no command (help 0, a misspelt command 1).
  Effect.matchCauseEffect({ onFailure: report, onSuccess: (code) => Effect.succeed(typeof code === "number" ? code : 0) })
)

NodeRuntime.runMain(program, {
  disableErrorReporting: true,
  // Commands that log install their own logger (--log-format, --log-file).
  disablePrettyLogger: true,
  // Stopped by a signal (SIGINT/SIGTERM interrupt the program): 130, not an error's 1.
  teardown: (exit, onExit) =>
    onExit(Exit.isSuccess(exit) ? (exit.value as number) : Cause.isInterruptedOnly(exit.cause) ? 130 : 1)
})

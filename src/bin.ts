#!/usr/bin/env node
/**
 * The edge: argv in, exit code out. Every error a command can fail with is printed here, once,
 * as one human line; the exit code is chosen here too.
 */
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { cli } from "./Cli.js"
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

/** Prints what went wrong and returns the exit code. */
const report = (cause: Cause.Cause<unknown>): Effect.Effect<number> => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    // @effect/cli has already printed the problem with the arguments, unless it had nothing to
    // say (an argument like `-1h` can leave it speechless): then say something.
    if (ValidationError.isValidationError(failure.value)) {
      const error = failure.value
      const silent = "error" in error && HelpDoc.isEmpty(error.error)
      // (The arguments are not repeated: one of them may be a secret.)
      return silent ? Effect.as(print("cannot read the command line (an unknown or misplaced option?): see mitigator <command> --help"), 1) : Effect.succeed(1)
    }
    const error = failure.value as { _tag?: string; message?: string; code?: number }
    if (error._tag === "ExitCode") return Effect.succeed(error.code ?? 1)
    return Effect.as(print(error.message ?? String(error)), 1)
  }
  if (Cause.isInterruptedOnly(cause)) return Effect.succeed(130)
  return Effect.as(print(`unexpected error (a bug; please report it):\n${Cause.pretty(cause)}`), 70)
}

const program = Effect.suspend(() => cli(process.argv)).pipe(
  // A number: the exit code of an answer that ran no command (help 0, a misspelt command 1).
  Effect.matchCauseEffect({ onFailure: report, onSuccess: (code) => Effect.succeed(typeof code === "number" ? code : 0) }),
  Effect.provide(Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, NodeTerminal.layer))
)

NodeRuntime.runMain(program, {
  disableErrorReporting: true,
  // Commands that log install their own logger (--log-format, --log-file).
  disablePrettyLogger: true,
  // Stopped by a signal (SIGINT/SIGTERM interrupt the program): 130, not an error's 1.
  teardown: (exit, onExit) =>
    onExit(Exit.isSuccess(exit) ? (exit.value as number) : Cause.isInterruptedOnly(exit.cause) ? 130 : 1)
})

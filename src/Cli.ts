/**
 * The root command and its subcommands.
 *
 * Flowmon starts one `append` per detection, so a run loads only the subcommand it names: each
 * command's module (and everything it imports: HTTP, TLS, the emulators, the reconciler) is
 * evaluated on demand. Anything else (`--help`, `--version`, a typo, no command at all) loads
 * them all, so help and "did you mean" see the whole tree.
 */
import * as Command from "@effect/cli/Command"
import * as Effect from "effect/Effect"
import pkg from "../package.json" with { type: "json" }

// Each loader gives the command by its name; the order is the order of the help.
const commands = {
  append: () => import("./commands/append.js").then((m) => m.appendCommand),
  status: () => import("./commands/status.js").then((m) => m.statusCommand),
  reconcile: () => import("./commands/reconcile.js").then((m) => m.reconcileCommand),
  plan: () => import("./commands/reconcile.js").then((m) => m.planCommand),
  replay: () => import("./commands/replay.js").then((m) => m.replayCommand),
  why: () => import("./commands/why.js").then((m) => m.whyCommand),
  block: () => import("./commands/operator.js").then((m) => m.blockCommand),
  unblock: () => import("./commands/operator.js").then((m) => m.unblockCommand),
  allow: () => import("./commands/operator.js").then((m) => m.allowCommand),
  import: () => import("./commands/import.js").then((m) => m.importCommand),
  verify: () => import("./commands/verify.js").then((m) => m.verifyCommand),
  demo: () => import("./commands/demo.js").then((m) => m.demoCommand),
  doctor: () => import("./commands/doctor.js").then((m) => m.doctorCommand),
  emulate: () => import("./commands/emulators.js").then((m) => m.emulateCommand)
}
type Name = keyof typeof commands
type AnyCommand = Awaited<ReturnType<(typeof commands)[Name]>>

// Options of @effect/cli itself that describe the whole tree.
const WHOLE_TREE = new Set(["--help", "-h", "--version", "--wizard", "--completions"])

/** The subcommand argv names, when it names exactly one and asks nothing of the whole tree. */
export const namedCommand = (args: ReadonlyArray<string>): Name | undefined => {
  // `--completions=bash` is `--completions bash`.
  if (args.some((a) => WHOLE_TREE.has(a.split("=", 1)[0]!))) return undefined
  const first = args[0]
  return first !== undefined && Object.hasOwn(commands, first) ? (first as Name) : undefined
}

const description =
  "Turns Flowmon ADS/IDS detections into blocks on Kemp LoadMaster and ProLion CryptoSpike, from an append-only event log"

/** Runs the command line (`process.argv`: node, script, then the arguments). */
export const cli = (argv: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const named = namedCommand(argv.slice(2))
    const names: ReadonlyArray<Name> = named === undefined ? (Object.keys(commands) as Array<Name>) : [named]
    const loaded = yield* Effect.promise(() => Promise.all(names.map((name) => commands[name]())))
    const root = Command.make("mitigator").pipe(
      Command.withDescription(description),
      Command.withSubcommands(loaded as [AnyCommand, ...Array<AnyCommand>])
    )
    return yield* Command.run(root, { name: "mitigator", version: pkg.version })(argv)
  })

/**
 * The root command and its subcommands.
 *
 * Flowmon starts one `append` per detection, so a run loads only the subcommand it names: each
 * command's module (and everything it imports: HTTP, TLS, the emulators, the reconciler) is
 * evaluated on demand. Help, a misspelt command, no command at all, `--version` and
 * `--completions` load them all, so help, "did you mean" and completion scripts see the whole tree.
 *
 * Thin wraps around @effect/cli (each said where it is): the global options are accepted before
 * the command too (CliArgs.ts); help, typos and unknown options are answered by src/help (loaded
 * only then); @effect/cli's own messages (a missing option, a bad value) lose their colours off a
 * terminal and under NO_COLOR (plainErrors).
 */
import * as Command from "@effect/cli/Command"
import * as CommandDescriptor from "@effect/cli/CommandDescriptor"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import pkg from "../package.json" with { type: "json" }
import { asksHelp, asksWholeTree, liftGroupOptions, badOption, optionNames, reorder, splitArgv, WHOLE_TREE, type SplitArgv } from "./CliArgs.js"

// Each loader gives the command by its name; the order is the order of the help.
const commands = {
  append: () => import("./commands/appendCommand.js").then((m) => m.appendCommand),
  status: () => import("./commands/status.js").then((m) => m.statusCommand),
  reconcile: () => import("./commands/reconcile.js").then((m) => m.reconcileCommand),
  serve: () => import("./commands/serve.js").then((m) => m.serveCommand),
  plan: () => import("./commands/reconcile.js").then((m) => m.planCommand),
  replay: () => import("./commands/replay.js").then((m) => m.replayCommand),
  why: () => import("./commands/why.js").then((m) => m.whyCommand),
  block: () => import("./commands/operator.js").then((m) => m.blockCommand),
  unblock: () => import("./commands/operator.js").then((m) => m.unblockCommand),
  allow: () => import("./commands/operator.js").then((m) => m.allowCommand),
  import: () => import("./commands/import.js").then((m) => m.importCommand),
  verify: () => import("./commands/verify.js").then((m) => m.verifyCommand),
  "copy-log": () => import("./commands/copyLog.js").then((m) => m.copyLogCommand),
  demo: () => import("./commands/demo.js").then((m) => m.demoCommand),
  doctor: () => import("./commands/doctor.js").then((m) => m.doctorCommand),
  emulate: () => import("./commands/emulators.js").then((m) => m.emulateCommand)
}
type Name = keyof typeof commands
type AnyCommand = Awaited<ReturnType<(typeof commands)[Name]>>

const isName = (word: string | undefined): word is Name => word !== undefined && Object.hasOwn(commands, word)

const description =
  "Turns Flowmon ADS/IDS detections into blocks on Kemp LoadMaster and ProLion CryptoSpike, from an append-only event log"

/** The commands, in the order of the help. */
export const commandNames = Object.keys(commands) as ReadonlyArray<Name>

const loadAll = () => Promise.all(commandNames.map((name) => commands[name]()))

const ESCAPES = /\x1b\[[0-9;]*m/g
const colourless = (value: unknown) => (typeof value === "string" && value.includes("\x1b") ? value.replace(ESCAPES, "") : value)

/**
 * @effect/cli prints its complaints about the command line (a missing option, a bad value) in
 * colour whatever stderr is: off a terminal, and under NO_COLOR (no-color.org), without.
 */
/**
 * @effect/cli's complaint about a stray word repeats it, and a stray word may be half of a secret
 * (`--api-key abc def`, unquoted): the word is left out.
 */
const withoutStrayWords = (text: unknown): unknown =>
  typeof text === "string" ? text.replace(/Received unknown argument: '[^']*'/g, "Received an argument it does not take (not repeated here: it may be part of a secret; quote values with spaces)") : text

const plainErrors = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
  const colour = process.stderr.isTTY === true && (process.env["NO_COLOR"] ?? "") === "" && process.env["TERM"] !== "dumb"
  const clean = (arg: unknown) => {
    const plain = colourless(arg)
    const said = withoutStrayWords(plain)
    return said !== plain ? said : colour ? arg : plain
  }
  return Effect.flatMap(Effect.console, (console) =>
    Effect.withConsole(self, {
      ...console,
      error: (...args: ReadonlyArray<unknown>) => console.error(...args.map(clean)),
      unsafe: { ...console.unsafe, error: (...args: ReadonlyArray<unknown>) => console.unsafe.error(...args.map(clean)) }
    } satisfies Console.Console)
  )
}

const rootOf = (loaded: ReadonlyArray<AnyCommand>) =>
  Command.make("mitigator").pipe(
    Command.withDescription(description),
    Command.withSubcommands(loaded as [AnyCommand, ...Array<AnyCommand>])
  )

const runLibrary = (loaded: ReadonlyArray<AnyCommand>, args: ReadonlyArray<string>, argv: ReadonlyArray<string>) =>
  plainErrors(Command.run(rootOf(loaded), { name: "mitigator", version: pkg.version })([...argv.slice(0, 2), ...args]))

/** Help, a typo, no command: src/help answers, with every command loaded. */
const answer = (split: SplitArgv, args: ReadonlyArray<string>) =>
  Effect.promise(async () => {
    const [help, loaded] = await Promise.all([import("./help/index.js"), loadAll()])
    return help.answer(split, args, { commands: commandNames.map((name, i) => [name, loaded[i]!.descriptor as CommandDescriptor.Command<unknown>] as const), description, version: pkg.version })
  }).pipe(Effect.flatten)

/**
 * Runs the command line (`process.argv`: node, script, then the arguments). Gives the exit code
 * when it answered without running a command (help, a typo), else what the command gives.
 */
export const cli = (argv: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const args = argv.slice(2)
    let split = splitArgv(args)
    // `--version`, `--completions`: @effect/cli answers them, about the whole tree.
    // (The global options before them mean nothing to them, and @effect/cli would not read them there.)
    if (split.unknown === undefined && asksWholeTree(args) && !asksHelp(args)) {
      const asked = split.before.filter((o) => WHOLE_TREE.has(o[0]!.split("=", 1)[0]!)).flat()
      return yield* runLibrary(yield* Effect.promise(loadAll), [...asked, ...(split.command === undefined ? [] : [split.command]), ...split.rest], argv)
    }
    const name = split.command
    if (split.unknown !== undefined || !isName(name) || asksHelp(args)) return yield* answer(split, args)
    const command: AnyCommand = yield* Effect.promise((): Promise<AnyCommand> => commands[name]())
    // A command of a group (`import lm-timeout`) is the next word; a group without one is help's.
    const subcommands = CommandDescriptor.getSubcommands(command.descriptor as CommandDescriptor.Command<unknown>)
    const isLeaf = HashMap.size(subcommands) === 1 && HashMap.has(subcommands, name)
    if (!isLeaf) split = liftGroupOptions(split)
    const path = isLeaf ? [name] : [name, split.rest[0] ?? ""]
    const leaf = HashMap.get(subcommands, path[path.length - 1]!)
    if (Option.isNone(leaf)) return yield* answer(split, args)
    const { args: reordered, options } = reorder(split, path)
    // An option the command does not have: "did you mean", not @effect/cli's bare complaint.
    const known = optionNames(CommandDescriptor.getUsage(leaf.value))
    const bad = badOption(options, known)
    if (bad !== undefined) {
      const help = yield* Effect.promise(() => import("./help/index.js"))
      return yield* help.badOption(path, bad, known.keys(), split.before.some((o) => o[0]!.split("=", 1)[0] === bad.name))
    }
    return yield* runLibrary([command], reordered, argv)
  })

/**
 * `cli` as the edge runs it (bin.ts): with the platform @effect/cli needs, and a wrong command
 * line answered here with exit 1. @effect/cli has already printed the problem with the
 * arguments, unless it had nothing to say (an argument like `-1h` can leave it speechless): then
 * this says something (without repeating the arguments: one of them may be a secret).
 */
export const cliWithPlatform = (argv: ReadonlyArray<string>) =>
  cli(argv).pipe(
    Effect.catchIf(ValidationError.isValidationError, (error) =>
      "error" in error && HelpDoc.isEmpty(error.error)
        ? Effect.as(Effect.sync(() => process.stderr.write("mitigator: cannot read the command line (an unknown or misplaced option?): see mitigator <command> --help\n")), 1)
        : Effect.succeed(1)
    ),
    Effect.provide(Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, NodeTerminal.layer))
  )

/**
 * The command line as the operator wrote it, put in the order @effect/cli reads it.
 *
 * @effect/cli reads a subcommand's options only after the subcommand's name, but operators write
 * `mitigator --db x.db status` as readily as `mitigator status --db x.db` (git, kubectl). The
 * global options given before the command are moved after it (after `import lm-timeout`, for a
 * command in a group), and `--log-level` (an @effect/cli built-in) is moved before the command,
 * the one place @effect/cli reads it whatever follows. Pure and cheap: every `append` runs it.
 */
import type * as Usage from "@effect/cli/Usage"
import * as Option from "effect/Option"

/** Global options that take a value (`--db x`, `--db=x`). */
export const GLOBAL_VALUE_OPTIONS: ReadonlySet<string> = new Set(["--config", "--db", "--log-level"])
/** Global flags (no value); moved only into a command that has them. */
export const GLOBAL_FLAGS: ReadonlySet<string> = new Set(["--json"])
/** Options of @effect/cli itself about the whole tree (`--completions` takes a shell name). */
export const WHOLE_TREE: ReadonlySet<string> = new Set(["--version", "--wizard", "--completions"])
export const HELP_FLAGS: ReadonlySet<string> = new Set(["--help", "-h"])
/** Options @effect/cli accepts after any command. */
export const BUILT_IN: ReadonlySet<string> = new Set(["--help", "-h", "--version", "--wizard", "--completions", "--log-level"])

const nameOf = (arg: string): string => arg.split("=", 1)[0]!
const takesValue = (name: string) => GLOBAL_VALUE_OPTIONS.has(name) || name === "--completions"

/** The options argv gives before the command word, the command word, and the rest. */
export interface SplitArgv {
  /** the global options given before the command, each with its value (`["--db", "x"]`, `["--db=x"]`) */
  readonly before: ReadonlyArray<ReadonlyArray<string>>
  readonly command: string | undefined
  readonly rest: ReadonlyArray<string>
  /** an option before the command that is not a global one (`mitigator --dbb x status`) */
  readonly unknown: string | undefined
}

export const splitArgv = (args: ReadonlyArray<string>): SplitArgv => {
  const before: Array<ReadonlyArray<string>> = []
  let i = 0
  while (i < args.length && args[i]!.startsWith("-") && args[i] !== "--") {
    const arg = args[i]!
    const name = nameOf(arg)
    if (takesValue(name) && !arg.includes("=") && i + 1 < args.length) {
      before.push([arg, args[i + 1]!])
      i += 2
    } else if (GLOBAL_VALUE_OPTIONS.has(name) || GLOBAL_FLAGS.has(name) || WHOLE_TREE.has(name) || HELP_FLAGS.has(name)) {
      before.push([arg])
      i += 1
    } else {
      return { before, command: undefined, rest: args.slice(i + 1), unknown: arg }
    }
  }
  return { before, command: args[i], rest: args.slice(i + 1), unknown: undefined }
}

/** Whether argv asks for help (`--help`, `-h`: before a `--`, as @effect/cli reads them). */
export const asksHelp = (args: ReadonlyArray<string>): boolean => {
  for (const arg of args) {
    if (arg === "--") return false
    if (HELP_FLAGS.has(arg)) return true
  }
  return false
}

/** Whether argv asks something of the whole tree (`--version`, `--completions=bash`, `--wizard`). */
export const asksWholeTree = (args: ReadonlyArray<string>): boolean => args.some((a) => WHOLE_TREE.has(nameOf(a)))

/** A command's options: name (`--db`) → whether it takes a value. */
export type OptionNames = ReadonlyMap<string, boolean>

/** The options a command's usage names (its arguments, `<FILE>`, are not options). */
export const optionNames = (usage: Usage.Usage): OptionNames => {
  const names = new Map<string, boolean>()
  const walk = (u: Usage.Usage): void => {
    switch (u._tag) {
      case "Named":
        for (const name of u.names) if (name.startsWith("-")) names.set(name, Option.isSome(u.acceptedValues))
        return
      case "Optional":
      case "Repeated":
        return walk(u.usage)
      case "Alternation":
      case "Concat":
        walk(u.left)
        return walk(u.right)
      default:
        return
    }
  }
  walk(usage)
  return names
}

/** An option the command does not have (`--jsno`), or one that needs a value and ends argv (`status --db`). */
export interface BadOption {
  readonly name: string
  readonly problem: "unknown" | "no value"
}

/**
 * The first option in `args` (a command's arguments, after its name) that the command does not
 * have, or that lacks its value. Values are skipped (`--reason --odd` is a reason); a `--` ends
 * the options.
 */
export const badOption = (args: ReadonlyArray<string>, known: OptionNames): BadOption | undefined => {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === "--") return undefined
    if (!arg.startsWith("--")) continue
    const name = nameOf(arg)
    if (BUILT_IN.has(name)) {
      if ((name === "--log-level" || name === "--completions") && !arg.includes("=")) {
        // `status --log-level --config x`: the next option is not its value.
        if (i + 1 >= args.length || args[i + 1]!.startsWith("-")) return { name, problem: "no value" }
        i++
      }
      continue
    }
    const value = known.get(name)
    if (value === undefined) return { name, problem: "unknown" }
    if (value && !arg.includes("=")) {
      if (i + 1 >= args.length) return { name, problem: "no value" }
      i++
    }
  }
  return undefined
}

/**
 * The arguments for @effect/cli: `--log-level` first (wherever it was given), then the command
 * path (`import lm-timeout`), the global options given before it, and the rest (`options`: what
 * follows the path).
 */
export const reorder = (split: SplitArgv, path: ReadonlyArray<string>): { readonly args: ReadonlyArray<string>; readonly options: ReadonlyArray<string> } => {
  const logLevel: Array<string> = []
  const moved: Array<string> = []
  for (const option of split.before) (nameOf(option[0]!) === "--log-level" ? logLevel : moved).push(...option)
  const afterPath = split.rest.slice(path.length - 1)
  const rest: Array<string> = []
  for (let i = 0; i < afterPath.length; i++) {
    const arg = afterPath[i]!
    if (arg === "--") {
      rest.push(...afterPath.slice(i))
      break
    }
    const valueless = !arg.includes("=") && (i + 1 >= afterPath.length || afterPath[i + 1]!.startsWith("-"))
    // Left where it is when it has no value, so that the option check says so.
    if (nameOf(arg) === "--log-level" && !valueless) {
      logLevel.push(arg)
      if (!arg.includes("=") && i + 1 < afterPath.length) logLevel.push(afterPath[++i]!)
    } else rest.push(arg)
  }
  // A flag moved from before the command is written `--json=true`: bare, it could take the
  // command's next word as its value (`mitigator --json why false`).
  const placed = moved.map((arg) => (GLOBAL_FLAGS.has(arg) ? `${arg}=true` : arg))
  return { args: [...logLevel, ...path, ...placed, ...rest], options: [...placed, ...rest] }
}

/**
 * For a group (`import`): the global options between the group's name and its command
 * (`mitigator import --db x lm-timeout FILE`) count as given before the command.
 */
export const liftGroupOptions = (split: SplitArgv): SplitArgv => {
  const before = [...split.before]
  let i = 0
  const rest = split.rest
  while (i < rest.length && rest[i]!.startsWith("-") && rest[i] !== "--") {
    const arg = rest[i]!
    const name = nameOf(arg)
    if (GLOBAL_VALUE_OPTIONS.has(name) && !arg.includes("=") && i + 1 < rest.length) {
      before.push([arg, rest[i + 1]!])
      i += 2
    } else if (GLOBAL_VALUE_OPTIONS.has(name) || GLOBAL_FLAGS.has(name)) {
      before.push([arg])
      i += 1
    } else break
  }
  return i === 0 ? split : { ...split, before, rest: rest.slice(i) }
}

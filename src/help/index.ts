/**
 * Help and the answers to a command line that names no command, a command that is not there or
 * an option a command does not have. Loaded only then (src/Cli.ts): an `append` never loads it.
 *
 * @effect/cli has help of its own, but it colours it whatever the output, wraps every option in
 * boilerplate, shows `$ append` as the usage line, has no place for examples or exit codes, and
 * lists the commands (exit 0) on a misspelt one. This renders our own from the same definitions
 * (model.ts), and answers the rest as git does.
 */
import type * as Descriptor from "@effect/cli/CommandDescriptor"
import * as Effect from "effect/Effect"
import { GLOBAL_FLAGS, GLOBAL_VALUE_OPTIONS, HELP_FLAGS, WHOLE_TREE, asksHelp, type BadOption, type SplitArgv } from "../CliArgs.js"
import { commandDoc, type CommandDoc } from "./model.js"
import { BOLD, commandHelp, overview, PLAIN, rootHelp, wantsColour } from "./render.js"
import { didYouMean } from "./suggest.js"

export interface Tree {
  /** every command, in the order of the help */
  readonly commands: ReadonlyArray<readonly [name: string, command: Descriptor.Command<unknown>]>
  readonly description: string
  readonly version: string
}

const out = (text: string) => Effect.sync(() => void process.stdout.write(text))
const err = (text: string) => Effect.sync(() => void process.stderr.write(text))
const styleOf = (stream: NodeJS.WriteStream) => (wantsColour(stream) ? BOLD : PLAIN)

/** A complaint on stderr, exit 1. */
const fail = (message: string): Effect.Effect<number> => Effect.as(err(`mitigator: ${message}\n`), 1)

const docsOf = (tree: Tree): Array<CommandDoc> => tree.commands.map(([name, command]) => commandDoc(command, [name]))

const notACommand = (word: string, where: ReadonlyArray<string>, candidates: ReadonlyArray<string>): Effect.Effect<number> => {
  const suggestion = didYouMean(word, candidates)
  const of = ["mitigator", ...where].join(" ")
  const hint = suggestion === undefined ? ` See '${["mitigator help", ...where].join(" ")}'.` : ` Did you mean '${suggestion}'?`
  return fail(`'${word}' is not a ${where.length === 0 ? "mitigator" : `'${of}'`} command.${hint}`)
}

/**
 * The help a command path asks for (`emulate loadmaster`): the words after the command that name
 * its commands, down to the first that is none (an option, an argument) or a misspelt one.
 */
const helpFor = (docs: ReadonlyArray<CommandDoc>, words: ReadonlyArray<string>, strict: boolean): Effect.Effect<number> => {
  const top = docs.find((d) => d.path[0] === words[0])
  if (top === undefined) return notACommand(words[0]!, [], [...docs.map((d) => d.path[0]!), "help"])
  let doc = top
  for (const word of words.slice(1)) {
    const child = doc.children.find((c) => c.path[c.path.length - 1] === word)
    if (child !== undefined) {
      doc = child
      continue
    }
    // `mitigator help emulate loadmastr`; `mitigator import lm-timeout x.db --help` is lm-timeout's help.
    if (strict && doc.children.length > 0 && !word.startsWith("-")) {
      return notACommand(word, doc.path, doc.children.map((c) => c.path[c.path.length - 1]!))
    }
    break
  }
  return out(commandHelp(doc, styleOf(process.stdout))).pipe(Effect.as(0))
}

/** The answer to a command line @effect/cli would not answer as an operator expects. */
export const answer = (split: SplitArgv, args: ReadonlyArray<string>, tree: Tree): Effect.Effect<number> => {
  const docs = docsOf(tree)
  if (split.unknown !== undefined) {
    const name = split.unknown.split("=", 1)[0]!
    const known = [...GLOBAL_VALUE_OPTIONS, ...GLOBAL_FLAGS, ...WHOLE_TREE, ...HELP_FLAGS]
    const suggestion = didYouMean(name, known)
    return fail(
      `unknown option '${name}' before the command.${suggestion === undefined ? " See 'mitigator --help'." : ` Did you mean '${suggestion}'?`}`
    )
  }
  const { command, rest } = split
  if (command === undefined) {
    if (asksHelp(args)) return out(rootHelp(docs, tree.description, tree.version, styleOf(process.stdout))).pipe(Effect.as(0))
    // Nothing asked: what there is, and a failure, as git does (a script's empty $COMMAND must not pass).
    return err(overview(docs, styleOf(process.stderr))).pipe(Effect.as(1))
  }
  if (command === "help") {
    const words = rest.filter((w) => !w.startsWith("-"))
    if (words.length === 0 || words[0] === "help") return out(rootHelp(docs, tree.description, tree.version, styleOf(process.stdout))).pipe(Effect.as(0))
    return helpFor(docs, words, true)
  }
  if (!docs.some((d) => d.path[0] === command)) return notACommand(command, [], [...docs.map((d) => d.path[0]!), "help"])
  if (asksHelp(args)) return helpFor(docs, [command, ...rest], false)
  // A group without one of its commands: `mitigator emulate`, `mitigator emulate loadmastr`.
  const group = docs.find((d) => d.path[0] === command)!
  const word = rest[0]
  if (word === undefined || word.startsWith("-")) {
    const members = group.children.map((c) => `'${c.path[c.path.length - 1]!}'`).join(", ")
    const said = `mitigator: 'mitigator ${group.path.join(" ")}' needs one of its commands: ${members}.\n\n`
    return err(said + commandHelp(group, styleOf(process.stderr))).pipe(Effect.as(1))
  }
  return notACommand(word, group.path, group.children.map((c) => c.path[c.path.length - 1]!))
}

/** `mitigator status --jsno`, `mitigator status --db`: exit 1, naming the option meant. */
export const badOption = (path: ReadonlyArray<string>, bad: BadOption, known: Iterable<string>, givenBefore: boolean): Effect.Effect<number> => {
  const command = ["mitigator", ...path].join(" ")
  const see = ` See 'mitigator help ${path.join(" ")}'.`
  if (bad.problem === "no value") return fail(`option '${bad.name}' of '${command}' needs a value.${see}`)
  if (givenBefore) return fail(`${bad.name} (given before the command) is not an option of '${command}'.${see}`)
  const suggestion = didYouMean(bad.name, known)
  return fail(`unknown option '${bad.name}' for '${command}'.${suggestion === undefined ? see : ` Did you mean '${suggestion}'?`}`)
}

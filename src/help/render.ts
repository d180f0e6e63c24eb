/**
 * Help as plain text, laid out like git's and kubectl's: a usage line per command, options with
 * their value (`--db FILE`), examples and exit codes. Headings are bold only on a terminal that
 * wants colour (no NO_COLOR): piped or redirected, help holds no escape sequence.
 */
import type { CommandDoc, OptionDoc } from "./model.js"
import { COMMON_EXIT_CODES, NOTES, type CommandNotes } from "./notes.js"

const WIDTH = 100

export interface Style {
  readonly heading: (text: string) => string
}
export const PLAIN: Style = { heading: (text) => text }
export const BOLD: Style = { heading: (text) => `\x1b[1m${text}\x1b[0m` }

/** Whether a stream gets colour: a terminal, NO_COLOR unset or empty (no-color.org), TERM not dumb. */
export const wantsColour = (stream: { readonly isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean =>
  stream.isTTY === true && (env["NO_COLOR"] ?? "") === "" && env["TERM"] !== "dumb"

export const notesOf = (path: ReadonlyArray<string>): CommandNotes | undefined => NOTES[path.join(" ")]

/** Words filled into lines of `width`, the lines after the first indented by `indent`. */
const fill = (words: ReadonlyArray<string>, first: string, indent: number, width = WIDTH): Array<string> => {
  const lines: Array<string> = []
  let line = first
  let empty = true
  for (const word of words) {
    if (!empty && line.length + 1 + word.length > width) {
      lines.push(line)
      line = " ".repeat(indent) + word
    } else line = empty ? line + word : `${line} ${word}`
    empty = false
  }
  lines.push(line)
  return lines
}

/** A two-column list: terms padded to the widest (up to a limit), descriptions filled beside. */
const table = (rows: ReadonlyArray<readonly [string, string]>, indent = 2, maxTerm = 28): Array<string> => {
  const termWidth = Math.min(maxTerm, Math.max(0, ...rows.map(([t]) => t.length)))
  const column = indent + termWidth + 2
  return rows.flatMap(([term, text]) => {
    const head = " ".repeat(indent) + term
    const words = text.split(/\s+/).filter((w) => w !== "")
    if (words.length === 0) return [head]
    if (head.length + 2 > column) return [head, ...fill(words, " ".repeat(column), column)]
    return fill(words, head.padEnd(column), column)
  })
}

const optionTerm = (o: OptionDoc): string =>
  [...o.aliases, o.name].join(", ") + (o.metavar === undefined ? "" : ` ${o.metavar}`) + (o.repeated ? " ..." : "")

const usageWord = (o: OptionDoc): string => {
  const word = o.metavar === undefined ? o.name : `${o.name} ${o.metavar}`
  const repeated = o.repeated ? `${word}...` : word
  return o.optional ? `[${repeated}]` : repeated
}

/** `mitigator append [--config FILE] [--db FILE] [--defer] ... < events`, filled to the width. */
export const usageLines = (doc: CommandDoc): Array<string> => {
  const head = `mitigator ${doc.path.join(" ")}`
  if (doc.children.length > 0) return [`  ${head} <command> [options]`]
  const words = [...doc.options.map(usageWord), ...doc.args.map(usageWord)]
  const stdin = notesOf(doc.path)?.stdin
  if (stdin !== undefined) words.push(stdin)
  return fill(words, `  ${head} `, head.length + 3)
}

const section = (style: Style, title: string, lines: ReadonlyArray<string>): Array<string> => (lines.length === 0 ? [] : ["", style.heading(title), ...lines])

const examplesOf = (notes: CommandNotes | undefined): Array<string> =>
  (notes?.examples ?? []).flatMap(([command, what]) => [`  ${command}`, ...fill(what.split(" "), "      ", 6), ""]).slice(0, -1)

const exitCodesOf = (notes: CommandNotes | undefined): Array<string> =>
  notes === undefined
    ? []
    : table(
        [...notes.exitCodes, ...COMMON_EXIT_CODES.filter(([code]) => !(code === 130 && notes.signalExitsZero === true))].map(
          ([code, meaning]) => [String(code), meaning] as const
        ),
        2,
        4
      )

/** One command's help: `mitigator help append`, `mitigator append --help`. */
export const commandHelp = (doc: CommandDoc, style: Style): string => {
  const notes = notesOf(doc.path)
  const name = `mitigator ${doc.path.join(" ")}`
  const lines = [
    ...fill(doc.description.split(" "), `${name}: `, 2),
    ...section(style, "Usage:", usageLines(doc)),
    ...section(style, "Commands:", table(doc.children.map((c) => [c.path[c.path.length - 1]!, notesOf(c.path)?.summary ?? c.description] as const))),
    ...section(style, "Arguments:", table(doc.args.map((a) => [a.name, a.description] as const))),
    ...section(style, "Options:", table(doc.options.map((o) => [optionTerm(o), o.description] as const))),
    ...section(style, "Examples:", examplesOf(notes)),
    ...section(style, "Exit codes:", exitCodesOf(notes)),
    "",
    doc.children.length > 0
      ? `See 'mitigator help ${doc.path.join(" ")} <command>' for one of them.`
      : "--config, --db, --json and --log-level LEVEL may also come before the command; see 'mitigator --help'."
  ]
  return `${lines.join("\n")}\n`
}

const commandList = (docs: ReadonlyArray<CommandDoc>): Array<string> =>
  table(docs.map((d) => [d.path.join(" "), notesOf(d.path)?.summary ?? d.description] as const), 2, 12)

const GLOBAL_USAGE = "  mitigator [--config FILE] [--db FILE] [--log-level LEVEL] <command> [options] [arguments]"

/** `mitigator` alone: the commands, one line each. */
export const overview = (docs: ReadonlyArray<CommandDoc>, style: Style): string =>
  [
    style.heading("Usage:"),
    GLOBAL_USAGE,
    "",
    style.heading("Commands:"),
    ...commandList(docs),
    "",
    "See 'mitigator help <command>' for a command's options, examples and exit codes,",
    "and 'mitigator --help' for the options every command takes.",
    ""
  ].join("\n")

/** The description of an option some command has (`--db`, `--config`), for the global list. */
const describedBy = (docs: ReadonlyArray<CommandDoc>, name: string): OptionDoc | undefined => {
  for (const doc of docs) {
    const found = doc.options.find((o) => o.name === name) ?? describedBy(doc.children, name)
    if (found !== undefined) return found
  }
  return undefined
}

const having = (docs: ReadonlyArray<CommandDoc>, name: string): Array<string> =>
  docs.flatMap((d) => [...(d.options.some((o) => o.name === name) ? [d.path.join(" ")] : []), ...having(d.children, name)])

/** `mitigator --help`, `mitigator help`. */
export const rootHelp = (docs: ReadonlyArray<CommandDoc>, description: string, version: string, style: Style): string => {
  const globals: Array<readonly [string, string]> = []
  for (const name of ["--config", "--db"]) {
    const o = describedBy(docs, name)
    if (o !== undefined) globals.push([optionTerm(o), o.description])
  }
  globals.push(["--log-level LEVEL", "the least severe log lines shown: all, trace, debug, info, warning, error, fatal or none"])
  const json = having(docs, "--json")
  if (json.length > 0) globals.push(["--json", `machine-readable output (${json.join(", ")})`])
  globals.push(["-h, --help", "this help; with a command, that command's"])
  globals.push(["--version", "the version"])
  globals.push(["--completions SHELL", "a completion script for bash, zsh, fish or sh"])
  const lines = [
    ...fill(description.split(" "), `mitigator ${version}: `, 2),
    ...section(style, "Usage:", [GLOBAL_USAGE, "  mitigator help [<command>]", "  mitigator --version | --completions SHELL"]),
    ...section(style, "Commands:", commandList(docs)),
    ...section(style, "Global options (before or after the command):", table(globals)),
    ...section(style, "Exit codes:", [
      ...table(
        [
          ["0", "done"],
          ["1", "failed, or a bad command line or config (the message says which)"],
          ...COMMON_EXIT_CODES.map(([code, meaning]) => [String(code), meaning] as const)
        ],
        2,
        4
      ),
      "  Some commands have their own (append 3, plan 2): see 'mitigator help <command>'."
    ]),
    "",
    "See 'mitigator help <command>' for a command's options, examples and exit codes.",
    ""
  ]
  return lines.join("\n")
}

/**
 * What a command's help says, read from its @effect/cli definition: its name, description,
 * options (in the order they are declared) and arguments. Read from the definition, so an option
 * added to a command shows in its help with nothing else to change.
 *
 * @effect/cli's own help text wraps every option in boilerplate ("A user-defined piece of text.",
 * "This setting is optional."): only the descriptions we wrote are kept; whether an option is
 * optional shows in the usage line, as `[--db FILE]`.
 */
import * as CliConfig from "@effect/cli/CliConfig"
import type * as Descriptor from "@effect/cli/CommandDescriptor"
import * as CommandDescriptor from "@effect/cli/CommandDescriptor"
import type * as HelpDoc from "@effect/cli/HelpDoc"
import type * as Span from "@effect/cli/HelpDoc/Span"
import type * as Usage from "@effect/cli/Usage"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"

export interface OptionDoc {
  /** `--db`, or `<ADDR|CIDR>` for an argument */
  readonly name: string
  /** the other names (`-f`) */
  readonly aliases: ReadonlyArray<string>
  /** what the value is (`FILE`, `auto|tsv|json|cef`); none for a flag */
  readonly metavar: string | undefined
  readonly optional: boolean
  readonly repeated: boolean
  readonly description: string
}

export interface CommandDoc {
  /** `["import", "lm-timeout"]` */
  readonly path: ReadonlyArray<string>
  readonly description: string
  readonly options: ReadonlyArray<OptionDoc>
  readonly args: ReadonlyArray<OptionDoc>
  /** the commands of a group (`emulate loadmaster`, `emulate cryptospike`) */
  readonly children: ReadonlyArray<CommandDoc>
}

/**
 * What an option's value is, when its definition names no pseudo-name: by option name (the same
 * name means the same thing in every command), else by the value's type.
 */
const METAVARS: Record<string, string> = {
  "--db": "FILE",
  "--config": "FILE",
  "--log-file": "FILE",
  "--metrics-file": "FILE",
  "--state": "FILE",
  "--cert-out": "FILE",
  "--seed": "FILE",
  "--from": "DB",
  "--to": "DB",
  "--instance": "NAME",
  "--actor": "NAME",
  "--timezone": "ZONE",
  "--apply-timeout": "DURATION",
  "--interval": "DURATION",
  "--lock-wait": "DURATION",
  "--latency": "DURATION",
  "--ttl": "DURATION",
  "--at": "TIME",
  "--since": "TIME",
  "--ip": "ADDR|CIDR",
  "--user": "USER",
  "--rule": "RULE",
  "--reason": "TEXT",
  "--target": "TARGET",
  "--api-key": "KEY",
  "--cs-token": "TOKEN",
  "--token": "TOKEN",
  "--username": "USER",
  "--password": "PASSWORD",
  "--port": "PORT",
  "--host": "ADDRESS",
  "--unblock-state": "STATE",
  "--fail-rate": "RATE",
  "--log-level": "LEVEL",
  "--completions": "SHELL"
}
const TYPE_METAVARS: Record<string, string> = { text: "VALUE", integer: "N", float: "NUMBER", date: "DATE", path: "PATH", file: "FILE", directory: "DIR" }

const metavarOf = (name: string, accepted: Option.Option<string>): string | undefined => {
  if (Option.isNone(accepted)) return undefined
  const value = accepted.value
  // A choice: `auto | tsv | json | cef`.
  if (value.includes(" | ")) return value.split(" | ").join("|")
  const byType = TYPE_METAVARS[value]
  if (byType === undefined) return value // a pseudo-name the definition gave
  return METAVARS[name] ?? byType
}

/** The text of a span, without styles. */
export const spanText = (span: Span.Span): string => {
  const s = span as unknown as { readonly value?: unknown; readonly left?: Span.Span; readonly right?: Span.Span }
  if (s.left !== undefined && s.right !== undefined) return spanText(s.left) + spanText(s.right)
  if (typeof s.value === "string") return s.value
  if (s.value !== undefined && typeof s.value === "object") return spanText(s.value as Span.Span)
  return ""
}

/** @effect/cli's own sentences about an option's type and optionality. */
const BOILERPLATE = [
  /^An? (true or false value|date without a time-zone|floating point number|integer|existing |file|directory|user-defined piece of text)/,
  /^One of the following: /,
  /^This (setting|option|argument) /,
  /^Will prompt the user/,
  /^May be specified /
]
export const isBoilerplate = (text: string): boolean => BOILERPLATE.some((re) => re.test(text))

/** The paragraphs of a help block, in order. */
const paragraphs = (doc: HelpDoc.HelpDoc): Array<string> => {
  switch (doc._tag) {
    case "Paragraph":
    case "Header":
      return [spanText(doc.value)]
    case "Sequence":
      return [...paragraphs(doc.left), ...paragraphs(doc.right)]
    case "Enumeration":
      return doc.elements.flatMap(paragraphs)
    case "DescriptionList":
      return doc.definitions.flatMap(([span, block]) => [spanText(span), ...paragraphs(block)])
    default:
      return []
  }
}

interface Sections {
  readonly description: Array<string>
  /** by every name in the definition's span (`--db`, `-f`, `<FILE>`) */
  readonly definitions: Map<string, string>
}

/** The DESCRIPTION paragraphs and the OPTIONS / ARGUMENTS definitions of a help document. */
const sectionsOf = (doc: HelpDoc.HelpDoc): Sections => {
  const sections: Sections = { description: [], definitions: new Map() }
  let header = ""
  const walk = (d: HelpDoc.HelpDoc): void => {
    switch (d._tag) {
      case "Header":
        header = spanText(d.value).trim().toUpperCase()
        return
      case "Sequence":
        walk(d.left)
        return walk(d.right)
      case "Paragraph":
        if (header === "DESCRIPTION") sections.description.push(spanText(d.value))
        return
      case "DescriptionList":
        for (const [span, block] of d.definitions) {
          const text = paragraphs(block)
            .map((p) => p.trim())
            .filter((p) => p !== "" && !isBoilerplate(p))
            .join(" ")
          for (const name of spanText(span).replace(/[(),]/g, " ").split(/\s+/)) {
            if (/^-{1,2}[^\s]+$|^<.+>$/.test(name) && !sections.definitions.has(name)) sections.definitions.set(name, text)
          }
        }
        return
      default:
        return
    }
  }
  walk(doc)
  return sections
}

interface Named {
  readonly names: ReadonlyArray<string>
  readonly accepted: Option.Option<string>
  readonly optional: boolean
  readonly repeated: boolean
}

/** Every option and argument a usage names, in order. */
const namedOf = (usage: Usage.Usage): Array<Named> => {
  const out: Array<Named> = []
  const walk = (u: Usage.Usage, optional: boolean, repeated: boolean): void => {
    switch (u._tag) {
      case "Named":
        out.push({ names: u.names, accepted: u.acceptedValues, optional, repeated })
        return
      case "Optional":
        return walk(u.usage, true, repeated)
      case "Repeated":
        return walk(u.usage, optional, true)
      case "Alternation":
      case "Concat":
        walk(u.left, optional, repeated)
        return walk(u.right, optional, repeated)
      default:
        return
    }
  }
  walk(usage, false, false)
  return out
}

const longest = (names: ReadonlyArray<string>): string => names.reduce((a, b) => (b.length > a.length ? b : a))

/** The help of one command (and of the commands of a group). */
export const commandDoc = (descriptor: Descriptor.Command<unknown>, path: ReadonlyArray<string>): CommandDoc => {
  const sections = sectionsOf(CommandDescriptor.getHelp(descriptor, CliConfig.defaultConfig))
  const own = path[path.length - 1]!
  const named = namedOf(CommandDescriptor.getUsage(descriptor)).filter((n) => !(n.names.length === 1 && n.names[0] === own))
  const docOf = (n: Named): OptionDoc => {
    const name = longest(n.names)
    return {
      name,
      aliases: n.names.filter((x) => x !== name),
      metavar: metavarOf(name, n.accepted),
      optional: n.optional,
      repeated: n.repeated,
      description: sections.definitions.get(name) ?? ""
    }
  }
  const subcommands = [...HashMap.entries(CommandDescriptor.getSubcommands(descriptor))]
  const isGroup = !(subcommands.length === 1 && subcommands[0]![0] === own)
  return {
    path,
    description: sections.description.join(" ").trim(),
    options: named.filter((n) => n.names.some((x) => x.startsWith("-"))).map(docOf),
    args: named.filter((n) => !n.names.some((x) => x.startsWith("-"))).map(docOf),
    children: isGroup ? subcommands.map(([name, child]) => commandDoc(child, [...path, name])) : []
  }
}

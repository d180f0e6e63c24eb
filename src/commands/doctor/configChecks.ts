/** A config file that does not load: one failed check per problem, each at its file:line with its key. */
import type { ConfigError } from "../../config/loadConfig.js"
import { fail, type Check } from "./Check.js"

const LINE_COLUMN = /^line (\d+), column (\d+): (.*)$/s

export const configChecks = (error: ConfigError, whoAmI: string): ReadonlyArray<Check> => {
  const file = error.path
  switch (error.reason) {
    case "missing":
      return [fail("config", `config ${file} does not exist`, "give the path of the config file (--config or MITIGATOR_CONFIG)")]
    case "unreadable":
      return [fail("config", error.message, `make ${file} a regular file that this user (${whoAmI}) can read`)]
  }
  const problems = error.problems ?? [{ text: error.message }]
  return problems.map((p) => {
    const at = LINE_COLUMN.exec(p.text)
    const where = at !== null ? `${file}:${at[1]}:${at[2]}` : p.line !== undefined ? `${file}:${p.line}` : file
    const what = at !== null ? at[3]! : p.key !== undefined && p.text.startsWith(`${p.key}: `) ? p.text.slice(p.key.length + 2) : p.text
    const key = p.key
    const fix =
      key === undefined
        ? `correct the YAML at ${where}`
        : what === "unknown key"
          ? `remove ${key} at ${where}, or correct its spelling`
          : what === "required key is missing"
            ? `add ${key} (at ${where})`
            : what.startsWith("duplicate key")
              ? `keep one ${key} in that mapping (at ${where})`
              : `change ${key} at ${where}: ${what}`
    return fail("config", `config ${where}: ${key === undefined || at !== null ? "" : `${key}: `}${what}`, fix)
  })
}

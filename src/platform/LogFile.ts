/**
 * Detail lines for `--log-file`, in logfmt (`key=value`, values quoted when needed). Lines are
 * collected per batch and written with one append, so a large ingest does not pay a write per line.
 */
import * as fs from "node:fs"

export type LogFields = Record<string, string | number | boolean | null | undefined>

const needsQuotes = /[\s"=\\]|^$/

const value = (v: string | number | boolean | null): string => {
  if (typeof v !== "string") return String(v)
  // JSON escaping keeps control characters, quotes and newlines from breaking the line.
  return needsQuotes.test(v) || /[^\x20-\x7e]/.test(v) ? JSON.stringify(v) : v
}

export const logfmt = (fields: LogFields): string =>
  Object.entries(fields)
    .filter((e): e is [string, string | number | boolean | null] => e[1] !== undefined)
    .map(([k, v]) => `${k}=${value(v)}`)
    .join(" ")

export const appendLogLines = (file: string, lines: ReadonlyArray<string>): void => {
  if (lines.length > 0) fs.appendFileSync(file, lines.join("\n") + "\n", { mode: 0o640 })
}

/**
 * Log lines: logfmt (`key=value`, values quoted when needed), JSON (one object per line), or text
 * for people. Files get whole lines with one append each (a large ingest collects its per-line
 * details per batch), so concurrent writers do not interleave within a line.
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

export const LOG_FORMATS = ["text", "logfmt", "json"] as const
export type LogFormat = (typeof LOG_FORMATS)[number]

/** One line in `format`; `fields` should start with time, level and msg. */
export const formatLogLine = (format: LogFormat, fields: LogFields): string => {
  switch (format) {
    case "logfmt":
      return logfmt(fields)
    case "json":
      return JSON.stringify(Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)))
    case "text": {
      const { time, level, msg, ...rest } = fields
      const tail = logfmt(rest)
      return `${time ?? ""} ${String(level ?? "info").toUpperCase()} ${msg ?? ""}${tail === "" ? "" : ` ${tail}`}`
    }
  }
}

export const appendLogLines = (file: string, lines: ReadonlyArray<string>): void => {
  if (lines.length > 0) fs.appendFileSync(file, lines.join("\n") + "\n", { mode: 0o640 })
}

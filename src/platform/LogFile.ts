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

/** The mode of a log file mitigator creates. */
export const LOG_FILE_MODE = 0o600

/**
 * Makes `file` a private log file: created `LOG_FILE_MODE` whatever the umask (set again on the
 * open file: a umask can only take bits away, and one that took the owner's would leave a file
 * the next run cannot write); an existing regular file that others may read or anyone but its
 * owner may write is narrowed to at most 0640, so a group an administrator gave read access
 * (`chgrp adm`, `chmod 640`) keeps it. A file it may not change the mode of is left as it is:
 * that is not a reason not to log. Devices (`/dev/stderr`) are never touched.
 */
export const preparePrivateFile = (file: string): void => {
  try {
    const fd = fs.openSync(file, "wx", LOG_FILE_MODE)
    try {
      fs.fchmodSync(fd, LOG_FILE_MODE)
    } finally {
      fs.closeSync(fd)
    }
    return
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e
  }
  const stat = fs.statSync(file)
  const mode = stat.mode & 0o777
  if (stat.isFile() && (mode & 0o137) !== 0) {
    try {
      fs.chmodSync(file, mode & 0o640)
    } catch {
      // not ours to change
    }
  }
}

export const appendLogLines = (file: string, lines: ReadonlyArray<string>): void => {
  if (lines.length === 0) return
  // Gone since the start (rotated away): made again, private.
  if (!fs.existsSync(file)) preparePrivateFile(file)
  fs.appendFileSync(file, lines.join("\n") + "\n", { mode: LOG_FILE_MODE })
}

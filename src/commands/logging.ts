/**
 * `--log-format` and `--log-file` for the commands that run unattended (append, reconcile): their
 * log lines carry a time, a level, a message and fields. On the terminal the default is the plain
 * human line; `--log-format logfmt|json` makes every line structured (for journald or a log
 * shipper); `--log-file` also appends each line to a file (logfmt unless a format is given).
 */
import * as HashMap from "effect/HashMap"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as fs from "node:fs"
import { appendLogLines, formatLogLine, preparePrivateFile, type LogFields, type LogFormat } from "../platform/LogFile.js"

/**
 * Why `file` cannot take the log lines, or undefined when it can (then it exists, mode 600).
 * Opened without blocking: a named pipe that no process reads fails here at once (ENXIO) instead
 * of hanging the command, signals included; a pipe someone reads (`/dev/stderr` under cron) is fine.
 */
export const logFileProblem = (file: string): string | undefined => {
  try {
    preparePrivateFile(file)
    const { O_WRONLY, O_APPEND, O_CREAT, O_NONBLOCK, O_NOCTTY } = fs.constants
    fs.closeSync(fs.openSync(file, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_NOCTTY, 0o600))
    return undefined
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ENXIO" ? "a named pipe (FIFO) that no process reads: it would wait for a reader forever" : e instanceof Error ? e.message : String(e)
  }
}

export interface LogOptions {
  readonly logFormat: Option.Option<LogFormat>
  readonly logFile: Option.Option<string>
}

/** The format of a file's lines: the one asked for, else logfmt. */
export const fileFormat = (opts: LogOptions): LogFormat => Option.getOrElse(opts.logFormat, () => "logfmt" as const)

const scalar = (value: unknown): string | number | boolean | null =>
  value === null || typeof value === "string" || typeof value === "number" || typeof value === "boolean" ? value : JSON.stringify(value)

const messageText = (message: unknown): string =>
  (Array.isArray(message) ? message : [message]).map((m) => (typeof m === "string" ? m : JSON.stringify(m))).join(" ")

/**
 * Replaces Effect's default logger for one command: each record goes to `stream` (in text, only
 * the message, with the time in front when `stamped`), and to the log file when there is one.
 */
export const commandLogger = (opts: LogOptions, stream: "stdout" | "stderr", stamped = false) =>
  Logger.replace(
    Logger.defaultLogger,
    Logger.make(({ annotations, date, logLevel, message }) => {
      const msg = messageText(message)
      const fields: LogFields = { time: date.toISOString(), level: logLevel.label.toLowerCase(), msg }
      // Annotations have no order of their own: sorted, lines compare well from run to run.
      const annotated = HashMap.toEntries(annotations).sort(([a], [b]) => (a < b ? -1 : 1))
      for (const [key, value] of annotated) fields[key] = scalar(value)
      const format = Option.getOrElse(opts.logFormat, () => "text" as const)
      const line = format !== "text" ? formatLogLine(format, fields) : stamped ? `${fields["time"]} ${msg}` : msg
      ;(stream === "stdout" ? process.stdout : process.stderr).write(`${line}\n`)
      if (Option.isSome(opts.logFile)) appendLogLines(opts.logFile.value, [formatLogLine(fileFormat(opts), fields)])
    })
  )

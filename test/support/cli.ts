/** Runs the bundled CLI as a real process. */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { Writable } from "node:stream"
import { fileURLToPath } from "node:url"
import { onTestFinished } from "vitest"

export const BUNDLE = fileURLToPath(new URL("../../dist/mitigator.cjs", import.meta.url))

export interface RunResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

export interface RunOptions {
  readonly stdin?: string | Buffer
  readonly env?: Record<string, string>
  readonly cwd?: string
  /** run as this user and group (the tests may run as root) */
  readonly uid?: number
  readonly gid?: number
}

/** Starts `file`; `feed` writes its stdin (and must end it). */
const spawnProcess = (
  file: string,
  args: ReadonlyArray<string>,
  options: Omit<RunOptions, "stdin">,
  feed: (stdin: Writable) => void
): Promise<RunResult> =>
  new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: options.cwd ?? process.cwd(),
      env: { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "", ...options.env },
      stdio: ["pipe", "pipe", "pipe"],
      ...(options.uid === undefined ? {} : { uid: options.uid }),
      ...(options.gid === undefined ? {} : { gid: options.gid })
    })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on("data", (b: Buffer) => out.push(b))
    child.stderr.on("data", (b: Buffer) => err.push(b))
    child.on("error", reject)
    child.on("close", (code) =>
      resolve({ code, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") })
    )
    // A process that exits before reading all of its input is the test's business, not an error here.
    child.stdin.on("error", () => {})
    feed(child.stdin)
  })

/** Runs any program (a shell, a launcher script) with the same conventions as `runCli`. */
export const runProcess = (file: string, args: ReadonlyArray<string>, options: RunOptions = {}): Promise<RunResult> =>
  spawnProcess(file, args, options, (stdin) => stdin.end(options.stdin ?? ""))

export const runCli = (args: ReadonlyArray<string>, options: RunOptions = {}): Promise<RunResult> =>
  runProcess(process.execPath, [BUNDLE, ...args], options)

/** A fresh temporary directory, removed when the test that made it finishes. */
export const tempDir = (prefix = "mitigator-test-"): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  onTestFinished(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Parses `replay --events --json` output. */
export const jsonLines = (text: string): Array<{ seq: number; recordedAt: string; type: string; payload: any }> =>
  text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l))

/** Runs the CLI; `feed` gets its stdin to write to (and must end it). */
export const runCliFed = (args: ReadonlyArray<string>, feed: (stdin: Writable) => void, options: Omit<RunOptions, "stdin"> = {}): Promise<RunResult> =>
  spawnProcess(process.execPath, [BUNDLE, ...args], options, feed)

/** Runs the CLI and writes `lines` to its stdin one at a time, `gapMs` apart (a slow producer). */
export const runCliSlowly = (
  args: ReadonlyArray<string>,
  lines: ReadonlyArray<string>,
  gapMs: number,
  options: Omit<RunOptions, "stdin"> = {}
): Promise<RunResult> =>
  spawnProcess(process.execPath, [BUNDLE, ...args], options, (stdin) => {
    let i = 0
    const writeNext = () => {
      if (i === lines.length) return void stdin.end()
      stdin.write(lines[i++] + "\n")
      setTimeout(writeNext, gapMs)
    }
    writeNext()
  })

/** The summary line `append` ends with (after any warnings). */
export const summaryLine = (run: RunResult): string => run.stderr.trim().split("\n").at(-1) ?? ""

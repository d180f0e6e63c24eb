/** A CLI process to kill with SIGKILL at a moment of the test's choosing. */
import { spawn } from "node:child_process"
import { BUNDLE } from "./cli.js"

export { jsonLines, runCli } from "./cli.js"

export const startCliKillable = (args: ReadonlyArray<string>, cwd: string) => {
  const child = spawn(process.execPath, [BUNDLE, ...args], { cwd, stdio: ["ignore", "ignore", "ignore"] })
  const done = new Promise<void>((resolve) => child.on("close", () => resolve()))
  return { kill: () => child.kill("SIGKILL"), done }
}

/**
 * `append` fed `lines` a few at a time, `gapMs` apart (a producer that is still writing when the
 * kill comes); `done` says how it ended: an exit code, or the signal that stopped it.
 */
export const startAppendKillable = (
  args: ReadonlyArray<string>,
  cwd: string,
  lines: ReadonlyArray<string>,
  perWrite: number,
  gapMs: number,
  env: Readonly<Record<string, string>> = {}
) => {
  const child = spawn(process.execPath, [BUNDLE, ...args], { cwd, stdio: ["pipe", "ignore", "ignore"], env: { ...process.env, ...env } })
  child.stdin.on("error", () => {})
  let next = 0
  const feed = () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    if (next >= lines.length) return void child.stdin.end()
    child.stdin.write(lines.slice(next, next + perWrite).join("\n") + "\n")
    next += perWrite
    setTimeout(feed, gapMs)
  }
  feed()
  const done = new Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal }))
  )
  return { kill: () => child.kill("SIGKILL"), done }
}

/** A small deterministic generator (the same trials on every run, so a failure can be replayed). */
export const seededRandom = (seed: number) => {
  let state = seed
  return () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
}

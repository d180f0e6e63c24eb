/** A CLI process to kill with SIGKILL at a moment of the test's choosing. */
import { spawn } from "node:child_process"
import { BUNDLE } from "./cli.js"

export { jsonLines, runCli } from "./cli.js"

export const startCliKillable = (args: ReadonlyArray<string>, cwd: string) => {
  const child = spawn(process.execPath, [BUNDLE, ...args], { cwd, stdio: ["ignore", "ignore", "ignore"] })
  const done = new Promise<void>((resolve) => child.on("close", () => resolve()))
  return { kill: () => child.kill("SIGKILL"), done }
}

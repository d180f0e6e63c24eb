/** Shell completions: the script a user installs names every subcommand. */
import { describe, expect, it } from "@effect/vitest"
import { runCli } from "../support/cli.js"

describe("mitigator --completions", () => {
  it.each(["bash", "zsh", "fish"])("prints a %s script that completes every subcommand", async (shell) => {
    const run = await runCli(["--completions", shell])
    expect(run.code, run.stderr).toBe(0)
    for (const sub of ["append", "reconcile", "plan", "status", "replay", "verify", "block", "unblock", "allow", "doctor", "demo", "emulate"]) {
      expect(run.stdout).toContain(sub)
    }
  })
})

/** `mitigator demo`: the newcomer's first command runs the whole loop and shows each moment of it. */
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { runCli, tempDir } from "../support/cli.js"
import { startCli, waitFor } from "../support/loadmaster.js"

const section = (out: string, title: string): string => {
  const start = out.indexOf(title)
  expect(start, `section "${title}" in the demo's output`).toBeGreaterThanOrEqual(0)
  const next = out.indexOf("\n== ", start + title.length)
  return out.slice(start, next === -1 ? undefined : next)
}

describe("mitigator demo", () => {
  it("blocks on both emulators, rejects the broken line, lifts every block after expiry, and keeps the log verifiable; with --stay the tour's commands work against the emulators from the kept directory until Ctrl-C", async () => {
    const home = tempDir()
    const demo = startCli(["demo", "--stay"], { env: { TMPDIR: home } })
    let out = ""
    try {
      await waitFor("the demo to finish and stay", () => demo.stdout().includes("keep answering until Ctrl-C") || demo.child.exitCode !== null, 90_000)
      out = demo.stdout() + demo.stderr()
      expect(demo.child.exitCode, out).toBeNull()
      const kept = /Kept (\S+): try/.exec(out)?.[1]
      expect(kept).toBeDefined()
      // The config names the log: `--config` is all a newcomer types.
      const status = await runCli(["status", "--config", "mitigator.yaml"], { cwd: kept! })
      expect(status.code, status.stderr).toBe(0)
      expect(status.stdout).toContain("no address blocks in force")
      const plan = await runCli(["plan", "--config", "mitigator.yaml"], { cwd: kept! })
      expect(plan.code, plan.stdout + plan.stderr).toBe(0)
    } finally {
      demo.child.kill("SIGINT")
      await demo.done
    }

    const append = section(out, "== 1.")
    expect(append).toContain("6 stored, 0 duplicate, 1 rejected")
    expect(append).toContain("line 7: expected 14 (IDS), 15 (ADS) or 17 (ADS extended) tab-separated fields, got 4")

    const blocked = section(out, "== 2.")
    for (const address of ["192.0.2.66/32", "198.51.100.23/32", "198.51.100.77/32", "198.51.100.88/32", "203.0.113.45/32"]) {
      expect(blocked).toMatch(new RegExp(`global  ${address.replace(/\./g, "\\.")}`))
    }
    expect(blocked).toMatch(/vs 1 {4}203\.0\.113\.45\/32/)
    // The allowlisted monitoring subnet is never blocked.
    expect(out).not.toMatch(/global {2}10\.0\.5\.9/)
    const usersBefore = section(out, "and CryptoSpike's blocked users (mallory")
    expect(usersBefore).toContain("jdoe@corp.example blocked by api")
    expect(usersBefore).toContain("mallory@corp.example blocked by cryptospike")

    expect(section(out, "== 3.")).toContain("Counts: cryptospike 1, loadmaster:global 5, loadmaster:vs:1 1")
    // `why` tells a newcomer why the monitoring host was detected and not blocked.
    expect(section(out, "`mitigator why 10.0.5.9`")).toContain("not blocked: allowlisted by the policy's entry 10.0.0.0/8")

    // The entry an administrator re-made by hand is theirs: reconcile says so and keeps it.
    expect(out).toContain("loadmaster: 0 to add, 5 to remove, 5 applied, 0 failed, 1 held by someone else now (left alone); converged")
    expect(out).toMatch(/cryptospike: .*1 to unblock, 1 applied, 0 failed; converged/)
    expect(section(out, "the LoadMaster's block lists now").trim().split("\n").slice(1)).toEqual(["   global  203.0.113.45/32  (admin permanent ticket 99)"])
    const usersAfter = section(out, "CryptoSpike's blocked users now")
    expect(usersAfter).not.toContain("jdoe")
    expect(usersAfter).toContain("mallory@corp.example blocked by cryptospike")

    // ...and the whole story of the address the administrator took over.
    const story = section(out, "`mitigator why 203.0.113.45`")
    expect(story).toContain("rule brute-force matched")
    expect(story).toMatch(/OwnershipLost: 203\.0\.113\.45\/32 on loadmaster:global is held by someone else now/)
    expect(section(out, "== 5.")).toMatch(/verify: ok, \d+ events, chain intact/)
    expect(section(out, "== 6.")).toContain("InputRejected  line 7")

    // The kept directory holds the log and config; the credentials in it never reach the output.
    const kept = /Kept (\S+): try/.exec(out)?.[1]
    expect(kept).toBeDefined()
    expect(fs.existsSync(path.join(kept!, "demo.db"))).toBe(true)
    for (const secret of ["loadmaster.key", "cryptospike.token"]) {
      const value = fs.readFileSync(path.join(kept!, secret), "utf8").trim()
      expect(value.length).toBeGreaterThan(8)
      expect(out).not.toContain(value)
    }
  }, 120_000)

  it("leaves nothing behind without --keep", async () => {
    const home = tempDir()
    const run = await runCli(["demo"], { env: { TMPDIR: home } })
    expect(run.code, run.stdout + run.stderr).toBe(0)
    expect(fs.readdirSync(home)).toEqual([])
  }, 60_000)
})

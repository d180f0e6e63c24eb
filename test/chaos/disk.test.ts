/**
 * The disk fills up, or the log is read-only: `append` fails with exit 1 and a message that
 * says so, nothing is half-written (the chain verifies, the log holds exactly the batches it
 * reported), and the same input delivered again once there is room stores the rest.
 * Disk full is a real write failure: the process's file size limit (prlimit, SIGXFSZ ignored)
 * makes SQLite's writes fail with EFBIG, as a full disk does with ENOSPC.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { BUNDLE, runCli, runProcess, summaryLine, tempDir } from "../support/cli.js"
import { adsLine } from "../support/fixtures.js"

/** `append` with the process's file size limited to `bytes` (SIGXFSZ ignored, so writes fail with EFBIG). */
const appendLimited = (db: string, bytes: number, stdin: string) =>
  runProcess("/bin/sh", ["-c", `trap '' XFSZ; exec prlimit --fsize=${bytes} -- "$0" "$@"`, process.execPath, BUNDLE, "append", "--db", db, "--instance", "fm1"], { stdin })

const count = async (db: string): Promise<number> => {
  const verify = await runCli(["verify", "--db", db])
  expect(verify.code, verify.stdout + verify.stderr).toBe(0)
  const m = /verify: ok, (\d+) events/.exec(verify.stdout)
  return Number(m?.[1])
}

// About 1 KiB per event, so that a few thousand of them outgrow the limits below.
const events = (from: number, n: number) =>
  Array.from({ length: n }, (_, i) => adsLine(from + i, `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}`).replace("SSH attack", `SSH attack ${"x".repeat(700)}`)).join("\n") + "\n"

describe("a full disk", () => {
  it("fails with exit 1 and says why; nothing half-written; the same input again stores the rest", async () => {
    const dir = tempDir()
    const db = path.join(dir, "events.db")
    expect((await runCli(["append", "--db", db, "--instance", "fm1"], { stdin: events(0, 10) })).code).toBe(0)
    const before = await count(db)
    expect(before).toBe(10)

    // No room even for the first batch.
    const input = events(1000, 5000)
    const full = await appendLimited(db, fs.statSync(db).size + 200_000, input)
    expect(full.code, full.stderr).toBe(1)
    expect(full.stderr).toMatch(/mitigator: committing to the event log: .*\(SQLITE_(FULL|IOERR)\w*\): is the disk .* full\?/)
    expect(full.stderr).not.toMatch(/unexpected error|a bug/)
    expect(full.stderr).toContain("mitigator append: 0 stored, 0 duplicate, 0 rejected; stopped by the error below, later lines were not recorded")
    expect(await count(db)).toBe(before)

    // Room for some batches: those are stored whole, the summary says how many, the log agrees.
    const partly = await appendLimited(db, fs.statSync(db).size + 5_000_000, input)
    expect(partly.code, partly.stderr).toBe(1)
    const stored = Number(/mitigator append: (\d+) stored/.exec(partly.stderr)?.[1])
    expect(stored).toBeGreaterThan(0)
    expect(stored).toBeLessThan(5000)
    expect(await count(db)).toBe(before + stored)

    // Room again: the same delivery stores the rest, the earlier ones are duplicates.
    const again = await runCli(["append", "--db", db, "--instance", "fm1"], { stdin: input })
    expect(again.code, again.stderr).toBe(0)
    expect(summaryLine(again)).toBe(`mitigator append: ${5000 - stored} stored, ${stored} duplicate, 0 rejected`)
    expect(await count(db)).toBe(before + 5000)
  }, 120_000)
})

describe("a read-only log", () => {
  it("fails with exit 1, says the log is read-only, and changes nothing", async () => {
    const dir = tempDir()
    const db = path.join(dir, "events.db")
    expect((await runCli(["append", "--db", db, "--instance", "fm1"], { stdin: events(0, 3) })).code).toBe(0)
    // Root writes through permissions: then the append runs as `nobody`, as Flowmon's user would.
    const asRoot = process.getuid?.() === 0
    fs.chmodSync(dir, asRoot ? 0o755 : 0o555)
    for (const f of fs.readdirSync(dir)) fs.chmodSync(path.join(dir, f), 0o444)
    try {
      const run = await runProcess(process.execPath, [BUNDLE, "append", "--db", db, "--instance", "fm1"], { stdin: events(100, 5), ...(asRoot ? { uid: 65534, gid: 65534 } : {}) })
      expect(run.code, run.stderr).toBe(1)
      expect(run.stderr).toMatch(/mitigator: .*event log .*readonly database \(SQLITE_READONLY\w*\): the log or its folder is read-only/)
      expect(run.stderr).not.toMatch(/unexpected error|a bug/)
    } finally {
      fs.chmodSync(dir, 0o755)
      for (const f of fs.readdirSync(dir)) fs.chmodSync(path.join(dir, f), 0o644)
    }
    expect(await count(db)).toBe(3)
  })
})

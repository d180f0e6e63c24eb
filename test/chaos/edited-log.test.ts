/**
 * A hostile host edits the event log's SQLite file: rewrites a row, cuts the newest rows off, or
 * loses the -wal file. Every command checks the chain (and the head file beside the log) before
 * it acts: `reconcile`, `plan`, `status` and `append` refuse with exit 1, naming the first bad
 * seq, and nothing reaches the LoadMaster; `verify` names the same seq. A head file left behind by
 * a crash, and a log from before head files existed, are not refused. The log's files are created
 * mode 0600 whatever the umask.
 */
import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import type { LoadMasterEmulatorHandle } from "../../src/emulators/loadmaster/LoadMasterEmulator.js"
import { BUNDLE, runProcess, tempDir, type RunResult } from "../support/cli.js"
import { adsLine } from "../support/fixtures.js"
import { lmWorkspace, waitFor, withEmulator } from "../support/loadmaster.js"
import { tamper, withRaw } from "../eventlog/support.js"

const lines = (...items: ReadonlyArray<string>) => items.join("\n") + "\n"

/** Every call the emulator answered or faulted, of any kind. */
const calls = (emulator: LoadMasterEmulatorHandle): number => Object.values(emulator.counts()).reduce((sum, n) => sum + n, 0)

const rowCount = (db: string): number => withRaw(db, (raw) => (raw.prepare("SELECT count(*) AS n FROM events").get() as { n: number }).n)

/** The seq of the BlockDecided row for `source`. */
const decisionSeq = (db: string, source: string): number =>
  withRaw(db, (raw) =>
    (raw.prepare("SELECT seq FROM events WHERE type = 'BlockDecided' AND json_extract(payload, '$.cause.source') = ?").get(source) as { seq: number }).seq
  )

/** What an attacker does to block an address of their choosing: the decision's address rewritten in place. */
const rewriteAddress = (db: string, seq: number, from: string, to: string) =>
  tamper(db, (raw) => {
    const changed = raw.prepare("UPDATE events SET payload = replace(payload, ?, ?) WHERE seq = ?").run(from, to, seq).changes
    expect(changed, "the row was rewritten").toBe(1)
  })

const headOf = (db: string): { seq: number; hash: string } => JSON.parse(fs.readFileSync(`${db}.head`, "utf8"))

/** A refusal: exit 1, the message names the first bad seq and what to do. */
const expectRefused = (run: RunResult, seq: number, what: string) => {
  expect(run.code, `${what}: ${run.stdout}${run.stderr}`).toBe(1)
  expect(run.stderr, what).toContain(`fails its hash-chain check at seq ${seq}:`)
  expect(run.stderr, what).toContain("mitigator verify")
}

describe("a row rewritten in the SQLite file", () => {
  it("reconcile, plan, status and append refuse naming its seq, nothing reaches the LoadMaster, and verify names it too", () =>
    withEmulator(async (emulator) => {
      // Given a log with two decisions, one of them rewritten to block another address
      const ws = lmWorkspace(emulator)
      const append = await ws.cmd(["append", "--defer", "--instance", "fm1"], { stdin: lines(adsLine(1, "192.0.2.31"), adsLine(2, "192.0.2.32")) })
      expect(append.code, append.stderr).toBe(0)
      const seq = decisionSeq(ws.db, "192.0.2.31")
      rewriteAddress(ws.db, seq, "192.0.2.31", "203.0.113.66")
      const rows = rowCount(ws.db)

      // When every command that acts runs on it, then each refuses before any call
      expectRefused(await ws.reconcile(), seq, "reconcile")
      expectRefused(await ws.plan(), seq, "plan")
      const status = await ws.cmd(["status", "--json"])
      expectRefused(status, seq, "status --json")
      expect(status.stdout).toBe("")
      // append applies at once: a new detection is neither stored nor applied
      const more = await ws.cmd(["append", "--instance", "fm1"], { stdin: lines(adsLine(3, "192.0.2.33")) })
      expectRefused(more, seq, "append")
      expect(rowCount(ws.db), "rows after the refused append").toBe(rows)
      expect(calls(emulator), JSON.stringify(emulator.counts())).toBe(0)
      expect(emulator.entries("global")).toEqual([])

      const verify = await ws.cmd(["verify"])
      expect(verify.code).toBe(1)
      expect(verify.stdout).toContain(`verify: FAILED at seq ${seq}: row ${seq} does not match its hash`)
    }))

  it("the newest row rewritten together with its own hash is refused by the head file", () =>
    withEmulator(async (emulator) => {
      // Given the newest decision rewritten, and its hash recomputed so the chain up to it holds
      const ws = lmWorkspace(emulator)
      expect((await ws.cmd(["append", "--defer", "--instance", "fm1"], { stdin: lines(adsLine(1, "192.0.2.31")) })).code).toBe(0)
      const seq = decisionSeq(ws.db, "192.0.2.31")
      expect(seq, "the decision is the newest row").toBe(rowCount(ws.db))
      const { rowHash } = await import("../../src/eventlog/HashChain.js")
      tamper(ws.db, (raw) => {
        const [previous, row] = raw.prepare("SELECT * FROM events WHERE seq >= ? ORDER BY seq").all(seq - 1) as Array<{
          seq: number
          recorded_at: string
          type: string
          payload: string
          dedupe_key: string | null
          hash: string
        }>
        const payload = row!.payload.replaceAll("192.0.2.31", "203.0.113.66")
        const hash = rowHash(previous!.hash, { seq, recordedAt: row!.recorded_at, type: row!.type, payloadJson: payload, dedupeKey: row!.dedupe_key })
        raw.prepare("UPDATE events SET payload = ?, hash = ? WHERE seq = ?").run(payload, hash, seq)
      })

      // Then the chain alone would pass, but the head file does not match: refused, and verify says so
      expectRefused(await ws.reconcile(), seq, "reconcile")
      expectRefused(await ws.cmd(["status"]), seq, "status")
      expect(calls(emulator)).toBe(0)
      const verify = await ws.cmd(["verify"])
      expect(verify.code).toBe(1)
      expect(verify.stdout).toContain(`verify: FAILED at seq ${seq}: row ${seq} has another hash than its head file`)
    }))
})

describe("rows cut off the end of the log", () => {
  it("deleting the newest rows is noticed by every command and by verify, naming the first missing seq", () =>
    withEmulator(async (emulator) => {
      // Given a log of 9 rows whose 3 newest are deleted
      const ws = lmWorkspace(emulator)
      await ws.cmd(["append", "--defer", "--instance", "fm1"], { stdin: lines(adsLine(1, "192.0.2.31"), adsLine(2, "192.0.2.32"), adsLine(3, "192.0.2.33")) })
      await ws.cmd(["append", "--defer", "--instance", "fm1"], { stdin: lines(adsLine(4, "192.0.2.34")) })
      expect(rowCount(ws.db)).toBe(9)
      expect(headOf(ws.db).seq).toBe(9)
      tamper(ws.db, (raw) => raw.prepare("DELETE FROM events WHERE seq > 6").run())

      // Then each command refuses at seq 7, and nothing reaches the LoadMaster or the log
      expectRefused(await ws.reconcile(), 7, "reconcile")
      expectRefused(await ws.plan(), 7, "plan")
      expectRefused(await ws.cmd(["status"]), 7, "status")
      expectRefused(await ws.cmd(["replay", "--events"]), 7, "replay --events")
      expectRefused(await ws.cmd(["append", "--instance", "fm1"], { stdin: lines(adsLine(5, "192.0.2.35")) }), 7, "append")
      expect(rowCount(ws.db)).toBe(6)
      expect(calls(emulator)).toBe(0)
      const verify = await ws.cmd(["verify"])
      expect(verify.code).toBe(1)
      expect(verify.stdout).toContain("verify: FAILED at seq 7: the log ends at seq 6, but its head file")
      expect(verify.stdout).toContain("rows 7 to 9 were cut off, or its -wal file was lost")
    }))

  it("a copy of the log without its -wal file (committed rows lost) is refused, and verify says so", () =>
    withEmulator(async (emulator) => {
      const ws = lmWorkspace(emulator)
      await ws.cmd(["append", "--defer", "--instance", "fm1"], { stdin: lines(adsLine(1, "192.0.2.31")) })
      const before = rowCount(ws.db)
      // Given a reader that keeps the log open, so the next append's rows stay in the -wal file
      const reader = new Database(ws.db)
      let copy: string
      try {
        reader.prepare("SELECT count(*) FROM events").get()
        await ws.cmd(["append", "--defer", "--instance", "fm1"], { stdin: lines(adsLine(2, "192.0.2.32")) })
        expect(fs.statSync(`${ws.db}-wal`).size, "the -wal file holds the second append").toBeGreaterThan(0)
        // When the log and its head file are copied without the -wal file
        const dir = tempDir("mitigator-lost-wal-")
        copy = path.join(dir, "events.db")
        fs.copyFileSync(ws.db, copy)
        fs.copyFileSync(`${ws.db}.head`, `${copy}.head`)
      } finally {
        reader.close()
      }
      expect(rowCount(copy), "the copy lost the second append").toBe(before)

      // Then every command refuses the copy at the first lost seq, and verify says so
      const first = before + 1
      expectRefused(await ws.run(["status", "--db", copy, "--config", ws.config]), first, "status")
      expectRefused(await ws.run(["reconcile", "--db", copy, "--config", ws.config]), first, "reconcile")
      expectRefused(await ws.run(["append", "--defer", "--instance", "fm1", "--db", copy, "--config", ws.config], { stdin: lines(adsLine(3, "192.0.2.33")) }), first, "append")
      expect(calls(emulator)).toBe(0)
      const verify = await ws.run(["verify", "--db", copy])
      expect(verify.code).toBe(1)
      expect(verify.stdout).toContain(`verify: FAILED at seq ${first}: the log ends at seq ${before}`)
      // And the original, with its -wal, is intact
      expect((await ws.cmd(["verify"])).code).toBe(0)
    }))

  it("a deleted log whose head file is left is not silently started anew by append", () =>
    withEmulator(async (emulator) => {
      const ws = lmWorkspace(emulator)
      await ws.cmd(["append", "--defer", "--instance", "fm1"], { stdin: lines(adsLine(1, "192.0.2.31")) })
      for (const file of [ws.db, `${ws.db}-wal`, `${ws.db}-shm`]) fs.rmSync(file, { force: true })
      const append = await ws.cmd(["append", "--instance", "fm1"], { stdin: lines(adsLine(2, "192.0.2.32")) })
      expectRefused(append, 1, "append")
      expect(append.stderr).toContain("it was deleted or moved")
      expect(fs.existsSync(ws.db), "no new log was created").toBe(false)
      expect(calls(emulator)).toBe(0)
    }))
})

describe("checkpoints and the chain", () => {
  it("an edit before the newest checkpoint is not acted on (the state comes from the checkpoint) and verify finds it; an edit of the checkpoint's own row is refused", () =>
    withEmulator(async (emulator) => {
      // Given a log of 10,001 rows folded once by status, which leaves a checkpoint at its last row
      const ws = lmWorkspace(emulator)
      const detections = Array.from({ length: 5000 }, (_, i) => adsLine(i + 1, `10.1.${Math.floor(i / 250)}.${(i % 250) + 1}`))
      expect((await ws.cmd(["append", "--defer", "--instance", "fm1"], { stdin: lines(...detections) })).code).toBe(0)
      expect((await ws.cmd(["status"])).code).toBe(0)
      const checkpoint = withRaw(ws.db, (raw) => raw.prepare("SELECT max(seq) AS seq FROM checkpoints").get() as { seq: number | null })
      // (the row after it is its CheckpointSaved event)
      expect(checkpoint.seq).toBe(rowCount(ws.db) - 1)

      // When a decision before the checkpoint is rewritten
      const early = decisionSeq(ws.db, "10.1.0.1")
      rewriteAddress(ws.db, early, "10.1.0.1", "203.0.113.66")
      // Then status folds only the rows after the checkpoint: the edit is not in the state
      const status = await ws.cmd(["status", "--json"])
      expect(status.code, status.stderr).toBe(0)
      const blocked = JSON.parse(status.stdout).ipBlocks.map((b: { cidr: string }) => b.cidr)
      expect(blocked).toContain("10.1.0.1/32")
      expect(blocked).not.toContain("203.0.113.66/32")
      // and verify, which walks every row, finds it
      const verify = await ws.cmd(["verify"])
      expect(verify.code).toBe(1)
      expect(verify.stdout).toContain(`verify: FAILED at seq ${early}:`)

      // When the checkpoint's own row is rewritten (its stored hash kept), then the fold refuses it
      const last = checkpoint.seq!
      // (the append-only triggers are gone already: the first edit dropped them)
      withRaw(ws.db, (raw) => raw.prepare("UPDATE events SET payload = replace(payload, '\"fm1\"', '\"fm2\"') WHERE seq = ?").run(last))
      expectRefused(await ws.cmd(["status"]), last, "status")
      expectRefused(await ws.reconcile(), last, "reconcile")
      expect(calls(emulator)).toBe(0)
    }), 120_000)
})

describe("a checkpoint's state forged in the SQLite file", () => {
  it("status, plan and reconcile refuse naming the checkpoint, nothing reaches the LoadMaster; the forged address is never acted on", () =>
    withEmulator(async (emulator) => {
      // Given a log of 10,001 rows folded once by status, which leaves a checkpoint bound by its CheckpointSaved event
      const ws = lmWorkspace(emulator)
      const detections = Array.from({ length: 5000 }, (_, i) => adsLine(i + 1, `10.1.${Math.floor(i / 250)}.${(i % 250) + 1}`))
      expect((await ws.cmd(["append", "--defer", "--instance", "fm1"], { stdin: lines(...detections) })).code).toBe(0)
      expect((await ws.cmd(["status"])).code).toBe(0)
      const { seq, state } = withRaw(ws.db, (raw) => raw.prepare("SELECT seq, state FROM checkpoints ORDER BY seq DESC LIMIT 1").get() as { seq: number; state: string })

      // When an attacker rewrites the checkpoint's state (no hashing needed): a real block's address
      // becomes one of their choosing, in force until 2099
      const snapshot = JSON.parse(state) as { blocks: Array<[string, { cidr: string; reasons: Array<{ until: string }> }]> }
      const [key, block] = snapshot.blocks.find(([, b]) => b.cidr === "10.1.0.1/32")!
      snapshot.blocks = snapshot.blocks.map(([k, b]) =>
        k === key ? [k.replace("10.1.0.1/32", "192.0.2.99/32"), { ...block, cidr: "192.0.2.99/32", reasons: block.reasons.map((r) => ({ ...r, until: "2099-01-01T00:00:00.000Z" })) }] : [k, b]
      )
      withRaw(ws.db, (raw) => raw.prepare("UPDATE checkpoints SET state = ? WHERE seq = ?").run(JSON.stringify(snapshot), seq))

      // Then every command that folds refuses, naming the checkpoint, before any call to the appliance
      for (const [what, run] of [
        ["status", () => ws.cmd(["status", "--json"])],
        ["plan", () => ws.plan()],
        ["reconcile", () => ws.reconcile()]
      ] as const) {
        const refused = await run()
        expectRefused(refused, seq, what)
        expect(refused.stderr, what).toContain(`the checkpoint of the projection at seq ${seq}`)
        expect(refused.stderr, what).toContain("its state was altered")
        expect(refused.stdout, what).not.toContain("192.0.2.99")
      }
      expect(calls(emulator), JSON.stringify(emulator.counts())).toBe(0)
      expect(emulator.entries("global")).toEqual([])

      // and once the checkpoints are removed (derived data), the fold from the log itself works again
      withRaw(ws.db, (raw) => raw.prepare("DELETE FROM checkpoints").run())
      const status = await ws.cmd(["status", "--json"])
      expect(status.code, status.stderr).toBe(0)
      const blocked = JSON.parse(status.stdout).ipBlocks.map((b: { cidr: string }) => b.cidr)
      expect(blocked).toContain("10.1.0.1/32")
      expect(blocked).not.toContain("192.0.2.99/32")
    }), 120_000)
})

describe("logs that are not refused", () => {
  it("a head file left behind by a crash between the commit and its write: every command works, and the next write catches it up", () =>
    withEmulator(async (emulator) => {
      // Given an untouched log whose head file is one append behind (as after a crash at that moment)
      const ws = lmWorkspace(emulator)
      await ws.cmd(["append", "--defer", "--instance", "fm1"], { stdin: lines(adsLine(1, "192.0.2.31")) })
      const behind = fs.readFileSync(`${ws.db}.head`)
      await ws.cmd(["append", "--defer", "--instance", "fm1"], { stdin: lines(adsLine(2, "192.0.2.32")) })
      fs.writeFileSync(`${ws.db}.head`, behind)
      expect(headOf(ws.db).seq).toBeLessThan(rowCount(ws.db))

      // Then status, verify, reconcile and append all work
      expect((await ws.cmd(["status"])).code).toBe(0)
      expect((await ws.cmd(["verify"])).code).toBe(0)
      const reconcile = await ws.reconcile()
      expect(reconcile.code, reconcile.stdout + reconcile.stderr).toBe(0)
      expect(emulator.entries("global").map((e) => e.addr).sort()).toEqual(["192.0.2.31/32", "192.0.2.32/32"])
      // and the reconcile's own write moved the head file to the log's newest row
      expect(headOf(ws.db).seq).toBe(rowCount(ws.db))
      const append = await ws.cmd(["append", "--defer", "--instance", "fm1"], { stdin: lines(adsLine(3, "192.0.2.33")) })
      expect(append.code, append.stderr).toBe(0)
      expect(headOf(ws.db).seq).toBe(rowCount(ws.db))
    }))

  it("a log from before head files existed is adopted once, saying so; verify alone does not adopt it", () =>
    withEmulator(async (emulator) => {
      // Given a log without a head file beside it
      const ws = lmWorkspace(emulator)
      await ws.cmd(["append", "--defer", "--instance", "fm1"], { stdin: lines(adsLine(1, "192.0.2.31")) })
      fs.rmSync(`${ws.db}.head`)

      // verify reports what it cannot check, and changes nothing
      const verify = await ws.cmd(["verify"])
      expect(verify.code).toBe(0)
      expect(verify.stderr).toContain("no head file beside the log")
      expect(fs.existsSync(`${ws.db}.head`)).toBe(false)

      // The first other command adopts the log's head and says so, once
      const first = await ws.cmd(["status"])
      expect(first.code, first.stderr).toBe(0)
      expect(first.stderr).toContain("had no head file: adopted its newest row")
      expect(headOf(ws.db).seq).toBe(rowCount(ws.db))
      const second = await ws.cmd(["status"])
      expect(second.code).toBe(0)
      expect(second.stderr).not.toContain("head file")
    }))
})

describe("the log's files are private", () => {
  it("the head file stays the log owner's when another user (root) writes to the log, so the owner's next append still checks it", async () => {
    // Given a log made by `nobody` (as Flowmon's user; only when the tests run as root can they switch users)
    const dir = tempDir()
    const db = path.join(dir, "events.db")
    const asRoot = process.getuid?.() === 0
    const owner = asRoot ? { uid: 65534, gid: 65534 } : {}
    if (asRoot) fs.chownSync(dir, 65534, 65534)
    const append = (id: number, as: { uid?: number; gid?: number }) =>
      runProcess(process.execPath, [BUNDLE, "append", "--defer", "--db", db, "--instance", "fm1"], { stdin: lines(adsLine(id, `192.0.2.${id}`)), cwd: dir, ...as })
    expect((await append(1, owner)).code).toBe(0)
    const logOwner = fs.statSync(db).uid
    // When this test's user (root) appends, then the owner's next append reads the head file and moves it on
    expect((await append(2, {})).code).toBe(0)
    expect(fs.statSync(`${db}.head`).uid, "the head file's owner").toBe(logOwner)
    const next = await append(3, owner)
    expect(next.code, next.stderr).toBe(0)
    expect(next.stderr).not.toContain("head file")
    expect(headOf(db).seq).toBe(rowCount(db))
  })

  it("created with umask 022, the database, its -wal and -shm and the head file are mode 0600", () =>
    withEmulator(async (emulator) => {
      const ws = lmWorkspace(emulator)
      const withUmask022 = (args: ReadonlyArray<string>) => ["-c", 'umask 022; exec "$0" "$@"', process.execPath, BUNDLE, ...args]
      const append = await runProcess("/bin/sh", withUmask022(["append", "--defer", "--instance", "fm1", "--db", ws.db, "--config", ws.config]), {
        cwd: ws.dir,
        stdin: lines(adsLine(1, "192.0.2.31"))
      })
      expect(append.code, append.stderr).toBe(0)
      // A reconcile that stays up keeps the log open, so its -wal and -shm files exist meanwhile.
      const watch = spawn("/bin/sh", withUmask022(["reconcile", "--watch", "--interval", "1h", "--db", ws.db, "--config", ws.config]), {
        cwd: ws.dir,
        stdio: ["ignore", "pipe", "pipe"]
      })
      let out = ""
      watch.stdout.on("data", (b: Buffer) => (out += b.toString("utf8")))
      const ended = new Promise((resolve) => watch.on("close", resolve))
      try {
        await waitFor("the first pass to converge", () => out.includes("converged"), 30_000)
        const modes = Object.fromEntries(
          [ws.db, `${ws.db}-wal`, `${ws.db}-shm`, `${ws.db}.head`].map((file) => [path.basename(file), (fs.statSync(file).mode & 0o777).toString(8)])
        )
        expect(modes).toEqual({ "events.db": "600", "events.db-wal": "600", "events.db-shm": "600", "events.db.head": "600" })
      } finally {
        watch.kill("SIGTERM")
        await ended
      }
    }))
})

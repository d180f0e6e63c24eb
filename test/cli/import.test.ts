/**
 * `import lm-timeout`: taking over Progress' lm-block.py / lm-timeout.py. A database with the
 * legacy schema, a LoadMaster emulator holding the entries lm-block.py added, real CLI processes.
 */
import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import * as fs from "node:fs"
import * as path from "node:path"
import { addrs, lmWorkspace, withEmulator } from "../support/loadmaster.js"

/** lm-timeout.py's own table, exactly as its db_init creates it. */
const LEGACY_SCHEMA = `CREATE TABLE IF NOT EXISTS data (
  ip TEXT PRIMARY KEY,
  event TEXT NOT NULL,
  vsid integer,
  ttl integer NOT NULL
)`

const legacyDb = (dir: string, rows: ReadonlyArray<readonly [string, string, number | string | null, number]>): string => {
  const file = path.join(dir, "lm-block.db")
  const db = new Database(file)
  db.exec(LEGACY_SCHEMA)
  const insert = db.prepare("INSERT INTO data(ip, event, vsid, ttl) VALUES (?, ?, ?, ?)")
  for (const r of rows) insert.run(...r)
  db.close()
  return file
}

const HOUR = 3_600_000

describe("import lm-timeout", () => {
  it("takes over the legacy blocks: nothing lost, nothing added twice, ended ones lifted, foreign entries left alone", async () => {
    await withEmulator(async (emulator) => {
      const w = lmWorkspace(emulator)
      // What lm-block.py left on the LoadMaster (its comment format), and one hand-made entry.
      emulator.seed("global", "198.51.100.7", "ADS ID 1001 - SCANS")
      emulator.seed(3, "198.51.100.8", "ADS ID 1002 - SSHDICT")
      emulator.seed("global", "198.51.100.10", "ADS ID 1004 - SCANS")
      emulator.seed("global", "203.0.113.5", "blocked by hand")
      const file = legacyDb(w.dir, [
        ["198.51.100.7", "1001", null, 1776],
        ["198.51.100.8", "1002", 3, 48],
        // in the table but gone from the appliance: blocked again for its remaining time
        ["198.51.100.9", "1003", null, 1800],
        // no hours left (lm-timeout.py would have lifted it on its next run)
        ["198.51.100.10", "1004", null, 0],
        ["not-an-ip", "1005", null, 24],
        ["198.51.100.11", "1006", "vs-two", 24]
      ])
      const before = fs.readFileSync(file)

      const dry = await w.cmd(["import", "lm-timeout", file, "--dry-run"])
      expect(dry.code, dry.stderr).toBe(3)
      expect(dry.stdout).toContain("Would import 4 block(s) (3 on loadmaster:global, 1 on loadmaster:vs:3); 2 row(s) rejected.")
      expect(fs.existsSync(w.db), "a dry run creates no log").toBe(false)

      const started = Date.now()
      const imported = await w.cmd(["import", "lm-timeout", file, "--actor", "migration"])
      expect(imported.code, imported.stderr).toBe(3)
      expect(imported.stdout).toContain("Imported 4 block(s) (3 on loadmaster:global, 1 on loadmaster:vs:3); 2 row(s) rejected (recorded).")
      expect(imported.stdout).toContain("1 of them had no hours left: the next reconcile lifts their entries.")
      expect(imported.stdout).toMatch(/rejected: row 5: ip: 'not-an-ip'/)
      expect(imported.stdout).toContain("rejected: row 6: vsid is 'vs-two'")
      expect(imported.stdout).toContain("remove lm-timeout.py from cron")
      expect(fs.readFileSync(file).equals(before), "the legacy database is not changed").toBe(true)

      const events = await w.events()
      const requested = events.filter((e) => e.type === "BlockRequested")
      expect(requested.map((e) => [e.payload.target, e.payload.subject.cidr, e.payload.actor])).toEqual([
        ["loadmaster:global", "198.51.100.7/32", "migration"],
        ["loadmaster:vs:3", "198.51.100.8/32", "migration"],
        ["loadmaster:global", "198.51.100.9/32", "migration"],
        ["loadmaster:global", "198.51.100.10/32", "migration"]
      ])
      const untilOf = (cidr: string) => Date.parse(requested.find((e) => e.payload.subject.cidr === cidr)!.payload.until)
      expect(Math.abs(untilOf("198.51.100.7/32") - (started + 1776 * HOUR))).toBeLessThan(60_000)
      expect(Math.abs(untilOf("198.51.100.8/32") - (started + 48 * HOUR))).toBeLessThan(60_000)
      expect(events.filter((e) => e.type === "InputRejected").map((e) => e.payload.line)).toEqual([5, 6])

      const status = await w.cmd(["status"])
      expect(status.stdout).toMatch(/loadmaster:global {2}198\.51\.100\.7\/32 {2}until \S+ \(74d left\)/)
      expect(status.stdout).toContain("operator migration: imported from lm-timeout.py (ADS event 1001, 1776 h left)")
      expect(status.stdout).not.toContain("198.51.100.10")

      emulator.resetCounts()
      const first = await w.reconcile()
      expect(first.code, first.stdout + first.stderr).toBe(0)
      // Only the entry that had gone missing is added; the ended one is lifted.
      expect(emulator.counts()["add"] ?? 0).toBe(1)
      expect(emulator.counts()["addvs"] ?? 0).toBe(0)
      expect(emulator.counts()["del"] ?? 0).toBe(1)
      expect(addrs(emulator)).toEqual(["198.51.100.7", "198.51.100.9/32", "203.0.113.5"])
      expect(addrs(emulator, 3)).toEqual(["198.51.100.8"])
      // The adopted entries keep lm-block.py's comment: they are the same entries.
      expect(emulator.entries("global").find((e) => e.addr === "198.51.100.7")?.comment).toBe("ADS ID 1001 - SCANS")
      const adopted = (await w.events()).filter((e) => e.type === "DriftObserved" && e.payload.kind === "adopted")
      expect(adopted.map((e) => `${e.payload.target} ${e.payload.cidr}`).sort()).toEqual([
        "loadmaster:global 198.51.100.10/32",
        "loadmaster:global 198.51.100.7/32",
        "loadmaster:vs:3 198.51.100.8/32"
      ])

      // Importing the same database again records nothing new.
      const again = await w.cmd(["import", "lm-timeout", file])
      expect(again.stdout).toContain("Imported 0 block(s); 4 already imported before; 2 row(s) rejected (recorded).")
      expect((await w.events()).filter((e) => e.type === "BlockRequested")).toHaveLength(4)

      // Taken over means mitigator lifts them: an unblock ends the block and removes the legacy
      // entry at once, while the hand-made one stays; the next reconcile has nothing left to do.
      emulator.resetCounts()
      expect((await w.cmd(["unblock", "198.51.100.7", "--reason", "false positive"])).code).toBe(0)
      expect(emulator.counts()["add"] ?? 0).toBe(0)
      expect(emulator.counts()["del"] ?? 0).toBe(1)
      expect(addrs(emulator)).toEqual(["198.51.100.9/32", "203.0.113.5"])
      const second = await w.reconcile()
      expect(second.code, second.stdout + second.stderr).toBe(0)
      expect(second.stdout).toContain("0 to add, 0 to remove")
      const third = await w.reconcile()
      expect(third.stdout).toContain("0 to add, 0 to remove")
    })
  })

  it("says clearly when the file is not lm-timeout.py's database, and records nothing", async () => {
    await withEmulator(async (emulator) => {
      const w = lmWorkspace(emulator)
      const other = path.join(w.dir, "other.db")
      const db = new Database(other)
      db.exec("CREATE TABLE hosts (ip TEXT)")
      db.close()
      const wrongTable = await w.cmd(["import", "lm-timeout", other])
      expect(wrongTable.code).toBe(1)
      expect(wrongTable.stderr).toContain(`${other} has no table 'data': is it lm-timeout.py's database?`)

      const notSqlite = path.join(w.dir, "notes.txt")
      fs.writeFileSync(notSqlite, "just some text, long enough to not be mistaken for an empty database file\n")
      const garbage = await w.cmd(["import", "lm-timeout", notSqlite])
      expect(garbage.code).toBe(1)
      expect(garbage.stderr).toMatch(/cannot (open|read) .*notes\.txt: file is not a database/)

      const missing = await w.cmd(["import", "lm-timeout", path.join(w.dir, "nope.db")])
      expect(missing.code).toBe(1)
      expect(missing.stderr).toContain("nope.db")
      expect(fs.existsSync(w.db)).toBe(false)
    })
  })
})

/**
 * The reconcile lease (src/reconciler/lock.ts): one pass at a time per event log, with a holder
 * that can be told from a process that merely got the same pid later. Real files in a temp
 * directory, a real SQLite log for the takeover record, and real processes (`sleep`) as holders
 * that are alive but are not us.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { onTestFinished } from "vitest"
import { EventLog } from "../../src/eventlog/EventLog.js"
import * as SqliteEventLog from "../../src/eventlog/SqliteEventLog.js"
import { bootId, startTicks } from "../../src/platform/ProcessIdentity.js"
import { holdingLease, LEASE_TTL_MS, leaseFileFor, reconcileLock, type LeaseRecord } from "../../src/reconciler/lock.js"
import { tempDir } from "../support/cli.js"

/** A log file and its lease file (the log exists: the lease goes beside its real path). */
const workspace = () => {
  const dir = tempDir("mitigator-lease-")
  const db = path.join(dir, "events.db")
  return { dir, db, lease: `${fs.realpathSync(dir)}/events.db.reconcile.lock` }
}

/** Runs `body` with a real SQLite log at `db`. */
const withLog = <A, E>(db: string, body: Effect.Effect<A, E, EventLog>) =>
  body.pipe(Effect.provide(SqliteEventLog.layer({ filename: db, create: true })))

/** A live process that is not this one (killed when the test ends). */
const otherProcess = (): number => {
  const child = spawn("sleep", ["600"], { stdio: "ignore" })
  onTestFinished(() => void child.kill("SIGKILL"))
  return child.pid!
}

/** A pid no process has now. */
const deadPid = (): number => {
  const pid = spawnSync(process.execPath, ["-e", ""]).pid!
  expect(() => process.kill(pid, 0)).toThrow()
  return pid
}

const HOUR = 3_600_000

/** A lease as another holder would write it: by default a live holder on this machine, this boot, for an hour. */
const writeLease = (file: string, fields: Partial<LeaseRecord> & { readonly pid: number }): LeaseRecord => {
  const record: LeaseRecord = {
    startTicks: startTicks(fields.pid),
    bootId: bootId(),
    host: os.hostname(),
    token: "0123456789abcdef0123456789abcdef",
    acquiredAt: new Date(Date.now() - 1000).toISOString(),
    expiresAt: new Date(Date.now() + HOUR).toISOString(),
    ...fields
  }
  fs.writeFileSync(file, JSON.stringify(record) + "\n", { mode: 0o600 })
  return record
}

const takeovers = (db: string) =>
  withLog(
    db,
    Effect.flatMap(EventLog, (log) => log.read({ limit: 1000 })).pipe(Effect.map((events) => events.filter((e) => e.type === "LeaseTakenOver")))
  )

/** Tries to take the lease for the log at `db` (no waiting); the failure's message, or "taken" (and the lease as held). */
const attempt = (db: string) =>
  withLog(
    db,
    Effect.scoped(
      Effect.gen(function* () {
        yield* reconcileLock(db)
        return { outcome: "taken" as const, held: JSON.parse(fs.readFileSync(leaseFileFor(db), "utf8")) as LeaseRecord }
      })
    ).pipe(Effect.catchTag("LockError", (e) => Effect.succeed({ outcome: e.reason, message: e.message })))
  )

describe("the reconcile lease", () => {
  it.live("names its holder (pid, start time, boot, host, expiry), is private, and is gone when the pass ends", () =>
    Effect.gen(function* () {
      const w = workspace()
      const before = Date.now()
      const result = yield* attempt(w.db)
      expect(result.outcome).toBe("taken")
      const held = (result as { held: LeaseRecord }).held
      expect(held).toMatchObject({ pid: process.pid, startTicks: startTicks(process.pid), bootId: bootId(), host: os.hostname() })
      expect(held.startTicks).toMatch(/^\d+$/)
      expect(Date.parse(held.expiresAt) - Date.parse(held.acquiredAt)).toBe(LEASE_TTL_MS)
      expect(Date.parse(held.acquiredAt)).toBeGreaterThanOrEqual(before - 1000)
      expect(fs.existsSync(w.lease)).toBe(false)
      expect(yield* takeovers(w.db)).toEqual([])
    })
  )

  it.live("is refused while a live holder has it, naming the holder, and left as it was", () =>
    Effect.gen(function* () {
      const w = workspace()
      const holder = otherProcess()
      writeLease(w.lease, { pid: holder })
      const before = fs.readFileSync(w.lease, "utf8")
      const result = yield* attempt(w.db)
      expect(result).toMatchObject({ outcome: "held", message: expect.stringContaining(`another reconcile (pid ${holder}) is running on this event log`) })
      expect(fs.readFileSync(w.lease, "utf8")).toBe(before)
      expect(yield* takeovers(w.db)).toEqual([])
    })
  )

  it.live("is taken over when its pid now belongs to another process (another start time), and the takeover is recorded", () =>
    Effect.gen(function* () {
      const w = workspace()
      // A live process, but not the one that took the lease: that one started at another time.
      const reused = otherProcess()
      const stale = writeLease(w.lease, { pid: reused, startTicks: "1" })
      const result = yield* attempt(w.db)
      expect(result.outcome).toBe("taken")
      expect((result as { held: LeaseRecord }).held.pid).toBe(process.pid)
      expect(fs.existsSync(w.lease)).toBe(false)
      const recorded = yield* takeovers(w.db)
      expect(recorded.map((e) => e.payload)).toEqual([
        {
          lease: w.lease,
          reason: "pid-reused",
          previous: { pid: reused, host: os.hostname(), acquiredAt: stale.acquiredAt, expiresAt: stale.expiresAt },
          pid: process.pid,
          host: os.hostname()
        }
      ])
    })
  )

  it.live("is taken over when its process is gone", () =>
    Effect.gen(function* () {
      const w = workspace()
      const gone = deadPid()
      writeLease(w.lease, { pid: gone, startTicks: "12345" })
      expect((yield* attempt(w.db)).outcome).toBe("taken")
      expect((yield* takeovers(w.db)).map((e) => (e.payload as { reason: string }).reason)).toEqual(["owner-gone"])
    })
  )

  it.live("is not taken over on expiry while its holder on this host still runs (paused, or the wall clock stepped forward)", () =>
    Effect.gen(function* () {
      const w = workspace()
      // Given a live holder here, with the start time and boot its lease names, whose expiry is long past
      const paused = otherProcess()
      writeLease(w.lease, { pid: paused, acquiredAt: new Date(Date.now() - 2 * HOUR).toISOString(), expiresAt: new Date(Date.now() - HOUR).toISOString() })
      const before = fs.readFileSync(w.lease, "utf8")
      // When another pass tries to take it, then it is refused as for any live holder, and the lease is left as it was
      expect(yield* attempt(w.db)).toMatchObject({
        outcome: "held",
        message: expect.stringContaining(`another reconcile (pid ${paused}) is running on this event log`)
      })
      expect((yield* attempt(w.db)) as { message: string }).toMatchObject({ message: expect.stringContaining("but its process still runs") })
      expect(fs.readFileSync(w.lease, "utf8")).toBe(before)
      expect(yield* takeovers(w.db)).toEqual([])
    })
  )

  it.live("is taken over once expired when its holder's liveness cannot be judged (no start time, no boot in the lease)", () =>
    Effect.gen(function* () {
      const w = workspace()
      writeLease(w.lease, { pid: otherProcess(), startTicks: null, bootId: null, expiresAt: new Date(Date.now() - HOUR).toISOString() })
      expect((yield* attempt(w.db)).outcome).toBe("taken")
      expect((yield* takeovers(w.db)).map((e) => (e.payload as { reason: string }).reason)).toEqual(["expired"])
    })
  )

  it.live("a holder whose lease is taken by another, or removed, while its pass runs: the pass is interrupted and fails with lease-lost", () =>
    Effect.gen(function* () {
      for (const lose of ["replaced", "removed"] as const) {
        const w = workspace()
        const someoneElse = otherProcess()
        let stepsAfterLoss = 0
        const result = yield* withLog(
          w.db,
          Effect.scoped(
            holdingLease(w.db, 0, { checkEveryMs: 20 })(
              Effect.gen(function* () {
                // Given a pass holding the lease, when the lease is replaced by another holder's (or removed)
                if (lose === "replaced") writeLease(w.lease, { pid: someoneElse })
                else fs.rmSync(w.lease)
                // then the pass goes no further: this loop would run for an hour
                for (let step = 0; step < 36_000; step++) {
                  yield* Effect.sleep("100 millis")
                  stepsAfterLoss++
                }
                return "finished"
              })
            )
          ).pipe(Effect.flip)
        )
        expect(result).toMatchObject({ _tag: "LockError", reason: "lease-lost", message: expect.stringContaining(`the reconcile lease ${w.lease} was lost while this pass ran`) })
        expect(result.message).toContain(lose === "replaced" ? `another holder's now (pid ${someoneElse}` : "it was removed")
        expect(stepsAfterLoss).toBeLessThan(36_000)
        // The other holder's lease is theirs: left in place
        if (lose === "replaced") expect((JSON.parse(fs.readFileSync(w.lease, "utf8")) as LeaseRecord).pid).toBe(someoneElse)
        else expect(fs.existsSync(w.lease)).toBe(false)
      }
    })
  )

  it.live("is taken over when it was taken before the machine rebooted", () =>
    Effect.gen(function* () {
      const w = workspace()
      writeLease(w.lease, { pid: otherProcess(), bootId: "00000000-0000-0000-0000-000000000000" })
      expect((yield* attempt(w.db)).outcome).toBe("taken")
      expect((yield* takeovers(w.db)).map((e) => (e.payload as { reason: string }).reason)).toEqual(["rebooted"])
    })
  )

  it.live("from another host (a shared file system) is respected until it expires: its processes cannot be seen from here", () =>
    Effect.gen(function* () {
      const w = workspace()
      writeLease(w.lease, { pid: deadPid(), host: "elsewhere.example" })
      expect(yield* attempt(w.db)).toMatchObject({ outcome: "held", message: expect.stringContaining(" on elsewhere.example) is running") })
      writeLease(w.lease, { pid: deadPid(), host: "elsewhere.example", expiresAt: new Date(Date.now() - 1000).toISOString() })
      expect((yield* attempt(w.db)).outcome).toBe("taken")
      expect((yield* takeovers(w.db)).map((e) => (e.payload as { reason: string }).reason)).toEqual(["expired"])
    })
  )

  it.live("is the same lease through a symlink to the log (it lies beside the log's real path)", () =>
    Effect.gen(function* () {
      const w = workspace()
      yield* withLog(w.db, Effect.void)
      const link = path.join(w.dir, "link-to-events.db")
      fs.symlinkSync(w.db, link)
      expect(leaseFileFor(link)).toBe(w.lease)
      const holder = otherProcess()
      writeLease(w.lease, { pid: holder })
      expect(yield* attempt(link)).toMatchObject({ outcome: "held", message: expect.stringContaining(`(pid ${holder})`) })
      expect(fs.existsSync(`${link}.reconcile.lock`)).toBe(false)
      fs.rmSync(w.lease)
      // And the other way round: taken through the link, it is the one the real path sees.
      yield* withLog(
        link,
        Effect.scoped(
          Effect.gen(function* () {
            yield* reconcileLock(link)
            expect(fs.existsSync(w.lease)).toBe(true)
            expect(fs.existsSync(`${link}.reconcile.lock`)).toBe(false)
            expect(yield* Effect.scoped(Effect.flip(reconcileLock(w.db)))).toMatchObject({ reason: "held" })
          })
        )
      )
    })
  )

  it.live("a lease file that cannot be read is respected while fresh (being written), then taken over", () =>
    Effect.gen(function* () {
      const w = workspace()
      fs.writeFileSync(w.lease, "")
      expect((yield* attempt(w.db)).outcome).toBe("held")
      const aMinuteAgo = new Date(Date.now() - 60_000)
      fs.utimesSync(w.lease, aMinuteAgo, aMinuteAgo)
      expect((yield* attempt(w.db)).outcome).toBe("taken")
      expect((yield* takeovers(w.db)).map((e) => e.payload)).toEqual([expect.objectContaining({ reason: "unreadable", previous: null })])
    })
  )

  it.live("a bare pid (the lock file of earlier versions) holds while that process runs, not once the pid names a newer process", () =>
    Effect.gen(function* () {
      const w = workspace()
      const holder = otherProcess()
      fs.writeFileSync(w.lease, String(holder))
      expect(yield* attempt(w.db)).toMatchObject({ outcome: "held", message: expect.stringContaining(`another reconcile (pid ${holder}) is running`) })
      // Written an hour before that process started: it was written by an earlier holder of the pid.
      const anHourAgo = new Date(Date.now() - HOUR)
      fs.utimesSync(w.lease, anHourAgo, anHourAgo)
      expect((yield* attempt(w.db)).outcome).toBe("taken")
      expect((yield* takeovers(w.db)).map((e) => e.payload)).toEqual([
        expect.objectContaining({ reason: "pid-reused", previous: { pid: holder, host: null, acquiredAt: anHourAgo.toISOString(), expiresAt: null } })
      ])
    })
  )

  it.live("release removes only a lease that is still ours", () =>
    Effect.gen(function* () {
      const w = workspace()
      const someoneElse = otherProcess()
      yield* withLog(
        w.db,
        Effect.scoped(
          Effect.gen(function* () {
            yield* reconcileLock(w.db)
            // Taken over meanwhile (as stale, by another process): from then on it is theirs.
            fs.rmSync(w.lease)
            writeLease(w.lease, { pid: someoneElse })
          })
        )
      )
      expect((JSON.parse(fs.readFileSync(w.lease, "utf8")) as LeaseRecord).pid).toBe(someoneElse)
    })
  )

  it.effect("a long pass renews its lease before it expires, and keeps it", () =>
    Effect.gen(function* () {
      const w = workspace()
      yield* TestClock.setTime(Date.now())
      const release = yield* Effect.makeLatch(false)
      const holding = yield* Effect.fork(withLog(w.db, Effect.scoped(Effect.zipRight(reconcileLock(w.db), release.await))))
      yield* Effect.yieldNow().pipe(Effect.repeat({ until: () => fs.existsSync(w.lease), times: 1000 }))
      const first = JSON.parse(fs.readFileSync(w.lease, "utf8")) as LeaseRecord
      // Three lifetimes later, moved on a quarter at a time (when the holder renews).
      for (let step = 0; step < 12; step++) {
        yield* TestClock.adjust(LEASE_TTL_MS / 4)
        yield* Effect.yieldNow()
      }
      const now = yield* TestClock.currentTimeMillis
      const renewed = JSON.parse(fs.readFileSync(w.lease, "utf8")) as LeaseRecord
      expect(renewed.token).toBe(first.token)
      expect(Date.parse(renewed.expiresAt)).toBeGreaterThan(now)
      expect(Date.parse(renewed.expiresAt)).toBeGreaterThan(Date.parse(first.expiresAt) + 2 * LEASE_TTL_MS)
      // Another taker at this time finds it held, not expired.
      const second = yield* withLog(w.db, Effect.scoped(Effect.flip(reconcileLock(w.db))))
      expect(second).toMatchObject({ reason: "held" })
      yield* release.open
      expect(Exit.isSuccess(yield* Fiber.await(holding))).toBe(true)
      expect(fs.existsSync(w.lease)).toBe(false)
    })
  )
})

/**
 * One reconcile at a time per event log: a lock file beside the log holding the owner's pid,
 * created exclusively. A lock whose process is gone (a crash, a SIGKILL) is taken over.
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as fs from "node:fs"

export class LockError extends Data.TaggedError("LockError")<{ readonly message: string }> {}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

const tryCreate = (file: string): boolean => {
  try {
    const fd = fs.openSync(file, "wx", 0o600)
    fs.writeSync(fd, String(process.pid))
    fs.closeSync(fd)
    return true
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false
    throw e
  }
}

const acquire = (file: string) =>
  Effect.try({
    try: () => {
      for (let attempt = 0; attempt < 2; attempt++) {
        if (tryCreate(file)) return
        const holder = Number(fs.readFileSync(file, "utf8").trim())
        if (Number.isInteger(holder) && holder > 0 && alive(holder)) {
          throw new LockError({ message: `another reconcile (pid ${holder}) is running on this event log; it holds ${file}` })
        }
        fs.rmSync(file, { force: true }) // stale: its process is gone
      }
      throw new LockError({ message: `cannot take the reconcile lock ${file}` })
    },
    catch: (e) => (e instanceof LockError ? e : new LockError({ message: `cannot take the reconcile lock ${file}: ${String(e)}` }))
  })

const release = (file: string) =>
  Effect.sync(() => {
    try {
      if (fs.readFileSync(file, "utf8").trim() === String(process.pid)) fs.rmSync(file, { force: true })
    } catch {
      // already gone
    }
  })

/** Holds the lock for the enclosing scope. */
export const reconcileLock = (dbPath: string) => Effect.acquireRelease(acquire(`${dbPath}.reconcile.lock`), () => release(`${dbPath}.reconcile.lock`))

/** The lock, waiting for another holder up to `waitMs` (append's immediate apply shares it with reconcile). */
export const reconcileLockWithin = (dbPath: string, waitMs: number) =>
  reconcileLock(dbPath).pipe(
    Effect.retry({ schedule: Schedule.spaced("50 millis").pipe(Schedule.upTo(Duration.millis(waitMs))), while: (e) => e.message.startsWith("another reconcile") })
  )

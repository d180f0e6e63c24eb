/**
 * The event log: there and writable (or, before the first append, creatable), its schema, its
 * hash chain, and this clock against its newest event. Doctor does not create the log: it only
 * says that the first append will.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Layer from "effect/Layer"
import { EventLog, type EventLogError } from "../../eventlog/EventLog.js"
import { headFileOf, readHeadFile } from "../../eventlog/HeadFile.js"
import { isPostgresUrl, redactedUrl } from "../../eventlog/PgUrl.js"
import * as SqliteEventLog from "../../eventlog/SqliteEventLog.js"
import { fail, pass, warn, type Check } from "./Check.js"

/** How far the clock may lag the log's newest event before it counts as wrong. */
const CLOCK_SLACK_MS = 60_000

const writable = (target: string): string | undefined => {
  try {
    fs.accessSync(target, fs.constants.W_OK)
    return undefined
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? String(e)
  }
}

/** No log yet: fine when this user can create it where it is configured, and no head file says one was there. */
const notYetChecks = (file: string, whoAmI: string, configured: string, now: number): ReadonlyArray<Check> => {
  const dir = path.dirname(path.resolve(file))
  const headFile = headFileOf(file)
  const head = readHeadFile(headFile)
  const clock = pass("clock.log", `clock ${new Date(now).toISOString()}: no event in the log yet to compare it with`)
  if (head._tag === "Recorded" && head.head.seq > 0) {
    return [
      fail(
        "log",
        `no event log at ${file}, but its head file ${headFile} records seq ${head.head.seq}: the log was deleted or moved`,
        `restore ${file} from a backup, or point ${configured} at where it is now (to start a new log on purpose, remove ${headFile})`
      ),
      clock
    ]
  }
  let isDir: boolean
  try {
    isDir = fs.statSync(dir).isDirectory()
  } catch {
    isDir = false
  }
  if (!isDir) {
    return [fail("log", `no event log yet at ${file}, and its directory ${dir} does not exist`, `create ${dir} for the user that runs mitigator (mkdir -p ${dir}), or point ${configured} elsewhere`), clock]
  }
  const denied = writable(dir)
  if (denied !== undefined) {
    return [
      fail(
        "log",
        `no event log yet at ${file}, and this user (${whoAmI}) cannot create it: ${dir} is not writable (${denied})`,
        `give the user that runs mitigator write access to ${dir} (chown or chmod), or point ${configured} at a directory it can write`
      ),
      clock
    ]
  }
  return [pass("log", `no event log yet at ${file}: will be created at the first append`), clock]
}

/**
 * @param passwordFile the PostgreSQL password's file (a postgres:// log), resolved
 */
export const logChecks = (file: string, whoAmI: string, configured: string, passwordFile?: string) =>
  Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    const checks: Check[] = []
    if (isPostgresUrl(file)) {
      // No files to check: the database answers for itself (a missing log is made by the first append).
      const layer = Layer.unwrapEffect(
        Effect.map(Effect.promise(() => import("../../eventlog/PgEventLog.js")), (PgEventLog) =>
          PgEventLog.layer({ url: file, passwordFile, create: false, checkHead: false })
        )
      )
      return yield* openedChecks(file, configured, now, checks, layer)
    }
    if (!fs.existsSync(file)) return notYetChecks(file, whoAmI, configured, now)
    const dir = path.dirname(path.resolve(file))
    // SQLite writes its journal beside the file: both must be writable.
    const denied = [file, dir].flatMap((target) => {
      try {
        fs.accessSync(target, target === file ? fs.constants.R_OK | fs.constants.W_OK : fs.constants.W_OK)
        return []
      } catch (e) {
        return [`${target}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`]
      }
    })
    checks.push(
      denied.length === 0
        ? pass("log", `event log ${file} is writable`)
        : fail("log", `event log ${file} is not writable by this user (${whoAmI}): ${denied.join(", ")}`, `give the user that runs mitigator read and write access to ${file} and write access to ${dir}`)
    )
    return yield* openedChecks(file, configured, now, checks, SqliteEventLog.layer({ filename: file, create: false, checkHead: false }))
  })

/** What the opened log says: its schema, its chain, and this clock against its newest event. */
const openedChecks = (file: string, configured: string, now: number, checks: Check[], layer: Layer.Layer<EventLog, EventLogError>) =>
  Effect.gen(function* () {
    const opened = yield* Effect.either(
      Effect.gen(function* () {
        const log = yield* EventLog
        const verified = yield* log.verify
        const newest = verified._tag === "Intact" && verified.head !== null ? (yield* log.read({ afterSeq: verified.head.seq - 1, limit: 1 }))[0] : undefined
        return { verified, newest }
        // Not refused when the head file disagrees: verify reports it below, as a failed check.
      }).pipe(Effect.provide(layer))
    )
    if (opened._tag === "Left" && opened.left.reason === "missing" && isPostgresUrl(file)) {
      // A database without a log yet, as a fresh install has: the first append makes it.
      checks.push(pass("log", `no event log yet in ${redactedUrl(file)}: it is created (and migrated) at the first append`))
      return checks
    }
    if (opened._tag === "Left") {
      const newer = opened.left.reason === "schema" && /newer than this mitigator knows/.test(opened.left.message)
      checks.push(
        fail(
          "log.schema",
          `event log cannot be opened: ${opened.left.message}`,
          newer ? "run the mitigator version that wrote this log (or a newer one)" : `restore ${file} from a backup, or point ${configured} at the right file`
        )
      )
      return checks
    }
    checks.push(pass("log.schema", "event log schema is current (migrated)"))
    const { verified, newest } = opened.right
    if (verified._tag === "Intact" && verified.headFile === null && verified.count > 0) {
      checks.push(warn("log.chain", `hash chain intact (${verified.count} events), no head file beside the log`, "the next append or status adopts the log's head; until then a cut of the newest rows would go unnoticed"))
    } else if (verified._tag === "Intact") checks.push(pass("log.chain", `hash chain intact (${verified.count} events), head file matches`))
    else checks.push(fail("log.chain", `hash chain broken at seq ${verified.seq}: ${verified.reason}`, "the log was altered: keep a copy for the audit and run `mitigator verify`"))
    if (newest !== undefined && Date.parse(newest.recordedAt) - now > CLOCK_SLACK_MS) {
      checks.push(fail("clock.log", `clock is behind the log: its newest event was recorded at ${newest.recordedAt}, now is ${new Date(now).toISOString()}`, "fix the system clock (NTP): expiries are computed from it"))
    } else {
      checks.push(pass("clock.log", `clock ${new Date(now).toISOString()} is not behind the log`))
    }
    return checks
  })

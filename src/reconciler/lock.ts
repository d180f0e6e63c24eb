/**
 * One reconcile pass at a time per event log (reconcile, and append's immediate apply): a lease.
 *
 * The lease is a file beside the log's real path (`realpath`: a symlink to the log, or another
 * spelling of its path, meets the same lease), created exclusively (mode 600), naming its holder
 * (pid, the process's start time and the boot it runs in, the host) and an expiry. The holder
 * renews it while it runs, so a long pass keeps it; it is released when the pass ends, also when
 * the process is cut short after a signal (bin.ts exits; the release runs on "exit"). A lease
 * left by a crash or SIGKILL is judged stale by the next taker.
 *
 * A pid alone is not enough: after a crash the pid may be reused by an unrelated process, which
 * would then "hold" the lock for good. So a lease is stale, and taken over, when its process is
 * gone, when its pid now names another process (another start time), when the machine has rebooted
 * since, when it stayed unreadable, or when it expired unrenewed and its holder cannot be seen to
 * live (a holder on another host sharing the file; a lease naming no start time or boot). A holder
 * on this host that is alive, with the start time and boot its lease names, is never taken over on
 * expiry: the wall clock can step forward, and a paused process (SIGSTOP, a suspended VM) still
 * runs its pass once resumed. A takeover is recorded in the log (`LeaseTakenOver`).
 *
 * A holder that loses its lease all the same (removed, or replaced by another holder's) stops its
 * pass at once: the holder checks the lease every second, and the pass (`holdingLease`) is raced
 * against that check, which fails it with a LockError "lease-lost" before its next appliance call.
 *
 * Two processes may find the same stale lease at once: the takeover itself is serialised by a
 * second file, `<lease>.takeover`, created exclusively and held only for the few system calls that
 * replace the lease (one left by a process killed in that instant is ignored after 10 s).
 */
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import type { LeaseTakenOver } from "../domain/Events.js"
import { EventLog } from "../eventlog/EventLog.js"
import { currentProcess, isAlive, startedAtMs, startTicks, bootId, type ProcessIdentity } from "../platform/ProcessIdentity.js"

export class LockError extends Data.TaggedError("LockError")<{
  /**
   * held: someone else holds it (worth waiting for); io: the lease file cannot be used;
   * lease-lost: this pass's lease was removed or taken by another holder while it ran (the pass stopped)
   */
  readonly reason: "held" | "io" | "lease-lost"
  readonly message: string
}> {}

/** How long a lease lasts unrenewed; the holder renews it every quarter of that. */
export const LEASE_TTL_MS = 120_000

/** How often the holder checks that its lease is still its own (a stat and a small read). */
const CHECK_EVERY_MS = 1_000

/** A lease file that cannot be read (being written, or garbage) is respected this long after its last change. */
const UNREADABLE_GRACE_MS = 10_000

/** A takeover guard older than this was left by a process killed while taking over. */
const GUARD_STALE_MS = 10_000

/** The lease file of the log at `dbPath`: beside its real path (or its directory's, before the log exists). */
export const leaseFileFor = (dbPath: string): string => {
  const absolute = path.resolve(dbPath)
  try {
    return `${fs.realpathSync(absolute)}.reconcile.lock`
  } catch {
    try {
      return path.join(fs.realpathSync(path.dirname(absolute)), `${path.basename(absolute)}.reconcile.lock`)
    } catch {
      return `${absolute}.reconcile.lock`
    }
  }
}

// ---------------------------------------------------------------------------------------------
// What a lease file says, and whether it still holds

const LeaseRecord = Schema.Struct({
  pid: Schema.Number.pipe(Schema.int(), Schema.positive()),
  startTicks: Schema.NullOr(Schema.String),
  bootId: Schema.NullOr(Schema.String),
  host: Schema.String,
  /** random: "still ours" means this very lease, not just this pid */
  token: Schema.String,
  acquiredAt: Schema.String,
  expiresAt: Schema.String
})
export type LeaseRecord = typeof LeaseRecord.Type

const decodeLease = Schema.decodeUnknownEither(Schema.parseJson(LeaseRecord))

/** A lease file's content: a lease; a bare pid (the lock files of earlier versions); or unreadable. */
export type Found =
  | { readonly kind: "lease"; readonly lease: LeaseRecord }
  | { readonly kind: "legacy"; readonly pid: number; readonly writtenAtMs: number }
  | { readonly kind: "unreadable"; readonly writtenAtMs: number }

export const parseLeaseFile = (text: string, writtenAtMs: number): Found => {
  const lease = decodeLease(text)
  if (Either.isRight(lease)) return { kind: "lease", lease: lease.right }
  if (/^\s*\d+\s*$/.test(text) && Number(text) > 0) return { kind: "legacy", pid: Number(text), writtenAtMs }
  return { kind: "unreadable", writtenAtMs }
}

export type StaleReason = LeaseTakenOver["reason"]

/** What the machine says about processes now (the real one: ProcessIdentity; tests may give another). */
export interface Probe {
  readonly host: string
  readonly bootId: string | null
  readonly isAlive: (pid: number) => boolean
  readonly startTicks: (pid: number) => string | null
  readonly startedAtMs: (pid: number) => number | null
}

const realProbe = (): Probe => ({ host: currentProcess().host, bootId: bootId(), isAlive, startTicks, startedAtMs })

export type Verdict = { readonly held: true } | { readonly held: false; readonly reason: StaleReason }

/** The start time of a legacy lock's pid may be computed up to a second off (boot time in whole seconds). */
const START_SLACK_MS = 2_000

/** Whether the lease found still holds at `nowMs`, or why it is stale. */
export const judgeLease = (found: Found, nowMs: number, probe: Probe): Verdict => {
  switch (found.kind) {
    case "unreadable":
      return nowMs - found.writtenAtMs > UNREADABLE_GRACE_MS ? { held: false, reason: "unreadable" } : { held: true }
    case "legacy": {
      if (!probe.isAlive(found.pid)) return { held: false, reason: "owner-gone" }
      // A bare pid names no start time, but its writer was running when it wrote the file.
      const started = probe.startedAtMs(found.pid)
      return started !== null && started > found.writtenAtMs + START_SLACK_MS ? { held: false, reason: "pid-reused" } : { held: true }
    }
    case "lease": {
      const lease = found.lease
      const expired: Verdict = nowMs < Date.parse(lease.expiresAt) ? { held: true } : { held: false, reason: "expired" }
      // Another host's processes cannot be seen from here: only the expiry ends its lease.
      if (lease.host !== probe.host) return expired
      if (lease.bootId !== null && probe.bootId !== null && lease.bootId !== probe.bootId) return { held: false, reason: "rebooted" }
      if (!probe.isAlive(lease.pid)) return { held: false, reason: "owner-gone" }
      const ticks = probe.startTicks(lease.pid)
      if (lease.startTicks !== null && ticks !== null && ticks !== lease.startTicks) return { held: false, reason: "pid-reused" }
      // The very process that took it, alive in the same boot: it holds, whatever the wall clock
      // says (it can step forward; a process paused past the expiry resumes its pass).
      const sameProcess = lease.startTicks !== null && ticks !== null && lease.bootId !== null && probe.bootId !== null
      return sameProcess ? { held: true } : expired
    }
  }
}

const staleWhy = (found: Found, reason: StaleReason): string => {
  const pid = found.kind === "lease" ? found.lease.pid : found.kind === "legacy" ? found.pid : undefined
  switch (reason) {
    case "owner-gone":
      return `its process (pid ${pid}) is gone`
    case "pid-reused":
      return `pid ${pid} now belongs to another process`
    case "rebooted":
      return `it was taken before the machine last rebooted`
    case "expired":
      return `it expired at ${found.kind === "lease" ? found.lease.expiresAt : "?"} without being renewed`
    case "unreadable":
      return `it could not be read for over ${UNREADABLE_GRACE_MS / 1000} s`
  }
}

const heldMessage = (file: string, found: Found, here: string, nowMs: number): string => {
  switch (found.kind) {
    case "lease": {
      const where = found.lease.host === here ? "" : ` on ${found.lease.host}`
      const until =
        nowMs < Date.parse(found.lease.expiresAt)
          ? `lease until ${found.lease.expiresAt}, renewed while it runs`
          : `lease expired at ${found.lease.expiresAt}, but its process still runs (paused or hung?): it is not taken over while it lives`
      return `another reconcile (pid ${found.lease.pid}${where}) is running on this event log; it holds ${file} (${until})`
    }
    case "legacy":
      return `another reconcile (pid ${found.pid}) is running on this event log; it holds ${file}`
    case "unreadable":
      return `another reconcile is taking ${file} right now`
  }
}

// ---------------------------------------------------------------------------------------------
// The file operations (synchronous: each step is a system call or two, nothing waits)

const errnoCode = (e: unknown): string | undefined => (e as NodeJS.ErrnoException | undefined)?.code

interface Read {
  readonly found: Found
  readonly dev: number
  readonly ino: number
  readonly text: string
}

const MAX_LEASE_BYTES = 64 * 1024

/** The lease file as it is now; undefined when there is none. */
const readLease = (file: string): Read | undefined => {
  let fd: number
  try {
    // Non-blocking and checked on the descriptor: something other than a file put there must not hang us.
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOFOLLOW)
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return undefined
    throw e
  }
  try {
    const stat = fs.fstatSync(fd)
    if (!stat.isFile()) throw new LockError({ reason: "io", message: `${file} is not a regular file: remove it (it is not one mitigator made)` })
    const buffer = Buffer.alloc(Math.min(stat.size, MAX_LEASE_BYTES))
    const n = fs.readSync(fd, buffer, 0, buffer.length, 0)
    const text = buffer.subarray(0, n).toString("utf8")
    return { found: parseLeaseFile(text, stat.mtimeMs), dev: stat.dev, ino: stat.ino, text }
  } finally {
    fs.closeSync(fd)
  }
}

/** Creates the lease file with `content` if there is none; its descriptor, or undefined. */
const tryCreate = (file: string, content: string): number | undefined => {
  let fd: number
  try {
    fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600)
  } catch (e) {
    if (errnoCode(e) === "EEXIST") return undefined
    throw e
  }
  try {
    fs.writeSync(fd, content, 0)
    return fd
  } catch (e) {
    // (a full disk): leave no empty lease behind for others to wait on
    fs.closeSync(fd)
    fs.rmSync(file, { force: true })
    throw e
  }
}

/** Whether the lease file is still the one behind `fd` (not replaced by a takeover, not removed). */
const stillOurs = (file: string, fd: number): boolean => {
  try {
    const now = fs.statSync(file)
    const ours = fs.fstatSync(fd)
    return now.ino === ours.ino && now.dev === ours.dev
  } catch {
    return false
  }
}

/**
 * Replaces the stale lease `judged` with ours, unless someone else did (or it changed) first:
 * the descriptor of ours, or undefined.
 */
const takeOver = (file: string, judged: Read, content: string, nowMs: number): number | undefined => {
  const guard = `${file}.takeover`
  let guardFd: number
  try {
    guardFd = fs.openSync(guard, "wx", 0o600)
  } catch (e) {
    if (errnoCode(e) !== "EEXIST") throw e
    try {
      if (nowMs - fs.statSync(guard).mtimeMs > GUARD_STALE_MS) fs.rmSync(guard, { force: true })
    } catch {
      // gone meanwhile
    }
    return undefined
  }
  try {
    const now = readLease(file)
    if (now !== undefined) {
      if (now.dev !== judged.dev || now.ino !== judged.ino || now.text !== judged.text) return undefined
      fs.rmSync(file, { force: true })
    }
    return tryCreate(file, content)
  } finally {
    fs.closeSync(guardFd)
    fs.rmSync(guard, { force: true })
  }
}

// ---------------------------------------------------------------------------------------------
// Taking, renewing and releasing

interface Held {
  readonly file: string
  readonly fd: number
  readonly record: LeaseRecord
}

interface Taken {
  readonly held: Held
  readonly tookOver: { readonly found: Found; readonly reason: StaleReason } | undefined
}

const leaseText = (record: LeaseRecord): string => JSON.stringify(record) + "\n"

const makeRecord = (me: ProcessIdentity, nowMs: number, ttlMs: number): LeaseRecord => ({
  pid: me.pid,
  startTicks: me.startTicks,
  bootId: me.bootId,
  host: me.host,
  token: randomBytes(16).toString("hex"),
  acquiredAt: new Date(nowMs).toISOString(),
  expiresAt: new Date(nowMs + ttlMs).toISOString()
})

const tryTake = (file: string, nowMs: number, ttlMs: number, probe: Probe): Taken => {
  const record = makeRecord(currentProcess(), nowMs, ttlMs)
  const content = leaseText(record)
  // A few rounds: the lease may vanish or change between a look and a step.
  for (let round = 0; round < 4; round++) {
    const created = tryCreate(file, content)
    if (created !== undefined) return { held: { file, fd: created, record }, tookOver: undefined }
    const read = readLease(file)
    if (read === undefined) continue
    const verdict = judgeLease(read.found, nowMs, probe)
    if (verdict.held) throw new LockError({ reason: "held", message: heldMessage(file, read.found, probe.host, nowMs) })
    const taken = takeOver(file, read, content, nowMs)
    if (taken !== undefined) return { held: { file, fd: taken, record }, tookOver: { found: read.found, reason: verdict.reason } }
  }
  throw new LockError({ reason: "held", message: `another reconcile is taking ${file} right now` })
}

/** Why the lease is no longer ours (removed, replaced, or rewritten with another holder's), or undefined while it is. */
const whyLost = (held: Held): string | undefined => {
  const read = readLease(held.file)
  if (read === undefined) return "it was removed"
  const ours = fs.fstatSync(held.fd)
  const sameFile = read.dev === ours.dev && read.ino === ours.ino
  if (read.found.kind === "lease" && read.found.lease.token === held.record.token) return sameFile ? undefined : "it was replaced by a copy of it"
  const who =
    read.found.kind === "lease"
      ? `another holder's now (pid ${read.found.lease.pid}${read.found.lease.host === held.record.host ? "" : ` on ${read.found.lease.host}`}, taken ${read.found.lease.acquiredAt})`
      : "another holder's now"
  return `it is ${who}`
}

/** Writes a later expiry into our lease (after `whyLost` found it ours). */
const renew = (held: Held, nowMs: number, ttlMs: number): void => {
  const content = Buffer.from(leaseText({ ...held.record, expiresAt: new Date(nowMs + ttlMs).toISOString() }))
  fs.writeSync(held.fd, content, 0, content.length, 0)
  fs.ftruncateSync(held.fd, content.length)
}

/** Removes the lease if it is still ours (never one taken over from us since), and closes it. */
const releaseSync = (held: Held): void => {
  try {
    if (stillOurs(held.file, held.fd)) {
      const read = readLease(held.file)
      if (read?.found.kind === "lease" && read.found.lease.token === held.record.token) fs.rmSync(held.file, { force: true })
    }
  } catch {
    // best effort: a lease left behind is judged stale by the next taker
  } finally {
    try {
      fs.closeSync(held.fd)
    } catch {
      // already closed
    }
  }
}

const takeoverEvent = (file: string, found: Found, reason: StaleReason, record: LeaseRecord) => ({
  type: "LeaseTakenOver" as const,
  dedupeKey: null,
  payload: {
    lease: file,
    reason,
    previous:
      found.kind === "lease"
        ? { pid: found.lease.pid, host: found.lease.host, acquiredAt: found.lease.acquiredAt, expiresAt: found.lease.expiresAt }
        : found.kind === "legacy"
          ? { pid: found.pid, host: null, acquiredAt: new Date(Math.round(found.writtenAtMs)).toISOString(), expiresAt: null }
          : null,
    pid: record.pid,
    host: record.host
  }
})

export interface LeaseOptions {
  /** how long the lease lasts unrenewed (default LEASE_TTL_MS) */
  readonly ttlMs?: number
  /** what the machine says about processes (tests) */
  readonly probe?: Probe
  /** how often the holder checks that the lease is still its own (default 1 s) */
  readonly checkEveryMs?: number
}

/** A lease held: `lost` fails (LockError "lease-lost") once it is no longer this holder's. */
export interface Lease {
  readonly file: string
  readonly lost: Effect.Effect<never, LockError>
}

/**
 * Holds the reconcile lease of the log at `dbPath` for the enclosing scope, renewing it; a stale
 * lease is taken over and the takeover recorded (a warning and a `LeaseTakenOver` event).
 */
export const reconcileLock = (dbPath: string, options: LeaseOptions = {}) =>
  Effect.gen(function* () {
    const ttlMs = options.ttlMs ?? LEASE_TTL_MS
    const file = leaseFileFor(dbPath)
    const nowMs = yield* Clock.currentTimeMillis
    const taken = yield* Effect.acquireRelease(
      Effect.try({
        try: () => {
          const taken = tryTake(file, nowMs, ttlMs, options.probe ?? realProbe())
          // Released on the way out even when the process is cut short (bin.ts's stop after a signal).
          const onExit = () => releaseSync(taken.held)
          process.on("exit", onExit)
          return { ...taken, onExit }
        },
        catch: (e) => (e instanceof LockError ? e : new LockError({ reason: "io", message: `cannot take the reconcile lease ${file}: ${String(e)}` }))
      }),
      (taken) =>
        Effect.sync(() => {
          process.off("exit", taken.onExit)
          releaseSync(taken.held)
        })
    )
    if (taken.tookOver !== undefined) {
      const { found, reason } = taken.tookOver
      yield* Effect.logWarning(`mitigator: took over the reconcile lease ${file}: ${staleWhy(found, reason)}`)
      const log = yield* EventLog
      yield* log.append([takeoverEvent(file, found, reason, taken.held.record)]).pipe(
        Effect.catchAll((e) => Effect.logWarning(`mitigator: cannot record the lease takeover in the log: ${e.message}`))
      )
    }
    // Checked every second and renewed every quarter of its lifetime while held: a long pass
    // keeps its lease, and one that lost it (removed, or taken by another) learns it at once and
    // stops. Counted in ticks of the (monotonic) timer, not in wall-clock time, which can step.
    const checkEveryMs = Math.min(options.checkEveryMs ?? CHECK_EVERY_MS, ttlMs / 4)
    const renewEvery = Math.max(1, Math.floor(ttlMs / 4 / checkEveryMs))
    const lost = yield* Deferred.make<never, LockError>()
    yield* Effect.forkScoped(
      Effect.gen(function* () {
        for (let tick = 1; ; tick++) {
          yield* Effect.sleep(Duration.millis(checkEveryMs))
          // A check that fails (an I/O error) proves nothing: the next one looks again.
          const why = yield* Effect.try(() => whyLost(taken.held)).pipe(Effect.orElseSucceed(() => undefined))
          if (why !== undefined) {
            const message = `the reconcile lease ${file} was lost while this pass ran: ${why}; the pass stopped here, so that two passes never change the appliances at once (the next pass takes the lease anew)`
            yield* Effect.logError(`mitigator: ${message}`)
            return yield* Deferred.fail(lost, new LockError({ reason: "lease-lost", message }))
          }
          if (tick % renewEvery === 0) {
            const now = yield* Clock.currentTimeMillis
            yield* Effect.try(() => renew(taken.held, now, ttlMs)).pipe(Effect.ignore)
          }
        }
      })
    )
    return { file, lost: Deferred.await(lost) } satisfies Lease
  })

/**
 * Runs `body` holding the lease of the log at `dbPath` (for the enclosing scope), waiting for
 * another holder up to `waitMs`; should the lease be lost meanwhile, `body` is interrupted at once
 * (no further appliance call, no further record) and this fails with LockError "lease-lost".
 */
export const holdingLease =
  (dbPath: string, waitMs: number, options: LeaseOptions = {}) =>
  <A, E, R>(body: Effect.Effect<A, E, R>) =>
    Effect.flatMap(reconcileLockWithin(dbPath, waitMs, options), (lease) => Effect.raceFirst(body, lease.lost))

/** The lease, waiting for another holder up to `waitMs` (append's immediate apply shares it with reconcile). */
export const reconcileLockWithin = (dbPath: string, waitMs: number, options: LeaseOptions = {}) =>
  reconcileLock(dbPath, options).pipe(
    Effect.retry({ schedule: Schedule.spaced("50 millis").pipe(Schedule.upTo(Duration.millis(waitMs))), while: (e) => e.reason === "held" })
  )

/**
 * One reconcile pass against CryptoSpike: resolve → observe → plan → check caps → apply → record.
 *
 * - Resolve the user behind every pending "block the user behind IP x" decision from the file
 *   activity around the detection (recorded as UserResolved / UserResolutionFailed; CryptoSpike
 *   unreachable: tried again next pass, nothing recorded as failed).
 * - Observe every blocked user (all pages: CryptoSpike's own blocks and administrators' too).
 * - Block desired users not blocked; unblock users mitigator blocked that are no longer desired.
 *   Users it did not block are never unblocked, and a user someone else already blocked is left
 *   as it is.
 * - Ownership is checked against the user's block as listed now: a user mitigator blocked whom
 *   CryptoSpike (or anyone) has blocked again since is recorded as held by them (OwnershipLost)
 *   and never unblocked by mitigator.
 * - An owned block an administrator lifted is recorded (UserBlockLifted) and re-applied only
 *   with `cryptospike.repairDrift`; otherwise the human decision stands until a new detection.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type { FlowmonEventReceived, NewEvent } from "../domain/Events.js"
import type { Caps } from "../domain/Policy.js"
import type { DesiredState, UserBlock } from "../domain/Project.js"
import { activityWindow, fromActivity, fromNameSearch, type Resolution, type ResolvedUser } from "../domain/ResolveUser.js"
import { parseAccountName } from "../domain/UserName.js"
import { catchUp, desiredOf, openProjection, type Projection } from "../projection/desiredState.js"
import type { EventLogService } from "../eventlog/EventLog.js"
import type { CryptoSpikeError, CryptoSpikeUsersService } from "../targets/CryptoSpikeUsers.js"
import { auditComment, holderOf, printable, stillOursUser } from "../targets/cryptospike/wire.js"
import { startProgress } from "../platform/Progress.js"
import { skewInWords } from "../domain/Duration.js"
import { clockSkew } from "../domain/Time.js"
import type { TargetFigures } from "./passRecord.js"

export interface CryptoSpikePassOptions {
  readonly caps: Caps
  readonly force: boolean
  readonly dryRun: boolean
  readonly lookbackMs: number
  readonly graceMs: number
  readonly repairDrift: boolean
  /** only the pending blocks with these `${ip}|${at}` keys: append's immediate apply of its own decisions */
  readonly only?: ReadonlySet<string>
}

export interface CryptoSpikePassResult {
  readonly resolved: number
  readonly unresolved: number
  /** why each of `unresolved` could not be resolved, one line each */
  readonly unresolvedWhy: ReadonlyArray<string>
  readonly toBlock: ReadonlyArray<string>
  readonly toUnblock: ReadonlyArray<string>
  readonly lifted: number
  /** users mitigator blocked that someone else holds now: no longer claimed, never unblocked */
  readonly heldByOthers: ReadonlyArray<{ readonly userId: string; readonly holder: string; readonly comment: string }>
  readonly applied: number
  readonly failed: number
  readonly refused: string | undefined
  readonly problems: ReadonlyArray<string>
  readonly converged: boolean
  /** desired, listed, drift, applied, failed (for metrics) */
  readonly figures: TargetFigures
}

/** How much of someone else's block comment the log and the output keep. */
const SHOWN_COMMENT = 120

const errorClass = (e: CryptoSpikeError): "transient" | "auth" | "rejected" =>
  e.retryable ? "transient" : e.reason === "auth" ? "auth" : "rejected"

const failure = (userId: string | null, op: "add" | "remove" | "list", e: CryptoSpikeError): NewEvent => ({
  type: "TargetChangeFailed",
  dedupeKey: null,
  payload: {
    target: "cryptospike",
    cidr: null,
    op,
    errorClass: errorClass(e),
    reason: e.reason,
    message: userId === null ? e.message : `user ${userId}: ${e.message}`
  }
})

/** The Flowmon event behind a block, for the audit comment. */
const flowmonEvent = (log: EventLogService, seq: number) =>
  Effect.map(log.read({ afterSeq: seq - 1, limit: 1 }), (rows) => {
    const row = rows[0]
    return row !== undefined && row.seq === seq && row.type === "FlowmonEventReceived" ? (row.payload as FlowmonEventReceived) : undefined
  })

const commentFor = (log: EventLogService, block: UserBlock) =>
  Effect.gen(function* () {
    const reason = block.reasons[0]
    const user = { userId: block.userId, userName: block.userName, userPrincipalName: block.userPrincipalName }
    if (reason === undefined || reason.kind === "operator") {
      return auditComment({
        eventId: "operator",
        method: null,
        description: reason === undefined ? "" : `blocked by ${reason.actor}: ${reason.reason}`,
        source: block.seenAt.map((s) => s.ip).join(", "),
        targets: [],
        dataFeed: null,
        perspective: null,
        user,
        until: block.until,
        ...(reason === undefined ? {} : { seq: reason.seq })
      })
    }
    const event = yield* flowmonEvent(log, reason.cause.seq)
    return auditComment({
      product: reason.cause.product.toUpperCase(),
      eventId: reason.cause.eventId,
      method: reason.cause.method,
      description: event?.description ?? "",
      source: reason.cause.source,
      targets: event?.targets ?? [],
      dataFeed: event?.dataFeed ?? null,
      perspective: event?.perspective ?? null,
      userIdentity: event?.userIdentity ?? "",
      ids:
        event?.ids === null || event?.ids === undefined
          ? undefined
          : {
              signatureId: event.signature?.id ?? "",
              signatureName: event.signature?.name ?? "",
              sourcePort: event.ids.sourcePort,
              targetPort: event.ids.targetPort,
              protocol: event.protocol,
              category: event.ids.category,
              severity: event.severity,
              logSourceIp: event.ids.logSourceIp,
              logSourceInterface: event.ids.logSourceInterface
            },
      user,
      until: block.until,
      seq: reason.seq
    })
  })

/**
 * The names of a user found in file activity whose rows carry none: CryptoSpike's user search,
 * for the Flowmon user name (when the event has one) and for the user id, keeping only the
 * user with that very id. Names are for people (status, why, the comment): a lookup that fails
 * or finds nothing leaves them empty and does not hold the block up.
 */
const withNames = (cs: CryptoSpikeUsersService, user: ResolvedUser, userIdentity: string) =>
  Effect.gen(function* () {
    if (user.userName !== "" || user.userPrincipalName !== "") return user
    const account = parseAccountName(userIdentity)?.account
    for (const term of [...(account === undefined ? [] : [account]), user.userId]) {
      const found = yield* Effect.either(cs.searchUsers(term))
      if (found._tag === "Left") {
        yield* Effect.logWarning(`the names of CryptoSpike user ${user.userId} could not be looked up: ${found.left.message}`)
        return user
      }
      const same = found.right.find((u) => u.userId === user.userId)
      if (same !== undefined) return { userId: user.userId, userName: same.userName, userPrincipalName: same.userPrincipalName }
    }
    return user
  })

/** Resolves every pending block nobody has tried yet; returns the events to record and the unreachable count. */
const resolvePending = (cs: CryptoSpikeUsersService, desired: DesiredState, options: CryptoSpikePassOptions) =>
  Effect.gen(function* () {
    const events: NewEvent[] = []
    const problems: string[] = []
    for (const pending of desired.pendingUserBlocks) {
      if (pending.failure !== null) continue
      if (options.only !== undefined && !options.only.has(`${pending.ip}|${pending.at}`)) continue
      const window = activityWindow(pending.at, options.lookbackMs, options.graceMs)
      const outcome = yield* Effect.either(
        Effect.gen(function* () {
          const rows = yield* cs.fileActivity(pending.ip, window.from, window.to)
          let resolution: Resolution = fromActivity(rows, pending.userIdentity)
          let searched: string | undefined
          if (resolution.kind === "search-name") {
            // Search the account part alone (CryptoSpike may list `CORP\jdoe` as `jdoe`, and the
            // users of other domains must be seen to be ruled out), then decide on the full name.
            searched = resolution.name
            const found = yield* cs.searchUsers(parseAccountName(searched)?.account ?? searched)
            resolution = fromNameSearch(searched, found)
          } else if (resolution.kind === "resolved" && resolution.via === "file-activity") {
            resolution = { ...resolution, user: yield* withNames(cs, resolution.user, pending.userIdentity) }
          }
          return { resolution, searched }
        })
      )
      if (outcome._tag === "Left") {
        // Unreachable or refused: not a failed resolution; the next pass tries again.
        problems.push(`resolving the user behind ${pending.ip}: ${outcome.left.message}`)
        continue
      }
      const { resolution: r, searched } = outcome.right
      events.push(
        r.kind === "resolved"
          ? {
              type: "UserResolved",
              dedupeKey: null,
              payload: { ip: pending.ip, at: pending.at, ...r.user, via: r.via }
            }
          : {
              type: "UserResolutionFailed",
              dedupeKey: null,
              payload: {
                ip: pending.ip,
                at: pending.at,
                reason: r.kind === "failed" ? r.reason : "unknown",
                candidates: r.kind === "failed" ? r.candidates : [],
                ...(r.kind === "failed" && r.matches.length > 0 ? { matches: r.matches.map((u) => ({ userId: u.userId, userName: u.userName, userPrincipalName: u.userPrincipalName })) } : {}),
                ...(searched === undefined ? {} : { searched })
              }
            }
      )
    }
    return { events, problems }
  })

/** Why a user could not be resolved, in a few words: no user in the activity, or several. */
const whyUnresolved = (failed: { readonly reason: string; readonly candidates: ReadonlyArray<string> }): string =>
  failed.reason === "ambiguous"
    ? `several users could be behind it: ${failed.candidates.slice(0, 5).join(", ")}${failed.candidates.length > 5 ? ", …" : ""}`
    : "no user found in its file activity around that time"

/**
 * @param projection the pass's open fold (shared with the LoadMaster pass, so a pass folds the
 *   log once); caught up with the log first, and again after the resolutions are recorded.
 */
export const reconcileCryptoSpikePass = (log: EventLogService, cs: CryptoSpikeUsersService, options: CryptoSpikePassOptions, projection?: Projection) =>
  Effect.gen(function* () {
    const now = () => Effect.map(Clock.currentTimeMillis, (ms) => new Date(ms).toISOString())
    const open = projection ?? (yield* openProjection(log))
    if (projection !== undefined) yield* catchUp(log, projection)
    const first = desiredOf(open, yield* now())
    const resolution = yield* resolvePending(cs, first, options)
    const recordsResolutions = !options.dryRun && resolution.events.length > 0
    if (recordsResolutions) {
      yield* log.append(resolution.events)
      yield* catchUp(log, open)
    }
    const desired = recordsResolutions ? desiredOf(open, yield* now()) : first
    const resolved = resolution.events.filter((e) => e.type === "UserResolved").length
    const unresolved = resolution.events.length - resolved
    const unresolvedWhy = resolution.events.flatMap((e) => (e.type === "UserResolutionFailed" ? [whyUnresolved(e.payload)] : []))

    const events: NewEvent[] = []
    const problems = [...resolution.problems]
    const listed = yield* Effect.either(cs.blockedUsers)
    if (listed._tag === "Left") {
      events.push(failure(null, "list", listed.left))
      problems.push(`cannot list the blocked users: ${listed.left.message}`)
      if (!options.dryRun) yield* log.append(events)
      return {
        resolved,
        unresolved,
        unresolvedWhy,
        toBlock: [],
        toUnblock: [],
        lifted: 0,
        heldByOthers: [],
        applied: 0,
        failed: 1,
        refused: undefined,
        problems,
        converged: false,
        figures: { desired: first.userBlocks.length, actual: null, drift: 0, applied: 0, failed: 1 }
      } satisfies CryptoSpikePassResult
    }
    // The blocked list, as the items themselves say (a server that ignores the filter lists others too).
    const blockedNow = listed.right.filter((u) => u.blocked)
    const blocked = new Set(blockedNow.map((u) => u.userId))
    const only = options.only
    const touches = (b: UserBlock) => only === undefined || b.seenAt.some((s) => only.has(`${s.ip}|${s.at}`))
    // Ownership is checked against each user's block as listed now: blocked again by someone
    // else since, it is theirs (recorded), and mitigator will never lift it.
    const current = new Map(blockedNow.map((u) => [u.userId, u.block]))
    const heldByOthers: Array<{ userId: string; holder: string; comment: string }> = []
    for (const o of only === undefined ? desired.ownedUserBlocks : []) {
      const block = current.get(o.userId)
      if (block === undefined || block === null || stillOursUser(block, o.comment)) continue
      const held = { userId: o.userId, holder: holderOf(block), comment: printable(block.comment, SHOWN_COMMENT) }
      heldByOthers.push(held)
      events.push({ type: "OwnershipLost", dedupeKey: null, payload: { target: "cryptospike", cidr: null, ...held } })
    }
    // A user someone else held who is no longer blocked: they lifted it (nobody holds it now).
    for (const held of only === undefined ? desired.heldByOthers : []) {
      if (held.target === "cryptospike" && !blocked.has(held.entry)) {
        events.push({ type: "UserBlockLifted", dedupeKey: null, payload: { userId: held.entry, repair: false } })
      }
    }
    const owned = new Set(only === undefined ? desired.ownedUsers.filter((id) => !heldByOthers.some((h) => h.userId === id)) : [])
    const wanted = new Map(desired.userBlocks.filter(touches).map((b) => [b.userId, b]))

    // Owned, still wanted, but no longer blocked: someone lifted it by hand.
    const lifted = [...owned].filter((id) => wanted.has(id) && !blocked.has(id)).sort()
    for (const userId of lifted) events.push({ type: "UserBlockLifted", dedupeKey: null, payload: { userId, repair: options.repairDrift } })
    const toBlock = [...wanted.keys()]
      .filter((id) => !blocked.has(id) && (!lifted.includes(id) || options.repairDrift))
      .sort()
    const dueToUnblock = [...owned].filter((id) => !wanted.has(id) && blocked.has(id)).sort()
    // This clock against CryptoSpike's: a pass run by a clock a day ahead would unblock users
    // with hours to go. While they disagree, a pass blocks what is due and unblocks nobody.
    const now0 = yield* now()
    const skew = clockSkew(now0, yield* cs.applianceTime)
    if (skew !== undefined) {
      events.push({
        type: "ClockSkewObserved",
        // once per minute of skew: a steady offset is one fact, not one per pass
        dedupeKey: `clock-vs-cryptospike:${Math.round(skew.behindMs / 60_000)}`,
        payload: { against: "cryptospike", behindMs: skew.behindMs, clock: now0, reference: skew.reference }
      })
      problems.push(
        `this clock (${now0}) is ${skewInWords(skew.behindMs)} CryptoSpike's (${skew.reference}): ` +
          `${dueToUnblock.length} unblock(s) held until they agree (check NTP on both)`
      )
    }
    const toUnblock = skew === undefined ? dueToUnblock : []

    const perTarget = { cryptospike: wanted.size }
    const overCaps =
      toBlock.length > options.caps.maxAddsPerPass
        ? `${toBlock.length} user blocks exceed maxAddsPerPass (${options.caps.maxAddsPerPass})`
        : toUnblock.length > options.caps.maxRemovesPerPass
          ? `${toUnblock.length} user unblocks exceed maxRemovesPerPass (${options.caps.maxRemovesPerPass})`
          : perTarget.cryptospike > options.caps.maxActivePerTarget
            ? `${perTarget.cryptospike} user blocks wanted exceed maxActivePerTarget (${options.caps.maxActivePerTarget})`
            : undefined
    const figures = { desired: wanted.size, actual: blocked.size, drift: toBlock.length + toUnblock.length + lifted.length, applied: 0, failed: 0 }
    const base = { resolved, unresolved, unresolvedWhy, toBlock, toUnblock, lifted: lifted.length, heldByOthers, figures }
    if (options.dryRun) {
      return { ...base, applied: 0, failed: 0, refused: overCaps, problems, converged: false } satisfies CryptoSpikePassResult
    }
    if (overCaps !== undefined && !options.force) {
      events.push({ type: "PlanRefused", dedupeKey: null, payload: { adds: toBlock.length, removes: toUnblock.length, reason: overCaps } })
      yield* log.append(events)
      return { ...base, applied: 0, failed: 0, refused: overCaps, problems, converged: false } satisfies CryptoSpikePassResult
    }

    let applied = 0
    let failed = 0
    const bar = yield* startProgress("changing users on CryptoSpike", toBlock.length + toUnblock.length)
    for (const userId of toBlock) {
      bar?.update(applied + failed)
      const block = wanted.get(userId)!
      const comment = yield* commentFor(log, block)
      const result = yield* Effect.either(cs.block(userId, comment))
      if (result._tag === "Left") {
        failed++
        events.push(failure(userId, "add", result.left))
        problems.push(`blocking ${userId}: ${result.left.message}`)
      } else {
        applied++
        events.push({ type: "UserBlockChanged", dedupeKey: null, payload: { userId, op: "block", comment, causeSeq: block.reasons[0]?.seq ?? null } })
      }
    }
    for (const userId of toUnblock) {
      bar?.update(applied + failed)
      const result = yield* Effect.either(cs.unblock(userId))
      if (result._tag === "Left") {
        failed++
        events.push(failure(userId, "remove", result.left))
        problems.push(`unblocking ${userId}: ${result.left.message}`)
      } else {
        applied++
        events.push({ type: "UserBlockChanged", dedupeKey: null, payload: { userId, op: "unblock", comment: "", causeSeq: null } })
      }
    }
    bar?.finish()
    if (events.length > 0) yield* log.append(events)
    return {
      ...base,
      applied,
      failed,
      refused: undefined,
      problems,
      converged: failed === 0 && resolution.problems.length === 0 && !(skew !== undefined && dueToUnblock.length > 0),
      figures: { ...figures, applied, failed }
    } satisfies CryptoSpikePassResult
  })

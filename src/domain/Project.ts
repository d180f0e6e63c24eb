/**
 * The projection: the log (in seq order) and a time → the blocks that should exist then, each
 * with its reasons. Pure and deterministic: the same events and the same `now` give the same
 * state, and `replay --at T` is this fold over the events recorded up to T.
 *
 * - An IP block is keyed by (target, CIDR); its `until` is the latest of the decisions and
 *   operator blocks behind it; an unblock ends everything inside its CIDR (later detections
 *   block again); expiry is an absolute time: a block is in force while now < until.
 * - The allowlist in force (the policy's, as of the last PolicyActivated, plus operator `allow`s)
 *   suppresses the blocks it contains; a network block with an allowlisted address inside is
 *   split so that everything but that address stays blocked.
 * - Never-block rails win over everything (src/domain/Rails.ts): a block that touches a built-in
 *   rail or the policy's `neverBlock`, or that is wider than any block mitigator makes (an old log,
 *   an old version's operator block), is suppressed whole (source "protected"), so a bad block
 *   already in force is lifted.
 * - Expiries are read as fixed-width instants (`readInstant`): an old version's `+029405-…` is in
 *   force, not in the past.
 * - Blocks on "the user behind an IP" wait for the user to be resolved (CryptoSpike, later).
 *
 * Time is a fact, order is seq. A state is evaluated at the evaluating run's clock, never at the
 * newest row's time: a row recorded by a clock that ran ahead (an NTP step, a VM restore) must not
 * lift what was in force before it. The fold forgets a contribution only once it has been expired
 * for SKEW_ALLOWANCE before the time of the events it folds (and of the horizon: the recording
 * time of the last event the fold will reach): on a long log, that is nearly all of them, and a
 * clock up to that far ahead on one run cannot make the fold forget a block still in force.
 */
import { compareCidr, contains, exclude, type Cidr } from "./Cidr.js"
import { allowEntryInForce, cidrOf } from "./Decide.js"
import type { BlockSubject, DecisionCause, NamedUser, PolicyActivated } from "./Events.js"
import type { AllowEntry } from "./Policy.js"
import { neverBlockRails, protectionOf, widthOf, WIDTH_LIMITS, type Rail } from "./Rails.js"
import { isoAfter, readInstant } from "./Time.js"

/** One recorded event, as the fold needs it. */
export interface LoggedEvent {
  readonly seq: number
  readonly recordedAt: string
  readonly type: string
  readonly payload: unknown
}

/** Why a block exists: one decision or operator command. */
export type Reason =
  | {
      readonly kind: "decision"
      readonly seq: number
      readonly until: string
      readonly rule: string
      readonly offence: number
      readonly cause: DecisionCause
    }
  | { readonly kind: "operator"; readonly seq: number; readonly until: string; readonly actor: string; readonly reason: string }

export interface IpBlock {
  readonly target: string
  readonly cidr: string
  readonly until: string
  readonly reasons: ReadonlyArray<Reason>
  /** set when an allowlisted part was cut out of a wider block */
  readonly splitFrom: string | null
}

export interface SuppressedBlock {
  readonly target: string
  readonly cidr: string
  readonly until: string
  /**
   * the allowlist entry that holds it back, or (source "protected") the never-block rail it
   * touches, named in `protection` (`loopback 127.0.0.0/8`, `neverBlock 192.0.2.53/32`)
   */
  readonly allowedBy: {
    readonly cidr: string
    readonly until: string | null
    readonly source: "policy" | "operator" | "protected"
    readonly protection?: string
  }
}

export interface PendingUserBlock {
  readonly ip: string
  readonly at: string
  readonly userIdentity: string
  readonly until: string
  readonly reasons: ReadonlyArray<Reason>
  /** why the user is not known yet: null while nobody has looked */
  readonly failure: {
    readonly reason: "unknown" | "ambiguous"
    readonly candidates: ReadonlyArray<string>
    /** the candidates with their names, and the name searched for (when recorded) */
    readonly matches?: ReadonlyArray<NamedUser>
    readonly searched?: string
  } | null
}

/** A block on CryptoSpike of the user found behind one or more blocked addresses. */
export interface UserBlock {
  readonly userId: string
  readonly userName: string
  readonly userPrincipalName: string
  readonly until: string
  /** the addresses (and their detection times) the user was found behind */
  readonly seenAt: ReadonlyArray<{ readonly ip: string; readonly at: string }>
  readonly reasons: ReadonlyArray<Reason>
}

/** An entry mitigator was asked to take over (the import that asked for it is `seq`). */
export interface TakeOverClaim {
  readonly target: string
  readonly cidr: string
  readonly seq: number
}

/** An entry mitigator put on a target and has not removed: the only entries it may remove. */
export interface OwnedEntry {
  readonly target: string
  readonly cidr: string
  /** the address as sent to the target */
  readonly listed: string
  /** seq of the TargetChanged that added it */
  readonly seq: number
  /** the comment it was added (or adopted) with: a removal checks the listed comment against it; null when unknown */
  readonly comment: string | null
}

/** A user mitigator blocked on CryptoSpike and has not unblocked. */
export interface OwnedUser {
  readonly userId: string
  /** seq of the UserBlockChanged that blocked the user */
  readonly seq: number
  /** the block's comment: an unblock checks the user's current block against it */
  readonly comment: string
}

/** Something mitigator made and no longer owns: someone else holds it now (OwnershipLost). */
export interface HeldByOther {
  readonly target: string
  /** the address block (LoadMaster) or the user id (CryptoSpike) */
  readonly entry: string
  readonly holder: string
  readonly comment: string
  /** seq of the OwnershipLost */
  readonly seq: number
}

export interface DesiredState {
  readonly asOf: string
  readonly policyHash: string | null
  readonly ipBlocks: ReadonlyArray<IpBlock>
  readonly suppressed: ReadonlyArray<SuppressedBlock>
  /** blocks on CryptoSpike users, once `UserResolved` named them */
  readonly userBlocks: ReadonlyArray<UserBlock>
  readonly pendingUserBlocks: ReadonlyArray<PendingUserBlock>
  /** the ownership ledger: what mitigator applied on the targets and has not removed */
  readonly owned: ReadonlyArray<OwnedEntry>
  /** the users mitigator blocked on CryptoSpike and has not unblocked */
  readonly ownedUsers: ReadonlyArray<string>
  /** the user ownership ledger with each block's comment (ownedUsers, in the same order) */
  readonly ownedUserBlocks: ReadonlyArray<OwnedUser>
  /** what mitigator made and someone else holds now: never removed by mitigator */
  readonly heldByOthers: ReadonlyArray<HeldByOther>
  /**
   * entries another tool put on a target that mitigator takes over (`import`): adopted when a
   * reconcile sees them; the claim ends with the first observation of that entry's place
   */
  readonly takeOvers: ReadonlyArray<TakeOverClaim>
  readonly counts: Readonly<Record<string, number>>
}

interface Entry {
  readonly target: string
  /** canonical text: parsed (cidrOf) only where it is compared, as most entries expire unread */
  readonly cidr: string
  reasons: Reason[]
}

interface PendingEntry {
  readonly ip: string
  readonly at: string
  readonly userIdentity: string
  reasons: Reason[]
}

interface Resolved {
  readonly kind: "resolved"
  readonly userId: string
  readonly userName: string
  readonly userPrincipalName: string
}

interface Failed {
  readonly kind: "failed"
  readonly reason: "unknown" | "ambiguous"
  readonly candidates: ReadonlyArray<string>
  readonly matches?: ReadonlyArray<NamedUser>
  readonly searched?: string
}

interface Allow extends AllowEntry {
  readonly source: "policy" | "operator"
}

/** The fold's state; build it with `initialState` and `evolve`. */
export interface ProjectionState {
  policyHash: string | null
  policyAllowlist: ReadonlyArray<AllowEntry>
  /** the policy's `neverBlock`, as of the last PolicyActivated */
  policyNeverBlock: ReadonlyArray<Rail>
  operatorAllows: Allow[]
  readonly blocks: Map<string, Entry>
  readonly pending: Map<string, PendingEntry>
  readonly owned: Map<string, OwnedEntry>
  readonly takeOvers: Map<string, TakeOverClaim>
  /** resolution outcomes by `${ip}|${at}` */
  readonly resolutions: Map<string, Resolved | Failed>
  /** users mitigator blocked on CryptoSpike and has not unblocked */
  readonly ownedUsers: Map<string, OwnedUser>
  /** `${target}|${entry}` → what someone else holds now */
  readonly heldByOthers: Map<string, HeldByOther>
  /** userId → seq of the last human unblock that waived the reasons before it */
  readonly waivedUntilSeq: Map<string, number>
  lastRecordedAt: string
  /** events folded since expired contributions were last swept out */
  sinceSweep: number
}

export const initialState = (): ProjectionState => ({
  policyHash: null,
  policyAllowlist: [],
  policyNeverBlock: [],
  operatorAllows: [],
  blocks: new Map(),
  pending: new Map(),
  owned: new Map(),
  takeOvers: new Map(),
  resolutions: new Map(),
  ownedUsers: new Map(),
  heldByOthers: new Map(),
  waivedUntilSeq: new Map(),
  lastRecordedAt: "",
  sinceSweep: 0
})

const SWEEP_EVERY = 10_000

/** How far ahead one run's clock may have been without the fold forgetting a block in force: a week. */
export const SKEW_ALLOWANCE_MS = 7 * 24 * 3_600_000

/**
 * The time before which an expired contribution may be forgotten, for a fold at `at` (an event's
 * recording time, or a horizon): SKEW_ALLOWANCE before it.
 */
export const forgetBefore = (at: string): string => (at === "" ? "" : isoAfter(at, -SKEW_ALLOWANCE_MS))

/** Drops contributions expired before `before`, and entries left with none: the state holds what may still be in force. */
const sweep = (state: ProjectionState, before: string): void => {
  for (const [key, entry] of state.blocks) {
    entry.reasons = live(entry.reasons, before)
    if (entry.reasons.length === 0) state.blocks.delete(key)
  }
  for (const [key, entry] of state.pending) {
    entry.reasons = live(entry.reasons, before)
    if (entry.reasons.length === 0) state.pending.delete(key)
  }
  state.sinceSweep = 0
}

/** Contributions that expired before `before` (a forgetBefore time): never in force again. */
const live = (reasons: Reason[], before: string): Reason[] =>
  reasons.some((r) => r.until <= before) ? reasons.filter((r) => r.until > before) : reasons

const addBlock = (state: ProjectionState, target: string, subject: BlockSubject, reason: Reason, at: string): void => {
  if (subject.kind === "ip") {
    const key = `${target}|${subject.cidr}`
    const entry = state.blocks.get(key)
    if (entry === undefined) state.blocks.set(key, { target, cidr: subject.cidr, reasons: [reason] })
    else (entry.reasons = live(entry.reasons, forgetBefore(at))).push(reason)
  } else {
    const key = `${subject.ip}|${subject.at}`
    const entry = state.pending.get(key)
    if (entry === undefined) state.pending.set(key, { ip: subject.ip, at: subject.at, userIdentity: subject.userIdentity, reasons: [reason] })
    else (entry.reasons = live(entry.reasons, forgetBefore(at))).push(reason)
  }
}

const unblock = (state: ProjectionState, cidrText: string, target: string | null): void => {
  const area = cidrOf(cidrText)
  for (const [key, entry] of state.blocks) {
    if ((target === null || entry.target === target) && contains(area, cidrOf(entry.cidr))) state.blocks.delete(key)
  }
  if (target === null || target === "cryptospike") {
    for (const [key, entry] of state.pending) if (contains(area, cidrOf(entry.ip))) state.pending.delete(key)
  }
}

/** Applies one event (in seq order). Unknown event types leave the state as it is. */
export const evolve = (state: ProjectionState, event: LoggedEvent): ProjectionState => evolveWithHorizon(state, event, "")

/**
 * As `evolve`, knowing a horizon (a forgetBefore time of the last event the fold will reach, or
 * earlier): contributions that expire by then are not kept.
 */
export const evolveWithHorizon = (state: ProjectionState, event: LoggedEvent, horizon: string): ProjectionState => {
  const at = event.recordedAt
  state.lastRecordedAt = at
  if (++state.sinceSweep >= SWEEP_EVERY) sweep(state, forgetBefore(at))
  const p = event.payload as Record<string, any>
  switch (event.type) {
    case "PolicyActivated": {
      const activated = p as PolicyActivated
      state.policyHash = activated.hash
      state.policyAllowlist = activated.policy.allowlist.some((a) => a.until !== null && readInstant(a.until) !== a.until)
        ? activated.policy.allowlist.map((a) => (a.until === null ? a : { ...a, until: readInstant(a.until) }))
        : activated.policy.allowlist
      // (absent in policies recorded before neverBlock existed)
      state.policyNeverBlock = neverBlockRails(activated.policy.neverBlock ?? [])
      break
    }
    case "BlockDecided": {
      const until = readInstant(p["until"])
      if (until <= horizon) break
      addBlock(state, p["target"], p["subject"], { kind: "decision", seq: event.seq, until, rule: p["rule"], offence: p["offence"], cause: p["cause"] }, at)
      break
    }
    case "BlockRequested": {
      const until = readInstant(p["until"])
      if (until > horizon) addBlock(state, p["target"], p["subject"], { kind: "operator", seq: event.seq, until, actor: p["actor"], reason: p["reason"] }, at)
      if (p["takeOver"] !== undefined && p["subject"].kind === "ip") {
        state.takeOvers.set(`${p["target"]}|${p["subject"].cidr}`, { target: p["target"], cidr: p["subject"].cidr, seq: event.seq })
      }
      break
    }
    case "UnblockRequested":
      unblock(state, p["cidr"], p["target"])
      break
    case "TargetChanged": {
      const key = `${p["target"]}|${p["cidr"]}`
      if (p["op"] === "add") {
        state.owned.set(key, { target: p["target"], cidr: p["cidr"], listed: p["listed"], seq: event.seq, comment: p["comment"] })
      } else state.owned.delete(key)
      state.takeOvers.delete(key)
      state.heldByOthers.delete(key)
      break
    }
    case "DriftObserved": {
      const key = `${p["target"]}|${p["cidr"]}`
      // Missing: no longer on the target, not ours to remove any more (a re-add owns it again).
      // Adopted: ours again (it carries mitigator's marker, or an import took it over).
      if (p["kind"] === "adopted") {
        state.owned.set(key, { target: p["target"], cidr: p["cidr"], listed: p["listed"] ?? p["cidr"], seq: event.seq, comment: p["comment"] ?? null })
      } else state.owned.delete(key)
      state.heldByOthers.delete(key)
      state.takeOvers.delete(key)
      break
    }
    case "OwnershipLost": {
      const entry: string = p["cidr"] ?? p["userId"]
      const key = `${p["target"]}|${entry}`
      if (p["userId"] !== null) {
        // The holder decides from now on: should they lift it, the reasons before do not block
        // the user again; a new detection does.
        state.ownedUsers.delete(p["userId"])
        state.waivedUntilSeq.set(p["userId"], event.seq)
      } else state.owned.delete(key)
      state.takeOvers.delete(key)
      state.heldByOthers.set(key, { target: p["target"], entry, holder: p["holder"], comment: p["comment"], seq: event.seq })
      break
    }
    case "UserResolved":
      state.resolutions.set(`${p["ip"]}|${p["at"]}`, {
        kind: "resolved",
        userId: p["userId"],
        userName: p["userName"],
        userPrincipalName: p["userPrincipalName"]
      })
      break
    case "UserResolutionFailed":
      state.resolutions.set(`${p["ip"]}|${p["at"]}`, {
        kind: "failed",
        reason: p["reason"],
        candidates: p["candidates"],
        ...(p["matches"] === undefined ? {} : { matches: p["matches"] }),
        ...(p["searched"] === undefined ? {} : { searched: p["searched"] })
      })
      break
    case "UserBlockChanged":
      if (p["op"] === "block") {
        state.ownedUsers.set(p["userId"], { userId: p["userId"], seq: event.seq, comment: p["comment"] })
        state.heldByOthers.delete(`cryptospike|${p["userId"]}`)
      } else state.ownedUsers.delete(p["userId"])
      break
    case "UserBlockLifted":
      state.ownedUsers.delete(p["userId"])
      state.heldByOthers.delete(`cryptospike|${p["userId"]}`)
      if (p["repair"] === false) state.waivedUntilSeq.set(p["userId"], event.seq)
      break
    case "AllowRequested":
      state.operatorAllows = [
        ...state.operatorAllows.filter((a) => allowEntryInForce(a, at)),
        { cidr: p["cidr"], until: p["until"] === null ? null : readInstant(p["until"]), source: "operator" }
      ]
      break
  }
  return state
}

/** The fold's own code, as text: checkpoints made by other code are never used (src/projection). */
export const foldCode = (): string => [initialState, forgetBefore, sweep, live, addBlock, unblock, evolve, evolveWithHorizon].map(String).join("\n")

/** The order of everything the projection lists: by target, then by address. */
export const byTargetThenCidr = (a: { readonly target: string; readonly cidr: string }, b: { readonly target: string; readonly cidr: string }): number =>
  a.target < b.target ? -1 : a.target > b.target ? 1 : compareCidr(cidrOf(a.cidr), cidrOf(b.cidr))

/**
 * Where a merged piece came from, whatever order the blocks were decided in: a piece that is
 * also blocked in its own right was not split; of two split origins, the wider one.
 */
const mergedSplitFrom = (a: string | null, b: string | null): string | null => {
  if (a === null || b === null) return null
  const ca = cidrOf(a)
  const cb = cidrOf(b)
  return ca.prefix !== cb.prefix ? (ca.prefix < cb.prefix ? a : b) : compareCidr(ca, cb) <= 0 ? a : b
}

const maxUntil = (reasons: ReadonlyArray<Reason>): string => reasons.reduce((m, r) => (r.until > m ? r.until : m), "")

const bySeq = (a: Reason, b: Reason) => a.seq - b.seq

/**
 * Why a block must not be in force whatever the log says: it touches a never-block rail (built
 * in, or the policy's `neverBlock`), or it is wider than the widest block mitigator makes.
 */
const protectedBy = (cidr: Cidr, neverBlock: ReadonlyArray<Rail>): SuppressedBlock["allowedBy"] | undefined => {
  const rail = protectionOf(cidr, neverBlock)
  if (rail !== undefined) return { cidr: rail.cidr.text, until: null, source: "protected", protection: rail.label }
  if (widthOf(cidr) === "too-wide") {
    const max = WIDTH_LIMITS[cidr.version].max
    return { cidr: cidr.text, until: null, source: "protected", protection: `wider than /${max}, the widest block mitigator makes` }
  }
  return undefined
}

/** The desired state at `now` (not before the last folded event). */
export const desiredAt = (state: ProjectionState, now: string): DesiredState => {
  const allows: Allow[] = [
    ...state.policyAllowlist.map((a): Allow => ({ ...a, source: "policy" })),
    ...state.operatorAllows
  ].filter((a) => allowEntryInForce(a, now))
  const allowCidrs = allows.map((a) => ({ allow: a, cidr: cidrOf(a.cidr) }))

  const result = new Map<string, { readonly target: string; readonly cidr: Cidr; reasons: Reason[]; splitFrom: string | null }>()
  const suppressed: SuppressedBlock[] = []
  const put = (target: string, cidr: Cidr, reasons: Reason[], splitFrom: string | null) => {
    const key = `${target}|${cidr.text}`
    const existing = result.get(key)
    if (existing === undefined) result.set(key, { target, cidr, reasons, splitFrom })
    else {
      existing.reasons = [...existing.reasons, ...reasons]
      existing.splitFrom = mergedSplitFrom(existing.splitFrom, splitFrom)
    }
  }

  for (const entry of state.blocks.values()) {
    const reasons = entry.reasons.filter((r) => r.until > now)
    if (reasons.length === 0) continue
    const cidr = cidrOf(entry.cidr)
    const protection = protectedBy(cidr, state.policyNeverBlock)
    if (protection !== undefined) {
      suppressed.push({ target: entry.target, cidr: cidr.text, until: maxUntil(reasons), allowedBy: protection })
      continue
    }
    const covering = allowCidrs.find((a) => contains(a.cidr, cidr))
    if (covering !== undefined) {
      suppressed.push({
        target: entry.target,
        cidr: cidr.text,
        until: maxUntil(reasons),
        allowedBy: { cidr: covering.allow.cidr, until: covering.allow.until, source: covering.allow.source }
      })
      continue
    }
    const holes = allowCidrs.filter((a) => contains(cidr, a.cidr))
    if (holes.length === 0) {
      put(entry.target, cidr, reasons, null)
      continue
    }
    let pieces: Cidr[] = [cidr]
    for (const hole of holes) pieces = pieces.flatMap((piece) => exclude(piece, hole.cidr))
    for (const piece of pieces) put(entry.target, piece, reasons, cidr.text)
  }

  const ipBlocks: IpBlock[] = [...result.values()]
    .sort((a, b) => (a.target < b.target ? -1 : a.target > b.target ? 1 : compareCidr(a.cidr, b.cidr)))
    .map((e) => {
      const reasons = [...new Map(e.reasons.map((r) => [r.seq, r])).values()].sort(bySeq)
      return { target: e.target, cidr: e.cidr.text, until: maxUntil(reasons), reasons, splitFrom: e.splitFrom }
    })

  const inForce = [...state.pending.values()]
    .map((e) => ({ e, reasons: e.reasons.filter((r) => r.until > now).sort(bySeq) }))
    .filter(
      ({ e, reasons }) =>
        reasons.length > 0 &&
        protectedBy(cidrOf(e.ip), state.policyNeverBlock) === undefined &&
        !allowCidrs.some((a) => contains(a.cidr, cidrOf(e.ip)))
    )
  const pendingUserBlocks: PendingUserBlock[] = []
  const users = new Map<string, { user: Resolved; seenAt: Array<{ ip: string; at: string }>; reasons: Reason[] }>()
  for (const { e, reasons } of inForce) {
    const resolution = state.resolutions.get(`${e.ip}|${e.at}`)
    if (resolution?.kind === "resolved") {
      // A human unblock (with repair off) waives the reasons recorded before it.
      const waived = state.waivedUntilSeq.get(resolution.userId) ?? 0
      const standing = reasons.filter((r) => r.seq > waived)
      if (standing.length === 0) continue
      const entry = users.get(resolution.userId) ?? { user: resolution, seenAt: [], reasons: [] }
      entry.seenAt.push({ ip: e.ip, at: e.at })
      entry.reasons.push(...standing)
      users.set(resolution.userId, entry)
      continue
    }
    pendingUserBlocks.push({
      ip: e.ip,
      at: e.at,
      userIdentity: e.userIdentity,
      until: maxUntil(reasons),
      reasons,
      failure:
        resolution === undefined
          ? null
          : {
              reason: resolution.reason,
              candidates: resolution.candidates,
              ...(resolution.matches === undefined ? {} : { matches: resolution.matches }),
              ...(resolution.searched === undefined ? {} : { searched: resolution.searched })
            }
    })
  }
  pendingUserBlocks.sort((a, b) => compareCidr(cidrOf(a.ip), cidrOf(b.ip)) || (a.at < b.at ? -1 : a.at > b.at ? 1 : 0))
  const userBlocks: UserBlock[] = [...users.values()]
    .map(({ user, seenAt, reasons }) => {
      const unique = [...new Map(reasons.map((r) => [r.seq, r])).values()].sort(bySeq)
      return {
        userId: user.userId,
        userName: user.userName,
        userPrincipalName: user.userPrincipalName,
        until: maxUntil(unique),
        seenAt: seenAt.sort((a, b) => compareCidr(cidrOf(a.ip), cidrOf(b.ip)) || (a.at < b.at ? -1 : 1)),
        reasons: unique
      }
    })
    .sort((a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0))

  const counts: Record<string, number> = {}
  for (const b of ipBlocks) counts[b.target] = (counts[b.target] ?? 0) + 1
  if (userBlocks.length > 0) counts["cryptospike"] = userBlocks.length
  if (pendingUserBlocks.length > 0) counts["cryptospike (pending user)"] = pendingUserBlocks.length

  suppressed.sort(byTargetThenCidr)
  return {
    asOf: now,
    policyHash: state.policyHash,
    ipBlocks,
    suppressed,
    userBlocks,
    pendingUserBlocks,
    owned: [...state.owned.values()].sort(byTargetThenCidr),
    ownedUsers: [...state.ownedUsers.keys()].sort(),
    ownedUserBlocks: [...state.ownedUsers.values()].sort((a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0)),
    heldByOthers: [...state.heldByOthers.values()].sort((a, b) =>
      a.target < b.target ? -1 : a.target > b.target ? 1 : a.entry < b.entry ? -1 : a.entry > b.entry ? 1 : 0
    ),
    takeOvers: [...state.takeOvers.values()].sort(byTargetThenCidr),
    counts
  }
}

/** Folds `events` (seq order) and evaluates at `now`. */
export const project = (events: Iterable<LoggedEvent>, now: string): DesiredState => {
  const state = initialState()
  for (const event of events) evolve(state, event)
  return desiredAt(state, now)
}

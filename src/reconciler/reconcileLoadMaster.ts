/**
 * One reconcile pass against a LoadMaster: observe → plan → check caps → apply → record.
 *
 * - Observe every scope the desired state or the ownership ledger mentions (one list call each).
 *   A scope that cannot be listed is left alone this pass (its failure is recorded).
 * - Plan with `planChanges`: add what is desired and missing, remove what mitigator owns and no
 *   longer wants. Entries it does not own are never touched.
 * - Ownership is checked against what is listed now, not only remembered: an owned entry whose
 *   comment is no longer the one mitigator wrote (re-made by hand, taken by another tool) is
 *   recorded as held by someone else (OwnershipLost) and never removed.
 * - Refuse a plan over the caps (recorded as PlanRefused) unless forced.
 * - Apply with bounded concurrency (the client paces the calls), then record one event per
 *   outcome: TargetChanged, TargetChangeFailed, DriftObserved. Failures are retried next pass.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type { NewEvent } from "../domain/Events.js"
import { checkCaps, keyOf, planChanges, type ObservedEntry, type Plan } from "../domain/Plan.js"
import type { Caps } from "../domain/Policy.js"
import type { IpBlock } from "../domain/Project.js"
import { cidrOf } from "../domain/Decide.js"
import { overlaps, type Cidr } from "../domain/Cidr.js"
import { protectionOf, type Rail } from "../domain/Rails.js"
import { catchUp, desiredOf, openProjection, type Projection } from "../projection/desiredState.js"
import type { EventLogService } from "../eventlog/EventLog.js"
import { scopeOfTarget, type AclScope, type LoadMasterAclService, type LoadMasterError } from "../targets/LoadMasterAcl.js"
import { commentInstance, commentMarker, entryComment, operatorComment, printable, stillOurs } from "../targets/loadmaster/wire.js"
import { startProgress } from "../platform/Progress.js"
import { skewInWords } from "../domain/Duration.js"
import { clockSkew } from "../domain/Time.js"
import type { TargetFigures } from "./passRecord.js"

export interface PassOptions {
  readonly caps: Caps
  /** apply a plan over the caps */
  readonly force: boolean
  /** plan only: observe and plan, record and change nothing */
  readonly dryRun: boolean
  /** changes in flight at once (the client still paces the calls) */
  readonly concurrency: number
  /** this mitigator's instance name: the comments of operator blocks carry it */
  readonly instance: string
  /**
   * the appliances' own addresses (resolved at start): never put on a block list, even when an
   * old log or an import holds a block of them (the projection cannot know them)
   */
  readonly protect?: ReadonlyArray<Rail>
  /**
   * only the entries that overlap this address or network, on this target (null: every
   * LoadMaster target): an operator's block, unblock or allow applied at once. What the pass does
   * for them is what a whole pass would do; everything else is left to the next reconcile.
   */
  readonly subject?: { readonly cidr: Cidr; readonly target: string | null }
}

/** An entry mitigator made that someone else holds now (its comment is not mitigator's any more). */
export interface Relinquished {
  readonly target: string
  readonly cidr: string
  readonly comment: string
}

export interface PassResult {
  readonly plan: Plan
  readonly refused: string | undefined
  readonly applied: number
  readonly failed: number
  readonly drift: number
  readonly unobserved: ReadonlyArray<string>
  /** why each of `unobserved` could not be listed */
  readonly whyUnobserved: Readonly<Record<string, string>>
  /** owned entries found held by someone else this pass: no longer claimed, never removed */
  readonly relinquished: ReadonlyArray<Relinquished>
  /** what went wrong, each distinct message once (the details are in the log) */
  readonly problems: ReadonlyArray<string>
  /** removals due but held back: this clock is `behindMs` off the LoadMaster's (undefined: none held) */
  readonly heldRemovals: { readonly removes: Plan["removes"]; readonly behindMs: number } | undefined
  /** everything desired is in place and nothing failed */
  readonly converged: boolean
  /** per target: desired, listed, drift, applied, failed (for metrics) */
  readonly targets: Readonly<Record<string, TargetFigures>>
  /** the changes made (and recorded) this pass: absent when none were tried */
  readonly made?: ReadonlyArray<{ readonly target: string; readonly op: "add" | "remove"; readonly cidr: string }>
}

const errorClass = (e: LoadMasterError): "transient" | "auth" | "rejected" =>
  e.retryable ? "transient" : e.reason === "auth" || e.reason === "api-disabled" ? "auth" : "rejected"

/** What a failed change or list records (the next pass retries it). */
export const failure = (target: string, cidr: string | null, op: "add" | "remove" | "list", e: LoadMasterError): NewEvent => ({
  type: "TargetChangeFailed",
  dedupeKey: null,
  payload: { target, cidr, op, errorClass: errorClass(e), reason: e.reason, message: e.message }
})

/** An entry on the target taken into the ownership ledger (it is ours from now on), with the comment it carries. */
const adoption = (entry: ObservedEntry): NewEvent => ({
  type: "DriftObserved",
  dedupeKey: null,
  payload: {
    target: entry.target,
    cidr: entry.cidr,
    kind: "adopted",
    repair: false,
    listed: entry.listed,
    ...(entry.comment === null ? {} : { comment: entry.comment })
  }
})

/** How much of a foreign comment the log and the output keep. */
const SHOWN_COMMENT = 120

interface PlannedAddFailure {
  readonly target: string
  readonly cidr: string
}

/** The comment an added entry carries: the marker, who decided, which event, short and plain. */
const commentFor = (block: IpBlock | undefined, instance: string): string => {
  const reason = block?.reasons[0]
  if (block === undefined || reason === undefined) return operatorComment({ instance, seq: 0, actor: "mitigator" })
  return reason.kind === "decision"
    ? entryComment({ instance: reason.cause.instance, seq: reason.seq, product: reason.cause.product, method: reason.cause.method })
    : operatorComment({ instance, seq: reason.seq, actor: reason.actor })
}

/**
 * @param projection the pass's open fold (shared with the CryptoSpike pass, so a pass folds the
 *   log once); caught up with the log first. Without one, the log is folded here.
 */
export const reconcilePass = (log: EventLogService, lm: LoadMasterAclService, options: PassOptions, projection?: Projection) =>
  Effect.gen(function* () {
    const now = new Date(yield* Clock.currentTimeMillis).toISOString()
    const open = projection ?? (yield* openProjection(log))
    if (projection !== undefined) yield* catchUp(log, projection)
    const state = desiredOf(open, now)
    const subject = options.subject
    const isLoadMaster = (target: string) => scopeOfTarget(target) !== undefined
    const onSubjectTarget = (target: string) => subject === undefined || subject.target === null || subject.target === target
    // A limited pass considers the subject widened by every entry mitigator holds (or was asked
    // to take over) that overlaps it, and so on: removing such an entry must not lift what is
    // still wanted inside it. An allow of one address inside a blocked network removes the network
    // and must add its split pieces in the same pass, though they do not overlap the address.
    const region: Cidr[] = subject === undefined ? [] : [subject.cidr]
    if (subject !== undefined) {
      const held = [...state.owned, ...state.takeOvers].filter((e) => isLoadMaster(e.target) && onSubjectTarget(e.target)).map((e) => cidrOf(e.cidr))
      const taken = new Set<Cidr>()
      for (let grew = true; grew; ) {
        grew = false
        for (const cidr of held) {
          if (taken.has(cidr) || !region.some((r) => overlaps(r, cidr))) continue
          taken.add(cidr)
          region.push(cidr)
          grew = true
        }
      }
    }
    const inSubject = (target: string, cidr: string) =>
      subject === undefined || (onSubjectTarget(target) && region.some((r) => overlaps(r, cidrOf(cidr))))
    const protect = options.protect ?? []
    const notProtected = (b: IpBlock) => protect.length === 0 || protectionOf(cidrOf(b.cidr), protect) === undefined
    // Everything wanted on the LoadMaster, whatever the subject: the per-target cap counts it all.
    const wantedEverywhere = state.ipBlocks.filter((b) => isLoadMaster(b.target) && notProtected(b))
    const desired = wantedEverywhere.filter((b) => inSubject(b.target, b.cidr))
    const owned = state.owned.filter((o) => isLoadMaster(o.target) && inSubject(o.target, o.cidr))
    const takeOvers = state.takeOvers.filter((t) => isLoadMaster(t.target) && inSubject(t.target, t.cidr))
    // Held by someone else: listed too, to see when nobody holds it any more.
    const held = state.heldByOthers.filter((h) => isLoadMaster(h.target) && inSubject(h.target, h.entry))
    const targets = [
      ...new Set([...desired.map((b) => b.target), ...owned.map((o) => o.target), ...takeOvers.map((t) => t.target), ...held.map((h) => h.target)])
    ].sort()

    const events: NewEvent[] = []
    const observed: ObservedEntry[] = []
    const observedScopes = new Set<string>()
    const whyUnobserved: Record<string, string> = {}
    for (const target of targets) {
      const listed = yield* Effect.either(lm.list(scopeOfTarget(target) as AclScope))
      if (listed._tag === "Left") {
        events.push(failure(target, null, "list", listed.left))
        whyUnobserved[target] = listed.left.message
        continue
      }
      observedScopes.add(target)
      for (const e of listed.right) if (inSubject(target, e.cidr)) observed.push({ target, cidr: e.cidr, listed: e.listed, comment: e.comment })
    }

    const actual = new Set(observed.map((e) => keyOf(e.target, e.cidr)))
    const drifted = owned.filter((o) => observedScopes.has(o.target) && !actual.has(keyOf(o.target, o.cidr)))
    const desiredKeys = new Set(desired.map((b) => keyOf(b.target, b.cidr)))
    for (const o of drifted) {
      events.push({
        type: "DriftObserved",
        dedupeKey: null,
        payload: { target: o.target, cidr: o.cidr, kind: "missing", repair: desiredKeys.has(keyOf(o.target, o.cidr)) }
      })
    }
    // An entry whose comment names a block event of THIS log for the same target and address
    // (and, for a decision, the instance that detected it) was put there by mitigator for this
    // log. Another log's entries, even with the marker, name events that are not blocks of that
    // address here, and stay foreign.
    const namesOurBlock = (e: ObservedEntry) =>
      Effect.gen(function* () {
        const marker = e.comment === null ? undefined : commentMarker(e.comment)
        if (marker === undefined || marker.seq === null) return false
        const [named] = yield* log.read({ afterSeq: marker.seq - 1, limit: 1 })
        if (named === undefined || named.seq !== marker.seq) return false
        const payload = named.payload as { target?: string; subject?: { kind?: string; cidr?: string }; cause?: { instance?: string } }
        if (payload.target !== e.target || payload.subject?.kind !== "ip" || payload.subject.cidr !== e.cidr) return false
        // An operator block's comment carries the instance that reconciled it: this one.
        const instance = named.type === "BlockRequested" ? options.instance : named.type === "BlockDecided" ? (payload.cause?.instance ?? "") : undefined
        return instance !== undefined && (marker.instance === null || commentInstance(instance) === marker.instance)
      })

    // Ownership is checked against what is listed now: an owned entry listed only with comments
    // that are not the one mitigator wrote is held by someone else from now on. Of an entry
    // listed twice (with and without /32), only the listings still ours may be removed.
    const listingsByKey = new Map<string, ObservedEntry[]>()
    for (const e of observed) {
      const key = keyOf(e.target, e.cidr)
      listingsByKey.set(key, [...(listingsByKey.get(key) ?? []), e])
    }
    const foreignListings = new Set<ObservedEntry>()
    const relinquished: Relinquished[] = []
    const lost = new Set<string>()
    for (const o of owned) {
      const listings = observedScopes.has(o.target) ? (listingsByKey.get(keyOf(o.target, o.cidr)) ?? []) : []
      const ours = listings.filter((listing) => stillOurs(listing.comment, o.comment))
      for (const listing of listings) if (!ours.includes(listing)) foreignListings.add(listing)
      // The ledger has no comment for it (adopted by an older version): what is listed now is
      // what later passes check against.
      const baseline = o.comment === null ? ours.find((l) => l.comment !== null && l.comment.trim() !== "") : undefined
      if (baseline !== undefined) events.push(adoption(baseline))
      if (listings.length === 0 || ours.length > 0) continue
      // Ours under another of this log's decisions (a pass that crashed before recording it).
      const retaken = yield* Effect.findFirst(listings, namesOurBlock)
      if (retaken._tag === "Some") {
        foreignListings.delete(retaken.value)
        events.push(adoption(retaken.value))
        continue
      }
      const comment = printable(listings.map((l) => l.comment ?? "").join(" | "), SHOWN_COMMENT)
      lost.add(keyOf(o.target, o.cidr))
      relinquished.push({ target: o.target, cidr: o.cidr, comment })
      events.push({
        type: "OwnershipLost",
        dedupeKey: null,
        payload: { target: o.target, cidr: o.cidr, userId: null, holder: "someone else", comment }
      })
    }

    // A drifted entry is no longer ours (the DriftObserved says so); re-adding owns it again.
    const ownedKeys = new Set(
      owned.filter((o) => !drifted.includes(o) && !lost.has(keyOf(o.target, o.cidr))).map((o) => keyOf(o.target, o.cidr))
    )
    // An entry the ledger does not know that names a block of this log was added by a pass that
    // crashed before recording it: take it back, or it could never be removed.
    for (const e of observed) {
      const key = keyOf(e.target, e.cidr)
      if (ownedKeys.has(key) || lost.has(key)) continue
      if (!(yield* namesOurBlock(e))) continue
      ownedKeys.add(key)
      events.push(adoption(e))
    }
    // An imported legacy entry is ours from the first pass that sees it; one that is not there
    // (and not wanted any more, or the add below settles it) ends its claim.
    const observedByKey = new Map(observed.map((e) => [keyOf(e.target, e.cidr), e]))
    for (const claim of takeOvers) {
      const key = keyOf(claim.target, claim.cidr)
      if (!observedScopes.has(claim.target) || ownedKeys.has(key)) continue
      const entry = observedByKey.get(key)
      if (entry !== undefined) {
        ownedKeys.add(key)
        events.push(adoption(entry))
      } else if (!desiredKeys.has(key)) {
        events.push({ type: "DriftObserved", dedupeKey: null, payload: { target: claim.target, cidr: claim.cidr, kind: "missing", repair: false } })
      }
    }
    // An entry someone else held that is gone from the list: nobody holds it now.
    for (const h of held) {
      const key = keyOf(h.target, h.entry)
      if (!observedScopes.has(h.target) || actual.has(key)) continue
      events.push({ type: "DriftObserved", dedupeKey: null, payload: { target: h.target, cidr: h.entry, kind: "missing", repair: desiredKeys.has(key) } })
    }
    const fullPlan = planChanges(desired, observed, ownedKeys, observedScopes, (e) => !foreignListings.has(e))
    // This clock against the appliance's: a pass run by a clock a day ahead would lift blocks
    // with hours to go. While they disagree, a pass adds what is due and removes nothing.
    const skew = clockSkew(now, yield* lm.applianceTime)
    if (skew !== undefined) {
      events.push({
        type: "ClockSkewObserved",
        // once per minute of skew: a steady offset is one fact, not one per pass
        dedupeKey: `clock-vs-loadmaster:${Math.round(skew.behindMs / 60_000)}`,
        payload: { against: "loadmaster", behindMs: skew.behindMs, clock: now, reference: skew.reference }
      })
    }
    // A limited pass never removes an entry that covers a wanted block it did not consider (an
    // entry it learnt of only from the list): the next reconcile, which considers everything, does.
    const unconsidered = (r: { readonly target: string; readonly cidr: string }) =>
      subject !== undefined &&
      wantedEverywhere.some((b) => b.target === r.target && !desiredKeys.has(keyOf(b.target, b.cidr)) && overlaps(cidrOf(b.cidr), cidrOf(r.cidr)))
    const heldBack = skew === undefined ? fullPlan.removes.filter(unconsidered) : []
    const plan = skew === undefined ? { ...fullPlan, removes: fullPlan.removes.filter((r) => !heldBack.includes(r)) } : { ...fullPlan, removes: [] }
    const heldBackProblem = heldBack.map(
      (r) => `${r.target}: removing ${r.cidr} held back: it covers blocks still wanted that this pass did not consider (the next reconcile removes it)`
    )
    const clockProblem =
      skew === undefined
        ? []
        : [
            `this clock (${now}) is ${skewInWords(skew.behindMs)} the LoadMaster's (${skew.reference}): ` +
              `${fullPlan.removes.length} removal(s) held until they agree (check NTP on both)`
          ]
    const heldRemovals = skew === undefined || fullPlan.removes.length === 0 ? undefined : { removes: fullPlan.removes, behindMs: skew.behindMs }
    const unobserved = targets.filter((t) => !observedScopes.has(t))

    // Every block wanted on each target of this pass, not only the ones it considers: a limited
    // pass that added one more block would otherwise pass a target over maxActivePerTarget.
    const perTarget: Record<string, number> = {}
    for (const b of wantedEverywhere) if (targets.includes(b.target)) perTarget[b.target] = (perTarget[b.target] ?? 0) + 1
    const caps = checkCaps(plan, options.caps, perTarget)
    const problemsOf = (list: ReadonlyArray<NewEvent>) => [
      ...new Set(list.flatMap((e) => (e.type === "TargetChangeFailed" ? [`${e.payload.target} ${e.payload.op}: ${e.payload.message}`.replace(/^(\S+) list:/, "$1: cannot list:")] : [])))
    ]
    const figuresOf = (recorded: ReadonlyArray<NewEvent>): Record<string, TargetFigures> => {
      const figures = new Map<string, { desired: number; actual: number | null; drift: number; applied: number; failed: number }>(
        targets.map((t) => [t, { desired: 0, actual: observedScopes.has(t) ? 0 : null, drift: 0, applied: 0, failed: 0 }])
      )
      const of = (target: string) => figures.get(target)!
      for (const b of desired) of(b.target).desired++
      for (const e of observed) of(e.target).actual!++
      for (const change of [...plan.adds, ...plan.removes]) of(change.target).drift++
      for (const e of recorded) {
        if (e.type === "TargetChanged") of(e.payload.target).applied++
        else if (e.type === "TargetChangeFailed") of(e.payload.target).failed++
      }
      return Object.fromEntries(figures)
    }
    const base = { plan, drift: drifted.length, unobserved, whyUnobserved, relinquished, problems: [...clockProblem, ...heldBackProblem, ...problemsOf(events)], targets: figuresOf(events), heldRemovals }

    if (options.dryRun) {
      return { ...base, refused: caps.ok ? undefined : caps.reason, applied: 0, failed: 0, converged: false } satisfies PassResult
    }
    if (!caps.ok && !options.force) {
      events.push({ type: "PlanRefused", dedupeKey: null, payload: { adds: plan.adds.length, removes: plan.removes.length, reason: caps.reason } })
      if (events.length > 0) yield* log.append(events)
      return { ...base, refused: caps.reason, applied: 0, failed: 0, converged: false } satisfies PassResult
    }

    const blocks = new Map(desired.map((b) => [keyOf(b.target, b.cidr), b]))
    const bar = yield* startProgress("applying changes on the LoadMaster", plan.adds.length + plan.removes.length)
    let done = 0
    const counted = <A>(change: Effect.Effect<A>) => (bar === undefined ? change : Effect.tap(change, () => Effect.sync(() => bar.update(++done))))
    const addOf = (add: Plan["adds"][number]) => {
      const comment = commentFor(blocks.get(keyOf(add.target, add.cidr)), options.instance)
      return lm.add(scopeOfTarget(add.target) as AclScope, add.cidr, comment).pipe(
        Effect.match({
          onFailure: (e) => failure(add.target, add.cidr, "add", e),
          onSuccess: (sent): NewEvent => ({
            type: "TargetChanged",
            dedupeKey: null,
            payload: { target: add.target, cidr: add.cidr, op: "add", listed: sent, comment, causeSeq: add.causeSeq }
          })
        })
      )
    }
    const removeOf = (remove: Plan["removes"][number]) =>
      lm.remove(scopeOfTarget(remove.target) as AclScope, { cidr: remove.cidr, listed: remove.listed, comment: "" }).pipe(
        Effect.match({
          onFailure: (e) => failure(remove.target, remove.cidr, "remove", e),
          onSuccess: (): NewEvent => ({
            type: "TargetChanged",
            dedupeKey: null,
            payload: { target: remove.target, cidr: remove.cidr, op: "remove", listed: remove.listed, comment: "", causeSeq: null }
          })
        })
      )
    const all = (changes: ReadonlyArray<Effect.Effect<NewEvent>>) => Effect.all(changes.map(counted), { concurrency: options.concurrency })
    // A limited pass adds first and removes after, and never removes an entry overlapping an add
    // that failed: the pieces of a split network are in place before the network is lifted.
    const failedAdds: PlannedAddFailure[] = []
    const outcomes = yield* (
      subject === undefined
        ? all([...plan.adds.map(addOf), ...plan.removes.map(removeOf)])
        : Effect.gen(function* () {
            const added = yield* all(plan.adds.map(addOf))
            for (const e of added) if (e.type === "TargetChangeFailed" && e.payload.cidr !== null) failedAdds.push({ target: e.payload.target, cidr: e.payload.cidr })
            const overlapsFailedAdd = (r: Plan["removes"][number]) =>
              failedAdds.some((a) => a.target === r.target && overlaps(cidrOf(a.cidr), cidrOf(r.cidr)))
            const removed = yield* all(plan.removes.filter((r) => !overlapsFailedAdd(r)).map(removeOf))
            for (const r of plan.removes.filter(overlapsFailedAdd)) {
              heldBackProblem.push(`${r.target}: removing ${r.cidr} held back: adding a block inside it failed (the next reconcile removes it)`)
            }
            return [...added, ...removed]
          })
    ).pipe(Effect.ensuring(Effect.sync(() => bar?.finish())))
    events.push(...outcomes)
    if (events.length > 0) yield* log.append(events)
    const problems = [...clockProblem, ...heldBackProblem, ...problemsOf(events)]
    const failed = events.filter((e) => e.type === "TargetChangeFailed").length
    const applied = outcomes.filter((e) => e.type === "TargetChanged").length
    return {
      ...base,
      problems,
      targets: figuresOf(events),
      refused: undefined,
      applied,
      failed,
      converged: failed === 0 && unobserved.length === 0 && heldBackProblem.length === 0 && !(skew !== undefined && fullPlan.removes.length > 0),
      made: outcomes.flatMap((e) =>
        e.type === "TargetChanged" ? [{ target: e.payload.target, op: e.payload.op === "add" ? ("add" as const) : ("remove" as const), cidr: e.payload.cidr }] : []
      )
    } satisfies PassResult
  })

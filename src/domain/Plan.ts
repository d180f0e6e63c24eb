/**
 * Planning a reconcile pass: the desired blocks, what a target reports now, and what mitigator
 * owns there → the changes to make. Pure and deterministic (sorted).
 *
 * - add    = desired − actual
 * - remove = (owned ∩ actual) − desired
 * Entries are compared by canonical CIDR. An entry mitigator does not own is never removed, and
 * a hand-made entry equal to a desired one is neither added again nor removed (not owned).
 */
import type { Caps } from "./Policy.js"
import { byTargetThenCidr, type IpBlock } from "./Project.js"

/** An entry as observed on a target, already canonicalised. */
export interface ObservedEntry {
  readonly target: string
  readonly cidr: string
  /** the address exactly as the target listed it (deletes send it back) */
  readonly listed: string
  /** null where the target lists no comments */
  readonly comment: string | null
}

export interface PlannedAdd {
  readonly target: string
  readonly cidr: string
  readonly until: string
  /** the first reason's seq: the comment names it */
  readonly causeSeq: number
}

export interface PlannedRemove {
  readonly target: string
  readonly cidr: string
  readonly listed: string
}

export interface Plan {
  readonly adds: ReadonlyArray<PlannedAdd>
  readonly removes: ReadonlyArray<PlannedRemove>
}

export const keyOf = (target: string, cidr: string): string => `${target}|${cidr}`


/**
 * @param scopes the targets that were observed: only their entries are planned (a target that
 *   could not be listed this pass is left as it is)
 * @param owned keys (`keyOf`) of the entries mitigator added and has not removed
 * @param mayRemove whether a listing of an owned entry is still mitigator's (checked against what
 *   is listed now); a listing that is not is never removed
 */
export const planChanges = (
  desired: ReadonlyArray<IpBlock>,
  observed: ReadonlyArray<ObservedEntry>,
  owned: ReadonlySet<string>,
  scopes: ReadonlySet<string>,
  mayRemove: (entry: ObservedEntry) => boolean = () => true
): Plan => {
  const actual = new Set(observed.map((e) => keyOf(e.target, e.cidr)))
  const wanted = new Set(desired.map((b) => keyOf(b.target, b.cidr)))
  const adds = desired
    .filter((b) => scopes.has(b.target) && !actual.has(keyOf(b.target, b.cidr)))
    .map((b): PlannedAdd => ({ target: b.target, cidr: b.cidr, until: b.until, causeSeq: b.reasons[0]?.seq ?? 0 }))
    .sort(byTargetThenCidr)
  const seen = new Set<string>()
  const removes = observed
    .filter((e) => {
      const key = keyOf(e.target, e.cidr)
      // The same CIDR listed twice (e.g. with and without /32) is removed once per listing.
      if (!owned.has(key) || wanted.has(key) || seen.has(`${key}|${e.listed}`) || !mayRemove(e)) return false
      seen.add(`${key}|${e.listed}`)
      return true
    })
    .map((e): PlannedRemove => ({ target: e.target, cidr: e.cidr, listed: e.listed }))
    .sort(byTargetThenCidr)
  return { adds, removes }
}

export type CapCheck = { readonly ok: true } | { readonly ok: false; readonly reason: string }

/** Refuses a plan over the configured caps (reconcile applies it only with --force). */
export const checkCaps = (plan: Plan, caps: Caps, desiredPerTarget: Readonly<Record<string, number>>): CapCheck => {
  if (plan.adds.length > caps.maxAddsPerPass) {
    return { ok: false, reason: `${plan.adds.length} additions exceed maxAddsPerPass (${caps.maxAddsPerPass})` }
  }
  if (plan.removes.length > caps.maxRemovesPerPass) {
    return { ok: false, reason: `${plan.removes.length} removals exceed maxRemovesPerPass (${caps.maxRemovesPerPass})` }
  }
  for (const [target, count] of Object.entries(desiredPerTarget).sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (count > caps.maxActivePerTarget) {
      return { ok: false, reason: `${count} blocks wanted on ${target} exceed maxActivePerTarget (${caps.maxActivePerTarget})` }
    }
  }
  return { ok: true }
}

/**
 * The decider's step inside `append`'s write transaction: activate the loaded policy when it
 * differs from the one in force, then record the blocks the policy calls for (and those it holds
 * back from protected sources). Everything happens under the same lock as the events themselves,
 * so decisions and their causes commit together.
 */
import * as Effect from "effect/Effect"
import { decide, ruleMatches, type Detection } from "../domain/Decide.js"
import { parseDuration } from "../domain/Duration.js"
import type { BlockDecided, BlockWithheld, NewEvent } from "../domain/Events.js"
import { policyHash, type Policy } from "../domain/Policy.js"
import type { Rail } from "../domain/Rails.js"
import { isoAfter } from "../domain/Time.js"
import type { LogTransaction } from "../eventlog/EventLog.js"

export interface ActivePolicy {
  readonly policy: Policy
  readonly hash: string
  /** the config file; null when there is none (then nothing is activated or decided) */
  readonly source: string | null
}

export const activePolicy = (policy: Policy, source: string | null): ActivePolicy => ({ policy, hash: policyHash(policy), source })

/** Appends PolicyActivated when the loaded policy is not the one in force. */
export const activateIfChanged = (tx: LogTransaction, active: ActivePolicy) =>
  Effect.gen(function* () {
    if (active.source === null) return false
    const latest = yield* tx.latestPolicy
    if ((latest?.payload as { hash?: string } | undefined)?.hash === active.hash) return false
    yield* tx.append([
      { type: "PolicyActivated", dedupeKey: null, payload: { hash: active.hash, policy: active.policy, source: active.source } }
    ])
    return true
  })

/** What the decider recorded for one batch of detections. */
export interface RecordedDecisions {
  readonly decided: ReadonlyArray<BlockDecided>
  /** the seq each of `decided` was recorded as */
  readonly seqs: ReadonlyArray<number>
  /** detections a rule matched whose source is protected by a never-block rail */
  readonly withheld: ReadonlyArray<BlockWithheld>
}

/**
 * Decides on the stored detections (in seq order) and appends the decisions, and a BlockWithheld
 * for each protected source; `appliances` are the rails for the appliances' own addresses.
 */
export const recordDecisions = (
  tx: LogTransaction,
  active: ActivePolicy,
  detections: ReadonlyArray<Detection>,
  appliances: ReadonlyArray<Rail> = []
) =>
  Effect.gen(function* () {
    const { policy, hash } = active
    const matching = detections.filter((d) => policy.rules.some((rule) => ruleMatches(rule, d.event)))
    if (matching.length === 0) return NONE

    const escalation = policy.escalation
    const earlier: ReadonlyMap<string, ReadonlyArray<string>> =
      escalation === null
        ? new Map()
        : yield* tx.offencesSince([...new Set(matching.map((d) => d.event.source))], isoAfter(tx.clock, -windowMs(escalation.window)))
    // Offences earlier in this same transaction count too (a burst from one source in one batch).
    const now = new Map<string, string[]>()
    const events: NewEvent[] = []
    const decided: BlockDecided[] = []
    const withheld: BlockWithheld[] = []
    for (const detection of matching) {
      const source = detection.event.source
      const prior = [...(earlier.get(source) ?? []), ...(now.get(source) ?? [])]
      const made = decide(policy, hash, detection, prior, tx.clock, appliances)
      if (made.withheld !== null) {
        events.push({ type: "BlockWithheld", dedupeKey: null, payload: made.withheld })
        withheld.push(made.withheld)
      }
      if (made.decided.length === 0) continue
      now.set(source, [...(now.get(source) ?? []), tx.clock])
      for (const payload of made.decided) {
        events.push({ type: "BlockDecided", dedupeKey: null, payload })
        decided.push(payload)
      }
    }
    const outcomes = events.length > 0 ? yield* tx.append(events) : []
    const seqs = outcomes.flatMap((outcome, i) => (events[i]!.type === "BlockDecided" ? [outcome.seq] : []))
    return { decided, seqs, withheld } as RecordedDecisions
  })

const NONE: RecordedDecisions = { decided: [], seqs: [], withheld: [] }

const windowMs = (text: string): number => {
  const parsed = parseDuration(text)
  if (!parsed.ok) throw new Error(`invalid escalation window in a normalised policy: ${text}`)
  return parsed.value
}

/**
 * The decider: one Flowmon detection, the policy in force, and the source's earlier offences →
 * the blocks to record. Pure: the recording time is a parameter, history is passed in, and so
 * are the appliances' addresses (resolved by the command).
 *
 * - Rules are tried in order; the first that matches decides (as in an access list), and each of
 *   its actions becomes one `BlockDecided`, on the source address alone (a /32 or /128).
 * - A source protected by a never-block rail (built in, `policy.neverBlock`, an appliance's
 *   address) gets no block: one `BlockWithheld` says which rail.
 * - An allowlisted source gets no decision.
 * - A block lasts from the decision's recording time, not from Flowmon's detection time: an event
 *   re-run by hand from the event detail may be days old.
 * - Escalation: the n-th offence of one source inside the window gets ttl × factor^(n-1), capped
 *   at maxTtl (never below the rule's own ttl); it saturates at the cap whatever n and factor.
 * - Expiries are fixed-width instants (Time.instantAfter): no duration or count can overflow them.
 */
import { contains, hostCidr, parseCidr, type Cidr } from "./Cidr.js"
import { formatDuration, parseDuration } from "./Duration.js"
import type { BlockDecided, BlockWithheld, DecisionCause, FlowmonEventReceived } from "./Events.js"
import type { AllowEntry, Policy, Rule } from "./Policy.js"
import { neverBlockRails, protectionOf, type Rail } from "./Rails.js"
import { instantAfter, readInstant } from "./Time.js"
import { priorityRank } from "./Vocabulary.js"

export interface Detection {
  readonly seq: number
  readonly event: FlowmonEventReceived
}

const ms = (duration: string): number => {
  const parsed = parseDuration(duration)
  if (!parsed.ok) throw new Error(`invalid duration in a normalised policy: ${duration}`)
  return parsed.value
}

const includesIgnoringCase = (list: ReadonlyArray<string>, value: string | null): boolean =>
  value !== null && list.some((item) => item.toLowerCase() === value.toLowerCase())

export const ruleMatches = (rule: Rule, event: FlowmonEventReceived): boolean => {
  const m = rule.match
  if (m.product !== null && m.product !== event.product) return false
  if (m.methods !== null && !includesIgnoringCase(m.methods, event.method)) return false
  if (m.perspectives !== null && !includesIgnoringCase(m.perspectives, event.perspective)) return false
  if (m.dataFeeds !== null && !includesIgnoringCase(m.dataFeeds, event.dataFeed)) return false
  // No priority (a manual run from the event detail) never satisfies a minimum.
  if (m.minPriority !== null && (event.priority === null || priorityRank(event.priority) < priorityRank(m.minPriority))) {
    return false
  }
  return true
}

/** Whether an allow is in force at `now`; its expiry read as an instant (an old log's `+029405-…` is in force). */
export const allowEntryInForce = (entry: AllowEntry, now: string): boolean => entry.until === null || readInstant(entry.until) > now

const cidrCache = new Map<string, Cidr>()
/** Parsed canonical CIDR text (the log and the policy only hold canonical text). */
export const cidrOf = (text: string): Cidr => {
  let cidr = cidrCache.get(text)
  if (cidr === undefined) {
    const parsed = parseCidr(text)
    if (!parsed.ok) throw new Error(`not a canonical CIDR: ${text}`)
    cidr = parsed.value
    // Bounded small: one append of a million detections from as many sources must not hold a
    // parsed address for each (about 300 bytes apiece), and parsing one again costs a microsecond.
    if (cidrCache.size >= 20_000) cidrCache.clear()
    cidrCache.set(text, cidr)
  }
  return cidr
}

/** The allowlist entry (in force at `now`) that contains `cidr`, if any. */
export const allowedBy = (allowlist: ReadonlyArray<AllowEntry>, cidr: Cidr, now: string): AllowEntry | undefined =>
  allowlist.find((entry) => allowEntryInForce(entry, now) && contains(cidrOf(entry.cidr), cidr))

/**
 * Escalated ttl of the n-th offence (n ≥ 1), in milliseconds: whole seconds, from the base ttl up
 * to the cap. factor^(n-1) may overflow to Infinity: anything not below the cap is the cap.
 */
export const escalatedTtl = (policy: Policy, baseMs: number, offence: number): number => {
  const e = policy.escalation
  if (e === null || !(offence > 1)) return baseMs
  const cap = Math.max(ms(e.maxTtl), baseMs)
  const grown = baseMs * Math.pow(e.factor, offence - 1)
  return grown < cap ? Math.max(baseMs, Math.floor(grown / 1000) * 1000) : cap
}

/**
 * How many earlier offences count: those recorded inside the escalation window before `now`.
 * Earlier means earlier in the log (the caller passes only those), whatever time they carry: one
 * recorded by a clock that ran ahead, or clamped to such a row's time, still counts.
 */
export const offenceNumber = (policy: Policy, earlierOffences: ReadonlyArray<string>, now: string): number => {
  if (policy.escalation === null) return 1
  const windowStart = instantAfter(Date.parse(now), -ms(policy.escalation.window))
  return 1 + earlierOffences.filter((at) => at > windowStart).length
}

const neverBlockCache = new WeakMap<Policy, ReadonlyArray<Rail>>()
/** The policy's `neverBlock` entries as rails (made once per policy). */
export const policyRails = (policy: Policy): ReadonlyArray<Rail> => {
  let rails = neverBlockCache.get(policy)
  if (rails === undefined) {
    rails = neverBlockRails(policy.neverBlock ?? [])
    neverBlockCache.set(policy, rails)
  }
  return rails
}

/** What the decider makes of one detection. */
export interface Decision {
  /** one per action of the matching rule; none when no rule matches or the source is allowlisted or protected */
  readonly decided: ReadonlyArray<BlockDecided>
  /** set when a rule matched but the source is protected by a never-block rail */
  readonly withheld: BlockWithheld | null
}

const NOTHING: Decision = { decided: [], withheld: null }

/**
 * @param earlierOffences recording times of this source's earlier offences (one per detection
 *   that led to decisions), at least those inside the escalation window
 * @param now the recording time of the decision (UTC ISO)
 * @param appliances rails for the appliances' own addresses (beside the built-in ones and the
 *   policy's `neverBlock`)
 */
export const decide = (
  policy: Policy,
  policyHash: string,
  detection: Detection,
  earlierOffences: ReadonlyArray<string>,
  now: string,
  appliances: ReadonlyArray<Rail> = []
): Decision => {
  const event = detection.event
  const rule = policy.rules.find((r) => ruleMatches(r, event))
  if (rule === undefined) return NOTHING
  const source = hostCidr(event.source)
  // Keys in sorted order, here and below: the log stores canonical JSON, and a payload whose keys
  // are already sorted is written by JSON.stringify as is (see CanonicalJson).
  const cause: DecisionCause = {
    detectedAt: event.detectedAt,
    eventId: event.eventId,
    instance: event.instance,
    method: event.method,
    product: event.product,
    seq: detection.seq,
    source: event.source
  }
  const rails = policyRails(policy)
  const rail = protectionOf(source, appliances.length === 0 ? rails : [...rails, ...appliances])
  if (rail !== undefined) {
    return {
      decided: [],
      withheld: {
        targets: rule.actions.map((a) => a.target),
        rule: rule.name,
        reason: "protected",
        protection: rail.label,
        policyHash,
        cause
      }
    }
  }
  if (allowedBy(policy.allowlist, source, now) !== undefined) return NOTHING
  const offence = offenceNumber(policy, earlierOffences, now)
  const nowMs = Date.parse(now)
  const decided = rule.actions.map((action): BlockDecided => {
    const ttlMs = escalatedTtl(policy, ms(action.ttl), offence)
    return {
      cause,
      offence,
      policyHash,
      rule: rule.name,
      subject:
        action.target === "cryptospike"
          ? { at: event.detectedAt, ip: event.source, kind: "userBehindIp", userIdentity: event.userIdentity }
          : { cidr: source.text, kind: "ip" },
      target: action.target,
      ttl: formatDuration(ttlMs),
      until: instantAfter(nowMs, ttlMs)
    }
  })
  return { decided, withheld: null }
}

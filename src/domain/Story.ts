/**
 * The story of one address, network or user (`mitigator why`): every detection from it and what
 * became of it (the rule that matched and the blocks it decided, or why nothing was blocked:
 * allowlisted, protected, no rule matched and which came closest), what operators did about it,
 * what reconcile applied where and when and what went wrong, the blocks in force now with the
 * time left, and what the next reconcile will do about it, judged from the log alone (the
 * ownership ledger: what mitigator believes is on each target).
 *
 * Pure: the events (in seq order; a superset of the relevant ones is fine, the story picks), the
 * desired state now and the time are parameters. Rules are re-evaluated against the policy in
 * force when the detection was recorded (the last PolicyActivated before it), with the same
 * `ruleMatches` the decider uses.
 */
import { contains, type Cidr } from "./Cidr.js"
import { allowedBy, policyRails, ruleMatches } from "./Decide.js"
import { formatSpan, timeLeft } from "./Duration.js"
import { subjectText, summaryOf, userText } from "./EventSummary.js"
import type { FlowmonEventReceived, PolicyActivated } from "./Events.js"
import { cidrOfText, nameMatches, touches, type Subject } from "./Filter.js"
import { checkCaps } from "./Plan.js"
import type { Caps, Rule } from "./Policy.js"
import type { DesiredState, LoggedEvent, Reason } from "./Project.js"
import { protectionOf } from "./Rails.js"
import { readInstant } from "./Time.js"
import { priorityRank } from "./Vocabulary.js"

/** What became of one detection. */
export type Outcome =
  | {
      readonly kind: "blocked"
      readonly rule: string
      readonly blocks: ReadonlyArray<{
        readonly seq: number
        readonly target: string
        readonly subject: string
        readonly ttl: string
        readonly until: string
        readonly offence: number
        /** why it is not in force now though it has not expired (an allow since, a rail), if so */
        readonly heldBackNow?: string
      }>
    }
  | { readonly kind: "protected"; readonly rule: string; readonly protection: string; readonly targets: ReadonlyArray<string> }
  | { readonly kind: "allowlisted"; readonly rule: string; readonly entry: { readonly cidr: string; readonly until: string | null } }
  | {
      readonly kind: "no-rule"
      readonly rules: number
      /** the rule with the fewest unmet conditions (the first of those), and what it needed */
      readonly closest: { readonly rule: string; readonly unmet: ReadonlyArray<string> } | null
    }
  | { readonly kind: "no-policy" }
  /** a rule matches, yet nothing was decided (appended without that config, or before it was active) */
  | { readonly kind: "not-decided"; readonly rule: string }

export interface DetectionStory {
  readonly seq: number
  readonly recordedAt: string
  readonly detectedAt: string
  readonly source: string
  readonly userIdentity: string
  readonly summary: string
  readonly policyHash: string | null
  readonly outcome: Outcome
}

export interface StoryEvent {
  readonly seq: number
  readonly recordedAt: string
  readonly type: string
  readonly summary: string
}

/** A block in force now. */
export interface BlockNow {
  readonly target: string
  /** the address block, or the user (`jdoe@corp.example (S-1-5-…)`), or `the user behind 192.0.2.31` */
  readonly entry: string
  readonly until: string
  /** `5h 12m left` */
  readonly left: string
  readonly reasons: ReadonlyArray<string>
}

/** What the next reconcile will do about one entry, judged from the log. */
export interface NextStep {
  readonly target: string
  readonly entry: string
  readonly action: "add" | "remove" | "keep" | "leave" | "block user" | "unblock user" | "resolve user"
  readonly why: string
}

export interface Story {
  /** the subject as asked: an address block, or a user name */
  readonly subject: string
  readonly kind: "address" | "user"
  readonly asOf: string
  /** the CryptoSpike users found behind the address, or named like the user */
  readonly users: ReadonlyArray<string>
  readonly detections: ReadonlyArray<DetectionStory>
  /** every event of the story in seq order, detections included */
  readonly timeline: ReadonlyArray<StoryEvent>
  readonly inForce: ReadonlyArray<BlockNow>
  /** wanted blocks held back now: allowlisted or protected, with which entry */
  readonly heldBack: ReadonlyArray<{ readonly target: string; readonly entry: string; readonly why: string }>
  /** what someone else holds now, which mitigator will not remove */
  readonly heldByOthers: ReadonlyArray<{ readonly target: string; readonly entry: string; readonly holder: string }>
  readonly nextReconcile: ReadonlyArray<NextStep>
  /** set when the next pass as a whole is over a cap (it is then refused unless forced) */
  readonly nextPassRefused: string | null
}

export interface StoryInput {
  readonly subject: Subject
  /** in seq order; must hold every PolicyActivated before the detections (a superset is fine) */
  readonly events: Iterable<LoggedEvent>
  /** the desired state at `now` (the projection) */
  readonly desired: DesiredState
  readonly now: string
  /** the configured caps: the next pass is checked against them */
  readonly caps?: Caps
  /** the targets the config has an appliance for (reconcile touches no other) */
  readonly configured?: { readonly loadmaster: boolean; readonly cryptospike: boolean }
}

type P = Record<string, any>

const list = (values: ReadonlyArray<string>): string => values.join("|")

/** The conditions of `rule` that `event` does not meet, in words. */
export const unmetConditions = (rule: Rule, event: FlowmonEventReceived): string[] => {
  const m = rule.match
  const unmet: string[] = []
  const has = (l: ReadonlyArray<string>, v: string | null) => v !== null && l.some((x) => x.toLowerCase() === v.toLowerCase())
  if (m.product !== null && m.product !== event.product) unmet.push(`product ${m.product} (this was ${event.product})`)
  if (m.methods !== null && !has(m.methods, event.method)) unmet.push(`method ${list(m.methods)} (this was ${event.method ?? "none"})`)
  if (m.perspectives !== null && !has(m.perspectives, event.perspective)) unmet.push(`perspective ${list(m.perspectives)} (this was ${event.perspective ?? "none"})`)
  if (m.dataFeeds !== null && !has(m.dataFeeds, event.dataFeed)) unmet.push(`data feed ${list(m.dataFeeds)} (this was ${event.dataFeed ?? "none"})`)
  if (m.minPriority !== null && (event.priority === null || priorityRank(event.priority) < priorityRank(m.minPriority))) {
    unmet.push(`priority >= ${m.minPriority.toLowerCase()} (this was ${event.priority === null ? "none" : event.priority.toLowerCase()})`)
  }
  return unmet
}

/** Why the policy in force decided nothing (or what it decided) for a detection that has no decision recorded. */
const reevaluate = (policy: PolicyActivated | undefined, event: FlowmonEventReceived, at: string): Outcome => {
  if (policy === undefined) return { kind: "no-policy" }
  const rules = policy.policy.rules
  const rule = rules.find((r) => ruleMatches(r, event))
  if (rule === undefined) {
    let closest: { rule: string; unmet: string[] } | null = null
    for (const r of rules) {
      const unmet = unmetConditions(r, event)
      if (closest === null || unmet.length < closest.unmet.length) closest = { rule: r.name, unmet }
    }
    return { kind: "no-rule", rules: rules.length, closest }
  }
  const source = cidrOfText(event.source)
  if (source !== undefined) {
    const rail = protectionOf(source, policyRails(policy.policy))
    if (rail !== undefined) return { kind: "protected", rule: rule.name, protection: rail.label, targets: rule.actions.map((a) => a.target) }
    const allowlist = policy.policy.allowlist.map((a) => (a.until === null ? a : { ...a, until: readInstant(a.until) }))
    const entry = allowedBy(allowlist, source, at)
    if (entry !== undefined) return { kind: "allowlisted", rule: rule.name, entry: { cidr: entry.cidr, until: entry.until } }
  }
  return { kind: "not-decided", rule: rule.name }
}

type Suppressed = DesiredState["suppressed"][number]

/** Why a block that has not expired is not in force: an allowlist entry, or a rail. */
const heldBackText = (s: Suppressed): string =>
  s.allowedBy.source === "protected"
    ? `protected: ${s.allowedBy.protection ?? s.allowedBy.cidr}`
    : `allowlisted by ${s.allowedBy.source === "policy" ? "the policy's" : "an operator's"} entry ${s.allowedBy.cidr}${s.allowedBy.until === null ? "" : ` until ${s.allowedBy.until}`}`

const reasonText = (r: Reason): string =>
  r.kind === "decision"
    ? `rule ${r.rule}, offence ${r.offence}, for ${r.cause.product} ${r.cause.instance}#${r.cause.eventId} ${r.cause.method ?? "IDS"} [seq ${r.seq}]`
    : `operator ${r.actor}: ${r.reason} [seq ${r.seq}]`

/** The story of `subject` (see the module comment). */
export const buildStory = (input: StoryInput): Story => {
  const { subject, desired, now } = input
  const events = [...input.events]
  const address: Cidr | undefined = subject.kind === "address" ? subject.cidr : undefined
  const touchesSubject = (text: unknown) => address !== undefined && touches(address, text)
  const hostInside = (text: unknown) => {
    const c = cidrOfText(text)
    return address !== undefined && c !== undefined && contains(address, c)
  }

  // First, who the subject is: the users behind the address, or the user's ids and the
  // (address, time) pairs CryptoSpike found the user at.
  const userIds = new Set<string>()
  const userNames = new Map<string, string>()
  const pairs = new Set<string>()
  for (const e of events) {
    if (e.type !== "UserResolved") continue
    const p = e.payload as P
    const relevant = subject.kind === "address" ? hostInside(p["ip"]) : [p["userId"], p["userName"], p["userPrincipalName"]].some((n) => nameMatches(subject.name, n))
    if (!relevant) continue
    userIds.add(p["userId"])
    userNames.set(p["userId"], userText(p))
    pairs.add(`${p["ip"]}|${p["at"]}`)
  }
  if (subject.kind === "user") for (const u of [...desired.userBlocks]) if ([u.userId, u.userName, u.userPrincipalName].some((n) => nameMatches(subject.name, n))) userIds.add(u.userId)
  const isUser = (id: unknown) => typeof id === "string" && (userIds.has(id) || (subject.kind === "user" && nameMatches(subject.name, id)))
  const userBehind = (s: P) => s["kind"] === "userBehindIp" && (pairs.has(`${s["ip"]}|${s["at"]}`) || (subject.kind === "user" && nameMatches(subject.name, s["userIdentity"])))

  const detections = new Map<number, { event: LoggedEvent; policy: PolicyActivated | undefined }>()
  const decisions = new Map<number, LoggedEvent[]>()
  const withheld = new Map<number, LoggedEvent>()
  const timeline: StoryEvent[] = []
  let policy: PolicyActivated | undefined
  // what was wanted and not yet applied: a refused plan then is part of the story
  let waitingUntil = ""

  const relevant = (e: LoggedEvent): boolean => {
    const p = e.payload as P
    switch (e.type) {
      case "FlowmonEventReceived":
        return subject.kind === "address"
          ? hostInside(p["source"])
          : nameMatches(subject.name, p["userIdentity"]) || pairs.has(`${p["source"]}|${p["detectedAt"]}`)
      case "BlockDecided":
      case "BlockWithheld": {
        const cause = (p["cause"] ?? {}) as P
        if (detections.has(cause["seq"])) return true
        return e.type === "BlockDecided" && (touchesSubject(p["subject"]?.["cidr"] ?? p["subject"]?.["ip"]) || userBehind(p["subject"] ?? {}))
      }
      case "BlockRequested":
        return touchesSubject(p["subject"]?.["cidr"] ?? p["subject"]?.["ip"]) || userBehind(p["subject"] ?? {})
      case "UnblockRequested":
      case "AllowRequested":
      case "TargetChanged":
      case "TargetChangeFailed":
      case "DriftObserved":
        return touchesSubject(p["cidr"])
      case "OwnershipLost":
        return p["cidr"] === null ? isUser(p["userId"]) : touchesSubject(p["cidr"])
      case "UserResolved":
        return subject.kind === "address" ? hostInside(p["ip"]) : isUser(p["userId"])
      case "UserResolutionFailed":
        return subject.kind === "address"
          ? hostInside(p["ip"])
          : nameMatches(subject.name, p["searched"]) || (Array.isArray(p["candidates"]) && p["candidates"].some(isUser))
      case "UserBlockChanged":
      case "UserBlockLifted":
        return isUser(p["userId"])
      case "PlanRefused":
        return waitingUntil > e.recordedAt
      default:
        return false
    }
  }

  for (const e of events) {
    const p = e.payload as P
    if (e.type === "PolicyActivated") policy = p as PolicyActivated
    if (!relevant(e)) continue
    timeline.push({ seq: e.seq, recordedAt: e.recordedAt, type: e.type, summary: summaryOf(e.type, e.payload) })
    switch (e.type) {
      case "FlowmonEventReceived":
        detections.set(e.seq, { event: e, policy })
        break
      case "BlockDecided": {
        const causeSeq = (p["cause"] ?? {})["seq"]
        decisions.set(causeSeq, [...(decisions.get(causeSeq) ?? []), e])
        if (readInstant(p["until"]) > waitingUntil) waitingUntil = readInstant(p["until"])
        break
      }
      case "BlockRequested":
        if (readInstant(p["until"]) > waitingUntil) waitingUntil = readInstant(p["until"])
        break
      case "BlockWithheld":
        withheld.set((p["cause"] ?? {})["seq"], e)
        break
      case "TargetChanged":
        if (p["op"] === "add") waitingUntil = ""
        break
      case "UserBlockChanged":
        if (p["op"] === "block") waitingUntil = ""
        break
    }
  }

  const suppressedNow = new Map(desired.suppressed.map((s) => [`${s.target}|${s.cidr}`, s]))
  const detectionStories: DetectionStory[] = [...detections.values()].map(({ event, policy }) => {
    const d = event.payload as FlowmonEventReceived
    const decided = decisions.get(event.seq) ?? []
    const held = withheld.get(event.seq)
    const outcome: Outcome =
      decided.length > 0
        ? {
            kind: "blocked",
            rule: (decided[0]!.payload as P)["rule"],
            blocks: decided.map((b) => {
              const p = b.payload as P
              const until = readInstant(p["until"])
              const s = p["subject"]?.["kind"] === "ip" && until > now ? suppressedNow.get(`${p["target"]}|${p["subject"]["cidr"]}`) : undefined
              return {
                seq: b.seq,
                target: p["target"],
                subject: subjectText(p["subject"]),
                ttl: p["ttl"],
                until,
                offence: p["offence"],
                ...(s === undefined ? {} : { heldBackNow: heldBackText(s) })
              }
            })
          }
        : held !== undefined
          ? { kind: "protected", rule: (held.payload as P)["rule"], protection: (held.payload as P)["protection"], targets: (held.payload as P)["targets"] }
          : reevaluate(policy, d, event.recordedAt)
    return {
      seq: event.seq,
      recordedAt: event.recordedAt,
      detectedAt: d.detectedAt,
      source: d.source,
      userIdentity: d.userIdentity,
      summary: summaryOf(event.type, event.payload),
      policyHash: policy?.hash ?? null,
      outcome
    }
  })

  // Now: the blocks in force, and what is held back.
  const ipBlocks = address === undefined ? [] : desired.ipBlocks.filter((b) => touches(address, b.cidr))
  const userBlocks = desired.userBlocks.filter(
    (u) => isUser(u.userId) || (address !== undefined && u.seenAt.some((s) => hostInside(s.ip))) || (subject.kind === "user" && [u.userName, u.userPrincipalName].some((n) => nameMatches(subject.name, n)))
  )
  for (const u of userBlocks) {
    userIds.add(u.userId)
    userNames.set(u.userId, userText(u))
  }
  const pending = desired.pendingUserBlocks.filter((u) => hostInside(u.ip) || pairs.has(`${u.ip}|${u.at}`) || (subject.kind === "user" && nameMatches(subject.name, u.userIdentity)))
  const inForce: BlockNow[] = [
    ...ipBlocks.map((b) => ({ target: b.target, entry: b.cidr, until: b.until, left: timeLeft(b.until, now), reasons: b.reasons.map(reasonText) })),
    ...userBlocks.map((u) => ({ target: "cryptospike", entry: userText(u), until: u.until, left: timeLeft(u.until, now), reasons: u.reasons.map(reasonText) })),
    ...pending.map((u) => ({
      target: "cryptospike",
      entry: `the user behind ${u.ip} (seen ${u.at}), not resolved yet`,
      until: u.until,
      left: timeLeft(u.until, now),
      reasons: u.reasons.map(reasonText)
    }))
  ]
  const heldBack = (address === undefined ? [] : desired.suppressed.filter((s) => touches(address, s.cidr))).map((s) => ({
    target: s.target,
    entry: s.cidr,
    why: heldBackText(s)
  }))
  const othersHold = desired.heldByOthers.filter((h) => (h.target === "cryptospike" ? isUser(h.entry) : touchesSubject(h.entry)))
  const heldByOthers = othersHold.map((h) => ({ target: h.target, entry: h.target === "cryptospike" ? (userNames.get(h.entry) ?? h.entry) : h.entry, holder: h.holder }))

  // The next reconcile, from the ledger: add what is wanted and not on the target, remove what
  // mitigator put there and is no longer wanted, leave what someone else holds.
  const configured = input.configured ?? { loadmaster: true, cryptospike: true }
  const unconfigured = (target: string) =>
    target.startsWith("loadmaster") ? (configured.loadmaster ? "" : " (no LoadMaster is configured: reconcile will not)") : configured.cryptospike ? "" : " (no CryptoSpike is configured: reconcile will not)"
  const owned = new Map(desired.owned.map((o) => [`${o.target}|${o.cidr}`, o]))
  const held = new Map(desired.heldByOthers.map((h) => [`${h.target}|${h.entry}`, h]))
  const wanted = new Set(desired.ipBlocks.map((b) => `${b.target}|${b.cidr}`))
  const suppressed = new Map(desired.suppressed.map((s) => [`${s.target}|${s.cidr}`, s]))
  const next: NextStep[] = []
  for (const b of ipBlocks) {
    const key = `${b.target}|${b.cidr}`
    const mine = owned.get(key)
    const other = held.get(key)
    next.push(
      mine !== undefined
        ? { target: b.target, entry: b.cidr, action: "keep", why: `on the target since seq ${mine.seq}, wanted until ${b.until}` }
        : other !== undefined
          ? { target: b.target, entry: b.cidr, action: "leave", why: `held by ${other.holder}: mitigator neither adds nor removes it` }
          : { target: b.target, entry: b.cidr, action: "add", why: `wanted until ${b.until}, not on the target by the ledger${unconfigured(b.target)}` }
    )
  }
  for (const o of desired.owned) {
    if (!touchesSubject(o.cidr) || wanted.has(`${o.target}|${o.cidr}`)) continue
    const s = suppressed.get(`${o.target}|${o.cidr}`)
    const why = s === undefined ? "no longer wanted (expired or unblocked)" : s.allowedBy.source === "protected" ? `protected (${s.allowedBy.protection ?? s.allowedBy.cidr})` : `allowlisted (${s.allowedBy.cidr})`
    next.push({ target: o.target, entry: o.cidr, action: "remove", why: `${why}; mitigator added it (seq ${o.seq})${unconfigured(o.target)}` })
  }
  const ownedUsers = new Set(desired.ownedUsers)
  for (const u of userBlocks) {
    const other = held.get(`cryptospike|${u.userId}`)
    next.push(
      ownedUsers.has(u.userId)
        ? { target: "cryptospike", entry: userText(u), action: "keep", why: `blocked by mitigator, wanted until ${u.until}` }
        : other !== undefined
          ? { target: "cryptospike", entry: userText(u), action: "leave", why: `blocked by ${other.holder}: mitigator does not touch it` }
          : { target: "cryptospike", entry: userText(u), action: "block user", why: `wanted until ${u.until}, not blocked by mitigator by the ledger${unconfigured("cryptospike")}` }
    )
  }
  const wantedUsers = new Set(desired.userBlocks.map((u) => u.userId))
  for (const u of desired.ownedUserBlocks) {
    if (!userIds.has(u.userId) || wantedUsers.has(u.userId)) continue
    next.push({ target: "cryptospike", entry: userNames.get(u.userId) ?? u.userId, action: "unblock user", why: `no longer wanted; mitigator blocked the user (seq ${u.seq})${unconfigured("cryptospike")}` })
  }
  for (const u of pending) {
    next.push(
      u.failure === null
        ? {
            target: "cryptospike",
            entry: `the user behind ${u.ip}`,
            action: "resolve user",
            why: `look up who used ${u.ip} around ${u.at} on CryptoSpike, then block that user until ${u.until}${unconfigured("cryptospike")}`
          }
        : {
            // A failed resolution is final: reconcile does not look the user up again.
            target: "cryptospike",
            entry: `the user behind ${u.ip}`,
            action: "leave",
            why: `not resolved (${u.failure.reason === "ambiguous" ? "ambiguous" : "no user found"}): nobody is blocked; block a user by hand on CryptoSpike if one is to be`
          }
    )
  }

  // The whole next pass against the caps (a refused plan applies nothing, this included).
  let nextPassRefused: string | null = null
  if (input.caps !== undefined && next.some((s) => s.action === "add" || s.action === "remove")) {
    const adds = desired.ipBlocks.filter((b) => !owned.has(`${b.target}|${b.cidr}`) && !held.has(`${b.target}|${b.cidr}`)).map((b) => ({ target: b.target, cidr: b.cidr, until: b.until, causeSeq: 0 }))
    const removes = desired.owned.filter((o) => !wanted.has(`${o.target}|${o.cidr}`)).map((o) => ({ target: o.target, cidr: o.cidr, listed: o.listed }))
    const lmCounts = Object.fromEntries(Object.entries(desired.counts).filter(([t]) => t.startsWith("loadmaster")))
    const check = checkCaps({ adds, removes }, input.caps, lmCounts)
    if (!check.ok) nextPassRefused = check.reason
  }

  return {
    subject: subject.kind === "address" ? subject.cidr.text : subject.name,
    kind: subject.kind,
    asOf: now,
    users: [...userIds].sort().map((id) => userNames.get(id) ?? id),
    detections: detectionStories,
    timeline,
    inForce,
    heldBack,
    heldByOthers,
    nextReconcile: next,
    nextPassRefused
  }
}

/** The outcome of a detection in one line. */
export const outcomeText = (o: Outcome): string => {
  switch (o.kind) {
    case "blocked":
      return `rule ${o.rule} matched: ${o.blocks
        .map((b) => `${b.subject} on ${b.target} for ${b.ttl} until ${b.until} (offence ${b.offence})${b.heldBackNow === undefined ? "" : `, held back now: ${b.heldBackNow}`}`)
        .join("; ")}`
    case "protected":
      return `rule ${o.rule} matched, not blocked: protected (${o.protection})`
    case "allowlisted":
      return `rule ${o.rule} matched, not blocked: allowlisted by the policy's entry ${o.entry.cidr}${o.entry.until === null ? "" : ` (until ${o.entry.until})`}`
    case "no-rule":
      return o.rules === 0
        ? "not blocked: the policy in force had no rules"
        : `not blocked: no rule matched (${o.rules} rule${o.rules === 1 ? "" : "s"})${o.closest === null ? "" : `; closest: ${o.closest.rule} needs ${o.closest.unmet.join(", ")}`}`
    case "no-policy":
      return "not blocked: no policy was in force (appended without a config)"
    case "not-decided":
      return `not blocked: rule ${o.rule} matches it, but no decision was recorded (appended without that config?)`
  }
}

// ---------------------------------------------------------------------------------------------
// Reading a large log for a story: a cheap test on the raw payload text before it is parsed.

/** Few per log, and needed whatever the subject (the policy in force, operators' commands, user blocks, refused plans). */
const ALWAYS = new Set(["PolicyActivated", "PlanRefused", "BlockRequested", "UnblockRequested", "AllowRequested", "UserBlockChanged", "UserBlockLifted"])
/** One per detection or resolution: kept only when the text names the subject. */
const BY_TEXT = new Set(["FlowmonEventReceived", "BlockDecided", "BlockWithheld", "UserResolved", "UserResolutionFailed"])
/** Entries on targets: those of single hosts by the text, wider ones (which may contain the subject) always. */
const ENTRIES = new Set(["TargetChanged", "TargetChangeFailed", "DriftObserved", "OwnershipLost"])

/**
 * Text every address inside `cidr` starts with as the log writes it (canonical), or "" when there
 * is none worth testing: the complete octets of an IPv4 network (`10.1.` for 10.1.0.0/16), the
 * leading non-zero groups of an IPv6 one (a zero group may be written as `::`).
 */
export const addressPrefix = (cidr: Cidr): string => {
  const address = cidr.text.slice(0, cidr.text.indexOf("/"))
  if (cidr.prefix === (cidr.version === 4 ? 32 : 128)) return address
  if (cidr.version === 4) {
    const octets = cidr.prefix >> 3
    return octets === 0 ? "" : `${address.split(".").slice(0, octets).join(".")}.`
  }
  const groups: string[] = []
  for (let i = 0; i < cidr.prefix >> 4; i++) {
    const group = (cidr.bytes[2 * i]! << 8) | cidr.bytes[2 * i + 1]!
    if (group === 0) break
    groups.push(group.toString(16))
  }
  return groups.length === 0 ? "" : `${groups.join(":")}:`
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/**
 * Whether a row may belong to the story of `subject` (a superset: `buildStory` picks exactly).
 * `addresses`: more addresses whose rows are wanted (those a user was found behind).
 */
export const storyPrefilter = (subject: Subject, addresses: ReadonlyArray<string> = []): ((type: string, payloadJson: string) => boolean) => {
  const needles = [...addresses, ...(subject.kind === "address" ? [addressPrefix(subject.cidr)] : [])]
  // A user's account, without the domain (`CORP\jdoe`, `jdoe@corp.example` and `jdoe` all name
  // `jdoe`), case-insensitively; a backslash is written `\\` in JSON, but the account has none.
  const account = subject.kind === "user" ? subject.name.trim().split("\\").at(-1)!.split("@")[0]! : ""
  const user = account === "" ? undefined : new RegExp(escapeRegExp(account), "i")
  const named = (text: string) => needles.some((n) => n === "" || text.includes(n)) || (user !== undefined && user.test(text))
  return (type, text) =>
    ALWAYS.has(type) ||
    (BY_TEXT.has(type) && named(text)) ||
    (ENTRIES.has(type) && (named(text) || !(text.includes('/32"') || text.includes('/128"'))))
}

/** The addresses a user was found behind or reported from (for a second, narrower read of the log). */
export const userAddresses = (subject: Subject, events: Iterable<LoggedEvent>): string[] => {
  if (subject.kind !== "user") return []
  const found = new Set<string>()
  for (const e of events) {
    const p = e.payload as P
    if (e.type === "UserResolved" && [p["userId"], p["userName"], p["userPrincipalName"]].some((n) => nameMatches(subject.name, n))) found.add(p["ip"])
    if (e.type === "FlowmonEventReceived" && nameMatches(subject.name, p["userIdentity"])) found.add(p["source"])
  }
  return [...found].sort()
}

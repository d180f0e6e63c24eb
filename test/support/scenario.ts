/**
 * A small given / when / then vocabulary for the decider and the projection.
 *
 *   given(
 *     decided("2025-11-03T10:00:00Z", { cidr: "192.0.2.31/32", ttl: "6h" }),
 *     unblocked("2025-11-03T11:00:00Z", { cidr: "192.0.2.0/24" })
 *   ).at("2025-11-03T12:00:00Z")          // → DesiredState
 *
 * Every step carries its recording time; `given` numbers the steps (seq 1, 2, …) and refuses
 * recording times that go backwards, as the log does.
 */
import { decide, type Decision } from "../../src/domain/Decide.js"
import { parseDuration } from "../../src/domain/Duration.js"
import type {
  AllowRequested,
  BlockDecided,
  BlockRequested,
  BlockSubject,
  DecisionCause,
  FlowmonEventReceived,
  PolicyActivated,
  UnblockRequested
} from "../../src/domain/Events.js"
import { EMPTY_POLICY, policyHash, type Policy, type Rule, type RuleMatch } from "../../src/domain/Policy.js"
import type { Rail } from "../../src/domain/Rails.js"
import {
  desiredAt,
  evolve,
  initialState,
  project,
  type DesiredState,
  type LoggedEvent,
  type ProjectionState
} from "../../src/domain/Project.js"

// ---------------------------------------------------------------------------------------------
// Time

/** Canonical UTC ISO text (with milliseconds), as the log records it. */
export const iso = (text: string): string => new Date(text).toISOString()

export const durationMs = (duration: string): number => {
  const parsed = parseDuration(duration)
  if (!parsed.ok) throw new Error(parsed.error)
  return parsed.value
}

/** `time` plus a duration ("6h") or milliseconds. */
export const plus = (time: string, duration: string | number): string =>
  new Date(Date.parse(time) + (typeof duration === "number" ? duration : durationMs(duration))).toISOString()

/** `time` minus a duration ("6h") or milliseconds. */
export const minus = (time: string, duration: string | number): string =>
  new Date(Date.parse(time) - (typeof duration === "number" ? duration : durationMs(duration))).toISOString()

// ---------------------------------------------------------------------------------------------
// Flowmon detections

/** An ADS detection (standard TSV layout) of an SSH dictionary attack from 192.0.2.31. */
export const adsEvent = (overrides: Partial<FlowmonEventReceived> = {}): FlowmonEventReceived => ({
  product: "ads",
  instance: "fm01",
  eventId: "1001",
  detectedAt: "2025-11-03T15:12:40.000Z",
  firstFlowAt: "2025-11-03T15:13:05.000Z",
  method: "SSHDICT",
  subtype: null,
  mitre: null,
  description: "SSH attack",
  perspective: "Security issues",
  priority: "CRITICAL",
  severity: "Critical",
  detail: "Attack from a single attacker has been detected.",
  ports: "22",
  protocol: "6",
  source: "192.0.2.31",
  sourceName: null,
  targets: ["198.51.100.40"],
  dataFeed: "LAN",
  userIdentity: "",
  signature: null,
  ids: null,
  cef: null,
  format: "tsv15",
  raw: "1001\t…",
  ...overrides
})

/** An IDS detection (no method, no perspective, no priority of the ADS kind). */
export const idsEvent = (overrides: Partial<FlowmonEventReceived> = {}): FlowmonEventReceived =>
  adsEvent({
    product: "ids",
    eventId: "ids-77",
    method: null,
    perspective: null,
    priority: null,
    severity: "2",
    dataFeed: null,
    format: "tsv14",
    ids: {
      lastSeen: null,
      sourcePort: "51514",
      targetPort: "443",
      category: "Potential Corporate Privacy Violation",
      logSourceIp: "203.0.113.10",
      logSourceInterface: "eth2"
    },
    ...overrides
  })

// ---------------------------------------------------------------------------------------------
// Policies

export type Action = readonly [target: string, ttl: string]

/** A rule that matches everything except what `match` narrows. */
export const rule = (name: string, match: Partial<RuleMatch>, actions: ReadonlyArray<Action>): Rule => ({
  name,
  match: { product: null, methods: null, perspectives: null, minPriority: null, dataFeeds: null, ...match },
  actions: actions.map(([target, ttl]) => ({ target, ttl }))
})

export const policy = (overrides: Partial<Policy> = {}): Policy => ({ ...EMPTY_POLICY, ...overrides })

export interface DecideOptions {
  readonly seq?: number
  readonly earlierOffences?: ReadonlyArray<string>
  /** rails for the appliances' own addresses */
  readonly appliances?: ReadonlyArray<Rail>
}

/** The decider, as `append` calls it: detection `seq`, recorded at `now`; the whole decision. */
export const decisionAt = (p: Policy, event: FlowmonEventReceived, now: string, options: DecideOptions = {}): Decision =>
  decide(p, policyHash(p), { seq: options.seq ?? 1, event }, options.earlierOffences ?? [], now, options.appliances ?? [])

/** The blocks the decider decides (see `decisionAt` for what it withholds). */
export const decideAt = (p: Policy, event: FlowmonEventReceived, now: string, options: DecideOptions = {}): BlockDecided[] => [
  ...decisionAt(p, event, now, options).decided
]

// ---------------------------------------------------------------------------------------------
// Log steps

/** One event to be recorded at `at`; `given` assigns the seq. */
export interface Step {
  readonly at: string
  readonly type: string
  readonly payload: unknown
}

export const step = (at: string, type: string, payload: unknown): Step => ({ at: iso(at), type, payload })

export const cause = (overrides: Partial<DecisionCause> = {}): DecisionCause => ({
  seq: 0,
  product: "ads",
  instance: "fm01",
  eventId: "1001",
  method: "SSHDICT",
  source: "192.0.2.31",
  detectedAt: "2025-11-03T15:12:40.000Z",
  ...overrides
})

export interface DecidedInput {
  readonly cidr?: string
  readonly subject?: BlockSubject
  readonly target?: string
  /** from the recording time; ignored when `until` is given */
  readonly ttl?: string
  readonly until?: string
  readonly rule?: string
  readonly offence?: number
  readonly policyHash?: string
  readonly cause?: Partial<DecisionCause>
}

export const blockDecided = (at: string, input: DecidedInput = {}): BlockDecided => {
  const ttl = input.ttl ?? "6h"
  const subject = input.subject ?? { kind: "ip", cidr: input.cidr ?? "192.0.2.31/32" }
  const source = subject.kind === "ip" ? subject.cidr.replace(/\/\d+$/, "") : subject.ip
  return {
    target: input.target ?? "loadmaster:global",
    subject,
    until: input.until !== undefined ? iso(input.until) : plus(iso(at), ttl),
    ttl,
    rule: input.rule ?? "ssh-dictionary",
    offence: input.offence ?? 1,
    policyHash: input.policyHash ?? "policy-hash",
    cause: cause({ source, ...input.cause })
  }
}

/** A `BlockDecided` recorded at `at` (until = at + ttl unless `until` is given). */
export const decided = (at: string, input: DecidedInput = {}): Step => step(at, "BlockDecided", blockDecided(at, input))

/** `BlockDecided` events exactly as the decider makes them, recorded at `at`. */
export const decisions = (at: string, decidedPayloads: ReadonlyArray<BlockDecided>): Step[] =>
  decidedPayloads.map((payload) => step(at, "BlockDecided", payload))

export interface OperatorBlockInput {
  readonly cidr?: string
  readonly subject?: BlockSubject
  readonly target?: string
  readonly ttl?: string
  readonly until?: string
  readonly actor?: string
  readonly reason?: string
}

/** `mitigator block`, recorded at `at`. */
export const blockRequested = (at: string, input: OperatorBlockInput = {}): Step => {
  const ttl = input.ttl ?? "1d"
  const payload: BlockRequested = {
    target: input.target ?? "loadmaster:global",
    subject: input.subject ?? { kind: "ip", cidr: input.cidr ?? "192.0.2.31/32" },
    until: input.until !== undefined ? iso(input.until) : plus(iso(at), ttl),
    ttl,
    actor: input.actor ?? "alice",
    reason: input.reason ?? "ticket 4711"
  }
  return step(at, "BlockRequested", payload)
}

/** `mitigator unblock`, recorded at `at` (every target unless one is named). */
export const unblockRequested = (
  at: string,
  input: { readonly cidr: string; readonly target?: string | null; readonly actor?: string; readonly reason?: string }
): Step => {
  const payload: UnblockRequested = {
    cidr: input.cidr,
    target: input.target ?? null,
    actor: input.actor ?? "alice",
    reason: input.reason ?? "false positive"
  }
  return step(at, "UnblockRequested", payload)
}

/** `mitigator allow`, recorded at `at` (for good unless `until` is given). */
export const allowRequested = (
  at: string,
  input: { readonly cidr: string; readonly until?: string | null; readonly actor?: string; readonly reason?: string }
): Step => {
  const payload: AllowRequested = {
    cidr: input.cidr,
    until: input.until === undefined || input.until === null ? null : iso(input.until),
    actor: input.actor ?? "alice",
    reason: input.reason ?? "monitoring host"
  }
  return step(at, "AllowRequested", payload)
}

/** A `PolicyActivated` for `p`, recorded at `at`. */
export const policyActivated = (at: string, p: Policy): Step => {
  const payload: PolicyActivated = { hash: policyHash(p), policy: p, source: "/etc/mitigator/config.yaml" }
  return step(at, "PolicyActivated", payload)
}

/** A policy whose only content is this allowlist. */
export const allowlistPolicy = (entries: ReadonlyArray<{ readonly cidr: string; readonly until?: string | null }>): Policy =>
  policy({ allowlist: entries.map((e) => ({ cidr: e.cidr, until: e.until === undefined || e.until === null ? null : iso(e.until) })) })

// ---------------------------------------------------------------------------------------------
// given … at …

/** Numbers the steps seq 1, 2, … (flattening arrays); recording times must not go backwards. */
export const logOf = (...steps: ReadonlyArray<Step | ReadonlyArray<Step>>): LoggedEvent[] => {
  const flat = steps.flat() as Step[]
  let previous = ""
  return flat.map((s, i) => {
    if (s.at < previous) throw new Error(`step ${i + 1} (${s.type}) is recorded at ${s.at}, before ${previous}`)
    previous = s.at
    return { seq: i + 1, recordedAt: s.at, type: s.type, payload: s.payload }
  })
}

export interface Given {
  readonly events: ReadonlyArray<LoggedEvent>
  /** the desired state at `time` (the projection of the whole log) */
  at(time: string): DesiredState
  /** the fold state, for evolving further */
  fold(): ProjectionState
}

export const given = (...steps: ReadonlyArray<Step | ReadonlyArray<Step>>): Given => {
  const events = logOf(...steps)
  return {
    events,
    at: (time) => project(events, iso(time)),
    fold: () => events.reduce(evolve, initialState())
  }
}

/** The incremental form: evolve one state and evaluate after each event. */
export const incrementally = (events: ReadonlyArray<LoggedEvent>, evaluateAt: (e: LoggedEvent) => string): DesiredState[] => {
  const state = initialState()
  return events.map((e) => desiredAt(evolve(state, e), evaluateAt(e)))
}

// ---------------------------------------------------------------------------------------------
// Reading the desired state

/** `target cidr` of every IP block, in output order. */
export const blockKeys = (state: DesiredState): string[] => state.ipBlocks.map((b) => `${b.target} ${b.cidr}`)

export const blockOn = (state: DesiredState, target: string, cidr: string) =>
  state.ipBlocks.find((b) => b.target === target && b.cidr === cidr)

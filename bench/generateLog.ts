/**
 * Builds a realistic event log for the fold benchmark through the real write path (the same
 * transaction, decider and escalation lookups `append` uses), with recording times spread over
 * the days before `endsAt` (now by default; 30 days by default; a clock set forward by hand), so
 * that most blocks have expired by then, as on a real appliance.
 *
 * Mix: detections from `sources` distinct addresses; 40% SSH brute force (two actions), 60% scans
 * (one action); escalation on; a few operator commands. About `events` rows in all (2.4 per detection).
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { activateIfChanged, activePolicy, recordDecisions } from "../src/commands/decisions.js"
import type { BlockSubject, FlowmonEventReceived, NewEvent } from "../src/domain/Events.js"
import type { Policy } from "../src/domain/Policy.js"
import { EventLog } from "../src/eventlog/EventLog.js"
import * as SqliteEventLog from "../src/eventlog/SqliteEventLog.js"

const DAY = 86_400_000

/**
 * A clock the generator sets by hand. Not TestClock: its setTime waits for other fibers through
 * real timers, a few ms per transaction, which made generating a log mostly idle time (~4,300
 * transactions for 30 days). Sleeps (busy retries) stay real.
 */
const settableClock = () => {
  let now = Date.now() // until the first transaction sets it (opening the log, migrating it)
  const live = Clock.make()
  const clock: Clock.Clock = {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => now,
    currentTimeMillis: Effect.sync(() => now),
    unsafeCurrentTimeNanos: () => BigInt(now) * 1_000_000n,
    currentTimeNanos: Effect.sync(() => BigInt(now) * 1_000_000n),
    sleep: (duration) => live.sleep(duration)
  }
  return { clock, set: (ms: number) => void (now = ms) }
}

const policy: Policy = {
  rules: [
    {
      name: "brute-force",
      match: { product: "ads", methods: ["SSHDICT"], perspectives: null, minPriority: "HIGH", dataFeeds: null },
      actions: [
        { target: "loadmaster:global", ttl: "6h" },
        { target: "loadmaster:vs:1", ttl: "6h" }
      ]
    },
    {
      name: "scans",
      match: { product: "ads", methods: ["SCANS"], perspectives: null, minPriority: null, dataFeeds: null },
      actions: [{ target: "loadmaster:global", ttl: "1h" }]
    }
  ],
  escalation: { window: "7d", factor: 2, maxTtl: "30d" },
  allowlist: [{ cidr: "10.0.0.0/8", until: null }],
  caps: { maxAddsPerPass: 500, maxRemovesPerPass: 500, maxActivePerTarget: 10_000 }
}

const sourceAddress = (i: number) => `198.${18 + ((i >> 16) & 1)}.${(i >> 8) & 255}.${i & 255}`

const detection = (i: number, sources: number, at: string): FlowmonEventReceived => {
  const brute = i % 5 < 2
  const source = sourceAddress((i * 7919) % sources)
  return {
    cef: null,
    dataFeed: "LAN",
    description: brute ? "SSH attack" : "Port scanning",
    detail: "Attack from a single attacker has been detected.",
    detectedAt: at,
    eventId: String(i + 1),
    firstFlowAt: at,
    format: "tsv15",
    ids: null,
    instance: "bench",
    method: brute ? "SSHDICT" : "SCANS",
    mitre: null,
    perspective: "Security issues",
    ports: "22",
    priority: "HIGH",
    product: "ads",
    protocol: "6",
    raw: `${i + 1}\t…`,
    severity: "High",
    signature: null,
    source,
    sourceName: "",
    subtype: null,
    targets: ["203.0.113.10"],
    userIdentity: ""
  }
}

export const generateLog = (
  filename: string,
  options: { readonly events: number; readonly sources: number; readonly days?: number; readonly endsAt?: number }
) => {
  const time = settableClock()
  return Effect.gen(function* () {
    const log = yield* EventLog
    const active = activePolicy(policy, "bench/generateLog.ts")
    // 2.4 rows per detection on average (the detection, 1.4 decisions).
    const detections = Math.ceil(options.events / 2.4)
    const days = options.days ?? 30
    const start = (options.endsAt ?? Date.now()) - days * DAY
    const step = (days * DAY) / detections
    // One transaction (one recording time) per ~10 simulated minutes.
    const batch = Math.max(1, Math.min(2000, Math.floor(600_000 / step)))
    let written = 0
    for (let first = 0; first < detections; first += batch) {
      time.set(Math.floor(start + first * step))
      const count = Math.min(batch, detections - first)
      written += yield* log.transaction((tx) =>
        Effect.gen(function* () {
          let rows = (yield* activateIfChanged(tx, active)) ? 1 : 0
          const payloads = Array.from({ length: count }, (_, k) => detection(first + k, options.sources, tx.recordedAt))
          const events: NewEvent[] = payloads.map((p) => ({ type: "FlowmonEventReceived", dedupeKey: `ads:bench:${p.eventId}`, payload: p }))
          if (Math.floor(first / 100_000) !== Math.floor((first + count) / 100_000)) {
            events.push({
              type: "BlockRequested",
              dedupeKey: null,
              payload: {
                target: "loadmaster:global",
                subject: { kind: "ip", cidr: "192.0.2.0/24" },
                until: new Date(Date.parse(tx.recordedAt) + 2 * DAY).toISOString(),
                ttl: "2d",
                actor: "bench",
                reason: "operator block"
              }
            })
          }
          const outcomes = yield* tx.append(events)
          rows += outcomes.length
          const stored = outcomes.flatMap((o, k) => (o._tag === "Stored" && k < payloads.length ? [{ seq: o.seq, event: payloads[k]! }] : []))
          rows += (yield* recordDecisions(tx, active, stored)).decided.length
          return rows
        })
      )
    }
    return written
  }).pipe(Effect.provide(SqliteEventLog.layer({ filename, create: true })), Effect.withClock(time.clock))
}

/** `count` one-day operator blocks, the i-th on `target` for `subject(i)`, in one transaction. */
const requestOperatorBlocks = (filename: string, count: number, target: string, subject: (i: number) => BlockSubject, reason: string) =>
  Effect.gen(function* () {
    const log = yield* EventLog
    yield* log.transaction((tx) =>
      tx.append(
        Array.from({ length: count }, (_, i): NewEvent => ({
          type: "BlockRequested",
          dedupeKey: null,
          payload: {
            target,
            subject: subject(i),
            until: new Date(Date.parse(tx.recordedAt) + DAY).toISOString(),
            ttl: "1d",
            actor: "bench",
            reason
          }
        }))
      )
    )
  }).pipe(Effect.provide(SqliteEventLog.layer({ filename, create: true })))

/** `count` operator blocks of distinct addresses on LoadMaster's global list, in one transaction. */
export const requestBlocks = (filename: string, count: number) =>
  requestOperatorBlocks(filename, count, "loadmaster:global", (i) => ({ kind: "ip", cidr: `${sourceAddress(i)}/32` }), "convergence benchmark")

/** `count` operator blocks of "the user behind" distinct addresses (CryptoSpike), seen at `at`. */
export const requestUserBlocks = (filename: string, count: number, at: string) =>
  requestOperatorBlocks(filename, count, "cryptospike", (i) => ({ kind: "userBehindIp", ip: sourceAddress(i), at, userIdentity: "" }), "user-block benchmark")

export { sourceAddress }

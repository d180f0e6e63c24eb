/** Random events of every type the projection folds, for property tests of the fold. */
import * as fc from "effect/FastCheck"
import type { LoggedEvent } from "../../src/domain/Project.js"

export const T0 = Date.parse("2026-01-05T08:00:00.000Z")
export const MINUTE = 60_000
export const iso = (ms: number) => new Date(ms).toISOString()

const cidrs = ["192.0.2.1/32", "192.0.2.2/32", "192.0.2.0/24", "198.51.100.7/32", "2001:db8::1/128", "10.0.0.0/8"]
const users = ["S-1-5-21-1-1001", "S-1-5-21-1-1002"]
const targets = ["loadmaster:global", "loadmaster:vs:3", "cryptospike"] as const

/** One event of any type the projection folds, recorded at `at` as `seq`. */
export const anyEvent = fc.record({
  kind: fc.integer({ min: 0, max: 12 }),
  cidr: fc.constantFrom(...cidrs),
  user: fc.constantFrom(...users),
  target: fc.constantFrom(...targets),
  ttlMin: fc.integer({ min: 1, max: 600 }),
  flag: fc.boolean()
})

export const payloadOf = (e: typeof anyEvent extends fc.Arbitrary<infer A> ? A : never, seq: number, at: number): Pick<LoggedEvent, "type" | "payload"> => {
  const host = e.cidr.replace(/\/\d+$/, "")
  const lm = e.target === "cryptospike" ? "loadmaster:global" : e.target
  const until = iso(at + e.ttlMin * MINUTE)
  const cause = { seq, product: "ads", instance: "fm1", eventId: String(seq), method: "SSHDICT", source: host, detectedAt: iso(at) }
  const subject = e.target === "cryptospike" ? { kind: "userBehindIp", ip: host, at: iso(at - 5 * MINUTE), userIdentity: "" } : { kind: "ip", cidr: e.cidr }
  switch (e.kind) {
    case 0:
    case 1:
      return { type: "BlockDecided", payload: { target: e.target, subject, until, ttl: `${e.ttlMin}m`, rule: "r", offence: 1, policyHash: "h", cause } }
    case 2:
      return { type: "BlockRequested", payload: { target: e.target, subject, until, ttl: `${e.ttlMin}m`, actor: "alice", reason: "why" } }
    case 3:
      return { type: "UnblockRequested", payload: { cidr: e.cidr, target: e.flag ? null : e.target, actor: "alice", reason: "fp" } }
    case 4:
      return { type: "AllowRequested", payload: { cidr: e.cidr, until: e.flag ? null : until, actor: "alice", reason: "ok" } }
    case 5:
      return {
        type: "PolicyActivated",
        payload: {
          hash: `p${seq}`,
          policy: { rules: [], escalation: null, allowlist: e.flag ? [{ cidr: e.cidr, until }] : [], caps: { maxAddsPerPass: 1, maxRemovesPerPass: 1, maxActivePerTarget: 1 }, ...(e.flag ? {} : { neverBlock: [e.cidr] }) },
          source: "c.yaml"
        }
      }
    case 6:
      return { type: "TargetChanged", payload: { target: lm, cidr: e.cidr, op: e.flag ? "add" : "remove", listed: e.cidr, comment: `mitigator fm1 ${seq} ads X`, causeSeq: seq } }
    case 7:
      return { type: "DriftObserved", payload: { target: lm, cidr: e.cidr, kind: e.flag ? "adopted" : "missing", repair: false, listed: e.cidr, ...(e.flag ? { comment: "c" } : {}) } }
    case 8:
      return e.flag
        ? { type: "OwnershipLost", payload: { target: lm, cidr: e.cidr, userId: null, holder: "someone else", comment: "admin" } }
        : { type: "OwnershipLost", payload: { target: "cryptospike", cidr: null, userId: e.user, holder: "CryptoSpike", comment: "" } }
    case 9:
      return { type: "UserResolved", payload: { ip: host, at: iso(at - 5 * MINUTE), userId: e.user, userName: "u", userPrincipalName: "u@x", via: "file-activity" } }
    case 10:
      return { type: "UserResolutionFailed", payload: { ip: host, at: iso(at - 5 * MINUTE), reason: e.flag ? "unknown" : "ambiguous", candidates: [] } }
    case 11:
      return { type: "UserBlockChanged", payload: { userId: e.user, op: e.flag ? "block" : "unblock", comment: `mitigator seq=${seq}: x`, causeSeq: seq } }
    default:
      return { type: "UserBlockLifted", payload: { userId: e.user, repair: e.flag } }
  }
}

export const randomLog = fc.array(fc.tuple(fc.integer({ min: 0, max: 120 }), anyEvent), { minLength: 1, maxLength: 40 }).map((drafts) => {
  let at = T0
  return drafts.map(([gap, e], i): LoggedEvent => {
    at += gap * MINUTE
    return { seq: i + 1, recordedAt: iso(at), ...payloadOf(e, i + 1, at) }
  })
})


import { describe, expect, it } from "@effect/vitest"
import * as fc from "effect/FastCheck"
import { compareCidr, contains, overlaps, parseCidr, type Cidr } from "../../src/domain/Cidr.js"
import type { BlockSubject } from "../../src/domain/Events.js"
import { desiredAt, evolve, initialState, project, type DesiredState, type LoggedEvent } from "../../src/domain/Project.js"
import {
  adsEvent,
  allowlistPolicy,
  allowRequested,
  blockDecided,
  blockKeys,
  blockOn,
  blockRequested,
  decideAt,
  decided,
  decisions,
  given,
  incrementally,
  iso,
  logOf,
  minus,
  plus,
  policy,
  policyActivated,
  rule,
  step,
  unblockRequested
} from "../support/scenario.js"

const T = iso("2025-11-03T10:00:00Z")
const GLOBAL = "loadmaster:global"
const VS3 = "loadmaster:vs:3"

const cidr = (text: string): Cidr => {
  const parsed = parseCidr(text)
  if (!parsed.ok) throw new Error(parsed.error)
  return parsed.value
}

/** How many IPv4 addresses the blocks cover together. */
const size = (blocks: ReadonlyArray<{ readonly cidr: string }>) => blocks.reduce((n, b) => n + 2 ** (32 - cidr(b.cidr).prefix), 0)

describe("projection: a single decision", () => {
  it("given one decision, then its address is blocked on its target until the decision's until", () => {
    const state = given(decided(T, { cidr: "192.0.2.31/32", ttl: "6h", rule: "ssh", cause: { eventId: "1001", seq: 1 } })).at(
      plus(T, "1h")
    )
    expect(state.asOf).toBe(plus(T, "1h"))
    expect(state.ipBlocks).toEqual([
      {
        target: GLOBAL,
        cidr: "192.0.2.31/32",
        until: plus(T, "6h"),
        splitFrom: null,
        reasons: [
          {
            kind: "decision",
            seq: 1,
            until: plus(T, "6h"),
            rule: "ssh",
            offence: 1,
            cause: {
              seq: 1,
              product: "ads",
              instance: "fm01",
              eventId: "1001",
              method: "SSHDICT",
              source: "192.0.2.31",
              detectedAt: "2025-11-03T15:12:40.000Z"
            }
          }
        ]
      }
    ])
    expect(state.suppressed).toEqual([])
    expect(state.pendingUserBlocks).toEqual([])
    expect(state.counts).toEqual({ [GLOBAL]: 1 })
  })

  it("given nothing recorded, then nothing is blocked", () => {
    const state = given().at(T)
    expect(state.ipBlocks).toEqual([])
    expect(state.counts).toEqual({})
    expect(state.policyHash).toBeNull()
  })

  it("a block is in force until 1 ms before its until, and gone exactly at its until", () => {
    const g = given(decided(T, { cidr: "192.0.2.31/32", ttl: "6h" }))
    const until = plus(T, "6h")
    expect(blockKeys(g.at(minus(until, 1)))).toEqual([`${GLOBAL} 192.0.2.31/32`])
    expect(blockKeys(g.at(until))).toEqual([])
    expect(blockKeys(g.at(plus(until, "30d")))).toEqual([])
  })

  it("expiry is an absolute time: the fold evaluated later never revives an expired block", () => {
    const g = given(decided(T, { ttl: "1h" }), decided(plus(T, "2h"), { cidr: "192.0.2.99/32", ttl: "1h" }))
    expect(blockKeys(g.at(plus(T, "2h")))).toEqual([`${GLOBAL} 192.0.2.99/32`])
  })
})

describe("projection: overlapping blocks on the same target and CIDR", () => {
  const g = given(
    decided(T, { cidr: "192.0.2.31/32", ttl: "1d", rule: "long" }),
    decided(plus(T, "1h"), { cidr: "192.0.2.31/32", ttl: "6h", rule: "short", offence: 2 })
  )

  it("the longest wins: a shorter later decision does not shorten the block", () => {
    const state = g.at(plus(T, "2h"))
    expect(state.ipBlocks).toHaveLength(1)
    expect(state.ipBlocks[0]!.until).toBe(plus(T, "1d"))
  })

  it("the reasons list every contribution in force, in seq order, with kind, rule and cause", () => {
    const block = g.at(plus(T, "2h")).ipBlocks[0]!
    expect(block.reasons.map((r) => [r.kind, r.seq, r.until])).toEqual([
      ["decision", 1, plus(T, "1d")],
      ["decision", 2, plus(T, "7h")]
    ])
    expect(block.reasons.map((r) => (r.kind === "decision" ? [r.rule, r.offence, r.cause.source] : null))).toEqual([
      ["long", 1, "192.0.2.31"],
      ["short", 2, "192.0.2.31"]
    ])
  })

  it("once the shorter contribution expires, only the longer one is listed", () => {
    const block = g.at(plus(T, "7h")).ipBlocks[0]!
    expect(block.until).toBe(plus(T, "1d"))
    expect(block.reasons.map((r) => r.seq)).toEqual([1])
  })

  it("a contribution that expired is forgotten without losing the ones still in force", () => {
    const state = given(
      decided(T, { ttl: "1d", rule: "long" }),
      decided(T, { ttl: "1h", rule: "short" }),
      decided(plus(T, "2h"), { ttl: "1h", rule: "again" })
    ).at(plus(T, "2h"))
    expect(state.ipBlocks.map((b) => [b.until, b.reasons.map((r) => r.seq)])).toEqual([[plus(T, "1d"), [1, 3]]])
  })

  it("a longer later decision extends the block", () => {
    const state = given(decided(T, { ttl: "6h" }), decided(plus(T, "5h"), { ttl: "6h" })).at(plus(T, "10h"))
    expect(state.ipBlocks.map((b) => b.until)).toEqual([plus(T, "11h")])
  })

  it("the same address on two targets is two blocks", () => {
    const state = given(decided(T, { target: GLOBAL }), decided(T, { target: VS3, ttl: "1d" })).at(plus(T, "1h"))
    expect(state.ipBlocks.map((b) => [b.target, b.cidr, b.until])).toEqual([
      [GLOBAL, "192.0.2.31/32", plus(T, "6h")],
      [VS3, "192.0.2.31/32", plus(T, "1d")]
    ])
    expect(state.counts).toEqual({ [GLOBAL]: 1, [VS3]: 1 })
  })
})

describe("projection: unblock", () => {
  it("an unblock on every target (target null) ends the blocks inside its CIDR everywhere", () => {
    const state = given(
      decided(T, { cidr: "192.0.2.31/32", target: GLOBAL }),
      decided(T, { cidr: "192.0.2.31/32", target: VS3 }),
      decided(T, { cidr: "198.51.100.9/32", target: GLOBAL }),
      unblockRequested(plus(T, "1h"), { cidr: "192.0.2.0/24", target: null })
    ).at(plus(T, "1h"))
    expect(blockKeys(state)).toEqual([`${GLOBAL} 198.51.100.9/32`])
  })

  it("an unblock on one target leaves the other targets blocked", () => {
    const state = given(
      decided(T, { target: GLOBAL }),
      decided(T, { target: VS3 }),
      unblockRequested(plus(T, "1h"), { cidr: "192.0.2.31/32", target: VS3 })
    ).at(plus(T, "1h"))
    expect(blockKeys(state)).toEqual([`${GLOBAL} 192.0.2.31/32`])
  })

  it("an unblock ends only blocks inside its CIDR: a wider block around it stays", () => {
    const state = given(
      blockRequested(T, { cidr: "192.0.2.0/24" }),
      decided(T, { cidr: "192.0.2.31/32" }),
      unblockRequested(plus(T, "1h"), { cidr: "192.0.2.31/32" })
    ).at(plus(T, "1h"))
    expect(blockKeys(state)).toEqual([`${GLOBAL} 192.0.2.0/24`])
  })

  it("a later decision blocks again, with only the new contribution as its reason", () => {
    const state = given(
      decided(T, { ttl: "1d" }),
      unblockRequested(plus(T, "1h"), { cidr: "192.0.2.31/32" }),
      decided(plus(T, "2h"), { ttl: "6h" })
    ).at(plus(T, "3h"))
    expect(state.ipBlocks.map((b) => [b.cidr, b.until, b.reasons.map((r) => r.seq)])).toEqual([
      ["192.0.2.31/32", plus(T, "8h"), [3]]
    ])
  })

  it("an unblock ends the pending user blocks of addresses inside it (every target, or CryptoSpike)", () => {
    const userBlock = (at: string) =>
      decided(at, {
        target: "cryptospike",
        subject: { kind: "userBehindIp", ip: "192.0.2.31", at: "2025-11-03T09:59:00.000Z", userIdentity: "jdoe" }
      })
    expect(given(userBlock(T), unblockRequested(T, { cidr: "192.0.2.0/24" })).at(T).pendingUserBlocks).toEqual([])
    expect(
      given(userBlock(T), unblockRequested(T, { cidr: "192.0.2.31/32", target: "cryptospike" })).at(T).pendingUserBlocks
    ).toEqual([])
    expect(
      given(userBlock(T), unblockRequested(T, { cidr: "192.0.2.31/32", target: GLOBAL })).at(T).pendingUserBlocks
    ).toHaveLength(1)
  })
})

describe("projection: operator blocks", () => {
  it("an operator block carries its actor and reason", () => {
    const state = given(blockRequested(T, { cidr: "192.0.2.31/32", ttl: "2d", actor: "bob", reason: "INC-1" })).at(T)
    expect(state.ipBlocks).toEqual([
      {
        target: GLOBAL,
        cidr: "192.0.2.31/32",
        until: plus(T, "2d"),
        splitFrom: null,
        reasons: [{ kind: "operator", seq: 1, until: plus(T, "2d"), actor: "bob", reason: "INC-1" }]
      }
    ])
  })

  it("an operator can block a whole network (/24), kept as one block", () => {
    const state = given(blockRequested(T, { cidr: "198.51.100.0/24", target: VS3 })).at(T)
    expect(blockKeys(state)).toEqual([`${VS3} 198.51.100.0/24`])
  })

  it("an operator block and a decision on the same address are one block with both reasons", () => {
    const state = given(decided(T, { ttl: "6h" }), blockRequested(plus(T, "1h"), { ttl: "1d", actor: "bob" })).at(plus(T, "1h"))
    expect(state.ipBlocks).toHaveLength(1)
    expect(state.ipBlocks[0]!.until).toBe(plus(T, "25h"))
    expect(state.ipBlocks[0]!.reasons.map((r) => r.kind)).toEqual(["decision", "operator"])
  })
})

describe("projection: allow", () => {
  it("a CIDR allow containing a blocked address suppresses the block, and says which allow did", () => {
    const state = given(
      decided(T, { cidr: "192.0.2.31/32", ttl: "6h" }),
      allowRequested(plus(T, "1h"), { cidr: "192.0.2.0/24" })
    ).at(plus(T, "1h"))
    expect(state.ipBlocks).toEqual([])
    expect(state.suppressed).toEqual([
      {
        target: GLOBAL,
        cidr: "192.0.2.31/32",
        until: plus(T, "6h"),
        allowedBy: { cidr: "192.0.2.0/24", until: null, source: "operator" }
      }
    ])
    expect(state.counts).toEqual({})
  })

  it("an allow recorded before the block protects as well", () => {
    const state = given(allowRequested(T, { cidr: "192.0.2.31/32" }), decided(plus(T, "1h"))).at(plus(T, "1h"))
    expect(state.ipBlocks).toEqual([])
    expect(state.suppressed.map((s) => s.cidr)).toEqual(["192.0.2.31/32"])
  })

  describe("an address allow inside a blocked /24", () => {
    const state = given(
      blockRequested(T, { cidr: "192.0.2.0/24", ttl: "1d" }),
      allowRequested(plus(T, "1h"), { cidr: "192.0.2.7/32" })
    ).at(plus(T, "1h"))

    it("splits the /24: the pieces carry splitFrom = the /24 and the /24's until and reasons", () => {
      expect(state.ipBlocks.length).toBe(8)
      for (const piece of state.ipBlocks) {
        expect(piece.splitFrom).toBe("192.0.2.0/24")
        expect(piece.until).toBe(plus(T, "1d"))
        expect(piece.reasons.map((r) => r.seq)).toEqual([1])
        expect(contains(cidr("192.0.2.0/24"), cidr(piece.cidr))).toBe(true)
      }
      expect(state.suppressed).toEqual([])
    })

    it("no piece contains the allowed address, and every other address of the /24 stays blocked", () => {
      const allowed = cidr("192.0.2.7/32")
      for (const piece of state.ipBlocks) expect(contains(cidr(piece.cidr), allowed)).toBe(false)
      expect(size(state.ipBlocks)).toBe(255)
      for (let host = 0; host < 256; host++) {
        if (host === 7) continue
        const address = cidr(`192.0.2.${host}`)
        expect(state.ipBlocks.filter((b) => contains(cidr(b.cidr), address))).toHaveLength(1)
      }
    })

    it("the pieces are the fewest blocks, in address order", () => {
      expect(state.ipBlocks.map((b) => b.cidr)).toEqual([
        "192.0.2.0/30",
        "192.0.2.4/31",
        "192.0.2.6/32",
        "192.0.2.8/29",
        "192.0.2.16/28",
        "192.0.2.32/27",
        "192.0.2.64/26",
        "192.0.2.128/25"
      ])
    })
  })

  it("two allowed addresses inside a /24 are both cut out", () => {
    const state = given(
      blockRequested(T, { cidr: "192.0.2.0/24" }),
      allowRequested(T, { cidr: "192.0.2.7/32" }),
      allowRequested(T, { cidr: "192.0.2.200/32" })
    ).at(T)
    expect(size(state.ipBlocks)).toBe(254)
    for (const allowed of ["192.0.2.7", "192.0.2.200"]) {
      for (const b of state.ipBlocks) expect(contains(cidr(b.cidr), cidr(allowed))).toBe(false)
    }
  })

  it("an allow with an until stops protecting after it", () => {
    const g = given(
      decided(T, { ttl: "1d" }),
      allowRequested(plus(T, "1h"), { cidr: "192.0.2.31/32", until: plus(T, "3h") })
    )
    expect(blockKeys(g.at(plus(T, "2h")))).toEqual([])
    expect(g.at(plus(T, "2h")).suppressed[0]!.allowedBy).toEqual({
      cidr: "192.0.2.31/32",
      until: plus(T, "3h"),
      source: "operator"
    })
    expect(blockKeys(g.at(plus(T, "3h")))).toEqual([`${GLOBAL} 192.0.2.31/32`])
    expect(g.at(plus(T, "3h")).suppressed).toEqual([])
  })

  it("an expired allow no longer splits a network block", () => {
    const g = given(
      blockRequested(T, { cidr: "192.0.2.0/24", ttl: "1d" }),
      allowRequested(T, { cidr: "192.0.2.7/32", until: plus(T, "1h") })
    )
    expect(blockKeys(g.at(plus(T, "1h")))).toEqual([`${GLOBAL} 192.0.2.0/24`])
  })

  it("the policy's allowlist suppresses blocks too, named as the policy's", () => {
    const state = given(
      policyActivated(T, allowlistPolicy([{ cidr: "192.0.2.31/32" }])),
      decided(T, { cidr: "192.0.2.31/32" })
    ).at(T)
    expect(state.ipBlocks).toEqual([])
    expect(state.suppressed.map((s) => s.allowedBy)).toEqual([{ cidr: "192.0.2.31/32", until: null, source: "policy" }])
  })

  it("the allowlist of the last PolicyActivated is the one applied", () => {
    const g = given(
      policyActivated(T, allowlistPolicy([{ cidr: "192.0.2.0/24" }])),
      decided(T, { cidr: "192.0.2.31/32", ttl: "1d" }),
      policyActivated(plus(T, "1h"), allowlistPolicy([{ cidr: "198.51.100.0/24" }]))
    )
    const state = g.at(plus(T, "1h"))
    expect(blockKeys(state)).toEqual([`${GLOBAL} 192.0.2.31/32`])
    expect(state.policyHash).toBe((g.events[2]!.payload as { hash: string }).hash)
  })

  it("a policy allowlist entry with an until stops protecting after it", () => {
    const g = given(
      policyActivated(T, allowlistPolicy([{ cidr: "192.0.2.31/32", until: plus(T, "2h") }])),
      decided(T, { ttl: "1d" })
    )
    expect(blockKeys(g.at(plus(T, "1h")))).toEqual([])
    expect(blockKeys(g.at(plus(T, "2h")))).toEqual([`${GLOBAL} 192.0.2.31/32`])
  })
})

describe("projection: the allowlist lifts blocks already in force", () => {
  it("given a block in force, when a policy adding its address is activated, then the block is lifted", () => {
    const g = given(
      policyActivated(T, policy()),
      decided(T, { cidr: "192.0.2.31/32", ttl: "1d" }),
      policyActivated(plus(T, "1h"), allowlistPolicy([{ cidr: "192.0.2.0/27" }]))
    )
    const after = g.at(plus(T, "1h"))
    expect(blockKeys(after)).toEqual([])
    expect(after.suppressed.map((s) => [s.cidr, s.allowedBy.cidr, s.allowedBy.source])).toEqual([
      ["192.0.2.31/32", "192.0.2.0/27", "policy"]
    ])
  })

  it("before the new policy is recorded, the block is in force", () => {
    const g = given(policyActivated(T, policy()), decided(T, { cidr: "192.0.2.31/32", ttl: "1d" }))
    expect(blockKeys(g.at(plus(T, "30m")))).toEqual([`${GLOBAL} 192.0.2.31/32`])
  })
})

describe("projection: IPv6", () => {
  it("IPv6 blocks are kept by canonical CIDR and listed after the IPv4 ones", () => {
    const state = given(
      decided(T, { cidr: "2001:db8::a1/128" }),
      blockRequested(T, { cidr: "2001:db8:1::/48" }),
      decided(T, { cidr: "192.0.2.31/32" })
    ).at(T)
    expect(blockKeys(state)).toEqual([`${GLOBAL} 192.0.2.31/32`, `${GLOBAL} 2001:db8::a1/128`, `${GLOBAL} 2001:db8:1::/48`])
  })

  it("an IPv6 allow inside a blocked IPv6 network splits it", () => {
    const state = given(blockRequested(T, { cidr: "2001:db8::/126" }), allowRequested(T, { cidr: "2001:db8::2/128" })).at(T)
    expect(state.ipBlocks.map((b) => [b.cidr, b.splitFrom])).toEqual([
      ["2001:db8::/127", "2001:db8::/126"],
      ["2001:db8::3/128", "2001:db8::/126"]
    ])
  })

  it("an IPv4 allow never touches IPv6 blocks", () => {
    const state = given(decided(T, { cidr: "2001:db8::c000:21f/128" }), allowRequested(T, { cidr: "0.0.0.0/0" })).at(T)
    expect(blockKeys(state)).toEqual([`${GLOBAL} 2001:db8::c000:21f/128`])
  })

  it("given an old log that decided an IPv4-mapped address, then the block is the IPv4 address's, and an IPv4 allow lifts it", () => {
    const old = given(decided(T, { cidr: "::ffff:192.0.2.31/128" })).at(T)
    expect(blockKeys(old)).toEqual([`${GLOBAL} 192.0.2.31/32`])
    const allowed = given(decided(T, { cidr: "::ffff:192.0.2.31/128" }), allowRequested(T, { cidr: "192.0.2.0/24" })).at(T)
    expect(blockKeys(allowed)).toEqual([])
  })
})

describe("projection: a policy change between two detections", () => {
  it("decisions made under the old policy keep their ttl; new ones get the new policy's", () => {
    const old = policy({ rules: [rule("ssh", {}, [[GLOBAL, "30d"]])] })
    const next = policy({ rules: [rule("ssh", {}, [[GLOBAL, "1h"]])] })
    const later = plus(T, "1d")
    const g = given(
      policyActivated(T, old),
      decisions(T, decideAt(old, adsEvent({ source: "192.0.2.31" }), T, { seq: 2 })),
      policyActivated(later, next),
      step(later, "FlowmonEventReceived", adsEvent({ source: "192.0.2.32", eventId: "1002" })),
      decisions(later, decideAt(next, adsEvent({ source: "192.0.2.32", eventId: "1002" }), later, { seq: 4 }))
    )
    const state = g.at(plus(later, "30m"))
    expect(state.ipBlocks.map((b) => [b.cidr, b.until])).toEqual([
      ["192.0.2.31/32", plus(T, "30d")],
      ["192.0.2.32/32", plus(later, "1h")]
    ])
    expect(blockKeys(g.at(plus(later, "2h")))).toEqual([`${GLOBAL} 192.0.2.31/32`])
  })

  it("event types the projection does not use leave the state as it is", () => {
    const g = given(
      decided(T),
      step(T, "FlowmonEventReceived", adsEvent()),
      step(T, "InputRejected", { reason: "bad" }),
      step(T, "SomethingNew", {})
    )
    expect(blockKeys(g.at(T))).toEqual([`${GLOBAL} 192.0.2.31/32`])
  })
})

describe("projection: pending user blocks (CryptoSpike)", () => {
  const p = policy({ rules: [rule("ransomware", {}, [["cryptospike", "2h"], [GLOBAL, "6h"]])] })
  const event = adsEvent({ source: "192.0.2.31", userIdentity: "jdoe@example.test", detectedAt: iso("2025-11-03T09:58:00Z") })
  const g = given(step(T, "FlowmonEventReceived", event), decisions(T, decideAt(p, event, T, { seq: 1 })))

  it("a decision on the user behind an address waits for the user to be resolved", () => {
    const state = g.at(plus(T, "1h"))
    expect(state.userBlocks).toEqual([])
    expect(state.pendingUserBlocks).toHaveLength(1)
    expect(state.pendingUserBlocks[0]).toMatchObject({
      ip: "192.0.2.31",
      at: "2025-11-03T09:58:00.000Z",
      userIdentity: "jdoe@example.test",
      until: plus(T, "2h")
    })
    expect(state.pendingUserBlocks[0]!.reasons.map((r) => [r.kind, r.seq])).toEqual([["decision", 2]])
    expect(state.counts).toEqual({ [GLOBAL]: 1, "cryptospike (pending user)": 1 })
    expect(blockKeys(state)).toEqual([`${GLOBAL} 192.0.2.31/32`])
  })

  it("it disappears when it expires", () => {
    const state = g.at(plus(T, "2h"))
    expect(state.pendingUserBlocks).toEqual([])
    expect(state.counts).toEqual({ [GLOBAL]: 1 })
  })

  it("it disappears on unblock", () => {
    const state = given(g.events.map((e) => step(e.recordedAt, e.type, e.payload)), unblockRequested(plus(T, "1m"), { cidr: "192.0.2.31/32" })).at(
      plus(T, "1m")
    )
    expect(state.pendingUserBlocks).toEqual([])
    expect(state.ipBlocks).toEqual([])
  })

  it("an allowlisted address has no pending user block", () => {
    const state = given(
      g.events.map((e) => step(e.recordedAt, e.type, e.payload)),
      allowRequested(plus(T, "1m"), { cidr: "192.0.2.0/24" })
    ).at(plus(T, "1m"))
    expect(state.pendingUserBlocks).toEqual([])
  })
})

describe("projection: output order and counts", () => {
  it("blocks are sorted by target, then by address (numerically, network before host), and counted per target", () => {
    const state = given(
      decided(T, { cidr: "192.0.2.10/32", target: VS3 }),
      decided(T, { cidr: "192.0.2.9/32", target: VS3 }),
      decided(T, { cidr: "2001:db8::1/128", target: GLOBAL }),
      decided(T, { cidr: "192.0.2.10/32", target: GLOBAL }),
      blockRequested(T, { cidr: "192.0.2.0/24", target: GLOBAL }),
      decided(T, { cidr: "10.0.0.1/32", target: "loadmaster:vs:12" }),
      decided(T, { cidr: "192.0.2.0/32", target: GLOBAL })
    ).at(T)
    expect(blockKeys(state)).toEqual([
      `${GLOBAL} 192.0.2.0/24`,
      `${GLOBAL} 192.0.2.0/32`,
      `${GLOBAL} 192.0.2.10/32`,
      `${GLOBAL} 2001:db8::1/128`,
      "loadmaster:vs:12 10.0.0.1/32",
      `${VS3} 192.0.2.9/32`,
      `${VS3} 192.0.2.10/32`
    ])
    expect(state.counts).toEqual({ [GLOBAL]: 4, "loadmaster:vs:12": 1, [VS3]: 2 })
  })

  it("suppressed blocks are sorted the same way", () => {
    const state = given(
      decided(T, { cidr: "192.0.2.10/32", target: VS3 }),
      decided(T, { cidr: "192.0.2.9/32", target: GLOBAL }),
      decided(T, { cidr: "192.0.2.10/32", target: GLOBAL }),
      allowRequested(T, { cidr: "192.0.2.0/24" })
    ).at(T)
    expect(state.suppressed.map((s) => `${s.target} ${s.cidr}`)).toEqual([
      `${GLOBAL} 192.0.2.9/32`,
      `${GLOBAL} 192.0.2.10/32`,
      `${VS3} 192.0.2.10/32`
    ])
  })
})

describe("projection: determinism", () => {
  const steps = [
    policyActivated(T, allowlistPolicy([{ cidr: "198.51.100.7/32" }])),
    decided(T, { cidr: "192.0.2.31/32", ttl: "6h" }),
    decided(T, { cidr: "2001:db8::a1/128", target: VS3 }),
    blockRequested(T, { cidr: "198.51.100.0/24", ttl: "1d" }),
    decided(plus(T, "1h"), { cidr: "192.0.2.31/32", ttl: "1d", offence: 2 }),
    decided(plus(T, "1h"), {
      target: "cryptospike",
      subject: { kind: "userBehindIp", ip: "192.0.2.31", at: T, userIdentity: "jdoe" }
    }),
    allowRequested(plus(T, "2h"), { cidr: "192.0.2.128/25" }),
    decided(plus(T, "2h"), { cidr: "192.0.2.200/32", ttl: "1d" })
  ]

  it("the same log and the same time give byte-identical JSON", () => {
    const events = logOf(steps)
    const first = JSON.stringify(project(events, plus(T, "3h")))
    const second = JSON.stringify(project(logOf(steps), plus(T, "3h")))
    expect(second).toBe(first)
    expect(JSON.stringify(project(events, plus(T, "3h")))).toBe(first)
  })

  it("the same blocks decided in a different order give the same blocks in the same order", () => {
    const blocks = [
      { cidr: "192.0.2.31/32", target: VS3 },
      { cidr: "2001:db8::a1/128", target: GLOBAL },
      { cidr: "192.0.2.9/32", target: GLOBAL },
      { cidr: "198.51.100.0/24", target: GLOBAL },
      { cidr: "192.0.2.10/32", target: GLOBAL }
    ]
    const shape = (state: DesiredState) => state.ipBlocks.map((b) => [b.target, b.cidr, b.until, b.splitFrom])
    const forwards = given(blocks.map((b) => decided(T, b))).at(T)
    const backwards = given([...blocks].reverse().map((b) => decided(T, b))).at(T)
    expect(shape(backwards)).toEqual(shape(forwards))
    expect(blockKeys(forwards)).toEqual([
      `${GLOBAL} 192.0.2.9/32`,
      `${GLOBAL} 192.0.2.10/32`,
      `${GLOBAL} 198.51.100.0/24`,
      `${GLOBAL} 2001:db8::a1/128`,
      `${VS3} 192.0.2.31/32`
    ])
  })

  it("a piece of a split network that is also blocked on its own does not depend on which was decided first", () => {
    const wide = (at: string) => decided(at, { cidr: "192.0.2.0/24", ttl: "6h" })
    const half = (at: string) => decided(at, { cidr: "192.0.2.128/25", ttl: "1d" })
    const allow = allowRequested(T, { cidr: "192.0.2.7/32" })
    const shape = (state: DesiredState) =>
      state.ipBlocks.map((b) => [b.cidr, b.until, b.splitFrom, b.reasons.map((r) => r.until).sort()])
    const wideFirst = given(wide(T), half(T), allow).at(T)
    const halfFirst = given(half(T), wide(T), allow).at(T)
    expect(shape(halfFirst)).toEqual(shape(wideFirst))
  })
})

// ---------------------------------------------------------------------------------------------
// Property: the incremental fold, the fresh fold and a naive model agree

const TARGETS = [GLOBAL, VS3, "cryptospike"] as const
const HOSTS = [0, 1, 2, 3, 4, 5, 6, 7].map((h) => `198.51.100.${h}/32`)
const V6_HOSTS = ["2001:db8::1/128", "2001:db8::2/128", "2001:db8::5/128"]
const NETWORKS = ["198.51.100.0/30", "198.51.100.4/30", "198.51.100.0/29", "198.51.100.0/24", "2001:db8::/126", "2001:db8::/64"]
const POOL = [...HOSTS, ...V6_HOSTS, ...NETWORKS]
/** Addresses whose coverage the model checks (some only inside the /24 or the /64). */
const PROBES = [...HOSTS, ...V6_HOSTS, "198.51.100.8/32", "198.51.100.200/32", "2001:db8::3/128", "2001:db8::1:0/128"]
const MINUTE = 60_000

type Draft =
  | { readonly type: "BlockDecided" | "BlockRequested"; readonly target: string; readonly cidr: string; readonly ttlMin: number; readonly user: boolean }
  | { readonly type: "UnblockRequested"; readonly cidr: string; readonly target: string | null }
  | { readonly type: "AllowRequested"; readonly cidr: string; readonly forMin: number | null }
  | { readonly type: "PolicyActivated"; readonly allow: ReadonlyArray<{ readonly cidr: string; readonly forMin: number | null }> }

/** Half the time one of a few "hot" blocks, so that contributions pile up on the same key. */
const poolCidr = fc.oneof(fc.constantFrom(...POOL), fc.constantFrom("198.51.100.3/32", "198.51.100.0/30", "2001:db8::1/128"))
const hostCidr = fc.constantFrom(...HOSTS, ...V6_HOSTS)
const target = fc.oneof(fc.constantFrom(...TARGETS), fc.constant(GLOBAL))
const forMin = fc.option(fc.integer({ min: 1, max: 600 }), { nil: null, freq: 3 })

const draft: fc.Arbitrary<Draft> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ type: fc.constant("BlockDecided" as const), target, cidr: poolCidr, ttlMin: fc.integer({ min: 1, max: 600 }), user: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant("BlockRequested" as const), target, cidr: poolCidr, ttlMin: fc.integer({ min: 1, max: 2000 }), user: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant("UnblockRequested" as const), cidr: poolCidr, target: fc.option(target, { nil: null }) }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant("AllowRequested" as const), cidr: fc.oneof(poolCidr, hostCidr), forMin }) },
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant("PolicyActivated" as const),
      allow: fc.array(fc.record({ cidr: fc.oneof(poolCidr, hostCidr), forMin }), { maxLength: 3 })
    })
  }
)

const eventLog: fc.Arbitrary<LoggedEvent[]> = fc
  .array(fc.tuple(fc.integer({ min: 0, max: 90 }), draft), { minLength: 1, maxLength: 25 })
  .map((drafts) => {
    let time = Date.parse(T)
    return drafts.map(([gapMin, d], i): LoggedEvent => {
      time += gapMin * MINUTE
      const at = new Date(time).toISOString()
      const later = (minutes: number) => new Date(time + minutes * MINUTE).toISOString()
      const seq = i + 1
      switch (d.type) {
        case "BlockDecided":
        case "BlockRequested": {
          const host = d.cidr.replace(/\/\d+$/, "")
          // user blocks only for single addresses on CryptoSpike
          const subject: BlockSubject =
            d.user && d.target === "cryptospike" && (d.cidr.endsWith("/32") || d.cidr.endsWith("/128"))
              ? { kind: "userBehindIp", ip: host, at: new Date(time - 5 * MINUTE).toISOString(), userIdentity: "u" }
              : { kind: "ip", cidr: d.cidr }
          const until = later(d.ttlMin)
          const payload =
            d.type === "BlockDecided"
              ? { ...blockDecided(at, { target: d.target, subject, until, rule: `r${seq % 3}` }), ttl: `${d.ttlMin}m` }
              : { target: d.target, subject, until, ttl: `${d.ttlMin}m`, actor: "alice", reason: "why" }
          return { seq, recordedAt: at, type: d.type, payload }
        }
        case "UnblockRequested":
          return { seq, recordedAt: at, type: d.type, payload: { cidr: d.cidr, target: d.target, actor: "alice", reason: "fp" } }
        case "AllowRequested":
          return {
            seq,
            recordedAt: at,
            type: d.type,
            payload: { cidr: d.cidr, until: d.forMin === null ? null : later(d.forMin), actor: "alice", reason: "ok" }
          }
        case "PolicyActivated": {
          const p = policy({ allowlist: d.allow.map((a) => ({ cidr: a.cidr, until: a.forMin === null ? null : later(a.forMin) })) })
          return { seq, recordedAt: at, type: d.type, payload: { hash: `h${seq}`, policy: p, source: "config.yaml" } }
        }
      }
    })
  })

interface Contribution {
  readonly seq: number
  readonly target: string
  readonly subject: BlockSubject
  readonly until: string
}

/** A deliberately naive reading of the log: what should be blocked at `t`, address by address. */
const model = (events: ReadonlyArray<LoggedEvent>, t: string) => {
  const contributions: Contribution[] = []
  const unblocks: { seq: number; cidr: Cidr; target: string | null }[] = []
  let policyAllow: ReadonlyArray<{ cidr: string; until: string | null }> = []
  const operatorAllow: { cidr: string; until: string | null }[] = []
  for (const e of events) {
    const p = e.payload as any
    if (e.type === "BlockDecided" || e.type === "BlockRequested") contributions.push({ seq: e.seq, target: p.target, subject: p.subject, until: p.until })
    if (e.type === "UnblockRequested") unblocks.push({ seq: e.seq, cidr: cidr(p.cidr), target: p.target })
    if (e.type === "AllowRequested") operatorAllow.push({ cidr: p.cidr, until: p.until })
    if (e.type === "PolicyActivated") policyAllow = p.policy.allowlist
  }
  const allows = [...policyAllow, ...operatorAllow].filter((a) => a.until === null || a.until > t).map((a) => cidr(a.cidr))
  const live = contributions.filter(
    (c) =>
      c.until > t &&
      !unblocks.some((u) => {
        const area = c.subject.kind === "ip" ? cidr(c.subject.cidr) : cidr(c.subject.ip)
        const onTarget = u.target === null || u.target === c.target || (c.subject.kind !== "ip" && u.target === "cryptospike")
        return u.seq > c.seq && onTarget && contains(u.cidr, area)
      })
  )
  /** target → probe → latest until of the blocks covering it (absent: not blocked) */
  const coverage = (target: string, probe: Cidr): string | undefined => {
    if (allows.some((a) => contains(a, probe))) return undefined
    const untils = live
      .filter((c) => c.target === target && c.subject.kind === "ip" && contains(cidr(c.subject.cidr), probe))
      .map((c) => c.until)
    return untils.length === 0 ? undefined : untils.reduce((a, b) => (a > b ? a : b))
  }
  const pending = new Map<string, string>()
  for (const c of live) {
    if (c.subject.kind !== "userBehindIp") continue
    if (allows.some((a) => contains(a, cidr(c.subject.kind === "userBehindIp" ? c.subject.ip : "")))) continue
    const key = `${c.subject.ip}|${c.subject.at}`
    const previous = pending.get(key)
    if (previous === undefined || c.until > previous) pending.set(key, c.until)
  }
  return { allows, coverage, pending }
}

const checkAgainstModel = (events: ReadonlyArray<LoggedEvent>, state: DesiredState, t: string) => {
  const m = model(events, t)
  for (const block of state.ipBlocks) {
    expect(block.until > t).toBe(true)
    for (const allow of m.allows) expect(overlaps(cidr(block.cidr), allow)).toBe(false)
    const seqs = block.reasons.map((r) => r.seq)
    expect(seqs).toEqual([...new Set(seqs)].sort((a, b) => a - b))
    for (const r of block.reasons) expect(r.until > t).toBe(true)
  }
  for (const target of TARGETS) {
    for (const probeText of PROBES) {
      const probe = cidr(probeText)
      const covering = state.ipBlocks.filter((b) => b.target === target && contains(cidr(b.cidr), probe))
      const actual = covering.length === 0 ? undefined : covering.map((b) => b.until).reduce((a, b) => (a > b ? a : b))
      expect({ target, probe: probeText, until: actual }).toEqual({ target, probe: probeText, until: m.coverage(target, probe) })
    }
  }
  const pending = new Map(state.pendingUserBlocks.map((u) => [`${u.ip}|${u.at}`, u.until]))
  expect(pending).toEqual(m.pending)
  // sorted by target, then address
  const sorted = [...state.ipBlocks].sort((a, b) =>
    a.target < b.target ? -1 : a.target > b.target ? 1 : compareCidr(cidr(a.cidr), cidr(b.cidr))
  )
  expect(state.ipBlocks).toEqual(sorted)
  for (const s of state.suppressed) {
    expect(contains(cidr(s.allowedBy.cidr), cidr(s.cidr))).toBe(true)
    expect(s.allowedBy.until === null || s.allowedBy.until > t).toBe(true)
  }
}

describe("projection: properties over random logs", () => {
  it("for every prefix: the incremental fold, a fresh fold and project agree, and match a naive model", () => {
    fc.assert(
      fc.property(eventLog, fc.integer({ min: 1, max: 900 }), (events, laterMin) => {
        const incremental = initialState()
        for (let i = 0; i < events.length; i++) {
          const prefix = events.slice(0, i + 1)
          const last = prefix[prefix.length - 1]!
          evolve(incremental, last)
          for (const t of [last.recordedAt, new Date(Date.parse(last.recordedAt) + laterMin * MINUTE).toISOString()]) {
            const projected = project(prefix, t)
            const fresh = desiredAt(prefix.reduce(evolve, initialState()), t)
            expect(desiredAt(incremental, t)).toEqual(projected)
            expect(fresh).toEqual(projected)
            expect(JSON.stringify(desiredAt(incremental, t))).toBe(JSON.stringify(projected))
            checkAgainstModel(prefix, projected, t)
          }
        }
      }),
      { numRuns: 300 }
    )
  })

  it("evaluating after every event (incrementally) equals projecting each prefix", () => {
    fc.assert(
      fc.property(eventLog, (events) => {
        const states = incrementally(events, (e) => e.recordedAt)
        states.forEach((state, i) => expect(state).toEqual(project(events.slice(0, i + 1), events[i]!.recordedAt)))
      }),
      { numRuns: 200 }
    )
  })
})

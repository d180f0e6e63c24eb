import { describe, expect, it } from "@effect/vitest"
import { checkCaps, keyOf, planChanges, type ObservedEntry } from "../../src/domain/Plan.js"
import { DEFAULT_CAPS } from "../../src/domain/Policy.js"
import type { IpBlock } from "../../src/domain/Project.js"

const block = (target: string, cidr: string, seq = 1): IpBlock => ({
  target,
  cidr,
  until: "2026-11-22T00:00:00.000Z",
  reasons: [{ kind: "operator", seq, until: "2026-11-22T00:00:00.000Z", actor: "a", reason: "r" }],
  splitFrom: null
})
const seen = (target: string, cidr: string, listed = cidr, comment = ""): ObservedEntry => ({ target, cidr, listed, comment })
const G = "loadmaster:global"
const VS3 = "loadmaster:vs:3"
const BOTH = new Set([G, VS3])

describe("planning a reconcile pass", () => {
  it("from empty: every desired block is added, sorted by target then address", () => {
    const plan = planChanges([block(VS3, "192.0.2.9/32"), block(G, "198.51.100.0/24"), block(G, "192.0.2.31/32", 7)], [], new Set(), BOTH)
    expect(plan.adds.map((a) => [a.target, a.cidr, a.causeSeq])).toEqual([
      [G, "192.0.2.31/32", 7],
      [G, "198.51.100.0/24", 1],
      [VS3, "192.0.2.9/32", 1]
    ])
    expect(plan.removes).toEqual([])
  })

  it("in sync: nothing to do", () => {
    const plan = planChanges([block(G, "192.0.2.31/32")], [seen(G, "192.0.2.31/32", "192.0.2.31")], new Set([keyOf(G, "192.0.2.31/32")]), BOTH)
    expect(plan).toEqual({ adds: [], removes: [] })
  })

  it("removes an owned entry that is no longer desired, sending it back exactly as listed", () => {
    const plan = planChanges([], [seen(G, "192.0.2.31/32", "192.0.2.31")], new Set([keyOf(G, "192.0.2.31/32")]), BOTH)
    expect(plan.removes).toEqual([{ target: G, cidr: "192.0.2.31/32", listed: "192.0.2.31" }])
  })

  it("never removes an entry it does not own, and leaves a hand-made entry equal to a desired one alone", () => {
    const plan = planChanges([block(G, "192.0.2.31/32")], [seen(G, "192.0.2.31/32"), seen(G, "203.0.113.5/32")], new Set(), BOTH)
    expect(plan).toEqual({ adds: [], removes: [] })
  })

  it("re-adds an owned entry someone deleted by hand (drift)", () => {
    const plan = planChanges([block(G, "192.0.2.31/32")], [], new Set([keyOf(G, "192.0.2.31/32")]), BOTH)
    expect(plan.adds.map((a) => a.cidr)).toEqual(["192.0.2.31/32"])
  })

  it("leaves a target that could not be observed this pass untouched", () => {
    const plan = planChanges([block(VS3, "192.0.2.9/32")], [], new Set(), new Set([G]))
    expect(plan.adds).toEqual([])
  })
})

describe("caps", () => {
  const many = (n: number) => ({ adds: Array.from({ length: n }, (_, i) => ({ target: G, cidr: `10.0.0.${i}/32`, until: "", causeSeq: i })), removes: [] })
  it("refuses more additions than maxAddsPerPass, and accepts exactly the cap", () => {
    expect(checkCaps(many(3), { ...DEFAULT_CAPS, maxAddsPerPass: 3 }, {})).toEqual({ ok: true })
    expect(checkCaps(many(4), { ...DEFAULT_CAPS, maxAddsPerPass: 3 }, {})).toEqual({ ok: false, reason: "4 additions exceed maxAddsPerPass (3)" })
  })
  it("refuses more removals than maxRemovesPerPass", () => {
    const plan = { adds: [], removes: [1, 2].map((i) => ({ target: G, cidr: `10.0.0.${i}/32`, listed: `10.0.0.${i}` })) }
    expect(checkCaps(plan, { ...DEFAULT_CAPS, maxRemovesPerPass: 1 }, {}).ok).toBe(false)
  })
  it("refuses a desired state with more blocks on one target than maxActivePerTarget", () => {
    expect(checkCaps({ adds: [], removes: [] }, { ...DEFAULT_CAPS, maxActivePerTarget: 10 }, { [G]: 11 })).toEqual({
      ok: false,
      reason: `11 blocks wanted on ${G} exceed maxActivePerTarget (10)`
    })
  })
})

import { describe, expect, it } from "@effect/vitest"
import { importLegacyRows, type LegacyRow } from "../../src/domain/LegacyImport.js"
import { project, type LoggedEvent } from "../../src/domain/Project.js"

const AT = "2026-11-21T12:00:00.000Z"
const options = { database: "/home/flowmon/lm-mitigation/lm-block.db", actor: "root" }
const row = (rowid: number, ip: unknown, event: unknown, vsid: unknown, ttl: unknown): LegacyRow => ({ rowid, ip, event, vsid, ttl })

/** The imported events as the log would hand them back (seq from 1, all recorded at AT). */
const logged = (rows: ReadonlyArray<LegacyRow>): LoggedEvent[] =>
  importLegacyRows(rows, AT, options).events.map((e, i) => ({ seq: i + 1, recordedAt: AT, type: e.type, payload: e.payload }))

describe("importing lm-timeout.py's table data(ip, event, vsid, ttl)", () => {
  it("a row becomes an operator block on the global list or the virtual service, for the hours it had left", () => {
    const { events } = importLegacyRows(
      [row(1, "198.51.100.7", "1001", null, 1776), row(2, "2001:db8::7", "1002", 3, 48), row(3, "198.51.100.9", 1003, "12", 24)],
      AT,
      options
    )
    expect(events.map((e) => e.type)).toEqual(["BlockRequested", "BlockRequested", "BlockRequested"])
    const [first, second, third] = events.map((e) => e.payload as any)
    expect(first).toMatchObject({
      target: "loadmaster:global",
      subject: { kind: "ip", cidr: "198.51.100.7/32" },
      until: "2027-02-03T12:00:00.000Z",
      ttl: "74d",
      actor: "root",
      reason: "imported from lm-timeout.py (ADS event 1001, 1776 h left)",
      takeOver: { from: "lm-timeout.py", database: options.database, event: "1001", ttlHours: 1776 }
    })
    expect(second).toMatchObject({ target: "loadmaster:vs:3", subject: { cidr: "2001:db8::7/128" }, until: "2026-11-23T12:00:00.000Z", ttl: "2d" })
    // SQLite does not enforce the declared column types: text digits and numbers are read as such.
    expect(third).toMatchObject({ target: "loadmaster:vs:12", until: "2026-11-22T12:00:00.000Z", takeOver: { event: "1003" } })
  })

  it("the same row imported again has the same dedupe key (the log stores it once)", () => {
    const once = importLegacyRows([row(1, "198.51.100.7", "1001", null, 1776)], AT, options).events[0]!
    const later = importLegacyRows([row(9, "198.51.100.7", "1001", null, 1752)], "2026-11-22T12:00:00.000Z", options).events[0]!
    expect(once.dedupeKey).not.toBeNull()
    expect(later.dedupeKey).toBe(once.dedupeKey)
    const otherVs = importLegacyRows([row(1, "198.51.100.7", "1001", 3, 1776)], AT, options).events[0]!
    expect(otherVs.dedupeKey).not.toBe(once.dedupeKey)
  })

  it("a bad row is rejected with its row number and why; the good rows beside it are imported", () => {
    const { events } = importLegacyRows(
      [
        row(1, "not-an-ip", "1", null, 24),
        row(2, "198.51.100.7", "2", "vs-two", 24),
        row(3, "198.51.100.8", "3", null, "soon"),
        row(4, null, "4", null, 24),
        row(5, "198.51.100.9", null, null, 24),
        row(6, "198.51.100.10", "6", -1, 24),
        row(7, new Uint8Array([1, 2, 3]), "7", null, 24),
        row(8, "198.51.100.11", "8", null, 24)
      ],
      AT,
      options
    )
    expect(events.map((e) => e.type)).toEqual([...Array(7).fill("InputRejected"), "BlockRequested"])
    const reasons = events.filter((e) => e.type === "InputRejected").map((e) => (e.payload as any).reason as string)
    expect(reasons[0]).toMatch(/^row 1: ip: 'not-an-ip'/)
    expect(reasons[1]).toBe("row 2: vsid is 'vs-two': expected a virtual service index (a whole number) or NULL for the global list")
    expect(reasons[2]).toBe("row 3: ttl is 'soon': expected the hours left, a whole number")
    expect(reasons[3]).toBe("row 4: ip is NULL, not an address")
    expect(reasons[4]).toBe("row 5: event is NULL, not an event id")
    expect(reasons[5]).toMatch(/^row 6: vsid is -1:/)
    expect(reasons[6]).toBe("row 7: ip is a blob, not an address")
    const first = events[0]!.payload as any
    expect(first).toMatchObject({ instance: `lm-timeout.py ${options.database}`, line: 1, format: null, truncated: false })
    expect(first.raw).toBe('{"ip":"not-an-ip","event":"1","vsid":null,"ttl":24}')
  })

  it("the projection: blocks in force with their reason, and a take-over claim for each imported entry", () => {
    const state = project(logged([row(1, "198.51.100.7", "1001", null, 1776), row(2, "198.51.100.8", "1002", 3, 48)]), AT)
    expect(state.ipBlocks.map((b) => [b.target, b.cidr, b.until])).toEqual([
      ["loadmaster:global", "198.51.100.7/32", "2027-02-03T12:00:00.000Z"],
      ["loadmaster:vs:3", "198.51.100.8/32", "2026-11-23T12:00:00.000Z"]
    ])
    expect(state.ipBlocks[0]!.reasons[0]).toMatchObject({ kind: "operator", actor: "root", reason: "imported from lm-timeout.py (ADS event 1001, 1776 h left)" })
    expect(state.takeOvers).toEqual([
      { target: "loadmaster:global", cidr: "198.51.100.7/32", seq: 1 },
      { target: "loadmaster:vs:3", cidr: "198.51.100.8/32", seq: 2 }
    ])
    expect(state.owned).toEqual([])
  })

  it("a row with no hours left is no block, but its claim stays until a reconcile has seen its entry", () => {
    const events = logged([row(1, "198.51.100.10", "1004", null, 0)])
    const before = project(events, AT)
    expect(before.ipBlocks).toEqual([])
    expect(before.takeOvers).toEqual([{ target: "loadmaster:global", cidr: "198.51.100.10/32", seq: 1 }])
    const adopted: LoggedEvent = {
      seq: 2,
      recordedAt: AT,
      type: "DriftObserved",
      payload: { target: "loadmaster:global", cidr: "198.51.100.10/32", kind: "adopted", repair: false, listed: "198.51.100.10" }
    }
    const after = project([...events, adopted], AT)
    expect(after.takeOvers).toEqual([])
    expect(after.owned.map((o) => o.cidr)).toEqual(["198.51.100.10/32"])
  })
})
